"""Writing BED6+ tracks: the six standard columns, extra columns after them, a header.

Genome browsers read the standard columns and stop at the first column they do not
expect (IGV keeps reading ``thickStart`` only while it is an integer), so extra values
(a raw score, per-target numbers) go after column 6 and are described in ``#`` header
lines, which :func:`~motiflens.sequence.bed.read_bed`, bedtools and IGV all skip.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.files import atomic_path

__all__ = ["BED6", "bed_name", "bed_scores", "write_bed"]

#: The standard columns every table given to :func:`write_bed` starts with.
BED6 = ("chrom", "start", "end", "name", "score", "strand")


def bed_name(text: str) -> str:
    """``text`` made safe for a BED column: whitespace (a column break) becomes ``_``."""
    return "_".join(str(text).split()) or "."


def bed_scores(values: np.ndarray, top: float | np.ndarray) -> np.ndarray:
    """BED scores (integers 0-1000): ``values / top`` scaled to 1000, clipped.

    Parameters
    ----------
    values
        The raw scores.
    top
        The value that maps to 1000 (one number, or one per value); where it is not
        positive the score is 0.

    Returns
    -------
    numpy.ndarray
        int64 scores, ``round(1000 * values / top)`` clipped to ``[0, 1000]``.
    """
    values = np.asarray(values, dtype=np.float64)
    top = np.broadcast_to(np.asarray(top, dtype=np.float64), values.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(top > 0, 1000 * values / top, 0.0)
    return np.clip(np.nan_to_num(np.round(scaled)), 0, 1000).astype(np.int64)


def write_bed(table: pd.DataFrame, path: str | Path, *, header: Sequence[str] = ()) -> Path:
    """Write a BED6+ file atomically: ``#`` header lines, a ``#`` column-name line, rows.

    Parameters
    ----------
    table
        Columns :data:`BED6` first (in that order), then any extra columns; rows are
        written in the table's order.
    path
        Output file.
    header
        Lines describing the file and its extra columns (each written after ``# ``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    columns = list(table.columns)
    if tuple(columns[:6]) != BED6:
        raise ValueError(f"a BED table starts with the columns {BED6}, got {columns[:6]}")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for line in header:
            fh.write(f"# {line}\n")
        fh.write("#" + "\t".join(columns) + "\n")
        table.to_csv(fh, sep="\t", header=False, index=False, float_format="%.6g")
    return path
