"""Named one-hot batches streamed from a FASTA, BED (with a genome) or dataset file.

The kind of file is detected (:func:`source_kind`); only one batch of sequences is held
at a time, so a million sequences never sit in memory at once. :func:`iter_batches` is
the reader; :func:`open_source` also hands back the counters a caller reports from and
can skip the batches another process takes (``keep``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from motiflens.data.hdf5 import SequenceDataset, reading_errors, to_float_onehot
from motiflens.errors import InputError
from motiflens.sequence.bed import read_bed
from motiflens.sequence.fasta import Genome, read_fasta
from motiflens.sequence.onehot import (
    code_table,
    codes_to_onehot,
    resize,
    reverse_complement_codes,
)
from motiflens.sequence.textio import sniff_sequence_file

log = logging.getLogger(__name__)


def source_kind(path: str | Path) -> str:
    """Tell a dataset file, a FASTA file and a BED file apart.

    Returns
    -------
    str
        ``"dataset"`` (an HDF5 file), or ``"fasta"`` / ``"bed"`` as told by
        :func:`~motiflens.sequence.textio.sniff_sequence_file` (plain or gzip).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("input file not found", path=path)
    if path.is_dir():
        raise InputError("expected a FASTA, BED or dataset file but found a directory", path=path)
    if h5py.is_hdf5(path):
        return "dataset"
    return sniff_sequence_file(path)


@dataclass
class SourceStream:
    """Counters that a batch generator fills in as it goes."""

    n: int = 0
    parsed: int = 0  # records read, including those of batches skipped (another rank's)
    n_resized: int = 0
    resized_examples: list[str] = field(default_factory=list)


Keep = Callable[[int], bool] | None
"""Which batches (by 0-based index) to produce; None for all. The others are skipped as
cheaply as the format allows (FASTA is still parsed, so errors surface on every rank)."""


def _fasta_batches(
    path: Path, length: int, batch_size: int, pad: bool, stream: SourceStream, keep: Keep = None
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
        Arrays in file order; a name is the BED name (column 4) where the line has one
        other than ``.``, else ``chrom:start-end(strand)`` of the window.

    Raises
    ------
    InputError
        On a malformed BED, an unknown chromosome, or a chromosome shorter than ``length``.
    """
    df = read_bed(bed, chrom_sizes=chrom_sizes, names=True)
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
    # Column 4 names the row where the file has it; repeated names are kept (predict
    # warns about them, as it does for two intervals of one window).
    names = np.array(
        [
            label or f"{c}:{s}-{s + length}({st})"
            for c, s, st, label in zip(
                chroms, starts.tolist(), strands, df["name"].tolist(), strict=True
            )
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
    stream: SourceStream,
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
    path: Path, split: str, batch_size: int, stream: SourceStream, keep: Keep = None
) -> Iterator[tuple[list[str], np.ndarray]]:
    # a damaged chunk shows only when read: an InputError naming the file, not an OSError
    with reading_errors(path), h5py.File(path, "r") as h5:
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


def open_source(
    source: str | Path,
    *,
    length: int,
    genome: str | Path | Genome | None,
    split: str,
    batch_size: int,
    pad: bool,
    keep: Keep = None,
) -> tuple[str, int | None, Iterator[tuple[list[str], np.ndarray]], SourceStream]:
    """Check the input up front; return (kind, total or None, batches, counters).

    ``keep`` selects batches by index (a rank's share); see :data:`Keep`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    path = Path(source)
    kind = source_kind(path)
    stream = SourceStream()
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


def count_batches(
    batches: Iterator[tuple[list[str], np.ndarray]],
    stream: SourceStream,
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
        on the ``-`` strand, and named by the BED name column, or where a line has none
        (or ``.``) ``chrom:start-end(strand)`` of the window.

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
    _, _, batches, stream = open_source(
        source, length=length, genome=genome, split=split, batch_size=batch_size, pad=pad
    )
    yield from count_batches(batches, stream, length)
