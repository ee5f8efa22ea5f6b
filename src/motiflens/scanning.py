"""Predictions tiled across loci and chromosomes: windows in, per-base tracks out.

A region is cut into windows of the model's input length every ``stride`` bases
(:func:`window_starts`; the last window ends exactly at the region's end, so every base
is covered). Each window is predicted as ``predict`` would (:func:`predict_windows`, the
one prediction path, :func:`motiflens.prediction.predict_array`), and every base gets
**the mean of the predictions of the windows that contain it** (:func:`per_base`).

A long region is handled in chunks of at most ``chunk_windows`` windows
(:func:`window_chunks`): one chunk's genome span is read and one-hot encoded, its
windows predicted, and the per-base sums and counts of the last ``window - stride``
bases carried to the next chunk. Peak memory depends on the chunk size, never on the
region's length; a chromosome's one-hot is never held whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from motiflens.distributed import Launch, Shard, round_robin, run_sharded
from motiflens.errors import InputError
from motiflens.files import safe_name
from motiflens.prediction import check_finite_weights, predict_array
from motiflens.progress import tqdm
from motiflens.runs import Run, as_run
from motiflens.sequence.fasta import Genome
from motiflens.sequence.onehot import codes_to_onehot
from motiflens.sequence.regions import Region, merge_regions, read_regions
from motiflens.sequence.tracks import write_bedgraph, write_bigwig

__all__ = [
    "Chunk",
    "ScanReport",
    "per_base",
    "predict_windows",
    "region_onehot",
    "scan_file",
    "stream_per_base",
    "window_chunks",
    "window_starts",
]

#: Windows per chunk by default: a few thousand keeps a chunk's one-hot span small
#: (stride 50 -> ~200 kb) while each forward pass still sees full batches.
CHUNK_WINDOWS = 4096


def window_starts(region_length: int, window: int, stride: int) -> np.ndarray:
    """0-based starts of the windows that tile a region.

    Windows start every ``stride`` bases from 0; if the last of those does not end at the
    region's end, one more window is added that does (``region_length - window``), so
    every base is covered and no window reaches past the region.

    Parameters
    ----------
    region_length
        Bases in the region.
    window
        Window length (the model's input length).
    stride
        Bases between consecutive window starts.

    Returns
    -------
    numpy.ndarray
        Increasing int64 starts, relative to the region's start.

    Raises
    ------
    ValueError
        A region shorter than the window (the caller names the region; no padding is
        invented), or a non-positive window or stride.
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be positive, got {window} and {stride}")
    if region_length < window:
        raise ValueError(
            f"the region ({region_length} bp) is shorter than the window ({window} bp)"
        )
    starts = np.arange(0, region_length - window + 1, stride, dtype=np.int64)
    if starts[-1] + window < region_length:
        starts = np.append(starts, np.int64(region_length - window))
    return starts


def predict_windows(
    model: nn.Module,
    onehot: np.ndarray,
    starts: np.ndarray,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    reverse_complement: bool = False,
) -> np.ndarray:
    """Predict the windows ``onehot[:, s : s + L]`` for each ``s`` in ``starts``.

    Parameters
    ----------
    model
        A motiflens model; its ``config.length`` is the window length ``L`` and its
        ``config.task`` maps logits to predictions (sigmoid for binary tasks), as
        ``motiflens predict`` writes them.
    onehot
        One-hot ``(4, length)`` of the sequence the windows are cut from.
    starts
        Window starts (0-based, within ``onehot``).
    batch_size, device, reverse_complement
        As in :func:`motiflens.prediction.predict_array`.

    Returns
    -------
    numpy.ndarray
        ``(len(starts), n_targets)`` float32.
    """
    config = model.config
    window = int(config.length)
    if onehot.ndim != 2 or onehot.shape[0] != 4:
        raise ValueError(f"expected one-hot of shape (4, length), got {tuple(onehot.shape)}")
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size and (starts.min() < 0 or starts.max() + window > onehot.shape[1]):
        raise ValueError(f"windows of {window} bp at these starts leave the sequence")
    if starts.size == 0:
        return np.zeros((0, int(config.n_targets or 0)), np.float32)
    # A view of every window (no copy); each batch is gathered from it on its own, so the
    # windows are never all copied at once.
    view = np.lib.stride_tricks.sliding_window_view(onehot, window, axis=1)  # (4, n, L)
    out = []
    for lo in range(0, starts.size, batch_size):
        batch = np.ascontiguousarray(view[:, starts[lo : lo + batch_size]].transpose(1, 0, 2))
        out.append(
            predict_array(
                model,
                batch,
                batch_size=batch_size,
                device=device,
                reverse_complement=reverse_complement,
                transform=config.task,
            )
        )
    return np.concatenate(out)


def _sums(
    starts: np.ndarray, window: int, predictions: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-base sums ``(length, T)`` float64 and counts ``(length,)`` of covering windows."""
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(starts), -1)
    diff = np.zeros((length + 1, predictions.shape[1]), np.float64)
    count = np.zeros(length + 1, np.int64)
    ends = np.minimum(starts + window, length)
    # difference arrays: +p where a window starts, -p where it ends; cumsum gives sums
    np.add.at(diff, starts, predictions)
    np.add.at(diff, ends, -predictions)
    np.add.at(count, starts, 1)
    np.add.at(count, ends, -1)
    return np.cumsum(diff, axis=0)[:length], np.cumsum(count)[:length]


def per_base(
    starts: np.ndarray, window: int, predictions: np.ndarray, region_length: int
) -> np.ndarray:
    """Per-base values: the mean of the predictions of the windows that contain each base.

    Parameters
    ----------
    starts
        Window starts relative to the region (as :func:`window_starts` gives them).
    window
        Window length.
    predictions
        ``(len(starts), n_targets)``.
    region_length
        Bases in the region.

    Returns
    -------
    numpy.ndarray
        ``(region_length, n_targets)`` float32; NaN at a base no window covers.
    """
    starts = np.asarray(starts, dtype=np.int64)
    sums, counts = _sums(starts, window, predictions, region_length)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts[:, None]).astype(np.float32)


class Chunk(NamedTuple):
    """A run of consecutive windows of one region, handled together.

    Attributes
    ----------
    first, stop
        Window indices ``[first, stop)`` into the region's starts.
    span_start, span_end
        Bases the chunk's windows cover, relative to the region's start.
    final_end
        Bases before this (and from the previous chunk's ``final_end``) are covered by no
        later window: their values are complete after this chunk.
    """

    first: int
    stop: int
    span_start: int
    span_end: int
    final_end: int


def window_chunks(
    starts: np.ndarray, window: int, chunk_windows: int = CHUNK_WINDOWS
) -> Iterator[Chunk]:
    """Split a region's windows into chunks of at most ``chunk_windows`` windows.

    The memory of one chunk (its one-hot span, its predictions) is bounded by
    ``chunk_windows`` and the window length, whatever the region's length.
    """
    if chunk_windows < 1:
        raise ValueError(f"chunk_windows must be positive, got {chunk_windows}")
    n = len(starts)
    for first in range(0, n, chunk_windows):
        stop = min(first + chunk_windows, n)
        span_end = int(starts[stop - 1]) + window
        final_end = int(starts[stop]) if stop < n else span_end
        yield Chunk(first, stop, int(starts[first]), span_end, final_end)


def region_onehot(genome: Genome, chrom: str, start: int, end: int) -> np.ndarray:
    """One-hot ``(4, end - start)`` float32 of ``chrom[start:end]`` (0-based, half-open)."""
    codes = genome.fetch_codes(chrom, np.array([start]), end - start)
    return codes_to_onehot(codes)[0]


def stream_per_base(
    starts: np.ndarray,
    window: int,
    predictions: Iterator[np.ndarray],
    chunk_windows: int = CHUNK_WINDOWS,
) -> Iterator[tuple[int, np.ndarray]]:
    """Per-base means computed chunk by chunk, the overlap carried between chunks.

    Parameters
    ----------
    starts
        The region's window starts (relative to the region).
    window
        Window length.
    predictions
        One ``(stop - first, T)`` array per chunk of :func:`window_chunks` (same
        ``chunk_windows``), in order.
    chunk_windows
        Windows per chunk.

    Yields
    ------
    tuple of (int, numpy.ndarray)
        ``(offset, values)``: final per-base values ``(n, T)`` float32 for bases
        ``offset .. offset + n - 1`` of the region, consecutive and in order; together
        they equal :func:`per_base` over the whole region.
    """
    starts = np.asarray(starts, dtype=np.int64)
    carry_sums: np.ndarray | None = None
    carry_counts: np.ndarray | None = None
    done = 0  # bases before this are yielded
    for chunk in window_chunks(starts, window, chunk_windows):
        preds = next(predictions)
        length = chunk.span_end - done
        sums, counts = _sums(starts[chunk.first : chunk.stop] - done, window, preds, length)
        if carry_sums is not None:
            sums[: len(carry_sums)] += carry_sums
            counts[: len(carry_counts)] += carry_counts
        n_final = chunk.final_end - done
        with np.errstate(invalid="ignore", divide="ignore"):
            values = (sums[:n_final] / counts[:n_final, None]).astype(np.float32)
        yield done, values
        carry_sums, carry_counts = sums[n_final:], counts[n_final:]
        done = chunk.final_end


# ------------------------------------------------------------------ whole runs


@dataclass
class ScanReport:
    """What :func:`scan_file` wrote."""

    outputs: list[Path]
    regions: list[Region]
    n_windows: int
    n_bases: int
    window: int
    stride: int
    n_targets: int
    reverse_complement: bool = False
    processes: int = 1

    def __str__(self) -> str:
        names = [r.name or f"{r.chrom}:{r.start + 1:,}-{r.end:,}" for r in self.regions]
        shown = ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
        rc = " (forward and reverse complement averaged)" if self.reverse_complement else ""
        folder = self.outputs[0].parent if self.outputs else ""
        lines = [
            f"scan  {folder}",
            f"{len(self.regions):,} region(s): {shown}",
            f"{self.n_bases:,} bases, {self.n_windows:,} windows of {self.window} bp every "
            f"{self.stride} bp x {self.n_targets} targets{rc}; each base is the mean of the "
            "windows covering it",
            f"{len(self.outputs)} track file(s)",
        ]
        if self.processes > 1:
            lines.append(f"computed by {self.processes} processes, merged in genome order")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Plan:
    """The regions and their chunks of windows: work unit ``u`` is ``units[u]``."""

    regions: list[Region]
    window: int
    stride: int
    chunk_windows: int
    units: list[tuple[int, Chunk]]  # (region index, chunk)
    first_window: list[int]  # each region's first window's index among all windows

    def starts(self, region: int) -> np.ndarray:
        r = self.regions[region]
        return window_starts(r.end - r.start, self.window, self.stride)

    @property
    def n_windows(self) -> int:
        return sum(c.stop - c.first for _, c in self.units)


def _plan(regions: list[Region], window: int, stride: int, chunk_windows: int) -> _Plan:
    units: list[tuple[int, Chunk]] = []
    first: list[int] = []
    total = 0
    for i, r in enumerate(regions):
        first.append(total)
        starts = window_starts(r.end - r.start, window, stride)
        units.extend((i, c) for c in window_chunks(starts, window, chunk_windows))
        total += len(starts)
    return _Plan(regions, window, stride, chunk_windows, units, first)


def _unique_names(labels: list[str]) -> list[str]:
    """File stems for the targets: :func:`safe_name`, a suffix where two would clash."""
    seen: dict[str, int] = {}
    names = []
    for i, label in enumerate(labels):
        stem = safe_name(label) or f"target_{i}"
        if stem in seen:
            stem = f"{stem}_{i}"
        seen[stem] = i
        names.append(stem)
    return names


def scan_file(
    run: Run | str | Path,
    regions: str | Path,
    out_dir: str | Path,
    *,
    genome: str | Path,
    stride: int | None = None,
    bedgraph: bool = False,
    batch_size: int = 256,
    reverse_complement: bool = False,
    chunk_windows: int = CHUNK_WINDOWS,
    device: str | torch.device | None = None,
    verbose: bool = True,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
) -> ScanReport | None:
    """Tile regions of a genome with model windows and write per-base tracks, one per target.

    Parameters
    ----------
    run
        A trained run (or its directory).
    regions
        A BED file, a ``chrom:start-end`` region (1-based inclusive, commas allowed) or a
        chromosome name (see :func:`motiflens.sequence.regions.read_regions`). BED regions
        are sorted in genome order and overlapping ones merged before tiling.
    out_dir
        Folder for ``<target>.bw`` (and ``<target>.bedGraph``), target names made safe
        for file names (:func:`motiflens.files.safe_name`).
    genome
        Genome FASTA.
    stride
        Bases between window starts; default half the model's input length.
    bedgraph
        Also write bedGraph text files.
    batch_size
        Windows per forward pass.
    reverse_complement
        Average forward and reverse-complement logits of each window.
    chunk_windows
        Windows read, encoded and predicted together: peak memory grows with this, not
        with the regions' length.
    device, verbose, devices, num_nodes, strategy, accelerator
        As :func:`motiflens.prediction.predict_file` takes them: chunk ``u`` of windows
        goes to rank ``u % world_size``; rank 0 merges the predictions in genome order,
        so the tracks equal a single process's.

    Returns
    -------
    ScanReport or None
        None in the processes other than rank 0 of a multi-process run.

    Notes
    -----
    Each rank writes its windows' predictions to a part file; rank 0 gathers them, target
    by target, into one float32 file on disk in a scratch folder beside the tracks
    (4 bytes x targets x windows: 131 MB for 10 Mb at stride 50 and 164 targets), so the
    tracks are written one target at a time without holding the predictions in memory.
    """
    run = as_run(run)
    config = run.model_config
    if config.length is None or config.n_targets is None:
        raise InputError(
            "the model config has no input length or number of targets",
            path=run.config_path,
            hint="set model.length and model.n_targets (training fills them in)",
        )
    window = int(config.length)
    stride = max(1, window // 2) if stride is None else int(stride)
    if not 1 <= stride <= window:
        raise InputError(
            f"--stride must be between 1 and the model's input length ({window}), got {stride}",
            hint="a stride longer than the window would leave bases no window covers",
        )
    labels = run.target_labels(config.n_targets)
    with Genome(genome) as g:
        sizes = dict(g.sizes)
    merged = merge_regions(read_regions(regions, sizes), list(sizes))
    for r in merged:
        if r.end - r.start < window:
            raise InputError(
                f"region {r.chrom}:{r.start + 1:,}-{r.end:,} ({r.end - r.start:,} bp) is shorter "
                f"than the model's input ({window} bp)",
                path=regions if Path(regions).is_file() else None,
                hint=f"widen it to at least {window} bp",
            )
    plan = _plan(merged, window, stride, chunk_windows)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("the output path is not a folder", path=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return run_sharded(
        partial(
            _scan_shard,
            run=run,
            plan=plan,
            genome=Path(genome),
            batch_size=batch_size,
            reverse_complement=reverse_complement,
            verbose=verbose,
        ),
        partial(
            _merge_scan,
            plan=plan,
            sizes=sizes,
            out_dir=out_dir,
            labels=labels,
            bedgraph=bedgraph,
            reverse_complement=reverse_complement,
        ),
        near=out_dir / "scan",
        launch=Launch(devices, num_nodes, strategy, accelerator),
        device=device,
    )


def _scan_shard(
    shard: Shard,
    *,
    run: Run,
    plan: _Plan,
    genome: Path,
    batch_size: int,
    reverse_complement: bool,
    verbose: bool,
) -> tuple[Path, list[int]]:
    """Predict this rank's chunks of windows into its part file (float32 rows, in order)."""
    model = run.model(shard.device)
    check_finite_weights(model, run.weights_path)
    mine = [plan.units[u] for u in shard.units(len(plan.units))]
    desc = "scan" if shard.world_size == 1 else f"scan (rank 0 of {shard.world_size})"
    counts: list[int] = []
    path = shard.part(".f32")
    with (
        Genome(genome) as g,
        open(path, "wb") as fh,
        tqdm(
            total=sum(c.stop - c.first for _, c in mine),
            desc=desc,
            unit="window",
            disable=not (verbose and shard.is_zero),
        ) as bar,
    ):
        for i, chunk in mine:
            r = plan.regions[i]
            starts = plan.starts(i)[chunk.first : chunk.stop]
            onehot = region_onehot(g, r.chrom, r.start + chunk.span_start, r.start + chunk.span_end)
            preds = predict_windows(
                model,
                onehot,
                starts - chunk.span_start,
                batch_size=batch_size,
                device=shard.device,
                reverse_complement=reverse_complement,
            )
            fh.write(np.ascontiguousarray(preds, dtype=np.float32).tobytes())
            counts.append(len(starts))
            bar.update(len(starts))
    return path, counts


def _merge_scan(
    parts: list[tuple[Path, list[int]]],
    *,
    plan: _Plan,
    sizes: dict[str, int],
    out_dir: Path,
    labels: list[str],
    bedgraph: bool,
    reverse_complement: bool,
) -> ScanReport:
    """Rank 0: the windows' predictions in genome order, then one track per target."""
    n_targets = len(labels)
    n_windows = plan.n_windows
    # Predictions target by target on disk (not in memory): (T, windows) float32, so each
    # target's track reads one contiguous row.
    table_path = parts[0][0].parent / "by-target.f32"
    table = np.lib.format.open_memmap(
        table_path, mode="w+", dtype=np.float32, shape=(n_targets, max(n_windows, 1))
    )
    handles = [open(p, "rb") for p, _ in parts]
    try:
        offset = 0
        for rank, k in round_robin([len(c) for _, c in parts]):
            n = parts[rank][1][k]
            rows = np.frombuffer(handles[rank].read(4 * n * n_targets), np.float32)
            table[:, offset : offset + n] = rows.reshape(n, n_targets).T
            offset += n
    finally:
        for handle in handles:
            handle.close()
    table.flush()

    def track(t: int) -> Iterator[tuple[str, int, np.ndarray]]:
        for i, r in enumerate(plan.regions):
            starts = plan.starts(i)
            base = plan.first_window[i]
            chunks = (
                table[t, base + c.first : base + c.stop, None]
                for c in window_chunks(starts, plan.window, plan.chunk_windows)
            )
            for offset, values in stream_per_base(starts, plan.window, chunks, plan.chunk_windows):
                yield r.chrom, r.start + offset, values[:, 0]

    outputs: list[Path] = []
    for t, stem in enumerate(_unique_names(labels)):
        outputs.append(write_bigwig(out_dir / f"{stem}.bw", sizes, track(t)))
        if bedgraph:
            outputs.append(write_bedgraph(out_dir / f"{stem}.bedGraph", track(t), name=labels[t]))
    return ScanReport(
        outputs=outputs,
        regions=plan.regions,
        n_windows=n_windows,
        n_bases=sum(r.end - r.start for r in plan.regions),
        window=plan.window,
        stride=plan.stride,
        n_targets=n_targets,
        reverse_complement=reverse_complement,
        processes=len(parts),
    )
