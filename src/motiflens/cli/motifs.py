"""Verbs about what the filters learned: filters (PWMs, TomTom, influence) and insert.

Each parses its options, calls one step of :mod:`motiflens.steps.motifs` and prints what
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
    SplitOpt,
    Targets,
    app,
    friendly,
)

# Spelled here too (not imported) so that `motiflens --help` does not load torch; the
# step's own default is motiflens.steps.motifs.DEFAULT_DB.
DEFAULT_DB = "jaspar:2024:CORE:vertebrates"

SourceOpt = Annotated[
    Path | None,
    typer.Argument(help="Dataset, FASTA or BED (with --genome); default the training dataset."),
]
DbOpt = Annotated[
    str,
    typer.Option(
        "--db", help="Motif database: jaspar:<release>[:<collection>[:<tax_group>]] or a MEME file."
    ),
]


class Background(StrEnum):
    shuffle = "shuffle"
    sequences = "sequences"


@app.command()
@friendly
def filters(
    run_dir: RunDir,
    source: SourceOpt = None,
    db: DbOpt = DEFAULT_DB,
    n: Annotated[int, typer.Option("-n", min=1, help="Sequences to sample.")] = 1000,
    split: SplitOpt = "test",
    genome: GenomeOpt = None,
    q: Annotated[float, typer.Option(min=0.0, max=1.0, help="TomTom q-value threshold.")] = 0.1,
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Activation threshold: mean + THRESHOLD * (max - mean)."
        ),
    ] = 0.5,
    min_sites: Annotated[int, typer.Option(min=1, help="Fewer sites: no PWM, not matched.")] = 10,
    trim: Annotated[bool, typer.Option(help="Trim PWM ends below 0.2 bits.")] = True,
    influence: Annotated[bool, typer.Option(help="Filter influence by nullification.")] = True,
    logos: Annotated[bool, typer.Option(help="A logo per filter.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the sequence sample.")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per pass.")] = 100,
    motif_hits: Annotated[
        bool,
        typer.Option(
            "--motif-hits",
            help="Also scan the sequences for the database's motifs (FIMO) into motif_hits.bed.",
        ),
    ] = False,
    motif_p: Annotated[
        float, typer.Option("--motif-p", min=0.0, max=1.0, help="FIMO p-value threshold.")
    ] = 1e-4,
    verbose: ProgressOpt = True,
) -> None:
    """First-layer filters -> PWMs -> TomTom matches -> influence (Basset's motif analysis).

    Also writes filter_hits.bed (every activating filter site, in genome coordinates for
    a BED source) and with --motif-hits motif_hits.bed (FIMO matches of the database).
    """
    from motiflens.steps import motifs as steps

    result = steps.filters(
        run_dir,
        source,
        db=db,
        n=n,
        split=split,
        genome=genome,
        q=q,
        threshold=threshold,
        min_sites=min_sites,
        trim=trim,
        influence=influence,
        logos=logos,
        batch_size=batch_size,
        verbose=verbose,
        random_state=seed,
        motif_hits=motif_hits,
        motif_p=motif_p,
    )
    typer.echo(result.summary())


@app.command()
@friendly
def insert(
    run_dir: RunDir,
    source: SourceOpt = None,
    db: DbOpt = DEFAULT_DB,
    motif: Annotated[
        list[str] | None, typer.Option(help="Motif id or name to insert (repeatable; default all).")
    ] = None,
    n: Annotated[int, typer.Option("-n", min=1, help="Background sequences.")] = 256,
    background: Annotated[
        Background, typer.Option(help="Dinucleotide shuffles of the sequences, or themselves.")
    ] = Background.shuffle,
    center: Annotated[
        list[int] | None,
        typer.Option(help="0-based position of the motif centre (repeatable; default middle)."),
    ] = None,
    target: Targets = None,
    split: SplitOpt = "test",
    genome: GenomeOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of backgrounds and sampled instances.")] = 0,
    verbose: ProgressOpt = True,
) -> None:
    """Motif insertion: the mean change of each target when each motif is written in."""
    from motiflens.steps import motifs as steps

    result = steps.insert(
        run_dir,
        source,
        db=db,
        motifs=motif,
        n=n,
        background=background.value,  # type: ignore[arg-type]
        centers=center,
        targets=target,
        split=split,
        genome=genome,
        verbose=verbose,
        random_state=seed,
    )
    for r in result.top.itertuples():
        typer.echo(
            f"  {r.target:<24} top motif {r.motif_id} {r.motif_name} "
            f"(score {r.delta_score:+.3f}, prediction {r.delta_pred:+.3f})"
        )
    typer.echo(
        f"insertion of {result.n_motifs} motif(s) -> {result.table.parent} "
        "(insertion.tsv, heat map)"
    )
