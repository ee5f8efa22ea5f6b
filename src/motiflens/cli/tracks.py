"""The igv verb: an IGV session (and a UCSC track hub) of every genome track of a run.

The step is imported inside the verb so that ``motiflens --help`` does not load torch
(as in the other verb modules).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import RunDir, app, friendly


@app.command()
@friendly
def igv(
    run_dir: RunDir,
    genome: Annotated[
        str | None,
        typer.Option(
            help="Genome FASTA or IGV genome id (hg38). Default: the genome the run's "
            "tracks were made with."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Session file (default RUN/igv_session.xml)."),
    ] = None,
    hub: Annotated[
        bool,
        typer.Option(
            "--hub",
            help="Also write a UCSC track hub (RUN/hub/hub.txt) of the bigWig and indexed "
            "VCF outputs; --genome must then be a UCSC assembly name (hg38).",
        ),
    ] = False,
) -> None:
    """Write an IGV session (XML) of the run's bigWig, bedGraph, BED and VCF outputs.

    Track paths are relative to the session file, so the run folder can be shared
    whole; open it in IGV with File > Open Session.
    """
    from motiflens.steps.igv import igv_session
    from motiflens.steps.track_hub import track_hub

    if hub:  # checked first: an assembly name is also a valid IGV genome
        hub_file = track_hub(run_dir, genome)
    path = igv_session(run_dir, genome=genome, out=out)
    typer.echo(f"IGV session -> {path} (IGV: File > Open Session)")
    if hub:
        typer.echo(f"UCSC track hub -> {hub_file} (serve the run folder; paste the URL)")
