"""Genome regions as users write them: ``chr:start-end``, a chromosome name or a BED file.

Genome browsers write regions 1-based and inclusive (``chr1:1,000,001-1,000,600``);
everything here returns 0-based half-open intervals, as BED and the rest of motiflens use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from motiflens.errors import InputError
from motiflens.sequence.bed import read_bed

__all__ = ["Region", "merge_regions", "parse_region", "read_regions"]

_REGION = re.compile(r"^\s*([^\s:]+):([\d,]+)-([\d,]+)\s*$")


class Region(NamedTuple):
    """A genome interval, 0-based half-open, with a name (``""`` if it has none)."""

    chrom: str
    start: int
    end: int
    name: str = ""


def parse_region(text: str) -> tuple[str, int, int]:
    """``chrom:start-end`` (1-based inclusive, commas allowed) -> 0-based half-open.

    Raises
    ------
    InputError
        Text that is not a region, or an empty or negative one.
    """
    match = _REGION.match(text)
    if not match:
        raise InputError(
            f"not a genome region: {text[:60]!r}", hint="write it as chr1:1,000,001-1,000,600"
        )
    chrom = match.group(1)
    start, end = (int(match.group(k).replace(",", "")) for k in (2, 3))
    if start < 1 or end < start:
        raise InputError(f"empty or negative region {text.strip()!r}", hint="start <= end, 1-based")
    return chrom, start - 1, end


def read_regions(spec: str | Path, chrom_sizes: Mapping[str, int]) -> list[Region]:
    """The regions a user named: a BED file, a ``chrom:start-end`` region or a chromosome.

    Parameters
    ----------
    spec
        An existing BED file (name column kept), ``chrom:start-end`` (1-based inclusive,
        commas allowed), or a chromosome name (the whole chromosome). A file wins over the
        other two readings.
    chrom_sizes
        The genome's chromosome lengths: every region must lie inside one.

    Returns
    -------
    list of Region
        In the order given (see :func:`merge_regions`).

    Raises
    ------
    InputError
        Naming the region, the chromosome or the file line that is wrong.
    """
    path = Path(spec)
    if path.is_file():
        table = read_bed(path, dict(chrom_sizes), names=True)
        return [
            Region(c, int(s), int(e), n)
            for c, s, e, n in zip(
                table["chrom"], table["start"], table["end"], table["name"], strict=True
            )
        ]
    text = str(spec).strip()
    if text in chrom_sizes:
        return [Region(text, 0, int(chrom_sizes[text]), text)]
    if not _REGION.match(text):
        known = ", ".join(list(chrom_sizes)[:5])
        raise InputError(
            f"REGIONS {text[:60]!r} is not a file, a chrom:start-end region nor a chromosome "
            "of the genome",
            hint=f"give a BED file, e.g. chr1:1,000,001-1,001,000, or a chromosome ({known}, ...)",
        )
    chrom, start, end = parse_region(text)
    size = chrom_sizes.get(chrom)
    if size is None:
        raise InputError(
            f"chromosome {chrom!r} of region {text!r} is not in the genome",
            hint="check the genome build and chromosome naming ('chr1' vs '1')",
        )
    if end > size:
        raise InputError(f"region {text!r} runs past the end of {chrom} ({size:,} bp)")
    return [Region(chrom, start, end, text)]


def merge_regions(regions: Sequence[Region], chrom_order: Sequence[str]) -> list[Region]:
    """Sort regions in genome order and merge the ones that overlap.

    Regions are ordered by chromosome (in ``chrom_order``, the genome's order) then start;
    overlapping regions become one whose name joins theirs with ``,`` (touching regions
    that share no base stay apart).
    """
    rank = {c: i for i, c in enumerate(chrom_order)}
    merged: list[Region] = []
    for r in sorted(regions, key=lambda r: (rank[r.chrom], r.start, r.end)):
        last = merged[-1] if merged else None
        if last is not None and last.chrom == r.chrom and r.start < last.end:
            names = ",".join(n for n in (last.name, r.name) if n)
            merged[-1] = Region(last.chrom, last.start, max(last.end, r.end), names)
        else:
            merged.append(r)
    return merged
