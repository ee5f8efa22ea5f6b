"""Batch prediction: a trained model over a FASTA file, BED intervals or a dataset split.

Inputs are streamed in batches (a million sequences never sit in memory at once) and the
predictions go to a TSV, one column per target, written atomically. Optionally each
sequence is also run reverse-complemented and the two outputs averaged (Basset's ``-rc``).

:func:`predict_file` runs on one process or many (``devices``, ``num_nodes``,
``strategy``; see :mod:`motiflens.distributed`): batch ``b`` of the input goes to rank
``b % world_size`` and rank 0 writes the rows back in input order, so the file is the
one a single process writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from motiflens.data.hdf5 import SequenceDataset, to_float_onehot
from motiflens.distributed import Launch, Shard, merge_units, run_sharded
from motiflens.errors import InputError
from motiflens.models import pick_device, predict_transform
from motiflens.runs import Run
from motiflens.sequence.bed import read_bed
from motiflens.sequence.fasta import Genome, read_fasta
from motiflens.sequence.onehot import (
    code_table,
    codes_to_onehot,
    one_hot,
    resize,
    reverse_complement_codes,
)
from motiflens.sequence.textio import open_text

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ arrays


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


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
    model_or_run_dir: nn.Module | str | Path,
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
    model_or_run_dir
        A model, or a run directory to load one from.
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
    if isinstance(model_or_run_dir, nn.Module):
        model = model_or_run_dir
        config = getattr(model, "config", None)
    else:
        model = Run(model_or_run_dir).model(device)
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


# ------------------------------------------------------------------ inputs


def source_kind(path: str | Path) -> str:
    """Tell a dataset file, a FASTA file and a BED file apart.

    Returns
    -------
    str
        ``"dataset"`` (an HDF5 file), ``"fasta"`` (first non-blank character ``>``,
        plain or gzip) or ``"bed"`` (anything else; parsed as BED later).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("input file not found", path=path)
    if path.is_dir():
        raise InputError("expected a FASTA, BED or dataset file but found a directory", path=path)
    if h5py.is_hdf5(path):
        return "dataset"
    with open_text(path) as fh:
        for line in fh:
            text = line.strip()
            if text:
                return "fasta" if text.startswith(">") else "bed"
    raise InputError("file is empty", path=path)


@dataclass
class _Stream:
    """Counters that a batch generator fills in as it goes."""

    n: int = 0
    parsed: int = 0  # records read, including those of batches skipped (another rank's)
    n_resized: int = 0
    resized_examples: list[str] = field(default_factory=list)


Keep = Callable[[int], bool] | None
"""Which batches (by 0-based index) to produce; None for all. The others are skipped as
cheaply as the format allows (FASTA is still parsed, so errors surface on every rank)."""


