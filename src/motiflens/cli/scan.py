"""The scan verb: predictions tiled across genome regions, written as bigWig tracks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import (
    AcceleratorOpt,
    DevicesOpt,
    NumNodesOpt,
    ProgressOpt,
    RunDir,
    StrategyOpt,
    app,
    friendly,
)


@app.command()
@friendly
def scan(
    run_dir: RunDir,
    regions: Annotated[
        str,
        typer.Argument(
            help="BED file, chr:start-end (1-based inclusive, commas allowed) or a chromosome."
        ),
    ],
    genome: Annotated[Path, typer.Option(help="Genome FASTA.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the tracks (default RUN_DIR/explain/scan)."),
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option(help="Bases between window starts (default half the model's input)."),
    ] = None,
    bedgraph: Annotated[bool, typer.Option(help="Also write bedGraph text files.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Windows per batch.")] = 256,
    rc: Annotated[bool, typer.Option(help="Average forward and reverse complement.")] = False,
    verbose: ProgressOpt = True,
    devices: DevicesOpt = "1",
    num_nodes: NumNodesOpt = 1,
    strategy: StrategyOpt = "auto",
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Predict every target along genome regions: one bigWig track per target.

    Windows of the model's input length every --stride bases; each base is the mean of
    the windows covering it. BED regions are sorted and overlapping ones merged. With
    --devices N each process predicts every N-th chunk of windows and the first writes
    the tracks: the same files as one process writes.
    """
    from motiflens.distributed import Launch
    from motiflens.steps.scan import scan as scan_step

    launch = Launch.from_cli(devices, num_nodes, strategy, accelerator)
    report = scan_step(
        run_dir,
        regions,
        genome=genome,
        out=out,
        stride=stride,
        bedgraph=bedgraph,
        batch_size=batch_size,
        reverse_complement=rc,
        verbose=verbose,
        devices=launch.devices,
        num_nodes=launch.num_nodes,
        strategy=launch.strategy,
        accelerator=launch.accelerator,
    )
    if report is not None:  # None in the other processes of a multi-process run
        typer.echo(str(report))
