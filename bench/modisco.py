"""Benchmark: TF-MoDISco (modisco-lite via motiflens.explain.modisco) on 5,000 x 200 bp.

Sequences are random with one of three JASPAR motifs (CTCF, SPI1, REST) sampled from its
PWM at a random place, on a random strand; the hypothetical contributions are the
planted-motif recipe of ``tests/explain/test_modisco.py``: the motif's one-hot at the site
scaled by 1, Gaussian noise (sd 0.02) everywhere. Times :func:`discover_motifs` (seqlet
calling, clustering, patterns) with the step's defaults and prints the wall time, the
patterns and ``ratio modisco_vs_5min VALUEx`` (time / 300 s). Target (issue 15): under
5 minutes on 2 cores.

Usage::

    .venv/bin/python bench/modisco.py [--n 5000] [--length 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from motiflens.explain.modisco import discover_motifs
from motiflens.motifs.databases import jaspar_motif
from motiflens.motifs.pwm import Motif
from motiflens.sequence.onehot import reverse_complement_onehot

MOTIFS = ("MA0139.2", "MA0080.7", "MA0138.3")  # CTCF, SPI1, REST


def planted(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One-hot ``(n, 4, length)`` and hypothetical contributions with a planted site each."""
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[:, rng.integers(0, 4, size=(n, length))].transpose(1, 0, 2)
    X = np.ascontiguousarray(X)
    hyp = rng.normal(0, 0.02, size=X.shape).astype(np.float32)
    pwms = [jaspar_motif(m).probs for m in MOTIFS]
    for i in range(n):
        probs = pwms[i % len(pwms)]
        w = probs.shape[1]
        site = np.zeros((4, w), np.float32)
        site[[rng.choice(4, p=probs[:, j] / probs[:, j].sum()) for j in range(w)], np.arange(w)] = 1
        if rng.random() < 0.5:
            site = reverse_complement_onehot(site[None])[0]
        start = int(rng.integers(20, length - w - 20))
        X[i, :, start : start + w] = site
        hyp[i, :, start : start + w] += site
    return X, hyp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    X, hyp = planted(args.n, args.length)
    start = time.perf_counter()
    patterns = discover_motifs(X, hyp * X, hyp, random_state=0)
    seconds = time.perf_counter() - start
    print(f"modisco on {args.n:,} x {args.length} bp: {seconds:.1f} s, {len(patterns)} patterns")
    for p in patterns:
        print(
            f"  {p.name:<26} {p.n_seqlets:>6} seqlets  {Motif(p.name, p.name, p.probs).consensus()}"
        )
    print(f"ratio modisco_vs_5min {seconds / 300:.2f}x")


if __name__ == "__main__":
    main()
