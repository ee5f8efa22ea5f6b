"""Genome tracks: per-base values written as bigWig or bedGraph, and bigWig read back.

A track is streamed as items ``(chrom, start, values)``: per-base float values starting
at 0-based ``start``, in genome order (chromosomes in the order of ``chrom_sizes``,
increasing non-overlapping starts within one). NaN values are gaps and are not written.
Runs of equal values (after rounding to float32, what bigWig stores) are merged into one
bedGraph-style entry, so a flat stretch costs one entry and reading back gives every
base's value exactly. Both writers go through :func:`motiflens.files.atomic_path`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pyBigWig

from motiflens.errors import InputError
from motiflens.files import atomic_path

__all__ = ["read_bigwig", "write_bedgraph", "write_bigwig"]

Track = Iterable[tuple[str, int, np.ndarray]]

# Entries handed to pyBigWig per call: large enough to amortise the call, small enough
# that one item of a whole chromosome is never turned into one huge list.
_BLOCK = 1 << 16


def _runs(start: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal, non-NaN float32 values as ``(starts, ends, values)`` (0-based, half-open)."""
    v = np.asarray(values, dtype=np.float32).ravel()
    if v.size == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0, np.float32)
    nan = np.isnan(v)
    # A run starts where the value changes or NaN-ness changes (NaN != NaN, so compare both).
    change = np.empty(v.size, bool)
    change[0] = True
    change[1:] = (v[1:] != v[:-1]) & ~(nan[1:] & nan[:-1])
    run_starts = np.flatnonzero(change)
    run_ends = np.append(run_starts[1:], v.size)
    keep = ~nan[run_starts]
    run_starts, run_ends = run_starts[keep], run_ends[keep]
    return run_starts + start, run_ends + start, v[run_starts]


def _ordered(
    track: Track, chrom_sizes: Mapping[str, int] | None
) -> Iterator[tuple[str, int, np.ndarray]]:
    """Yield the items of ``track``, raising :class:`InputError` on any out of genome order."""
    order = {name: i for i, name in enumerate(chrom_sizes)} if chrom_sizes is not None else {}
    last_rank, last_chrom, last_end = -1, None, 0
    for chrom, start, values in track:
        start = int(start)
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"track values must be one-dimensional, got shape {values.shape}")
        end = start + values.size
        if start < 0:
            raise InputError(f"track item {chrom}:{start}-{end} starts before 0")
        if chrom_sizes is not None:
            if chrom not in order:
                raise InputError(
                    f"track item on chromosome {chrom!r}, which is not in the chromosome sizes",
                    hint=f"known: {', '.join(list(order)[:10])}",
                )
            if end > chrom_sizes[chrom]:
                raise InputError(
                    f"track item {chrom}:{start}-{end} runs past the end of {chrom} "
                    f"(length {chrom_sizes[chrom]})"
                )
            rank = order[chrom]
        else:
            rank = last_rank if chrom == last_chrom else last_rank + 1
        if chrom == last_chrom:
            if start < last_end:
                raise InputError(
                    f"track item {chrom}:{start}-{end} overlaps or precedes the previous one "
                    f"(ending at {last_end})",
                    hint="items must come in increasing, non-overlapping order",
                )
        elif rank < last_rank:
            raise InputError(
                f"track item on {chrom} comes after {last_chrom}, against the chromosome order",
                hint="items must come in the order of the chromosome sizes",
            )
        last_rank, last_chrom, last_end = rank, chrom, end
        yield chrom, start, values


def write_bigwig(
    path: str | Path,
    chrom_sizes: Mapping[str, int],
    tracks: Track,
) -> Path:
    """Write per-base values as a bigWig file, atomically and streamed.

    Parameters
    ----------
    path
        The ``.bw`` file to write.
    chrom_sizes
        Chromosome name -> length, in the order the items come (the file's header).
    tracks
        Items ``(chrom, start, values)``: 1-d float values for bases ``start``,
        ``start + 1``, ... (0-based), in genome order and not overlapping. NaN values are
        gaps. Items are consumed one at a time, never all held.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        An item on an unknown chromosome, past a chromosome's end, or out of order.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        if bw is None:
            raise OSError(f"pyBigWig could not open {tmp} for writing")
        try:
            bw.addHeader([(str(c), int(n)) for c, n in chrom_sizes.items()], maxZooms=10)
            for chrom, start, values in _ordered(tracks, chrom_sizes):
                starts, ends, vals = _runs(start, values)
                for lo in range(0, starts.size, _BLOCK):
                    hi = lo + _BLOCK
                    s = starts[lo:hi]
                    bw.addEntries(
                        [chrom] * s.size,
                        s.tolist(),
                        ends=ends[lo:hi].tolist(),
                        values=vals[lo:hi].astype(np.float64).tolist(),
                    )
        finally:
            bw.close()
    return path


def write_bedgraph(path: str | Path, tracks: Track, *, name: str | None = None) -> Path:
    """Write per-base values as a bedGraph text file, atomically and streamed.

    Parameters
    ----------
    path
        The ``.bedGraph`` file to write.
    tracks
        Items ``(chrom, start, values)`` as for :func:`write_bigwig` (genome order: the
        chromosome order is the order they first appear in).
    name
        If given, a ``track type=bedGraph name="..."`` header line is written first.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        if name is not None:
            clean = name.replace('"', "'").replace("\n", " ")
            fh.write(f'track type=bedGraph name="{clean}"\n')
        for chrom, start, values in _ordered(tracks, None):
            starts, ends, vals = _runs(start, values)
            # the shortest float32 text: the file holds what bigWig would
            fh.writelines(
                f"{chrom}\t{s}\t{e}\t{_fmt(v)}\n"
                for s, e, v in zip(starts.tolist(), ends.tolist(), vals.tolist(), strict=True)
            )
    return path


def _fmt(value: float) -> str:
    """Shortest text that reads back as the same float32 (``str`` of a numpy float32)."""
    return str(np.float32(value))


def read_bigwig(path: str | Path, chrom: str, start: int, end: int) -> np.ndarray:
    """Per-base values of ``chrom[start:end]`` (0-based, half-open) from a bigWig file.

    Returns
    -------
    numpy.ndarray
        ``(end - start,)`` float32; NaN where the file has no data.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("bigWig file not found", path=path)
    bw = pyBigWig.open(str(path))
    if bw is None:
        raise InputError("not a bigWig file", path=path)
    try:
        sizes = bw.chroms()
        if chrom not in sizes:
            raise InputError(f"chromosome {chrom!r} is not in the bigWig file", path=path)
        if not 0 <= start <= end <= sizes[chrom]:
            raise InputError(
                f"{chrom}:{start}-{end} is outside {chrom} (length {sizes[chrom]})", path=path
            )
        if start == end:
            return np.empty(0, np.float32)
        values = np.asarray(bw.values(chrom, start, end), dtype=np.float32)
        if values.size != end - start:  # a file without any entries answers with nothing
            return np.full(end - start, np.nan, np.float32)
        return values
    finally:
        bw.close()
