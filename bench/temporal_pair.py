"""Figure for docs/benchmarks.md: a CNN-RNN's temporal scores read the SOX2-OCT4 pair.

Simulates the default simulation's ordered SOX2-OCT4 pair task alone (8,000 x 60 bp),
trains the default CNN-RNN (32 filters) for 10 epochs, and draws the forward temporal score
of every test sequence with a planted pair, aligned on the first site's start (median and
quartiles), with the two sites shaded. Run from the repository root::

    python bench/temporal_pair.py [--out docs/figures/temporal_pair.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from motiflens.config import RunConfig
from motiflens.data.hdf5 import read_split
from motiflens.data.simulate import DEFAULT_TASKS, read_ground_truth, simulate
from motiflens.explain.temporal import temporal_scores
from motiflens.runs import Run
from motiflens.steps import run_config, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures/temporal_pair.png"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="motiflens-temporal-"))
    pair = next(task for task in DEFAULT_TASKS if task.spacing is not None)
    simulate(work / "pair.h5", tasks=[pair], n_sequences=8000, length=60, seed=1, progress=False)
    config = RunConfig.from_dict({"model": {"name": "cnn-rnn", "arch": {"filters": 32}}})
    train(work / "pair.h5", work / "run", run_config(config, max_epochs=10, patience=10))
    x, _, _ = read_split(work / "pair.h5", "test")
    truth = read_ground_truth(work / "pair.h5", "test")
    grammar = truth[truth.role == "grammar"]
    rows, starts, widths = [], [], []
    for row, sites in grammar.groupby("seq"):
        if len(sites) == 2:
            sites = sites.sort_values("start")
            rows.append(int(row))
            starts.append(sites.start.to_numpy())
            widths.append((sites.end - sites.start).to_numpy())
    forward = temporal_scores(Run(work / "run").model(), x[rows]).forward[..., 0]
    offsets = np.arange(-20, 31)
    aligned = np.full((len(rows), len(offsets)), np.nan)
    for k, (s, _) in enumerate(zip(starts, widths, strict=True)):
        pos = s[0] + offsets
        ok = (pos >= 0) & (pos < forward.shape[1])
        aligned[k, ok] = forward[k, pos[ok]]
    q1, med, q3 = np.nanpercentile(aligned, [25, 50, 75], axis=0)
    gap = int(np.median([s[1] - s[0] for s in starts]))
    w1, w2 = (int(np.median([w[i] for w in widths])) for i in (0, 1))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.axvspan(0, w1, color="tab:blue", alpha=0.15, label="first site")
    ax.axvspan(gap, gap + w2, color="tab:orange", alpha=0.15, label="second site")
    ax.fill_between(offsets, q1, q3, color="0.7", label="quartiles")
    ax.plot(offsets, med, color="k", label="median")
    ax.set_xlabel("prefix end, bp from the first site's start (reading order)")
    ax.set_ylabel("forward temporal score")
    ax.set_title(f"CNN-RNN on SOX2-OCT4 pairs ({len(rows)} test sequences)")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
