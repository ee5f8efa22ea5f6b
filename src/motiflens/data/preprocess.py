"""Peaks + genome -> merged regions -> activity table -> dataset file (Basset's pipeline).

Reproduces Basset's ``preprocess_features.py`` + ``seq_hdf5.py``:

1. every peak becomes its integer midpoint ``(start + end) // 2``, tagged with its target;
2. the midpoint is extended to a window ``[mid - size//2, mid - size//2 + size)``, clipped
   at 0 and *shifted* (not shortened) at the chromosome end;
3. per chromosome and strand, windows sorted by start are swept into groups while the next
   window starts before ``open_end - merge_overlap``; inside a group the adjacent pair with
   the largest overlap is merged while that overlap is at least ``merge_overlap``: the new
   centre is the average of the two centres weighted by ``1 + active targets``, the window
   is re-extended and the target sets are unioned;
4. the activity table holds 0/1 per region and target.

Differences from Basset, on purpose: regions come out in natural chromosome order (Basset's
followed dict order), chromosome lengths always come from the genome (Basset warned and
carried on without them), sequences are never held all in memory at once, and the split
is by held-out chromosomes by default (random fractions or counts on request).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.data.hdf5 import DatasetWriter
from motiflens.data.splits import SPLITS, split_by_chromosome, split_random
from motiflens.errors import InputError
from motiflens.files import atomic_path
from motiflens.progress import tqdm
from motiflens.sequence.bed import read_bed
from motiflens.sequence.fasta import Genome
from motiflens.sequence.onehot import reverse_complement_codes
from motiflens.sequence.textio import numbered_lines

log = logging.getLogger(__name__)

_CANONICAL = re.compile(r"^(chr)?(\d+|X|Y)$")


@dataclass
class PreprocessReport:
    """What :func:`preprocess_peaks` made."""

    dataset: Path
    bed: Path
    activity: Path
    target_labels: list[str]
    n_peaks: dict[str, int]
    n_regions: int
    n_merged: int
    n_shifted: int
    split_sizes: dict[str, int]
    positive_rate: dict[str, list[float]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"dataset   {self.dataset}",
            f"regions   {self.bed}",
            f"activity  {self.activity}",
            f"{sum(self.n_peaks.values()):,} peaks from {len(self.target_labels)} targets -> "
            f"{self.n_regions:,} regions ({self.n_merged:,} merges, "
            f"{self.n_shifted:,} windows shifted at chromosome ends)",
            "split sizes: " + ", ".join(f"{s} {n:,}" for s, n in self.split_sizes.items()),
        ]
        return "\n".join(lines)


def read_targets_table(path: str | Path) -> list[tuple[str, Path]]:
    """Read a targets table: one line per target, ``label<whitespace>BED path``.

    Relative BED paths are resolved against the table's own directory. Lines starting with
    ``#`` and blank lines are skipped.

    Raises
    ------
    InputError
        On a line without exactly two fields, a duplicate label, or a missing BED file.
    """
    path = Path(path)
    targets: list[tuple[str, Path]] = []
    seen: dict[str, int] = {}
    for number, line in numbered_lines(path):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise InputError(
                f"expected 2 fields (label, BED path), got {len(fields)}",
                path=path,
                line=number,
                hint="one target per line: a label without spaces, then the BED file path",
            )
        label, bed = fields
        if label in seen:
            raise InputError(
                f"target label {label!r} already used on line {seen[label]}",
                path=path,
                line=number,
            )
        bed_path = Path(bed) if Path(bed).is_absolute() else path.parent / bed
        if not bed_path.exists():
            raise InputError(f"BED file {bed!r} not found", path=path, line=number)
        seen[label] = number
        targets.append((label, bed_path))
    if not targets:
        raise InputError("no targets listed", path=path)
    return targets


def chromosome_filter(
    drop: Sequence[str] = (), canonical_only: bool = False
) -> Callable[[str], bool]:
    """Predicate keeping chromosomes: not in ``drop`` and, optionally, canonical only.

    Canonical means ``chr1``..``chr22``-style numbered chromosomes, X and Y (with or without
    the ``chr`` prefix): unplaced contigs, alternates and chrM are dropped.
    """
    dropped = set(drop)

    def keep(chrom: str) -> bool:
        if chrom in dropped:
            return False
        return not canonical_only or bool(_CANONICAL.match(chrom))

    return keep


def _windows(mid: np.ndarray, size: int, chrom_len: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Basset's ``Peak.extend``: window of ``size`` around ``mid``, shifted at the ends."""
    start = np.maximum(0, mid - size // 2)
    end = start + size
    over = end > chrom_len
    end = np.where(over, chrom_len, end)
    start = np.where(over, chrom_len - size, start)
    return start, end


def _merge_group(
    starts: list[int], acts: list[set[int]], size: int, merge_overlap: int, chrom_len: int
) -> tuple[list[int], list[set[int]], int]:
    """Basset's ``merge_peaks`` on one swept group; returns starts, activity sets, merges."""
    ends = [s + size for s in starts]
    merges = 0
    max_overlap = merge_overlap
    while len(starts) > 1 and max_overlap >= merge_overlap:
        max_i = 0
        max_overlap = ends[0] - starts[1]
        for i in range(1, len(starts) - 1):
            overlap = ends[i] - starts[i + 1]
            if overlap > max_overlap:
                max_i, max_overlap = i, overlap
        if max_overlap < merge_overlap:
            break
        j = max_i + 1
        mids = ((starts[max_i] + ends[max_i]) // 2, (starts[j] + ends[j]) // 2)
        weights = (1 + len(acts[max_i]), 1 + len(acts[j]))
        # int(0.5 + weighted mean): Basset rounds half up
        mid = int(0.5 + (mids[0] * weights[0] + mids[1] * weights[1]) / sum(weights))
        start = max(0, mid - size // 2)
        if start + size > chrom_len:
            start = chrom_len - size
        starts[max_i], ends[max_i] = start, start + size
        acts[max_i] = acts[max_i] | acts[j]
        del starts[j], ends[j], acts[j]
        merges += 1
    return starts, acts, merges


def merge_peaks(
    peaks: pd.DataFrame,
    chrom_sizes: dict[str, int],
    size: int = 600,
    merge_overlap: int = 200,
) -> tuple[pd.DataFrame, int, int]:
    """Merge peaks of many targets into fixed-size regions with Basset's algorithm.

    Parameters
    ----------
    peaks
        Columns ``chrom, start, end, strand, target`` (target = integer index).
    chrom_sizes
        Chromosome lengths (windows are shifted to stay inside).
    size
        Region width.
    merge_overlap
        Merge two adjacent windows when they overlap by at least this many bases.

    Returns
    -------
    regions : pandas.DataFrame
        ``chrom, start, end, strand, targets`` (targets: sorted tuple of indices), in natural
        chromosome order then by start.
    n_merged : int
        Number of pairwise merges made.
    n_shifted : int
        Number of peak windows shifted at a chromosome end.
    """
    if merge_overlap > size:
        raise InputError(
            f"the merge overlap {merge_overlap} is larger than the region size {size}",
            hint="give --merge-overlap smaller than --size",
        )
    chrom = peaks["chrom"].to_numpy(dtype=object)
    chrom_len = np.array([chrom_sizes[c] for c in chrom], dtype=np.int64)
    short = chrom_len < size
    if short.any():
        bad = sorted(set(chrom[short]))
        raise InputError(
            f"chromosomes shorter than the region size {size}: {bad[:5]}",
            hint="drop them (e.g. --canonical-only) or choose a smaller --size",
        )
    mid = (peaks["start"].to_numpy(np.int64) + peaks["end"].to_numpy(np.int64)) // 2
    start, _ = _windows(mid, size, chrom_len)
    n_shifted = int(((mid - size // 2) != start).sum())

    strand = peaks["strand"].to_numpy(dtype=str)
    target = peaks["target"].to_numpy(np.int64)
    # Basset sorts midpoints (bedtools sort); windows inherit that order, ties by target.
    order = np.lexsort((target, mid, strand, _chrom_rank_array(chrom)))
    s_chrom = chrom[order]
    s_strand = strand[order]
    s_start = start[order]
    s_target = target[order]
    s_len = chrom_len[order]

    # Windows share one size and are sorted, so the running open end is the previous end:
    # a new group starts when start >= previous start + size - merge_overlap.
    same_key = (s_chrom[1:] == s_chrom[:-1]) & (s_strand[1:] == s_strand[:-1])
    joins = same_key & (s_start[1:] - s_start[:-1] < size - merge_overlap)
    group_start = np.flatnonzero(np.concatenate([[True], ~joins]))
    group_end = np.append(group_start[1:], len(s_start))

    out_chrom: list[str] = []
    out_strand: list[str] = []
    out_start: list[int] = []
    out_targets: list[tuple[int, ...]] = []
    n_merged = 0
    singles = group_end - group_start == 1
    for g0, g1, single in zip(group_start, group_end, singles, strict=True):
        if single:
            out_chrom.append(s_chrom[g0])
            out_strand.append(s_strand[g0])
            out_start.append(int(s_start[g0]))
            out_targets.append((int(s_target[g0]),))
            continue
        starts, acts, merges = _merge_group(
            [int(s) for s in s_start[g0:g1]],
            [{int(t)} for t in s_target[g0:g1]],
            size,
            merge_overlap,
            int(s_len[g0]),
        )
        n_merged += merges
        for s, a in zip(starts, acts, strict=True):
            out_chrom.append(s_chrom[g0])
            out_strand.append(s_strand[g0])
            out_start.append(s)
            out_targets.append(tuple(sorted(a)))
    starts_arr = np.asarray(out_start, dtype=np.int64)
    regions = pd.DataFrame(
        {
            "chrom": out_chrom,
            "start": starts_arr,
            "end": starts_arr + size,
            "strand": out_strand,
            "targets": out_targets,
        }
    )
    return regions, n_merged, n_shifted


def _chrom_rank(chrom: str) -> tuple[int, int, str]:
    """Natural chromosome order: numbered, then X, Y, M, then the rest alphabetically."""
    name = chrom[3:] if chrom.startswith("chr") else chrom
    if name.isdigit():
        return (0, int(name), "")
    special = {"X": 1, "Y": 2, "M": 3, "MT": 3}
    if name in special:
        return (special[name], 0, "")
    return (4, 0, name)


def _chrom_rank_array(chroms: np.ndarray) -> np.ndarray:
    ranks = {c: i for i, c in enumerate(sorted(set(chroms), key=_chrom_rank))}
    return np.array([ranks[c] for c in chroms], dtype=np.int64)


def activity_matrix(regions: pd.DataFrame, n_targets: int) -> np.ndarray:
    """0/1 activity table ``(n_regions, n_targets)`` from the regions' target tuples."""
    act = np.zeros((len(regions), n_targets), dtype=np.int8)
    rows = np.repeat(np.arange(len(regions)), [len(t) for t in regions["targets"]])
    cols = np.fromiter((t for ts in regions["targets"] for t in ts), dtype=np.int64)
    act[rows, cols] = 1
    return act


def preprocess_peaks(
    targets_table: str | Path,
    genome: str | Path,
    out: str | Path,
    *,
    size: int = 600,
    merge_overlap: int = 200,
    drop_chroms: Sequence[str] = (),
    canonical_only: bool = False,
    split: str = "chrom",
    valid_chroms: Sequence[str] = ("chr8",),
    test_chroms: Sequence[str] = ("chr9",),
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 1,
    chunk_size: int = 16384,
    progress: bool = True,
) -> PreprocessReport:
    """Build a dataset file from per-target peak files and a genome.

    Parameters
    ----------
    targets_table
        Table of ``label  BED-path`` lines (BED, narrowPeak, gz allowed).
    genome
        Genome FASTA, indexed with pyfaidx (plain or bgzip).
    out
        Dataset file to write (``.h5``). The merged BED (``<stem>.bed``: chrom, start, end,
        split, score 1, strand, comma-separated active target indices) and the activity
        table (``<stem>_act.tsv``) are written beside it.
    size, merge_overlap
        Region width and minimum overlap to merge (Basset: 600 and 200).
    drop_chroms, canonical_only
        Chromosome filtering (Basset's ``-y`` is ``drop_chroms=["chrY"]``, ``-i`` is close to
        ``canonical_only``).
    split
        ``"chrom"`` (held-out chromosomes) or ``"random"``.
    valid_chroms, test_chroms
        Chromosomes for validation and test when ``split="chrom"`` (``chr8`` matches ``8``).
    valid, test, seed
        Fractions (< 1) or counts when ``split="random"``; also seed the order of
        sequences inside each split, which is random as in Basset's ``seq_hdf5.py``.
    chunk_size
        Regions encoded and written per step (bounds memory).
    progress
        Show a progress bar.

    Returns
    -------
    PreprocessReport
    """
    out = Path(out)
    if size < 1:
        raise InputError(
            f"the region size must be at least 1 bp, got {size}",
            hint="give --size in bp, e.g. --size 600 (Basset's)",
        )
    if merge_overlap < 0:
        raise InputError(
            f"the merge overlap cannot be negative, got {merge_overlap}",
            hint="give --merge-overlap in bp, e.g. 200 (Basset's); 0 merges touching windows",
        )
    targets = read_targets_table(targets_table)
    labels = [label for label, _ in targets]
    keep = chromosome_filter(drop_chroms, canonical_only)
    with Genome(genome) as fasta:
        frames = []
        n_peaks: dict[str, int] = {}
        for index, (label, bed) in enumerate(
            tqdm(targets, desc="reading peaks", unit="file", disable=not progress)
        ):
            df = read_bed(bed, chrom_sizes=fasta.sizes, keep=keep)
            df["target"] = index
            n_peaks[label] = len(df)
            if df.empty:
                log.warning("target %s has no peaks left after chromosome filtering", label)
            frames.append(df)
        peaks = pd.concat(frames, ignore_index=True)
        if peaks.empty:
            raise InputError(
                "no peaks left after chromosome filtering",
                path=targets_table,
                hint="check --drop-chrom / --canonical-only against the BED chromosome names",
            )
        regions, n_merged, n_shifted = merge_peaks(peaks, fasta.sizes, size, merge_overlap)
        act = activity_matrix(regions, len(labels))

        if split == "chrom":
            # split_by_chromosome matches 'chr8' to '8' and back itself.
            assign = split_by_chromosome(regions["chrom"].to_numpy(), valid_chroms, test_chroms)
        elif split == "random":
            assign = split_random(len(regions), valid, test, seed)
        else:
            raise ValueError(f"split must be 'chrom' or 'random', got {split!r}")
        regions["split"] = assign
        sizes = {s: int((assign == s).sum()) for s in SPLITS}
        for s in ("valid", "test"):
            if sizes[s] == 0:
                log.warning(
                    "the %s split is empty; with --split chrom check the held-out chromosome "
                    "names against the genome's",
                    s,
                )

        headers = (
            regions["chrom"]
            + ":"
            + regions["start"].astype(str)
            + "-"
            + regions["end"].astype(str)
            + "("
            + regions["strand"]
            + ")"
        ).to_numpy(dtype=object)

        attrs = {
            "source": "peaks",
            "targets_table": str(targets_table),
            "genome": str(genome),
            "size": size,
            "merge_overlap": merge_overlap,
            "split": split,
            "seed": seed,
        }
        rng = np.random.default_rng(seed)
        total = len(regions)
        chrom_arr = regions["chrom"].to_numpy(dtype=object)
        start_arr = regions["start"].to_numpy(np.int64)
        minus = regions["strand"].to_numpy(dtype=object) == "-"
        # The BED and the activity table are renamed into place only after the dataset
        # (inner block) is: a failed dataset write left them beside no dataset.
        with (
            atomic_path(_sibling(out, ".bed")) as bed_tmp,
            atomic_path(_sibling(out, "_act.tsv")) as act_tmp,
            DatasetWriter(out, labels, size, sizes, attrs=attrs) as writer,
            tqdm(total=total, desc="writing sequences", unit="region", disable=not progress) as bar,
        ):
            for s in SPLITS:
                members = rng.permutation(np.flatnonzero(assign == s))
                for c0 in range(0, len(members), chunk_size):
                    rows = members[c0 : c0 + chunk_size]
                    codes = np.empty((len(rows), size), dtype=np.uint8)
                    chroms = chrom_arr[rows]
                    for c in np.unique(chroms):
                        sel = np.flatnonzero(chroms == c)
                        codes[sel] = fasta.fetch_codes(c, start_arr[rows[sel]], size)
                    rc = minus[rows]
                    if rc.any():
                        codes[rc] = reverse_complement_codes(codes[rc])
                    writer.write(s, codes, act[rows], headers[rows])
                    bar.update(len(rows))
            _write_tables(bed_tmp, act_tmp, regions, act, labels, headers)
    return PreprocessReport(
        dataset=out,
        bed=_sibling(out, ".bed"),
        activity=_sibling(out, "_act.tsv"),
        target_labels=labels,
        n_peaks=n_peaks,
        n_regions=total,
        n_merged=n_merged,
        n_shifted=n_shifted,
        split_sizes=sizes,
        positive_rate={
            s: act[assign == s].mean(axis=0).round(4).tolist() for s in SPLITS if sizes[s]
        },
    )


def _sibling(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def _write_tables(
    bed_path: Path,
    act_path: Path,
    regions: pd.DataFrame,
    act: np.ndarray,
    labels: list[str],
    headers: np.ndarray,
) -> None:
    """Merged BED and activity table (to the caller's temporary paths)."""
    bed = pd.DataFrame(
        {
            "chrom": regions["chrom"],
            "start": regions["start"],
            "end": regions["end"],
            "name": regions["split"],
            "score": 1,
            "strand": regions["strand"],
            "targets": [",".join(map(str, t)) if t else "." for t in regions["targets"]],
        }
    )
    bed.to_csv(bed_path, sep="\t", header=False, index=False)
    table = pd.DataFrame(act, columns=labels)
    table.insert(0, "region", headers)
    table.to_csv(act_path, sep="\t", index=False)
