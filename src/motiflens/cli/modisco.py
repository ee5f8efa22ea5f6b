"""Verbs about motifs from attributions: modisco (TF-MoDISco + TomTom) and hits (FIMO).

Each parses its options, calls one step of :mod:`motiflens.steps.modisco` and prints what
it found.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import (
    GenomeOpt,
    ProgressOpt,
    RunDir,
    Source,
    SplitOpt,
    Targets,
    app,
    friendly,
)

# Spelled here too (not imported) so that `motiflens --help` does not load torch; the
# step's own default is motiflens.steps.motifs.DEFAULT_DB.
DEFAULT_DB = "jaspar:2024:CORE:vertebrates"


class AttributionMethod(StrEnum):
    deeplift_shap = "deeplift_shap"
    ism = "ism"


@app.command()
@friendly
def modisco(
    run_dir: RunDir,
    source: Annotated[
        Path | None,
        typer.Argument(
            help="Dataset (its positives per target), FASTA or BED (with --genome); "
            "default the training dataset."
        ),
    ] = None,
    target: Targets = None,
    n: Annotated[int, typer.Option("-n", min=1, help="Sequences per target.")] = 2000,
    split: SplitOpt = "test",
    genome: GenomeOpt = None,
    attributions: Annotated[
        AttributionMethod, typer.Option(help="Attributions given to TF-MoDISco.")
    ] = AttributionMethod.deeplift_shap,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="Motif database: jaspar:<release>[:<collection>[:<tax_group>]] or a MEME file.",
        ),
    ] = DEFAULT_DB,
    q: Annotated[float, typer.Option("--q", min=0.0, max=1.0, help="TomTom q-value.")] = 0.05,
    logos: Annotated[bool, typer.Option(help="A logo per pattern.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the sample and the references.")] = 0,
    verbose: ProgressOpt = True,
) -> None:
    """TF-MoDISco motifs from DeepLIFT/SHAP (or ISM) attributions, named with TomTom.

    Writes RUN_DIR/explain/modisco/: patterns.meme, patterns.tsv, seqlets.bed, seqlets.fa,
    logos/ and, on simulated data, recovery.tsv.
    """
    from motiflens.steps.modisco import modisco as step

    result = step(
        run_dir,
        source,
        targets=target or None,
        n=n,
        split=split,
        genome=genome,
        attributions=attributions.value,
        db=db,
        q=q,
        logos=logos,
        verbose=verbose,
        random_state=seed,
    )
    typer.echo(result.summary())


@app.command()
@friendly
def hits(
    run_dir: RunDir,
    source: Source,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    motifs: Annotated[
        Path | None,
        typer.Option(help="MEME file (default RUN_DIR/explain/modisco/patterns.meme)."),
    ] = None,
    genome: GenomeOpt = None,
    p: Annotated[float, typer.Option("--p", min=0.0, max=1.0, help="FIMO p-value.")] = 1e-4,
    split: SplitOpt = "test",
) -> None:
    """Scan sequences for motifs (the run's modisco patterns or a MEME file): hits.tsv, hits.bed."""
    from motiflens.steps.modisco import hits as step

    result = step(run_dir, source, out, motifs=motifs, genome=genome, p=p, split=split)
    typer.echo(result.summary())
