"""Benchmark: motif insertion on the demo model at 200 bp, fast path vs full forward passes (CPU).

All in one process, on configs/demo.yaml's architecture (Basset-style: 128/64/64 filters
of width 19/11/7, pools 3/4/4, "same" padding, batch norm, one hidden layer of 128) at
the demo simulation's 200 bp with one output per default simulated task
(``DEFAULT_TASKS``), random weights with batch-norm running statistics taken from random
sequences (as training leaves them, like ``bench/ism.py``), in eval mode; JASPAR 2024
CORE vertebrate motifs (every 8th, in database order) inserted at the centre of random
backgrounds (256, as ``motiflens insert`` samples by default):

* full: :func:`motiflens.explain.insertion.insert_motifs` with ``method="naive"``: every
  inserted sequence through the whole model, ``batch_size=256`` (what ``motiflens
  insert`` did before the fast path);
* fast: the same with ``method="fast"`` (what ``"auto"`` picks for this model): one
  reference pass per background, then only the changed columns of each layer
  (:mod:`motiflens.explain.window_edit`; on CPU, for this Basset layout, through fast
  ISM's compiled kernels, :meth:`motiflens.explain.fast_ism.FastISM.window_outputs`).

Both are called once before timing (caches, oneDNN primitives), then timed in
alternating rounds so that both see the same load on a shared machine; medians are
printed, with motifs per second, the ratio (full time / fast time) and the largest
differences between the two tables. A detail line repeats the
comparison on the paper's Basset (300/200/200 filters, two dense layers of 1000, 164
targets) at 600 bp.

``OMP_WAIT_POLICY`` is set to ``PASSIVE`` unless set already (as in ``bench/ism.py``), and
freed memory is kept for reuse (:func:`motiflens.memory.keep_freed_memory`, as the command
line does): the full path's page faults no longer decide the ratio.

Usage::

    .venv/bin/python bench/insertion.py [--motifs 100] [--backgrounds 256] [--rounds 3]
        [--threads 1] [--no-basset]

Target (issue 16): fast at least 10x faster than full, exact to 1e-4.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while they wait make small operations slow when other
# processes share the cores. Before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn

from motiflens.config import ModelConfig
from motiflens.data.simulate import DEFAULT_TASKS
from motiflens.explain.insertion import insert_motifs
from motiflens.memory import keep_freed_memory
from motiflens.models import build_model
from motiflens.motifs.databases import load_database
from motiflens.motifs.pwm import Motif

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_LENGTH = 200  # simulate()'s default length, the demo's
COLUMNS = ["delta_score", "delta_score_sd", "delta_pred"]


def calibrated(cfg: ModelConfig, seed: int = 0) -> nn.Module:
    """``cfg``'s model, random weights, batch-norm statistics from random sequences; eval."""
    torch.manual_seed(seed)
    model = build_model(cfg)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for i in range(4):
            model(torch.from_numpy(backgrounds(64, cfg.length, seed=100 + i)))
        for bn in bns:
            bn.weight.normal_(1.0, 0.2)
            bn.bias.normal_(0.0, 0.2)
    return model.eval()


def demo_model() -> nn.Module:
    """configs/demo.yaml's model at 200 bp, one target per default simulated task."""
    with open(os.path.join(ROOT, "configs", "demo.yaml")) as fh:
        spec = yaml.safe_load(fh)["model"]
    cfg = {**spec, "n_targets": len(DEFAULT_TASKS), "length": DEMO_LENGTH}
    return calibrated(ModelConfig.from_dict(cfg))


def basset_model() -> nn.Module:
    """The paper's Basset at 600 bp, 164 targets."""
    return calibrated(ModelConfig(name="basset", n_targets=164, length=600))


def backgrounds(n: int, length: int, seed: int = 1) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


def jaspar(n: int) -> list[Motif]:
    return load_database("jaspar:2024:CORE:vertebrates")[::8][:n]


