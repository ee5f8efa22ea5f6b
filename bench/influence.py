"""Benchmark: filter influence by nullification on the default CNN-RNN at 101 bp (CPU).

All in one process, on the default ``cnn-rnn`` (128 filters of width 9, a bidirectional
LSTM of 32 units per direction, time-max, one target: a DeepBind set such as GABPA), with
random weights (PyTorch's initialisation, the scale a model starts training at; the cost
does not depend on the values) and random sequences with random labels, in eval mode:

* old: :func:`motiflens.explain.filter_influence.filter_influence` with
  ``method="rest"``, the network after layer 1 rerun once per filter (what a CNN-RNN got
  before the recurrent path);
* new: the same function with ``method="recurrent"`` (what ``"auto"`` picks for it): the
  LSTM's input projection computed once per batch and only the recurrence run per filter.

Both use every filter, the means from :func:`~motiflens.explain.filters.filter_stats`,
labels (so the loss influence is computed too) and ``batch_size=100`` (the CLI's). They
are timed in alternating rounds so that both see the same load on a shared machine;
medians are printed, with sequence x filter per second, the ratio (old time / new time)
and the largest differences between the two results.

``OMP_WAIT_POLICY`` is set to ``PASSIVE`` unless set already (as in ``bench/ism.py``).

Usage::

    .venv/bin/python bench/influence.py [--sequences 200] [--rounds 3] [--threads 1]

Target (issue 16): new at least 3x faster than old, exact to 1e-4.
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
import torch

from motiflens.config import ModelConfig
from motiflens.explain.filters import filter_influence, filter_stats
from motiflens.models import build_model

LENGTH = 101


def cnn_rnn(seed: int = 0) -> torch.nn.Module:
    """The default ``cnn-rnn`` for one target at 101 bp, random weights, eval mode."""
    torch.manual_seed(seed)
    return build_model(ModelConfig(name="cnn-rnn", n_targets=1, length=LENGTH)).eval()


def sequences(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random one-hot sequences of 101 bp and random binary labels."""
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, LENGTH))].transpose(0, 2, 1)
    return np.ascontiguousarray(X), (rng.random((n, 1)) < 0.5).astype(np.float32)


def run(n_sequences: int = 200, rounds: int = 3, threads: int = 1) -> dict[str, float]:
    """Time both paths in alternating rounds; print the details and return the figures.

    The ``ratio`` line is printed by :func:`main` (and by ``bench/quick.py`` from
    :func:`quick`'s figures), so that it appears once.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = cnn_rnn()
        X, y = sequences(n_sequences)
        means = filter_stats(model, X).mean
        n_filters = len(means)
        times: dict[str, list[float]] = {"rest": [], "recurrent": []}
        results = {}
        for _ in range(rounds):
            for method in times:
                start = time.perf_counter()
                results[method] = filter_influence(model, X, y, means=means, method=method)
                times[method].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    old, new = results["rest"], results["recurrent"]
    assert new.method == "recurrent" and old.method == "rest"
    scale = float(np.abs(old.targets).max())
    d_targets = float(np.abs(new.targets - old.targets).max())
    d_loss = float(np.abs(new.loss - old.loss).max())
    t_old, t_new = statistics.median(times["rest"]), statistics.median(times["recurrent"])
    work = n_sequences * n_filters
    print(
        f"cnn-rnn default, {LENGTH} bp, {n_filters} filters x {n_sequences} sequences, "
        f"{threads} thread(s), {rounds} alternating rounds"
    )
    for label, t in (
        ("old (rerun after layer 1, method='rest')", t_old),
        ("new (shared projection, method='recurrent')", t_new),
    ):
        print(f"{label}: median {t:.3f} s, {work / t:,.0f} seq x filter/s")
    print(
        f"max |difference|: targets {d_targets:.2e} (largest |influence| {scale:.3g}, "
        f"relative {d_targets / scale:.2e}), loss {d_loss:.2e} "
        f"(largest |loss gain| {float(np.abs(old.loss).max()):.3g})"
    )
    ratio = t_old / t_new
    print(f"old / new: {ratio:.2f}x")
    return {
        "ratio": ratio,
        "old_s": t_old,
        "new_s": t_new,
        "relative_difference": d_targets / scale,
    }


def quick() -> list[tuple[str, float]]:
    """``[("influence_cnn_rnn", ratio)]`` on 48 sequences x 128 filters (~30 s)."""
    return [("influence_cnn_rnn", run(n_sequences=48, rounds=3)["ratio"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    figures = run(args.sequences, args.rounds, args.threads)
    print(f"ratio influence_cnn_rnn {figures['ratio']:.2f}x")


if __name__ == "__main__":
    main()
