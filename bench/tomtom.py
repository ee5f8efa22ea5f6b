"""Benchmark: filter annotation (TomTom) and filter influence on the Basset model (CPU).

All in one process, on the default Basset (300/200/200 filters, 19/11/7 wide, pools
3/4/4, two dense layers of 1000, 164 targets, 600 bp) with random weights and realistic
batch-norm statistics (``bench/ism.py``'s ``basset``), sparse first layer so that filters
fire like motif detectors, on random sequences:

1. **TomTom**: the 300 filter PWMs (from :func:`motiflens.explain.filters.filter_stats`,
   untrimmed, width 19) against JASPAR 2024 CORE vertebrates (879 motifs):
   (a) :func:`motiflens.motifs.compare.tomtom` (column standardisation for Pearson,
   E- and q-values, the table) vs (b) ``memelite.tomtom`` called directly on the same
   standardised matrices. Target: overhead negligible.
2. **Influence**: nullifying each of the 300 filters over ``--sequences`` sequences:
   (a) :func:`motiflens.explain.filters.filter_influence` (layer 2 updated by a
   one-channel convolution, layers 3+ per filter) vs (b) the naive loop, one full forward
   pass per filter with a hook replacing the filter's activations
   (:func:`~motiflens.explain.filters.naive_filter_influence`). The naive loop is timed on
   ``--naive-filters`` filters and scaled to 300 (it is linear in filters); the results
   are compared on those filters.

Usage::

    .venv/bin/python bench/tomtom.py [--sequences 1000] [--naive-filters 6] [--threads N]
        [--repeats 5] [--no-influence]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/ism.py

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ism import basset, random_sequences

from motiflens.explain.filters import (
    filter_influence,
    filter_motifs,
    filter_stats,
    naive_filter_influence,
)
from motiflens.motifs.compare import _prepare, tomtom
from motiflens.motifs.databases import load_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=1000)
    parser.add_argument("--naive-filters", type=int, default=6)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5, help="TomTom timing repeats")
    parser.add_argument("--no-influence", action="store_true", help="TomTom part only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = basset(sparse=True)
    X = random_sequences(args.sequences).numpy()
    y = np.random.default_rng(0).random((len(X), model.config.n_targets)) < 0.2
    y = y.astype(np.float32)
    t0 = time.perf_counter()
    stats = filter_stats(model, X, verbose=False)
    t_stats = time.perf_counter() - t0
    motifs = filter_motifs(stats, min_sites=10, trim_ic=None)
    database = load_database("jaspar:2024:CORE:vertebrates")
    print(f"threads {args.threads}; {len(X)} sequences x 600 bp; filter statistics + sites "
          f"{t_stats:.1f} s; {len(motifs)} filter PWMs of width {stats.width}")  # fmt: skip

    # -- TomTom
    from memelite import tomtom as memelite_tomtom

    tomtom(motifs[:5], database)  # numba compilation, once, for both
    ours, direct = [], []
    for _ in range(args.repeats):  # alternating, so both see the same machine load
        t0 = time.perf_counter()
        table = tomtom(motifs, database, thresh=0.1)
        ours.append(time.perf_counter() - t0)
        q_mats, t_mats = _prepare(motifs, "pearson"), _prepare(database, "pearson")
        t0 = time.perf_counter()
        memelite_tomtom(q_mats, t_mats, reverse_complement=True, n_jobs=-1)
        direct.append(time.perf_counter() - t0)
    t_ours, t_direct = statistics.median(ours), statistics.median(direct)
    print(f"\nTomTom, {len(motifs)} filters vs {len(database)} JASPAR motifs:")
    print(f"  motiflens.motifs.compare.tomtom  {t_ours:7.2f} s  ({len(table)} matches at q<0.1)")
    print(f"  memelite.tomtom directly         {t_direct:7.2f} s")
    print(f"  overhead                         {t_ours / t_direct:7.2f}x  (medians of "
          f"{args.repeats}; the direct call excludes the standardisation)")  # fmt: skip
    if args.no_influence:
        return

    # -- influence
    t0 = time.perf_counter()
    fast = filter_influence(model, X, y, means=stats.mean, verbose=False)
    t_fast = time.perf_counter() - t0
    some = list(range(args.naive_filters))
    t0 = time.perf_counter()
    naive = naive_filter_influence(model, X, y, means=stats.mean, filters=some)
    t_naive = (time.perf_counter() - t0) * len(stats.sites) / len(some)
    scale = np.abs(naive.targets).max()
    err = np.abs(fast.targets[some] - naive.targets).max() / scale
    loss_err = np.abs(fast.loss[some] - naive.loss).max()
    print(f"\nfilter influence, {len(stats.sites)} filters x {len(X)} sequences:")
    print(f"  motiflens ({fast.method})                {t_fast:8.1f} s")
    print(f"  naive, one forward per filter   {t_naive:8.1f} s  (timed on {len(some)} filters, "
          "scaled)")  # fmt: skip
    print(f"  speed-up                        {t_naive / t_fast:8.1f}x")
    print(f"  max difference: target influence {err:.1e} (relative to the largest), "
          f"loss influence {loss_err:.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
