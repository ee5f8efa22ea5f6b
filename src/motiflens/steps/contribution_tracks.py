"""Per-base contribution tracks (bigWig) of the explain steps, for BED + genome inputs.

When the sequences of ``saliency`` or ``ism`` come from genome coordinates (a BED file and
the genome FASTA), their per-position scores are placed back on the genome:

- a window on the ``-`` strand was reverse-complemented by the loader, so its position
  ``p`` is the genomic base ``start + length - 1 - p`` (its values are written in ``+``
  strand order); on ``+`` (or ``.``) it is ``start + p``;
- where windows overlap, a base gets the mean of the windows' values there (a base no
  window scores, e.g. outside an ISM ``window``, has no data).

The window coordinates come from the BED loader itself
(:func:`motiflens.data.sources.bed_windows`), never from the sequence names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from motiflens.data.sources import bed_windows, source_kind
from motiflens.files import safe_name, staged_folder
from motiflens.results import read_result_info
from motiflens.sequence.fasta import Genome
from motiflens.sequence.tracks import write_bigwig

__all__ = [
    "GenomeWindows",
    "genome_windows",
    "ism_track_values",
    "ism_tracks",
    "observed_base_scores",
    "saliency_tracks",
    "window_tracks",
]

#: Sequences read from ``ism.h5`` at a time.
_CHUNK = 256


@dataclass(frozen=True)
class GenomeWindows:
    """Where each input sequence sits on the genome.

    Attributes
    ----------
    chroms, starts, strands
        One per sequence, in input order: chromosome, 0-based window start, ``+``/``-``/``.``.
    length
        Window length (the model's input length).
    chrom_sizes
        Chromosome -> length, in the genome FASTA's order (the bigWig header's order).
    genome
        The genome FASTA, absolute (the manifest records it, the IGV session opens it).
    """

    chroms: np.ndarray
    starts: np.ndarray
    strands: np.ndarray
    length: int
    chrom_sizes: dict[str, int]
    genome: Path


def genome_windows(
    source: str | Path, genome: str | Path | None, length: int, n: int
) -> GenomeWindows | None:
    """The genome windows of the first ``n`` sequences of a BED source, else None.

    Parameters
    ----------
    source
        The explain step's input; only a BED file has genome coordinates.
    genome
        The genome FASTA the BED file was read with (None: no tracks).
    length
        The model's input length (the window length the loader used).
    n
        Sequences the step read (the loader's first ``n`` windows).

    Returns
    -------
    GenomeWindows or None
        None for a FASTA or dataset source, or without a genome.
    """
    if genome is None or source_kind(source) != "bed":
        return None
    with Genome(genome) as fasta:
        sizes = dict(fasta.sizes)
    chroms, starts, strands, _ = bed_windows(source, sizes, length)
    return GenomeWindows(chroms[:n], starts[:n], strands[:n], length, sizes, Path(genome).resolve())


def window_tracks(
    values: np.ndarray, windows: GenomeWindows, positions: np.ndarray | None = None
) -> Iterator[tuple[str, int, np.ndarray]]:
    """Per-window scores as genome-ordered, non-overlapping per-base track items.

    Parameters
    ----------
    values
        ``(N, W)`` scores of each window at ``positions`` (NaN: no score).
    windows
        Where the ``N`` windows are (:func:`genome_windows`).
    positions
        ``(W,)`` positions within the window (as the model saw it, i.e. after the
        reverse complement on ``-``); default ``0 .. length - 1``.

    Yields
    ------
    (chrom, start, values)
        In the genome's chromosome order, then by start; ``values`` float32 per base from
        ``start``: the mean over the windows that score the base, NaN where none does.

    Notes
    -----
    Windows are taken in start order with a buffer of one window length: when a window
    starts at ``s`` no later window covers a base before ``s``, so those bases are final
    and are yielded. Memory stays at one window however long a chain of overlapping
    windows runs (a tiled chromosome).
    """
    values = np.asarray(values, dtype=np.float64)
    length = windows.length
    pos = np.arange(length) if positions is None else np.asarray(positions, dtype=np.int64)
    if values.shape != (len(windows.starts), len(pos)):
        raise ValueError(f"values {values.shape} for {len(windows.starts)} x {len(pos)} scores")
    for chrom in windows.chrom_sizes:
        rows = np.flatnonzero(windows.chroms == chrom)
        if rows.size == 0:
            continue
        rows = rows[np.argsort(windows.starts[rows], kind="stable")]
        total = np.zeros(length)  # sums and counts of bases lo .. lo + length - 1
        count = np.zeros(length)
        lo = end = None
        for i in rows.tolist():
            start = int(windows.starts[i])
            if lo is not None and end is not None and start > lo:
                done = min(start, end) - lo  # no window still to come covers these
                yield str(chrom), lo, _mean(total[:done], count[:done])
                total = np.concatenate([total[start - lo :], np.zeros(min(start - lo, length))])
                count = np.concatenate([count[start - lo :], np.zeros(min(start - lo, length))])
            lo, end = start, start + length  # every earlier window ends by then
            genomic = length - 1 - pos if windows.strands[i] == "-" else pos
            v = values[i]
            scored = np.isfinite(v)
            np.add.at(total, genomic[scored], v[scored])
            np.add.at(count, genomic[scored], 1)
        assert lo is not None
        yield str(chrom), lo, _mean(total, count)


def _mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``total / count`` as float32, NaN where nothing was counted."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32)


def observed_base_scores(attributions: np.ndarray, onehot: np.ndarray, method: str) -> np.ndarray:
    """The attribution of the observed base at each position, ``(N, L, T)``.

    ``attributions (N, 4, L, T)`` is the projection on the observed bases for every method
    but ``gradient`` (zero off the observed base: the sum over bases is its value); the
    ``gradient`` map covers every base, so its observed-base value is ``sum_b grad * x``
    (an ``N`` base, 0.25 in each channel, gets the mean gradient).
    """
    attributions = np.asarray(attributions, dtype=np.float32)
    if method == "gradient":
        x = np.asarray(onehot, dtype=np.float32)
        unknown = x.sum(axis=1, keepdims=True) == 0  # a stored (uint8) N is all zero
        x = np.where(unknown, np.float32(0.25), x)
        return np.einsum("nblt,nbl->nlt", attributions, x)
    return attributions.sum(axis=1)


def saliency_tracks(
    folder: str | Path,
    attributions: np.ndarray,
    onehot: np.ndarray,
    method: str,
    target_labels: Sequence[str],
    windows: GenomeWindows,
) -> list[Path]:
    """Write ``folder/<target>.bw``: the observed-base attribution at each genomic base.

    The folder is replaced as a whole (no track of an earlier run stays).

    Parameters
    ----------
    folder
        ``explain/saliency/<method>/tracks``.
    attributions, onehot, method
        As stored by the saliency step (see :func:`observed_base_scores`).
    target_labels
        One per target of the last axis.
    windows
        Where the sequences are (:func:`genome_windows`).

    Returns
    -------
    list of Path
        One bigWig per target, in target order.
    """
    scores = observed_base_scores(attributions, onehot, method)
    folder = Path(folder)
    names = [f"{safe_name(label)}.bw" for label in target_labels]
    with staged_folder(folder) as tmp:
        for k, name in enumerate(names):
            write_bigwig(tmp / name, windows.chrom_sizes, window_tracks(scores[..., k], windows))
    return [folder / name for name in names]


def ism_track_values(h5: h5py.File, k: int) -> dict[str, np.ndarray]:
    """Per-position ISM scores of target ``k`` of an open ``ism.h5``, ``(N, W)`` each.

    ``mean``: the mean change over the substitutions of the reference base (the 3 other
    bases; all 4 at an unknown base, which has no reference slot); ``loss`` and ``gain``
    as stored (Basset's, as in ``ism.tsv`` and the figures: ``loss = -min`` over the bases,
    ``>= 0``, the largest drop; ``gain = max``, the largest rise).
    """
    n, _, width, _ = h5["delta"].shape
    positions = h5["positions"][:]
    mean = np.empty((n, width), dtype=np.float32)
    for lo in range(0, n, _CHUNK):  # a chunk at a time: delta is 4x the other arrays
        hi = min(lo + _CHUNK, n)
        delta = h5["delta"][lo:hi, :, :, k].astype(np.float64)  # (chunk, 4, W)
        if "onehot" in h5:
            known = h5["onehot"][lo:hi][:, :, positions].sum(axis=1) == 1
        else:  # no sequences stored: a reference slot is the one exact zero
            known = (delta == 0).any(axis=1)
        mean[lo:hi] = delta.sum(axis=1) / np.where(known, 3.0, 4.0)
    return {"mean": mean, "loss": h5["loss"][:, :, k], "gain": h5["gain"][:, :, k]}


def ism_tracks(folder: str | Path, ism_h5: str | Path, windows: GenomeWindows) -> list[Path]:
    """Write ``folder/<target>.mean.bw``, ``.loss.bw`` and ``.gain.bw`` from ``ism.h5``.

    The folder is replaced as a whole. See :func:`ism_track_values` for the values.

    Returns
    -------
    list of Path
        Per target (in order): the mean, loss and gain bigWigs.
    """
    folder = Path(folder)
    labels = read_result_info(ism_h5).target_labels
    written: list[Path] = []
    with h5py.File(ism_h5, "r") as h5, staged_folder(folder) as tmp:
        positions = h5["positions"][:]
        for k, label in enumerate(labels):
            for kind, values in ism_track_values(h5, k).items():
                name = f"{safe_name(label)}.{kind}.bw"
                tracks = window_tracks(values, windows, positions)
                write_bigwig(tmp / name, windows.chrom_sizes, tracks)
                written.append(folder / name)
    return written
