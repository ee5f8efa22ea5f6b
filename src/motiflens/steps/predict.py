"""The predict step: a trained run's predictions for every sequence of a file, as a TSV."""

from __future__ import annotations

from pathlib import Path

import torch

from motiflens.prediction import PredictionReport, predict_file
from motiflens.runs import Run, as_run
from motiflens.sequence.fasta import Genome

#: Default output, inside the run directory.
PREDICTIONS = "predictions.tsv"


def predict(
    run: Run | str | Path,
    source: str | Path,
    *,
    out: str | Path | None = None,
    genome: str | Path | Genome | None = None,
    split: str = "test",
    batch_size: int = 1024,
    reverse_complement: bool = False,
    raw: bool = False,
    pad: bool = True,
    device: str | torch.device | None = None,
    verbose: bool = True,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
) -> PredictionReport | None:
    """Predict every target for the sequences of a FASTA, BED or dataset file.

    Runs :func:`motiflens.prediction.predict_file` (one process or several) and records
    the ``predict`` step in the run's manifest.

    Parameters
    ----------
    run
        A trained run (or its directory).
    source
        FASTA, BED (with ``genome``) or dataset file.
    out
        TSV to write (a ``name`` column, then one per target); default
        ``predictions.tsv`` in the run directory.
    genome
        Genome FASTA, for BED input.
    split, batch_size, reverse_complement, raw, pad, device, verbose
        As :func:`~motiflens.prediction.predict_file` takes them.
    devices, num_nodes, strategy, accelerator
        Processes to run on, as Lightning takes them.

    Returns
    -------
    PredictionReport or None
        None in the processes other than rank 0 of a multi-process run.

    Examples
    --------
    >>> report = predict("runs/basset", "peaks.bed", genome="hg38.fa", out="peaks.tsv")
    >>> report.n, report.n_targets
    (5000, 164)
    """
    run = as_run(run)
    out = Path(out) if out is not None else run.path / PREDICTIONS
    with run.lock(create=False):  # the manifest, and a default output inside the run: one writer
        report = predict_file(
            run,
            source,
            out,
            genome=genome,
            split=split,
            batch_size=batch_size,
            reverse_complement=reverse_complement,
            device=device,
            raw=raw,
            pad=pad,
            verbose=verbose,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            accelerator=accelerator,
        )
        if report is not None:
            run.record_step(
                "predict",
                [report.path],
                source=str(source),
                n=report.n,
                rc=reverse_complement,
                raw=raw,
            )
    return report
