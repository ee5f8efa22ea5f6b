"""Benchmark: ``motiflens scan`` throughput and memory on CPU.

Builds, in a temporary directory, a synthetic genome (one random chromosome of ``--mb``
megabases, 60 bases per line) and a run holding the paper-size Basset at 600 bp (300/200/200
filters of width 19/11/7, dense 1000/1000, ``--targets`` outputs; **random initial weights**:
throughput does not depend on what the weights are). Then, in one process and in this
order (peak RSS is a high-water mark, so the small scan goes first), after a warm-up
scan of one window (imports, the first forward pass):

1. ``scan_file`` over the first ``--small-mb`` megabases (default 1): peak RSS after it, and
   the peak of numpy's traced allocations (tracemalloc) during it;
2. ``scan_file`` over the whole chromosome (stride ``--stride``, one process): windows/s,
   peak RSS and traced peak again. Bounded memory shows as the same traced peak for the small
   scan and the whole region;
3. ``--repeat`` timing rounds, untraced, each a whole-chromosome scan and the reference:
   the same windows predicted by :func:`motiflens.scanning.predict_windows` in one plain
   loop over batches, from the chromosome's one-hot held whole (no chunks, no tracks, no
   files). The fastest of each counts (other processes on shared cores only slow a run).

Printed: seconds, windows/s, memory, and ``ratio scan_vs_predict_per_window VALUEx``
(scan's seconds per window over the reference's: the cost of chunking, merging and
writing the bigWig tracks).

Usage::

    .venv/bin/python bench/scan.py [--mb 10] [--stride 50] [--threads 2] [--targets 164]
        [--small-mb 1] [--repeat 1]
"""

from __future__ import annotations

import os

# Passive OpenMP waiting: spinning threads make small forward passes slow on shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from motiflens.config import ModelConfig
from motiflens.models import build_model
from motiflens.runs import Run
from motiflens.scanning import predict_windows, region_onehot, scan_file, window_starts
from motiflens.sequence.fasta import Genome

LENGTH = 600


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_genome(path: Path, size: int, rng: np.random.Generator) -> None:
    with open(path, "w") as fh:
        fh.write(">chr1\n")
        for lo in range(0, size, 1_000_020):  # a multiple of 60: whole lines per block
            n = min(1_000_020, size - lo)
            seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, n)].tobytes().decode()
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, n, 60))


def timed_scan(
    run: Path, region: str, genome: Path, out: Path, args, *, trace: bool = True
) -> tuple[float, int, float]:
    """Seconds, windows and traced peak (MB; 0 untraced) of one scan."""
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    report = scan_file(
        run,
        region,
        out,
        genome=genome,
        stride=args.stride,
        batch_size=args.batch_size,
        device="cpu",
        verbose=False,
    )
    seconds = time.perf_counter() - t0
    traced = 0.0
    if trace:
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, report.n_windows, traced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="chromosome size in Mb")
    parser.add_argument(
        "--small-mb", type=float, default=1.0, help="the first, small scan (memory reference)"
    )
    parser.add_argument("--stride", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--targets", type=int, default=164)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--repeat", type=int, default=1, help="timing rounds (fastest counts; 0: none)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = int(args.mb * 1_000_000)
    small = min(size, int(args.small_mb * 1_000_000))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        genome = root / "genome.fa"
        write_genome(genome, size, rng)
        torch.manual_seed(0)
        config = ModelConfig(name="basset", n_targets=args.targets, length=LENGTH)
        run = root / "run"
        Run(run).save_model(build_model(config).eval(), config)
        print(
            f"scan: Basset {LENGTH} bp x {args.targets} targets (random weights), stride "
            f"{args.stride}, {args.threads} threads, batch {args.batch_size}"
        )

        # warm-up (imports, Lightning, the first forward pass), so neither stage below
        # counts them in its time or traced memory
        timed_scan(run, f"chr1:1-{LENGTH}", genome, root / "warm", args)
        s, n, traced = timed_scan(run, f"chr1:1-{small}", genome, root / "small", args)
        print(
            f"scan {small / 1e6:g} Mb: {n:,} windows in {s:.1f} s = {n / s:,.0f} windows/s; "
            f"peak RSS {peak_rss_mb():,.0f} MB, traced peak {traced:,.1f} MB"
        )
        s, n, traced = timed_scan(run, "chr1", genome, root / "all", args)
        print(
            f"scan {size / 1e6:g} Mb: {n:,} windows in {s:.1f} s = {n / s:,.0f} windows/s; "
            f"peak RSS {peak_rss_mb():,.0f} MB, traced peak {traced:,.1f} MB"
        )

        if args.repeat < 1:
            return  # throughput and memory only (a long region: the timing rounds double it)
        # Timing, untraced: scan and the reference (the same windows in one plain loop
        # over the whole one-hot in memory) alternate --repeat times and the fastest of
        # each counts: other processes on shared cores only ever slow a run down.
        model = Run(run).model("cpu")
        starts = window_starts(size, LENGTH, args.stride)
        with Genome(genome) as g:
            onehot = region_onehot(g, "chr1", 0, size)
        scans, refs = [], []
        for _ in range(args.repeat):
            scans.append(timed_scan(run, "chr1", genome, root / "all", args, trace=False)[0])
            t0 = time.perf_counter()
            preds = predict_windows(model, onehot, starts, batch_size=args.batch_size, device="cpu")
            refs.append(time.perf_counter() - t0)
            assert preds.shape == (len(starts), args.targets)
        s, ref, n = min(scans), min(refs), len(starts)
        print(
            f"best of {args.repeat}: scan {n:,} windows in {s:.1f} s = {n / s:,.0f} windows/s; "
            f"predict_windows {ref:.1f} s = {n / ref:,.0f} windows/s; "
            f"peak RSS {peak_rss_mb():,.0f} MB"
        )
        print(f"ratio scan_vs_predict_per_window {s / ref:.2f}x")


if __name__ == "__main__":
    main()
