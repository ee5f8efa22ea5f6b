"""Simulated multi-task datasets with planted JASPAR motifs and recorded ground truth.

Each task is a small motif *grammar*: one or more JASPAR motifs that must all be present
(an AND), optionally as a pair at a fixed spacing. For every sequence and task a label is
drawn independently; positives get one instance of each grammar motif, sampled base by
base from the motif's probabilities, on a random strand, at a random position that
overlaps no other planted instance. Negatives carry no complete grammar of the task; a
fraction of the negatives of multi-motif tasks carry exactly one of its motifs (a
*decoy*), so a model must learn the combination rather than either motif alone.

Everything planted is recorded in the output file so interpretation methods can be
scored against it. Layout, added to the dataset file of :mod:`motiflens.data.hdf5`::

    simulation/                        attrs["config"]: JSON of tasks and parameters
      {split}_site_seq     (S,) int64  row of the sequence within the split
      {split}_site_task    (S,) str    task name
      {split}_site_motif   (S,) str    JASPAR matrix id (versioned, e.g. MA0139.2)
      {split}_site_name    (S,) str    motif name (e.g. CTCF)
      {split}_site_start   (S,) int64  0-based start on the stored (+) strand
      {split}_site_end     (S,) int64  end, exclusive
      {split}_site_strand  (S,) str    "+" or "-" (on "-" the site reads as the
                                       reverse complement of a motif instance)
      {split}_site_role    (S,) str    "grammar" or "decoy"
      motifs/{matrix_id}   (4, w) float32 probabilities (A, C, G, T) used for sampling;
                           attrs["name"]

Sites are sorted by sequence row, then start.

Labels are only exact with respect to *planted* sites: background sequence can match a
motif by chance, as genomic sequence does. Motif widths and information content decide
how often; the default tasks use motifs long enough that a scan with the true PWM
separates positives from negatives well (AUROC > 0.95).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from motiflens.data.background import (
    estimate_markov,
    gc_table,
    normalise_table,
    sample_background,
    table_order,
)
from motiflens.data.hdf5 import DatasetWriter, reading_errors
from motiflens.data.splits import SPLITS, split_random
from motiflens.errors import InputError
from motiflens.motifs.databases import jaspar_motif
from motiflens.progress import tqdm

__all__ = [
    "DEFAULT_TASKS",
    "SimulationSummary",
    "TaskSpec",
    "estimate_markov",
    "read_ground_truth",
    "read_simulation_config",
    "sample_background",
    "simulate",
]

# One pseudo-observation spread evenly over A, C, G, T per column: no probability is
# exactly zero (so log-odds stay finite), yet matrices built from thousands of sites are
# left practically as they are.
PSEUDOCOUNT = 1.0
# Sequences generated per step; bounds memory (codes + one-hot of a chunk) for big runs.
CHUNK = 4096
_STR = h5py.string_dtype(encoding="utf-8")


@dataclass(frozen=True)
class TaskSpec:
    """One simulated task: a grammar of JASPAR motifs that defines its positives.

    Parameters
    ----------
    name
        Target label, e.g. ``"CTCF"``.
    motifs
        JASPAR matrix ids (``"MA0139.2"``, or ``"MA0139"`` for the latest version in the
        release). A positive carries one instance of every motif (an AND).
    spacing
        With exactly two motifs: plant them as a pair whose second motif starts
        ``spacing`` bp after the first one's start, measured along the pair's strand (on
        ``"-"`` the whole pair is reverse-complemented, so the second motif lies to the
        left of the first). Must be at least the first motif's width (no overlap).
        ``None`` places each motif independently.
    positive_rate
        Probability that a sequence is positive for this task, in [0, 1].
    """

    name: str
    motifs: Sequence[str]
    spacing: int | None = None
    positive_rate: float = 0.3

    def __post_init__(self) -> None:
        # a tuple keeps the (frozen) spec hashable and DEFAULT_TASKS safe from mutation
        motifs = (self.motifs,) if isinstance(self.motifs, str) else tuple(self.motifs)
        object.__setattr__(self, "motifs", motifs)


DEFAULT_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("CTCF", ["MA0139.2"]),
    # REST (NRSF): a 20 bp, ~23 bit motif. GATA1 alone (7 bp, ~10 bits) is matched by random
    # sequence too often, and the spread-out GATA1::TAL1 composite (17 bp, 14 bits) was
    # found by the demo model in some seeds and not in others (test AUROC 0.70 or 0.97).
    TaskSpec("REST", ["MA0138.3"]),
    TaskSpec("SPI1", ["MA0080.7"]),
    # Sox and Oct sites side by side, as in the Sox-Oct element of pluripotency enhancers;
    # each half alone is weak, and decoy negatives carry one half, so the pair matters.
    TaskSpec("SOX2-OCT4_pair", ["MA0143.5", "MA1115.2"], spacing=10),
    # AP-1 (TGA(C/G)TCA); FOSL2's ChIP-seq matrix is the most specific of the family.
    TaskSpec("AP-1", ["MA0478.2"]),
)


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    path
        The dataset file.
    n
        Sequences per split (empty splits are left out).
    positive_rate
        Fraction of positives per task, over all splits.
    target_labels
        Task names, in target order.
    n_sites
        Planted motif instances per split (grammar and decoy).
    """

    path: Path
    n: dict[str, int]
    positive_rate: dict[str, float]
    target_labels: list[str]
    n_sites: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        total = sum(self.n.values())
        lines = [
            f"Wrote {self.path}: {total:,} simulated sequences, {len(self.target_labels)} tasks",
            "  split sizes: " + ", ".join(f"{s} {n:,}" for s, n in self.n.items()),
            "  task                 positive rate",
        ]
        lines += [f"  {t:<20} {self.positive_rate[t]:.3f}" for t in self.target_labels]
        sites = sum(self.n_sites.values())
        lines.append(f"  {sites:,} planted motif sites recorded in the file's 'simulation' group")
        return "\n".join(lines)