def _fasta_batches(
    path: Path, length: int, batch_size: int, pad: bool, stream: _Stream, keep: Keep = None
) -> Iterator[tuple[list[str], np.ndarray]]:
    names: list[str] = []
    rows: list[np.ndarray] = []
    table = code_table()
    b = 0
    for header, seq, line in read_fasta(path):
        stream.parsed += 1
        # read_fasta has checked every character (and named the line of a bad one)
        codes = table[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
        if len(codes) != length:
            if not pad:
                raise InputError(
                    f"sequence is {len(codes)} bp but the model takes {length} bp",
                    path=path,
                    line=line,
                    record=header,
                    hint="make every sequence the model's length, or allow centre-padding "
                    "(with N) and centre-trimming (pad=True / --pad)",
                )
            codes = resize(codes, length)
            stream.n_resized += 1
            if len(stream.resized_examples) < 3:
                stream.resized_examples.append(f"{header!r} ({len(seq)} bp)")
        names.append(header)
        rows.append(codes)
        if len(rows) == batch_size:
            if keep is None or keep(b):
                yield names, codes_to_onehot(np.stack(rows), np.float32)
            names, rows, b = [], [], b + 1
    if rows and (keep is None or keep(b)):
        yield names, codes_to_onehot(np.stack(rows), np.float32)


def bed_windows(
    bed: str | Path, chrom_sizes: dict[str, int], length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Windows of ``length`` bp centred on each BED interval, kept inside the chromosome.

    The window starts at ``mid - length // 2`` with ``mid = (start + end) // 2`` and is
    shifted to lie inside the chromosome where it would run over an end.

    Returns
    -------
    (chroms, starts, strands, names)
        Arrays in file order; names are ``chrom:start-end(strand)`` of the windows.

    Raises
    ------
    InputError
        On a malformed BED, an unknown chromosome, or a chromosome shorter than ``length``.
    """
    df = read_bed(bed, chrom_sizes=chrom_sizes)
    chroms = df["chrom"].to_numpy(dtype=object)
    strands = df["strand"].to_numpy(dtype=object)
    size = np.array([chrom_sizes[c] for c in chroms], dtype=np.int64)
    short = np.flatnonzero(size < length)
    if short.size:
        i = int(short[0])
        raise InputError(
            f"chromosome {chroms[i]!r} is {int(size[i])} bp, shorter than the model's "
            f"{length} bp window",
            path=bed,
            line=int(df["line"].iloc[i]),
        )
    mid = (df["start"].to_numpy(np.int64) + df["end"].to_numpy(np.int64)) // 2
    starts = np.clip(mid - length // 2, 0, size - length)
    names = np.array(
        [
            f"{c}:{s}-{s + length}({st})"
            for c, s, st in zip(chroms, starts.tolist(), strands, strict=True)
        ],
        dtype=object,
    )
    return chroms, starts, strands, names


def _bed_batches(
    path: Path,
    genome: Genome,
    windows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    length: int,
    batch_size: int,
    stream: _Stream,
    keep: Keep = None,
) -> Iterator[tuple[list[str], np.ndarray]]:
    chroms, starts, strands, names = windows
    for b, lo in enumerate(range(0, len(starts), batch_size)):
        stream.parsed += min(batch_size, len(starts) - lo)
        if keep is not None and not keep(b):
            continue
        hi = min(lo + batch_size, len(starts))
        codes = np.empty((hi - lo, length), dtype=np.uint8)
        batch_chroms = chroms[lo:hi]
        for chrom in dict.fromkeys(batch_chroms.tolist()):
            rows = np.flatnonzero(batch_chroms == chrom)
            codes[rows] = genome.fetch_codes(chrom, starts[lo:hi][rows], length)
        minus = strands[lo:hi] == "-"
        if minus.any():
            codes[minus] = reverse_complement_codes(codes[minus])
        yield names[lo:hi].tolist(), codes_to_onehot(codes, np.float32)


def _dataset_batches(
    path: Path, split: str, batch_size: int, stream: _Stream, keep: Keep = None
) -> Iterator[tuple[list[str], np.ndarray]]:
    with h5py.File(path, "r") as h5:
        data = h5[f"{split}_in"]
        headers = h5.get(f"{split}_headers")
        for b, lo in enumerate(range(0, data.shape[0], batch_size)):
            stream.parsed += min(batch_size, data.shape[0] - lo)
            if keep is not None and not keep(b):
                continue
            hi = min(lo + batch_size, data.shape[0])
            if headers is None:
                names = [f"{split}_{i}" for i in range(lo, hi)]
            else:
                names = [h.decode() if isinstance(h, bytes) else str(h) for h in headers[lo:hi]]
            yield names, to_float_onehot(data[lo:hi])


def _open_source(
    source: str | Path,
    *,
    length: int,
    genome: str | Path | Genome | None,
    split: str,
    batch_size: int,
    pad: bool,
    keep: Keep = None,
) -> tuple[str, int | None, Iterator[tuple[list[str], np.ndarray]], _Stream]:
    """Check the input up front; return (kind, total or None, batches, counters).

    ``keep`` selects batches by index (a rank's share); see :data:`Keep`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    path = Path(source)
    kind = source_kind(path)
    stream = _Stream()
    if kind != "bed" and genome is not None:
        log.warning("%s is a %s file; the genome is not needed and was ignored", path, kind)
    if kind == "dataset":
        ds = SequenceDataset(path, split)
        if ds.length != length:
            raise InputError(
                f"the {split!r} split holds {ds.length} bp sequences but the model takes "
                f"{length} bp",
                path=path,
                hint="predict with a model trained on sequences of this length",
            )
        return kind, len(ds), _dataset_batches(path, split, batch_size, stream, keep), stream
    if kind == "fasta":
        return kind, None, _fasta_batches(path, length, batch_size, pad, stream, keep), stream
    if genome is None:
        raise InputError(
            "this looks like a BED file (it does not start with '>'), and reading "
            "sequences for BED intervals needs the genome FASTA",
            path=path,
            hint="pass the genome (--genome GENOME.fa); or give a FASTA or dataset file",
        )
    fasta = genome if isinstance(genome, Genome) else Genome(genome)
    try:
        windows = bed_windows(path, fasta.sizes, length)
    except BaseException:
        if fasta is not genome:
            fasta.close()
        raise

    def batches() -> Iterator[tuple[list[str], np.ndarray]]:
        try:
            yield from _bed_batches(path, fasta, windows, length, batch_size, stream, keep)
        finally:
            if fasta is not genome:
                fasta.close()

    return kind, len(windows[1]), batches(), stream


def _counted(
    batches: Iterator[tuple[list[str], np.ndarray]],
    stream: _Stream,
    length: int,
    *,
    warn: bool = True,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Count sequences and log one warning for all resized ones at the end (if ``warn``)."""
    for names, x in batches:
        stream.n += len(names)
        yield names, x
    if stream.n_resized and warn:
        log.warning(
            "%d of %d sequences were not %d bp long and were centre-padded (with N) or "
            "centre-trimmed to it, e.g. %s",
            stream.n_resized,
            stream.parsed,
            length,
            ", ".join(stream.resized_examples),
        )


def iter_batches(
    source: str | Path,
    *,
    length: int,
    genome: str | Path | Genome | None = None,
    split: str = "test",
    batch_size: int = 1024,
    pad: bool = True,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Stream named one-hot batches from a FASTA, BED or dataset file.

    The kind of file is detected: an HDF5 dataset file gives its ``split``; a file whose
    first non-blank character is ``>`` (plain or gzip) is FASTA; anything else is read as
    BED and needs ``genome``. Only one batch of sequences is held at a time (a BED file's
    table of intervals is read whole).

    Parameters
    ----------
    source
        The input file.
    length
        Sequence length the model takes.
    genome
        Genome FASTA (path or open :class:`~motiflens.sequence.fasta.Genome`), for BED.
    split
        Split of a dataset file.
    batch_size
        Sequences per batch (the last one may be shorter).
    pad
        FASTA records of another length are centre-padded with N or centre-trimmed to
        ``length``, with one warning at the end giving the count (``logging``); with
        ``pad=False`` such a record is an error.

    Yields
    ------
    (names, x)
        Sequence names and float32 one-hot ``(b, 4, length)`` (0.25 for unknown bases).
        BED windows are ``length`` bp centred on the interval's midpoint
        (``mid - length // 2``), shifted to stay inside the chromosome, reverse-complemented
        on the ``-`` strand, and named ``chrom:start-end(strand)``.

    Raises
    ------
    InputError
        A missing, empty or malformed file, a BED file without ``genome``, a dataset of
        another length, or (``pad=False``) a FASTA record of another length.

    Notes
    -----
    Errors in the file itself are found as the stream reaches them (checks that need no
    reading, such as a missing genome, fail at the first ``next``).
    """
    _, _, batches, stream = _open_source(
        source, length=length, genome=genome, split=split, batch_size=batch_size, pad=pad
    )
    yield from _counted(batches, stream, length)


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
        return "\n".join(lines)


def _clean(name: str) -> str:
    return name.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def predict_file(
    run_dir: str | Path,
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
    progress: bool = True,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
) -> PredictionReport | None:
    """Predict every sequence of a FASTA, BED or dataset file with a trained model.

    Parameters
    ----------
    run_dir
        Run directory holding the model (and optionally ``target_labels.txt``).
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
    progress
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
    config = Run(run_dir).model_config
    if config.length is None or config.n_targets is None:
        raise InputError(
            "the model config has no input length or number of targets",
            path=Path(run_dir) / "config.yaml",
            hint="set model.length and model.n_targets (training fills them in)",
        )
    labels = Run(run_dir).target_labels(config.n_targets)
    if genome is None or source_kind(source) != "bed":
        # the file's kind, a dataset's length, a BED file without genome: one message from
        # here rather than one per process (with a genome the BED file is read per rank)
        _open_source(source, length=config.length, genome=genome, split=split,
                     batch_size=batch_size, pad=pad)  # fmt: skip
    options = {
        "run_dir": Path(run_dir),
        "source": Path(source),
        "genome": genome,
        "split": split,
        "batch_size": batch_size,
        "reverse_complement": reverse_complement,
        "raw": raw,
        "pad": pad,
        "progress": progress,
    }
    header = "\t".join(["name", *map(_clean, labels)]) + "\n"
    summary = {
        "out": out,
        "header": header,
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


def _predict_shard(
    shard: Shard,
    *,
    run_dir: Path,
    source: Path,
    genome: str | Path | Genome | None,
    split: str,
    batch_size: int,
    reverse_complement: bool,
    raw: bool,
    pad: bool,
    progress: bool,
) -> _Part:
    """Predict this rank's batches into its part file, one line per sequence."""
    model = Run(run_dir).model(shard.device)
    config = model.config
    kind, total, batches, stream = _open_source(
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
    path = shard.part(".tsv")
    with (
        open(path, "w", encoding="utf-8", newline="\n") as fh,
        tqdm(total=own, desc=desc, unit="seq", disable=not (progress and shard.is_zero)) as bar,
    ):
        for names, x in _counted(batches, stream, config.length, warn=shard.is_zero):
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
            counts.append(len(names))
            bar.update(len(names))
    return _Part(path=path, counts=counts, kind=kind, n_resized=stream.n_resized)


def _merge_predictions(
    parts: list[_Part],
    *,
    out: Path,
    header: str,
    n_targets: int,
    length: int,
    reverse_complement: bool,
    raw: bool,
) -> PredictionReport:
    """Rank 0: the parts' rows back in input order, into ``out`` (atomically)."""
    n = merge_units([p.path for p in parts], [p.counts for p in parts], out, header=header)
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
    )
