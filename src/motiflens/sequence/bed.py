"""BED / narrowPeak intervals with validation that names the file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.errors import InputError
from motiflens.sequence.textio import numbered_lines

BED_COLUMNS = ["chrom", "start", "end", "strand"]
#: What column 6 may hold; '.' (unknown) is read as '+'.
STRANDS = ("+", "-", ".")


def read_bed(
    path: str | Path,
    chrom_sizes: dict[str, int] | None = None,
    keep: Callable[[str], bool] | None = None,
    names: bool = False,
) -> pd.DataFrame:
    """Read a BED, BED6+ or narrowPeak file (plain or gzip).

    Parameters
    ----------
    path
        The file. ``track``, ``browser`` and ``#`` lines are skipped.
    chrom_sizes
        If given, every interval must lie on a known chromosome and inside it.
    keep
        Predicate on the chromosome name; intervals on other chromosomes are skipped
        before any check against ``chrom_sizes`` (e.g. drop chrY or unplaced contigs).
    names
        Also return column 4 as ``name`` (``""`` where the file has none or ``.``).

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom, start, end, strand`` (strand ``+`` unless column 6 is ``-``) and
        ``line`` (the 1-based line number, for later messages); with ``names``, ``name``.

    Raises
    ------
    InputError
        On fewer than three columns, non-integer coordinates, ``start >= end`` (an empty
        interval holds no base), negative starts, a strand other than ``+``, ``-`` or
        ``.``, an empty file, or (with ``chrom_sizes``) an unknown chromosome or an
        interval past the chromosome end.
    """
    chroms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    strands: list[str] = []
    lines: list[int] = []
    labels: list[str] = []
    parsed = 0  # interval lines seen, kept or not
    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        parsed += 1
        fields = line.split("\t")
        if len(fields) < 3:
            fields = line.split()
        if len(fields) < 3:
            raise InputError(
                f"expected at least 3 tab-separated columns (chrom, start, end), got {len(fields)}",
                path=path,
                line=number,
            )
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise InputError(
                f"start and end must be integers, got {fields[1]!r} and {fields[2]!r}",
                path=path,
                line=number,
            ) from None
        if start < 0:
            raise InputError(f"negative start {start}", path=path, line=number)
        if start > end:
            raise InputError(
                f"start {start} is greater than end {end}",
                path=path,
                line=number,
                hint="BED intervals are 0-based, half-open: start < end",
            )
        if start == end:
            raise InputError(
                f"empty interval: start and end are both {start}",
                path=path,
                line=number,
                hint="BED intervals are 0-based, half-open (the bases start..end-1); for the "
                f"single base at {start + 1} (1-based) write start {start}, end {start + 1}",
            )
        strand = fields[5].strip() if len(fields) > 5 else "."
        if strand not in STRANDS:
            raise InputError(
                f"strand (column 6) is {strand!r}; BED allows '+', '-' or '.'",
                path=path,
                line=number,
                hint="write '.' for an unknown strand",
            )
        chrom = fields[0]
        if keep is not None and not keep(chrom):
            continue
        if chrom_sizes is not None:
            size = chrom_sizes.get(chrom)
            if size is None:
                raise InputError(
                    f"chromosome {chrom!r} is not in the genome FASTA",
                    path=path,
                    line=number,
                    hint="check the genome build and chromosome naming ('chr1' vs '1')",
                )
            if end > size:
                raise InputError(
                    f"interval {chrom}:{start}-{end} runs past the chromosome end ({size})",
                    path=path,
                    line=number,
                    hint="is the BED from another genome build than the FASTA?",
                )
        chroms.append(chrom)
        starts.append(start)
        ends.append(end)
        strands.append("-" if strand == "-" else "+")
        lines.append(number)
        label = fields[3].strip() if len(fields) > 3 else ""
        labels.append("" if label == "." else label)
    # A file of headers and comments alone is an error even with `keep`; intervals that
    # were all filtered out give an empty table for the caller to judge.
    if not parsed:
        raise InputError("no intervals found (only headers or comments)", path=path)
    table = pd.DataFrame(
        {
            "chrom": chroms,
            "start": np.asarray(starts, dtype=np.int64),
            "end": np.asarray(ends, dtype=np.int64),
            "strand": strands,
            "line": np.asarray(lines, dtype=np.int64),
        }
    )
    if names:
        table["name"] = labels
    return table
