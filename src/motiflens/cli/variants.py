"""The variants verb: SAD scores of VCF variants, optionally with ISM around the top ones."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import (
    AcceleratorOpt,
    DevicesOpt,
    NumNodesOpt,
    RunDir,
    StrategyOpt,
    Targets,
    app,
    friendly,
)


class RefMismatchPolicy(StrEnum):
    skip = "skip"
    use_genome = "use-genome"
    error = "error"


@app.command()
@friendly
def variants(
    run_dir: RunDir,
    vcf: Annotated[Path, typer.Argument(help="VCF file (plain or bgzip).")],
    genome: Annotated[Path, typer.Option(help="Genome FASTA the VCF refers to.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default RUN_DIR/explain/variants)."),
    ] = None,
    target: Targets = None,
    ref_mismatch: Annotated[
        RefMismatchPolicy,
        typer.Option(help="When the genome's bases differ from REF: skip, use-genome or error."),
    ] = RefMismatchPolicy.skip,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip malformed VCF lines (each named) instead of stopping.")
    ] = False,
    rc: Annotated[bool, typer.Option(help="Average forward and reverse complement.")] = False,
    chunk_size: Annotated[int, typer.Option(help="Variants read and scored at a time.")] = 1024,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per forward pass.")] = 1024,
    ism: Annotated[
        bool, typer.Option(help="Saturation mutagenesis around the top variants.")
    ] = False,
    ism_top: Annotated[
        int, typer.Option(help="ISM for the top K variants by max |SAD| (0: all).")
    ] = 10,
    ism_targets: Annotated[
        int, typer.Option(help="ISM for each variant's top targets by |SAD|.")
    ] = 1,
    window: Annotated[
        int, typer.Option(help="ISM mutates the central WINDOW positions (0: all).")
    ] = 200,
    verbose: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")] = True,
    devices: DevicesOpt = "1",
    num_nodes: NumNodesOpt = 1,
    strategy: StrategyOpt = "auto",
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Variant effects: predict reference and alternative alleles, report SAD per target.

    With --devices N (and --num-nodes) every process reads the VCF and scores every N-th
    chunk; the first writes sad.tsv and log.tsv in input order (the files one process
    writes), runs the ISM and prints the report.
    """
    from motiflens.distributed import Launch
    from motiflens.steps.variants import variants as variants_step

    if ism_top < 0 or ism_targets < 1 or window < 0:
        raise typer.BadParameter("--ism-top >= 0, --ism-targets >= 1 and --window >= 0")
    launch = Launch.from_cli(devices, num_nodes, strategy, accelerator)
    report = variants_step(
        run_dir,
        vcf,
        genome=genome,
        out=out,
        targets=target,
        ref_mismatch=ref_mismatch.value,  # type: ignore[arg-type]
        skip_bad=skip_bad,
        reverse_complement=rc,
        chunk_size=chunk_size,
        batch_size=batch_size,
        ism=ism,
        ism_top=ism_top,
        ism_targets=ism_targets,
        ism_window=window or None,
        verbose=verbose,
        devices=launch.devices,
        num_nodes=launch.num_nodes,
        strategy=launch.strategy,
        accelerator=launch.accelerator,
    )
    if report is not None:  # None in the other processes of a multi-process run
        typer.echo(str(report))
