"""Batch prediction: a trained model over a FASTA file, BED intervals or a dataset split.

Inputs are streamed in batches (:mod:`motiflens.data.sources`; a million sequences never
sit in memory at once) and the
predictions go to a TSV, one column per target, written atomically. Optionally each
sequence is also run reverse-complemented and the two outputs averaged (Basset's ``-rc``).

:func:`predict_file` runs on one process or many (``devices``, ``num_nodes``,
``strategy``; see :mod:`motiflens.distributed`): batch ``b`` of the input goes to rank
``b % world_size`` and rank 0 writes the rows back in input order, so the file is the
one a single process writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motiflens.data.sources import (
    bed_windows,
    count_batches,
    iter_batches,
    open_source,
    source_kind,
)
from motiflens.distributed import Launch, Shard, merge_units, run_sharded
from motiflens.errors import InputError
from motiflens.models import pick_device, predict_transform
from motiflens.progress import tqdm
from motiflens.runs import Run, as_run
from motiflens.sequence.fasta import Genome, check_unique_headers
from motiflens.sequence.onehot import one_hot
from motiflens.sequence.textio import first_repeat

__all__ = [
    "PredictionReport",
    "bed_windows",
    "check_finite_weights",
    "iter_batches",
    "predict_array",
    "predict_file",
    "predict_sequences",
    "source_kind",
]

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ arrays


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def check_finite_weights(model: nn.Module, path: str | Path | None = None) -> None:
    """Refuse a model whose weights hold NaN or infinite values.

    Such a model (a diverged training run, a damaged file) predicts NaN for every
    sequence; one clear error beats a table of NaN.

    Parameters
    ----------
    model
        The model.
    path
        Its weights file, named in the message.

    Raises
    ------
    InputError
        Naming the first tensor with a non-finite value and how many values are.
    """
    bad, total, first = 0, 0, None
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            n = int((~torch.isfinite(tensor)).sum())
            total += tensor.numel()
            if n and first is None:
                first = name
            bad += n
    if bad:
        raise InputError(
            f"the model's weights hold {bad:,} NaN or infinite value(s) of {total:,} "
            f"(first in {first!r}); every prediction would be NaN",
            path=path,
            hint="the training diverged or the file is damaged: retrain (a lower training.lr "
            "often helps) or resume from an earlier checkpoint",
        )


def predict_array(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    reverse_complement: bool = False,
    transform: str | None = None,
) -> np.ndarray:
    """Run a model over one-hot sequences in batches.

    Parameters
    ----------
    model
        Takes ``(batch, 4, L)`` float32 one-hot and returns ``(batch, T)`` logits. It is
        run in eval mode (its train/eval mode is restored afterwards).
    x
        One-hot ``(n, 4, L)``, channels A, C, G, T (numpy or torch; any numeric dtype is
        cast to float32 batch by batch, so a large array is never copied whole).
    batch_size
        Sequences per forward pass.
    device
        Where to run; default the device the model's weights are on. A different device
        moves the model there.
    reverse_complement
        Also run each sequence reverse-complemented (both axes flipped) and average the
        two **logits**, then apply ``transform``. Basset's ``-rc`` averaged the two
        *probabilities* instead; for a sigmoid the two differ slightly (averaging logits
        is the geometric-style mean of the odds), and for ``regression`` they are equal.
    transform
        ``None`` for raw logits, or a task name (``"binary"``, ``"regression"``,
        ``"poisson"``) to map them to predictions with
        :func:`~motiflens.models.predict_transform`.

    Returns
    -------
    numpy.ndarray
        ``(n, T)`` float32.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"expected one-hot input of shape (n, 4, length), got {tuple(x.shape)}")
    if transform is not None:
        predict_transform(transform, torch.zeros(1))  # fail early on an unknown task
    target = _model_device(model) if device is None else pick_device(device)
    if target != _model_device(model):
        model.to(target)
    n = x.shape[0]
    if n == 0:
        config = getattr(model, "config", None)
        return np.zeros((0, getattr(config, "n_targets", None) or 0), np.float32)
    was_training = model.training
    model.eval()
    out: list[np.ndarray] = []
    try:
        with torch.inference_mode():
            for lo in range(0, n, batch_size):
                chunk = x[lo : lo + batch_size]
                batch = chunk if isinstance(chunk, torch.Tensor) else torch.from_numpy(chunk)
                batch = batch.to(device=target, dtype=torch.float32)
                logits = model(batch)
                if reverse_complement:
                    logits = (logits + model(batch.flip(1, 2))) / 2
                if transform is not None:
                    logits = predict_transform(transform, logits)
                out.append(logits.float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def predict_sequences(
    model_or_run: nn.Module | Run | str | Path,
    seqs: Sequence[str],
    *,
    length: int | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    reverse_complement: bool = False,
    raw: bool = False,
) -> np.ndarray:
    """Predict on DNA strings (for notebooks).

    Parameters
    ----------
    model_or_run
        A model, or a run (or its directory) to load one from.
    seqs
        DNA strings; each is centre-padded (with N) or centre-trimmed to ``length``.
    length
        Input length; default the model config's.
    batch_size, device, reverse_complement
        As in :func:`predict_array`.
    raw
        Return logits instead of predictions (probabilities for binary tasks).

    Returns
    -------
    numpy.ndarray
        ``(len(seqs), T)`` float32.
    """
    if isinstance(model_or_run, nn.Module):
        model = model_or_run
        config = getattr(model, "config", None)
    else:
        model = as_run(model_or_run).model(device)
        config = model.config
    length = length if length is not None else getattr(config, "length", None)
    task = getattr(config, "task", None)
    if not raw and task is None:
        raise ValueError("the model has no config.task; pass raw=True to get logits")
    x = one_hot(list(seqs), length)
    return predict_array(
        model,
        x,
        batch_size=batch_size,
        device=device,
        reverse_complement=reverse_complement,
        transform=None if raw else task,
    )


# ----------------------------------------------------------------- to a file


@dataclass
class PredictionReport:
    """What :func:`predict_file` wrote."""

    path: Path
    n: int
    n_targets: int
    kind: str
    length: int
    n_resized: int = 0
    reverse_complement: bool = False
    raw: bool = False
    processes: int = 1
    n_nan: int = 0
    n_repeated: int = 0

    def __str__(self) -> str:
        what = "logits" if self.raw else "predictions"
        rc = " (forward and reverse complement averaged)" if self.reverse_complement else ""
        lines = [
            f"predictions  {self.path}",
            f"{self.n:,} sequences from a {self.kind} file x {self.n_targets} targets: {what}{rc}",
        ]
        if self.processes > 1:
            lines.append(f"computed by {self.processes} processes, merged in input order")
        if self.n_resized:
            lines.append(
                f"{self.n_resized:,} sequences centre-padded or trimmed to {self.length} bp"
            )
        if self.n_repeated:
            lines.append(f"{self.n_repeated:,} rows repeat the name of an earlier row")
        if self.n_nan:
            lines.append(f"{self.n_nan:,} sequences have NaN predictions")
        return "\n".join(lines)


def _clean(name: str) -> str:
    return name.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def predict_file(
    run: Run | str | Path,
    source: str | Path,
    out: str | Path,
    *,
    genome: str | Path | Genome | None = None,
    split: str = "test",
    batch_size: int = 1024,
    reverse_complement: bool = False,
    device: str | torch.device | None = None,
    raw: bool = False,
    pad: bool = True,
    verbose: bool = True,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
) -> PredictionReport | None:
    """Predict every sequence of a FASTA, BED or dataset file with a trained model.

    Parameters
    ----------
    run
        The run (or its directory) holding the model and its target names.
    source
        FASTA, BED (with ``genome``) or dataset file; see :func:`iter_batches`.
    out
        TSV to write: a ``name`` column, then one column per target, 6 significant
        digits. Written to a temporary file and renamed at the end, so a failure leaves
        no partial file (and an existing ``out`` untouched).
    genome
        Genome FASTA, needed for BED input.
    split
        Split of a dataset file.
    batch_size
        Sequences read and run at a time (and the unit of work a process takes).
    reverse_complement
        Average forward and reverse-complement logits (see :func:`predict_array`).
    device
        One explicit device for a single process (e.g. ``"cpu"``, ``"cuda:1"``); default
        CUDA if available, else CPU.
    raw
        Write logits instead of predictions (probabilities for binary tasks, rates for
        Poisson, values for regression).
    pad
        Centre-pad or trim FASTA records of another length (with a warning) instead of
        refusing them.
    verbose
        Show a progress bar (rank 0's share; its total is known for datasets and BED,
        not for FASTA).
    devices, num_nodes, strategy, accelerator
        Processes to run on, as Lightning takes them (:class:`~motiflens.distributed.Launch`):
        e.g. ``devices=4, strategy="ddp"`` on four GPUs, or ``devices=2,
        accelerator="cpu"``. Batch ``b`` goes to rank ``b % world_size``; the rows are
        merged back in input order, so the file equals a single process's. With
        ``strategy="ddp"`` Lightning re-runs the command line for the other processes:
        call it from a command or script (from Python, use ``strategy="ddp_spawn"``).

    Returns
    -------
    PredictionReport or None
        None in the processes other than rank 0 of a multi-process run.
    """
    out = Path(out)
    if out.is_dir():
        raise InputError("the output path is a directory", path=out, hint="name a .tsv file")
    # Checked here, in every process, before any process is started or waited for.
    run = as_run(run)
    config = run.model_config
    if config.length is None or config.n_targets is None:
        raise InputError(
            "the model config has no input length or number of targets",
            path=run.config_path,
            hint="set model.length and model.n_targets (training fills them in)",
        )
    labels = run.target_labels(config.n_targets)
    kind = source_kind(source)
    if kind == "fasta":
        # rows are written by name: two records of one name could not be told apart
        check_unique_headers(source)
    if genome is None or kind != "bed":
        # the file's kind, a dataset's length, a BED file without genome: one message from
        # here rather than one per process (with a genome the BED file is read per rank)
        open_source(
            source,
            length=config.length,
            genome=genome,
            split=split,
            batch_size=batch_size,
            pad=pad,
        )
    options = {
        "run": run,
        "source": Path(source),
        "genome": genome,
        "split": split,
        "batch_size": batch_size,
        "reverse_complement": reverse_complement,
        "raw": raw,
        "pad": pad,
        "verbose": verbose,
    }
    header = "\t".join(["name", *map(_clean, labels)]) + "\n"
    summary = {
        "out": out,
        "header": header,
        "weights": run.weights_path,
        "n_targets": config.n_targets,
        "length": config.length,
        "reverse_complement": reverse_complement,
        "raw": raw,
    }
    return run_sharded(
        partial(_predict_shard, **options),
        partial(_merge_predictions, **summary),
        near=out,
        launch=Launch(devices, num_nodes, strategy, accelerator),
        device=device,
    )


@dataclass
class _Part:
    """What one rank of :func:`predict_file` hands to rank 0."""

    path: Path
    counts: list[int]
    kind: str
    n_resized: int
    n_nan: int = 0


def _predict_shard(
    shard: Shard,
    *,
    run: Run,
    source: Path,
    genome: str | Path | Genome | None,
    split: str,
    batch_size: int,
    reverse_complement: bool,
    raw: bool,
    pad: bool,
    verbose: bool,
) -> _Part:
    """Predict this rank's batches into its part file, one line per sequence."""
    model = run.model(shard.device)
    check_finite_weights(model, run.weights_path)
    config = model.config
    kind, total, batches, stream = open_source(
        source,
        length=config.length,
        genome=genome,
        split=split,
        batch_size=batch_size,
        pad=pad,
        keep=shard.owns,
    )
    own = None
    if total is not None:
        step = batch_size * shard.world_size
        own = sum(min(batch_size, total - lo) for lo in range(shard.rank * batch_size, total, step))
    desc = "predict" if shard.world_size == 1 else f"predict (rank 0 of {shard.world_size})"
    row = "%s" + "\t%.6g" * config.n_targets + "\n"
    counts: list[int] = []
    n_nan = 0
    path = shard.part(".tsv")
    with (
        open(path, "w", encoding="utf-8", newline="\n") as fh,
        tqdm(total=own, desc=desc, unit="seq", disable=not (verbose and shard.is_zero)) as bar,
    ):
        for names, x in count_batches(batches, stream, config.length, warn=shard.is_zero):
            preds = predict_array(
                model,
                x,
                batch_size=batch_size,
                reverse_complement=reverse_complement,
                transform=None if raw else config.task,
            )
            fh.writelines(
                row % (_clean(name), *values)
                for name, values in zip(names, preds.tolist(), strict=True)
            )
            n_nan += int(np.isnan(preds).any(axis=1).sum())
            counts.append(len(names))
            bar.update(len(names))
    return _Part(path=path, counts=counts, kind=kind, n_resized=stream.n_resized, n_nan=n_nan)


def _merge_predictions(
    parts: list[_Part],
    *,
    out: Path,
    header: str,
    weights: Path,
    n_targets: int,
    length: int,
    reverse_complement: bool,
    raw: bool,
) -> PredictionReport:
    """Rank 0: the parts' rows back in input order, into ``out`` (atomically); a warning
    for rows that repeat a name (BED intervals of one window, dataset headers) and for
    NaN predictions."""
    n = merge_units([p.path for p in parts], [p.counts for p in parts], out, header=header)
    n_repeated = _warn_repeated_names(out)
    n_nan = sum(p.n_nan for p in parts)
    if n_nan:
        log.warning(
            "%d of %d sequences have NaN predictions; the model (%s) may be broken",
            n_nan,
            n,
            weights,
        )
    return PredictionReport(
        path=out,
        n=n,
        n_targets=n_targets,
        kind=parts[0].kind,
        length=length,
        n_resized=parts[0].n_resized,
        reverse_complement=reverse_complement,
        raw=raw,
        processes=len(parts),
        n_nan=n_nan,
        n_repeated=n_repeated,
    )


def _warn_repeated_names(path: Path) -> int:
    """Warn once when rows of a predictions TSV repeat a name; return how many do.

    FASTA names are checked before predicting (an error); this catches BED intervals
    that give the same window and dataset files with repeated headers.
    """

    def names() -> Iterator[tuple[str, int]]:
        with open(path, encoding="utf-8") as fh:
            next(fh)  # the header
            for row, line in enumerate(fh, start=1):
                yield line.split("\t", 1)[0], row

    repeat = first_repeat(names)
    if repeat is None:
        return 0
    name, first, second, count = repeat
    log.warning(
        "%d row(s) of %s repeat the name of an earlier row, e.g. %r (rows %d and %d); rows "
        "stay in input order",
        count,
        path,
        name,
        first,
        second,
    )
    return count