# --------------------------------------------------------------------------- JASPAR


def _fetch_motif(matrix_id: str, release: str) -> tuple[str, str, np.ndarray]:
    # One pseudo-observation spread evenly over the four bases.
    motif = jaspar_motif(matrix_id, release, pseudocount=PSEUDOCOUNT / 4)
    return motif.id, motif.name, motif.probs


# --------------------------------------------------------------------------- planting


@dataclass(frozen=True)
class _Motif:
    id: str
    name: str
    probs: np.ndarray
    cum: np.ndarray  # (w, 3) cumulative thresholds for inverse-CDF sampling

    @property
    def width(self) -> int:
        return self.probs.shape[1]


@dataclass(frozen=True)
class _Slot:
    """A unit placed as one block: a single motif, or a spaced pair."""

    task: int
    role: str  # "grammar" or "decoy"
    motifs: tuple[int, ...]  # indices into the motif list
    offsets: tuple[int, ...]  # start of each motif within the block, + strand
    width: int


def _sample_instances(motif: _Motif, count: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.random((count, motif.width))
    return (u[..., None] >= motif.cum[None]).sum(axis=-1).astype(np.uint8)


def _place(
    widths: np.ndarray, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping random starts for blocks of the given widths (0 = absent).

    A placement of m blocks in L bases is an order of the blocks plus a split of the
    G = L - sum(widths) free bases into m + 1 gaps; drawing the order and the split
    uniformly (the split as m "bars" among G + m slots) draws placements uniformly and
    never fails when the blocks fit. Zero-width blocks are inserted anywhere in the
    arrangement without changing that distribution, so every row can use all slots.

    Returns
    -------
    tuple
        ``(starts (n, S) int64, minus (n, S) bool)``.
    """
    n, n_slots = widths.shape
    order = np.argsort(rng.random((n, n_slots)), axis=1)
    ordered = np.take_along_axis(widths, order, axis=1)
    free = length - widths.sum(axis=1)
    keys = rng.random((n, length + n_slots))
    keys[np.arange(length + n_slots)[None, :] >= (free + n_slots)[:, None]] = 2.0
    bars = np.sort(np.argpartition(keys, n_slots - 1, axis=1)[:, :n_slots], axis=1)
    before = np.cumsum(ordered, axis=1) - ordered
    starts = np.empty_like(widths)
    np.put_along_axis(starts, order, bars - np.arange(n_slots) + before, axis=1)
    minus = rng.random((n, n_slots)) < 0.5
    return starts, minus


def _simulate_chunk(
    n: int,
    length: int,
    table: np.ndarray,
    tasks: Sequence[TaskSpec],
    motifs: Sequence[_Motif],
    slots: Sequence[_Slot],
    decoy_rate: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Background, labels and planted sites for ``n`` sequences (row numbers local)."""
    codes = sample_background(n, length, table, rng)
    rates = np.array([t.positive_rate for t in tasks])
    labels = rng.random((n, len(tasks))) < rates
    # Which motif, if any, each negative of a multi-motif task carries as a decoy.
    decoy_of = np.full((n, len(tasks)), -1)
    for t, task in enumerate(tasks):
        if decoy_rate > 0 and len(task.motifs) > 1:
            carries = ~labels[:, t] & (rng.random(n) < decoy_rate)
            pick = rng.integers(0, len(task.motifs), n)
            decoy_of[carries, t] = pick[carries]
    active = np.zeros((n, len(slots)), dtype=bool)
    decoy_pos = {t: 0 for t in range(len(tasks))}
    for s, slot in enumerate(slots):
        if slot.role == "grammar":
            active[:, s] = labels[:, slot.task]
        else:
            active[:, s] = decoy_of[:, slot.task] == decoy_pos[slot.task]
            decoy_pos[slot.task] += 1
    widths = np.where(active, np.array([s.width for s in slots]), 0)
    starts, minus = _place(widths, length, rng)

    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("seq", "task", "motif", "start")}
    cols.update(minus=[], decoy=[])
    for s, slot in enumerate(slots):
        rows = np.flatnonzero(active[:, s])
        if rows.size == 0:
            continue
        block_start, block_minus = starts[rows, s], minus[rows, s]
        for m, offset in zip(slot.motifs, slot.offsets, strict=True):
            motif = motifs[m]
            inst = _sample_instances(motif, rows.size, rng)
            # on "-" the block is reverse-complemented: the motif's offset is measured
            # from the block's right end, and its bases read backwards as complements
            inst[block_minus] = 3 - inst[block_minus, ::-1]
            mirrored = slot.width - offset - motif.width
            site_start = block_start + np.where(block_minus, mirrored, offset)
            codes[rows[:, None], site_start[:, None] + np.arange(motif.width)] = inst
            cols["seq"].append(rows)
            cols["task"].append(np.full(rows.size, slot.task))
            cols["motif"].append(np.full(rows.size, m))
            cols["start"].append(site_start)
            cols["minus"].append(block_minus)
            cols["decoy"].append(np.full(rows.size, slot.role == "decoy"))
    sites = {
        k: (np.concatenate(v) if v else np.zeros(0, dtype=bool if k in ("minus", "decoy") else int))
        for k, v in cols.items()
    }
    return codes, labels, sites


def _build_slots(
    tasks: Sequence[TaskSpec],
    motif_index: dict[str, int],
    motifs: Sequence[_Motif],
    decoys: bool,
) -> list[_Slot]:
    """The blocks a sequence may receive: per task its grammar, then one decoy per motif."""
    slots: list[_Slot] = []
    for t, task in enumerate(tasks):
        idx = [motif_index[m] for m in task.motifs]
        if task.spacing is not None:
            w2 = motifs[idx[1]].width
            slots.append(_Slot(t, "grammar", tuple(idx), (0, task.spacing), task.spacing + w2))
        else:
            slots.extend(_Slot(t, "grammar", (i,), (0,), motifs[i].width) for i in idx)
        if decoys and len(idx) > 1:
            slots.extend(_Slot(t, "decoy", (i,), (0,), motifs[i].width) for i in idx)
    return slots


# ------------------------------------------------------------------------ validation


def _check_rate(value: float, what: str) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise InputError(f"{what} must lie in [0, 1], got {value}")
    return float(value)


def _check_tasks(tasks: Sequence[TaskSpec], release: str) -> tuple[list[TaskSpec], list[_Motif]]:
    """Resolve motif ids to the release's versions and check the grammars can be simulated.

    Returns the tasks with versioned ids and the distinct motifs they use.
    """
    if not tasks:
        raise InputError("no tasks given; pass at least one TaskSpec (or use DEFAULT_TASKS)")
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup or not all(names):
        raise InputError(f"task names must be unique and non-empty, got {names}")
    resolved: list[TaskSpec] = []
    motifs: dict[str, _Motif] = {}
    owner: dict[str, str] = {}  # base id (no version) -> task using it
    for task in tasks:
        _check_rate(task.positive_rate, f"task {task.name!r}: positive_rate")
        if not task.motifs:
            raise InputError(f"task {task.name!r} has no motifs")
        ids = []
        for raw in task.motifs:
            matrix_id, name, probs = _fetch_motif(str(raw), release)
            ids.append(matrix_id)
            cum = np.cumsum(probs, axis=0)[:3].T.copy()
            motifs.setdefault(matrix_id, _Motif(matrix_id, name, probs, cum))
            base = matrix_id.split(".")[0]
            # A motif in two grammars (or twice in one) would make labels ambiguous:
            # a site planted for one task would also count for the other.
            if base in owner:
                raise InputError(
                    f"motif {matrix_id} is used by task {owner[base]!r} and task "
                    f"{task.name!r} (or twice in one task)",
                    hint="each JASPAR matrix (any version) may appear in one task only, "
                    "so that a planted site says which label it supports",
                )
            owner[base] = task.name
        if task.spacing is not None:
            if len(ids) != 2:
                raise InputError(
                    f"task {task.name!r}: spacing needs exactly two motifs, got {len(ids)}"
                )
            w1 = motifs[ids[0]].width
            if int(task.spacing) != task.spacing or task.spacing < w1:
                raise InputError(
                    f"task {task.name!r}: spacing {task.spacing} must be a whole number "
                    f">= the width of {ids[0]} ({w1} bp), so the two motifs do not overlap"
                )
        resolved.append(
            TaskSpec(
                task.name,
                ids,
                None if task.spacing is None else int(task.spacing),
                float(task.positive_rate),
            )
        )
    return resolved, list(motifs.values())


def _check_lengths(
    tasks: Sequence[TaskSpec], slots: Sequence[_Slot], motifs: Sequence[_Motif], length: int
) -> None:
    for m in motifs:
        if m.width > length:
            raise InputError(
                f"motif {m.id} ({m.name}) is {m.width} bp, longer than the sequences ({length} bp)",
                hint="raise length",
            )
    need = 0
    for t, task in enumerate(tasks):
        grammar = sum(s.width for s in slots if s.task == t and s.role == "grammar")
        decoy = max((s.width for s in slots if s.task == t and s.role == "decoy"), default=0)
        if grammar > length:
            raise InputError(
                f"task {task.name!r} needs {grammar} bp for its motifs, more than the "
                f"sequence length {length}",
                hint="raise length",
            )
        # positives and decoys of one task never co-occur in a sequence
        need += max(grammar, decoy)
    if need > length:
        raise InputError(
            f"a sequence positive for every task needs {need} bp of motifs, more than the "
            f"sequence length {length}",
            hint=f"use length >= {need}, or fewer tasks",
        )


# -------------------------------------------------------------------------- simulate


def simulate(
    path: str | Path,
    *,
    tasks: Sequence[TaskSpec] | None = None,
    n_sequences: int = 30000,
    length: int = 200,
    background: str = "gc",
    gc: float = 0.41,
    markov_order: int = 1,
    background_sequences: Iterable[str | np.ndarray] | None = None,
    markov_table: np.ndarray | None = None,
    decoys: bool = True,
    decoy_rate: float = 0.3,
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 1,
    jaspar_release: str = "JASPAR2024",
    progress: bool = True,
) -> SimulationSummary:
    """Simulate a multi-task dataset with planted JASPAR motifs and write it to ``path``.

    Parameters
    ----------
    path
        Output dataset file (``.h5``), written atomically.
    tasks
        Task grammars; :data:`DEFAULT_TASKS` when ``None``. No JASPAR matrix may appear
        in two tasks.
    n_sequences, length
        Number and length of sequences. The default 30,000 is what a small Basset-style
        CNN needs to pass AUROC 0.9 on every default task within about ten epochs (a
        minute on 2 CPU cores); with 10,000 the spread-out motifs (e.g. GATA1::TAL1, Spi1)
        stay near 0.65-0.75.
    background
        ``"gc"``: i.i.d. bases with GC fraction ``gc``. ``"markov"``: an order
        ``markov_order`` Markov chain, either ``markov_table`` or estimated from
        ``background_sequences``.
    gc
        GC fraction of the ``"gc"`` background, in [0, 1].
    markov_order
        Order k of the Markov background (ignored when ``markov_table`` is given; its
        shape ``(4**k, 4)`` sets k).
    background_sequences
        DNA strings (or code arrays) to estimate the Markov chain from.
    markov_table
        Transition table ``(4**k, 4)``; see :func:`estimate_markov`.
    decoys
        Let a fraction of the negatives of multi-motif tasks carry one motif of the
        grammar.
    decoy_rate
        That fraction, in [0, 1].
    valid, test
        Fractions (or counts) of sequences in the validation and test splits.
    seed
        Seed; the same seed gives an identical file content.
    jaspar_release
        pyjaspar release the motifs come from.
    progress
        Show a progress bar.

    Returns
    -------
    SimulationSummary
        Path, split sizes, positive rate per task, target labels, sites per split.

    Raises
    ------
    InputError
        On an unknown JASPAR release or id, a rate outside [0, 1], motifs that do not fit
        in ``length``, a motif shared between tasks, or a bad background specification.
    """
    n_sequences, length = int(n_sequences), int(length)
    if n_sequences < 1 or length < 1:
        raise InputError(f"n_sequences and length must be positive, got {n_sequences} and {length}")
    decoy_rate = _check_rate(decoy_rate, "decoy_rate")
    tasks, motifs = _check_tasks(list(DEFAULT_TASKS if tasks is None else tasks), jaspar_release)
    motif_index = {m.id: i for i, m in enumerate(motifs)}
    slots = _build_slots(tasks, motif_index, motifs, decoys)
    _check_lengths(tasks, slots, motifs, length)

    bg_config: dict[str, Any] = {"background": background}
    if background == "gc":
        table = gc_table(_check_rate(gc, "gc"))
        bg_config["gc"] = float(gc)
    elif background == "markov":
        if markov_table is not None:
            table = normalise_table(markov_table)
        elif background_sequences is not None:
            table = estimate_markov(background_sequences, int(markov_order))
        else:
            raise InputError(
                "background 'markov' needs background_sequences to estimate the chain "
                "from, or a markov_table"
            )
        bg_config["markov_order"] = table_order(table)
        bg_config["markov_table"] = table.tolist()
    else:
        raise InputError(f"unknown background {background!r}; use 'gc' or 'markov'")

    split_of = split_random(n_sequences, valid, test, seed)
    sizes = {s: int((split_of == s).sum()) for s in SPLITS}
    # global row -> row within its split (splits keep the global order)
    row_in_split = np.zeros(n_sequences, dtype=np.int64)
    for s in SPLITS:
        row_in_split[split_of == s] = np.arange(sizes[s])
    labels_all = [t.name for t in tasks]
    config = {
        "tasks": [
            {
                **asdict(t),
                "motifs": list(t.motifs),
                "motif_names": [motifs[motif_index[i]].name for i in t.motifs],
            }
            for t in tasks
        ],
        "n_sequences": n_sequences,
        "length": length,
        **bg_config,
        "decoys": bool(decoys),
        "decoy_rate": decoy_rate,
        "valid": valid,
        "test": test,
        "seed": int(seed),
        "jaspar_release": jaspar_release,
        "pseudocount": PSEUDOCOUNT,
    }
    width = max(6, len(str(n_sequences - 1)))
    rng = np.random.default_rng(seed)
    positives = np.zeros(len(tasks), dtype=np.int64)
    site_parts: list[dict[str, np.ndarray]] = []
    attrs = {"source": "motiflens simulate", "simulation_seed": int(seed)}
    with (
        DatasetWriter(path, labels_all, length, sizes, attrs=attrs) as writer,
        tqdm(total=n_sequences, disable=not progress, desc="simulate", unit="seq") as bar,
    ):
        for lo in range(0, n_sequences, CHUNK):
            hi = min(lo + CHUNK, n_sequences)
            codes, labels, sites = _simulate_chunk(
                hi - lo, length, table, tasks, motifs, slots, decoy_rate, rng
            )
            positives += labels.sum(axis=0)
            chunk_split = split_of[lo:hi]
            for s in SPLITS:
                mask = chunk_split == s
                if mask.any():
                    headers = [f"sim_{i:0{width}d}" for i in np.flatnonzero(mask) + lo]
                    writer.write(s, codes[mask], labels[mask].astype(np.int8), headers)
            sites["seq"] = sites["seq"] + lo
            site_parts.append(sites)
            bar.update(hi - lo)
        n_sites = _write_ground_truth(
            writer.h5, site_parts, split_of, row_in_split, tasks, motifs, config
        )
    return SimulationSummary(
        path=Path(path),
        n={s: n for s, n in sizes.items() if n > 0},
        positive_rate={
            t.name: float(p / n_sequences) for t, p in zip(tasks, positives, strict=True)
        },
        target_labels=labels_all,
        n_sites=n_sites,
    )


def _write_ground_truth(
    h5: h5py.File,
    parts: list[dict[str, np.ndarray]],
    split_of: np.ndarray,
    row_in_split: np.ndarray,
    tasks: Sequence[TaskSpec],
    motifs: Sequence[_Motif],
    config: dict[str, Any],
) -> dict[str, int]:
    group = h5.create_group("simulation")
    group.attrs["config"] = json.dumps(config)
    motif_group = group.create_group("motifs")
    for m in motifs:
        ds = motif_group.create_dataset(m.id, data=m.probs.astype(np.float32))
        ds.attrs["name"] = m.name
    sites = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    task_names = np.array([t.name for t in tasks], dtype=object)
    motif_ids = np.array([m.id for m in motifs], dtype=object)
    motif_names = np.array([m.name for m in motifs], dtype=object)
    motif_widths = np.array([m.width for m in motifs], dtype=np.int64)
    n_sites = {}
    for split in SPLITS:
        if not (split_of == split).any():
            continue
        keep = split_of[sites["seq"]] == split
        rows = row_in_split[sites["seq"][keep]]
        start = sites["start"][keep].astype(np.int64)
        order = np.lexsort((start, rows))
        motif = sites["motif"][keep][order]
        columns = {
            "seq": rows[order],
            "task": task_names[sites["task"][keep][order]].astype(_STR),
            "motif": motif_ids[motif].astype(_STR),
            "name": motif_names[motif].astype(_STR),
            "start": start[order],
            "end": start[order] + motif_widths[motif],
            "strand": np.where(sites["minus"][keep][order], "-", "+").astype(_STR),
            "role": np.where(sites["decoy"][keep][order], "decoy", "grammar").astype(_STR),
        }
        for key, values in columns.items():
            group.create_dataset(f"{split}_site_{key}", data=values)
        n_sites[split] = int(keep.sum())
    return n_sites


# ---------------------------------------------------------------------------- reading


def _open_simulation(h5: h5py.File, path: Path) -> h5py.Group:
    if "simulation" not in h5:
        raise InputError(
            "the file holds no simulation ground truth",
            path=path,
            hint="ground truth exists only in files made by `motiflens simulate`",
        )
    return h5["simulation"]


def read_simulation_config(path: str | Path) -> dict[str, Any]:
    """The tasks and parameters a simulated dataset was made with (``simulation.attrs``)."""
    path = Path(path)
    if not path.exists():
        raise InputError("dataset file not found", path=path)
    with reading_errors(path), h5py.File(path, "r") as h5:
        return json.loads(_open_simulation(h5, path).attrs["config"])


def read_ground_truth(path: str | Path, split: str = "test") -> pd.DataFrame:
    """Read the planted motif sites of one split of a simulated dataset.

    Parameters
    ----------
    path
        File written by :func:`simulate`.
    split
        ``"train"``, ``"valid"`` or ``"test"``.

    Returns
    -------
    pandas.DataFrame
        One row per planted site with columns ``seq`` (row within the split), ``task``,
        ``motif_id``, ``motif_name``, ``start`` (0-based), ``end`` (exclusive),
        ``strand`` (``"+"``/``"-"``) and ``role`` (``"grammar"``/``"decoy"``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("dataset file not found", path=path)
    names = {
        "seq": "seq",
        "task": "task",
        "motif_id": "motif",
        "motif_name": "name",
        "start": "start",
        "end": "end",
        "strand": "strand",
        "role": "role",
    }
    with reading_errors(path), h5py.File(path, "r") as h5:
        group = _open_simulation(h5, path)
        if f"{split}_site_seq" not in group:
            present = [s for s in SPLITS if f"{s}_site_seq" in group]
            raise InputError(f"no ground truth for split {split!r} (present: {present})", path=path)
        data = {}
        for column, key in names.items():
            values = group[f"{split}_site_{key}"][:]
            if values.dtype.kind in "OS":
                values = np.array([v.decode() if isinstance(v, bytes) else v for v in values])
            data[column] = values
    return pd.DataFrame(data)
