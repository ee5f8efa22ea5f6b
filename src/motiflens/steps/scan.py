"""The scan step: a trained run's predictions tiled across loci or chromosomes, as tracks."""

from __future__ import annotations

from pathlib import Path

import torch

from motiflens.runs import Run, as_run, holding_run
from motiflens.scanning import CHUNK_WINDOWS, ScanReport, scan_file

#: The run's analysis folder for tracks (``explain/scan/``).
SCAN = "scan"


@holding_run
def scan(
    run: Run | str | Path,
    regions: str | Path,
    *,
    genome: str | Path,
    out: str | Path | None = None,
    stride: int | None = None,
    bedgraph: bool = False,
    batch_size: int = 256,
    reverse_complement: bool = False,
    chunk_windows: int = CHUNK_WINDOWS,
    device: str | torch.device | None = None,
    verbose: bool = True,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
) -> ScanReport | None:
    """Predict every target along genome regions; one bigWig track per target.

    Windows of the model's input length are cut every ``stride`` bases (the last one ends
    at the region's end) and each base gets the mean of the predictions of the windows
    covering it. Runs :func:`motiflens.scanning.scan_file` and records the ``scan`` step
    in the run's manifest.

    Parameters
    ----------
    run
        A trained run (or its directory).
    regions
        A BED file (sorted and overlapping regions merged first), ``chrom:start-end``
        (1-based inclusive, commas allowed) or a chromosome name.
    genome
        Genome FASTA.
    out
        Folder for ``<target>.bw`` files; default ``explain/scan/`` in the run.
    stride, bedgraph, batch_size, reverse_complement, chunk_windows, device, verbose
        As :func:`~motiflens.scanning.scan_file` takes them.
    devices, num_nodes, strategy, accelerator
        Processes to run on, as Lightning takes them.

    Returns
    -------
    ScanReport or None
        None in the processes other than rank 0 of a multi-process run.

    Examples
    --------
    >>> report = scan("runs/basset", "chr8:127,700,001-127,800,000", genome="hg38.fa")
    >>> report.outputs[0].name
    '8988T_DNase.bw'
    """
    run = as_run(run)  # already a Run under holding_run; for type checkers
    out_dir = Path(out) if out is not None else run.analysis_dir(SCAN)
    report = scan_file(
        run,
        regions,
        out_dir,
        genome=genome,
        stride=stride,
        bedgraph=bedgraph,
        batch_size=batch_size,
        reverse_complement=reverse_complement,
        chunk_windows=chunk_windows,
        device=device,
        verbose=verbose,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        accelerator=accelerator,
    )
    if report is not None:
        run.record_step(
            SCAN,
            report.outputs,
            regions=str(regions),
            genome=str(genome),
            stride=report.stride,
            n_windows=report.n_windows,
            rc=reverse_complement,
        )
    return report