def compare(model: nn.Module, x: np.ndarray, motifs: list[Motif], rounds: int) -> dict[str, float]:
    """Alternating rounds of both paths: median seconds, motifs/s, ratio, max differences."""

    def call(method: str) -> pd.DataFrame:
        return insert_motifs(model, x, motifs, method=method, batch_size=256, random_state=0)

    # Warm-up of both (caches, oneDNN primitives): the naive path's first call in a process
    # took 8.2 s where the next ones took 5.6-5.9 s (AMD EPYC, one thread), and an unwarmed
    # first round flattered the ratio.
    call("fast")
    call("naive")
    t_full, t_fast = [], []
    full = fast = None
    for _ in range(rounds):
        t = time.perf_counter()
        full = call("naive")
        t_full.append(time.perf_counter() - t)
        t = time.perf_counter()
        fast = call("fast")
        t_fast.append(time.perf_counter() - t)
    assert full is not None and fast is not None
    a, b = statistics.median(t_full), statistics.median(t_fast)
    diff = (full[COLUMNS] - fast[COLUMNS]).abs().max()
    return {
        "full_s": a,
        "fast_s": b,
        "full_motifs_s": len(motifs) / a,
        "fast_motifs_s": len(motifs) / b,
        "ratio": a / b,
        "max_diff_score": float(diff["delta_score"]),
        "max_diff_sd": float(diff["delta_score_sd"]),
        "max_diff_pred": float(diff["delta_pred"]),
        "max_score": float(full["delta_score"].abs().max()),
    }


def run(n_motifs: int, n_backgrounds: int, rounds: int, threads: int = 1) -> dict[str, float]:
    """The demo-model comparison (see the module docstring)."""
    torch.set_num_threads(threads)
    # As `motiflens insert` runs (the command line keeps freed memory for reuse). Without
    # it the full path ran at 5.9-6.0 s or at 8.7-10.4 s depending on glibc's adaptive
    # mmap threshold (the slow runs: 1.9 million page faults, 4 s of system time); the
    # fast path is the same either way, so the ratio is the lower one.
    keep_freed_memory()
    return compare(demo_model(), backgrounds(n_backgrounds, DEMO_LENGTH), jaspar(n_motifs), rounds)


def report(label: str, f: dict[str, float], n_motifs: int, n_backgrounds: int) -> None:
    print(
        f"{label}: {n_motifs} motifs x {n_backgrounds} backgrounds: full {f['full_s']:.2f} s "
        f"({f['full_motifs_s']:.1f} motifs/s), fast {f['fast_s']:.3f} s "
        f"({f['fast_motifs_s']:.1f} motifs/s), {f['ratio']:.1f}x"
    )
    print(
        f"    max |full - fast|: delta_score {f['max_diff_score']:.1e}, delta_score_sd "
        f"{f['max_diff_sd']:.1e}, delta_pred {f['max_diff_pred']:.1e} "
        f"(max |delta_score| {f['max_score']:.3f})"
    )


def quick() -> list[tuple[str, float]]:
    """``[("insertion", ratio)]`` at the full bench's size: 100 motifs x 256 backgrounds,
    3 rounds (about 30 s on 2 cores)."""
    figures = run(n_motifs=100, n_backgrounds=256, rounds=3)
    report(f"demo model, {DEMO_LENGTH} bp", figures, 100, 256)
    return [("insertion", figures["ratio"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--motifs", type=int, default=100)
    parser.add_argument("--backgrounds", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-basset", action="store_true", help="skip the 600 bp detail line")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    )
    figures = run(args.motifs, args.backgrounds, args.rounds, args.threads)
    report(f"demo model, {DEMO_LENGTH} bp", figures, args.motifs, args.backgrounds)
    if args.backgrounds != 64:
        few = run(args.motifs, 64, args.rounds, args.threads)
        report(f"detail: demo model, {DEMO_LENGTH} bp", few, args.motifs, 64)
    if not args.no_basset:
        n_motifs, n_bg = 16, 16
        detail = compare(basset_model(), backgrounds(n_bg, 600), jaspar(n_motifs), 1)
        report("detail: Basset, 600 bp", detail, n_motifs, n_bg)
    print(f"ratio insertion {figures['ratio']:.2f}x")


if __name__ == "__main__":
    main()
