"""Known-motif matches in sequences with FIMO (memelite), in genome coordinates.

:func:`scan_motifs` runs memelite's FIMO on one-hot sequences and places every match on
the genome: a sequence ``i`` is the window that starts at ``offsets[i]`` on ``chroms[i]``,
read on ``strands[i]`` (a ``-`` window was reverse-complemented, so its matches flip
position and strand). :func:`motif_hits_bed` turns the table into a BED6+ track.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.errors import InputError
from motiflens.motifs.pwm import Motif
from motiflens.sequence.bed_write import bed_name, write_bed
from motiflens.sequence.onehot import one_hot

__all__ = ["HIT_COLUMNS", "motif_hits_bed", "scan_motifs"]

#: Columns of :func:`scan_motifs`' table.
HIT_COLUMNS = [
    "chrom",
    "start",
    "end",
    "motif_id",
    "motif_name",
    "strand",
    "score",
    "p_value",
    "sequence",
]

#: -log10(p) times this is the BED score (p = 1e-10 and below give 1000).
SCORE_PER_DECADE = 100


def scan_motifs(
    motifs: Sequence[Motif],
    X: np.ndarray | str | Sequence[str],
    names: Sequence[str] | None = None,
    offsets: Sequence[int] | np.ndarray | None = None,
    *,
    strands: Sequence[str] | None = None,
    p: float = 1e-4,
) -> pd.DataFrame:
    """Every match of every motif at ``p``-value ``<= p`` (FIMO), in genome coordinates.

    Parameters
    ----------
    motifs
        The motifs (e.g. :func:`motiflens.motifs.databases.load_database`).
    X
        ``(N, 4, L)`` one-hot sequences, or DNA strings of one length (an N, all 0.25
        in one-hot, matches nothing).
    names
        The chromosome (or sequence name) of each sequence; default ``"0"``, ``"1"``...
    offsets
        0-based genome start of each sequence; default 0.
    strands
        ``"-"`` where the sequence is the reverse complement of the genome window
        (BED intervals on the minus strand); default all ``"+"``.
    p
        FIMO p-value threshold.

    Raises
    ------
    InputError
        A p-value threshold outside (0, 1].

    Returns
    -------
    pandas.DataFrame
        Columns :data:`HIT_COLUMNS`: 0-based half-open ``start``/``end`` on the genome,
        the strand on the genome, FIMO's log-odds ``score`` and ``p_value``, and the row
        of ``X``; ordered by chrom, start, motif.
    """
    if not 0 < p <= 1:
        raise InputError(f"the p-value threshold must be in (0, 1], got {p}", hint="e.g. 1e-4")
    if isinstance(X, str) or (len(X) and isinstance(X[0], str)):
        X = one_hot([X] if isinstance(X, str) else list(X))
    # C-contiguous, as for the PWMs below: numba compiles (and caches) FIMO's kernels per
    # array layout, so one layout whatever the caller passes means one compilation, which
    # `python -m motiflens.motifs.warmup` does at install time.
    X = np.ascontiguousarray(X, dtype=np.float32)
    n, _, length = X.shape
    names = [str(i) for i in range(n)] if names is None else list(names)
    offsets = np.zeros(n, np.int64) if offsets is None else np.asarray(offsets, np.int64)
    minus = np.zeros(n, bool) if strands is None else np.asarray(strands, dtype=object) == "-"
    if not (len(names) == len(offsets) == len(minus) == n):
        raise ValueError("names, offsets and strands need one entry per sequence")
    if not motifs or n == 0:
        return pd.DataFrame({c: [] for c in HIT_COLUMNS})
    # memelite loads numba: on first use, as motifs.compare does (imports stay light)
    from memelite.fimo import fimo

    # keys by position: two database motifs may share an id
    pwms = {str(k): np.ascontiguousarray(m.probs, dtype=np.float64) for k, m in enumerate(motifs)}
    found = [h for h in fimo(pwms, X, threshold=p) if len(h)]
    if not found:
        return pd.DataFrame({c: [] for c in HIT_COLUMNS})
    hits = pd.concat(found, ignore_index=True)
    seq = hits["sequence_name"].to_numpy(np.int64)
    k = hits["motif_name"].astype(int).to_numpy()
    start = hits["start"].to_numpy(np.int64)
    end = hits["end"].to_numpy(np.int64)
    flip = minus[seq]
    # on a reverse-complemented window, sequence [s, e) is genome [L - e, L - s)
    g_start = offsets[seq] + np.where(flip, length - end, start)
    strand = hits["strand"].to_numpy(dtype=object)
    strand = np.where(flip, np.where(strand == "+", "-", "+"), strand)
    table = pd.DataFrame(
        {
            "chrom": [names[i] for i in seq],
            "start": g_start,
            "end": g_start + (end - start),
            "motif_id": [motifs[i].id for i in k],
            "motif_name": [motifs[i].name for i in k],
            "strand": strand,
            "score": hits["score"].to_numpy(np.float64),
            "p_value": hits["p-value"].to_numpy(np.float64),
            "sequence": seq,
        }
    )
    return table.sort_values(["chrom", "start", "motif_id", "strand"], ignore_index=True)


def motif_hits_bed(hits: pd.DataFrame, path: str | Path, *, p: float | None = None) -> Path:
    """Write :func:`scan_motifs`' table as BED6+2, atomically.

    Name ``<motif id>_<motif name>``, score ``100 * -log10(p-value)`` capped at 1000,
    strand from FIMO, then the ``p_value`` and FIMO ``score`` columns. Matches that two
    overlapping windows both found are written once.
    """
    table = hits.drop_duplicates(["chrom", "start", "end", "motif_id", "strand"])
    bed = pd.DataFrame(
        {
            "chrom": table["chrom"].to_numpy(dtype=object),
            "start": table["start"].to_numpy(np.int64),
            "end": table["end"].to_numpy(np.int64),
            "name": [
                bed_name(f"{i}_{n}" if n and n != i else i)
                for i, n in zip(table["motif_id"], table["motif_name"], strict=True)
            ],
            "score": np.clip(
                np.round(
                    # FIMO may report p = 0 (below float precision): scored as 1e-300
                    -np.log10(np.maximum(table["p_value"].to_numpy(np.float64), 1e-300))
                    * SCORE_PER_DECADE
                ),
                0,
                1000,
            ).astype(np.int64),
            "strand": table["strand"].to_numpy(dtype=object),
            "p_value": table["p_value"].to_numpy(np.float64),
            "fimo_score": table["score"].to_numpy(np.float64),
        }
    )
    at = f" at p <= {p:g}" if p is not None else ""
    header = [
        f"motiflens: known-motif matches (FIMO, memelite){at}",
        "BED6+2: name = motif id_name; score = 100 * -log10(p-value), capped at 1000;",
        "strand of the match; p_value = FIMO p-value; fimo_score = log-odds score",
    ]
    return write_bed(bed, path, header=header)
