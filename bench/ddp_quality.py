"""Benchmark: do 2 DDP processes train as good a model as 1? (CPU, gloo)

Simulates a dataset (:func:`motiflens.data.simulate.simulate`: the five default JASPAR
tasks, 6,000 sequences x 200 bp by default, 80/10/10 splits), then trains the same small
Basset-style model with ``motiflens train`` once on 1 process and once on 2 (``--devices
2 --strategy ddp --accelerator cpu``), for each seed, and prints every target's test
AUROC for both and the difference.

Fairness: under DDP every process takes ``batch_size`` sequences per step and the
gradients are averaged, so the effective batch doubles and the number of optimizer steps
per epoch halves. The 2-process runs therefore get half the per-process batch size
(``--batch-size`` / 2), so both see the same global batch, the same number of steps at
the same learning rate, over the same epochs. Everything else (seed, initial weights,
learning rate, epochs, early stopping on validation AUROC) is the same; the order in
which sequences are visited differs (each process gets every second one of the
sampler's order), which is why a second seed is run: the 1-vs-2 difference should be of
the size of the seed-to-seed difference.

Training runs through the command line in subprocesses because Lightning's ``ddp``
strategy starts its other processes by re-running the command line. The test AUROCs are
computed here, in one process, with :func:`motiflens.steps.evaluate.evaluate`.

Usage::

    .venv/bin/python bench/ddp_quality.py [--n 6000] [--length 200] [--epochs 6]
        [--batch-size 64] [--seeds 1,2] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.config import RunConfig
from motiflens.data.simulate import simulate
from motiflens.steps.evaluate import evaluate


def config(batch_size: int, epochs: int, seed: int) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": {
                "name": "basset",
                "arch": {
                    "filters": [32, 32],
                    "sizes": [11, 5],
                    "pools": [4, 4],
                    "hidden": [32],
                },
            },
            "training": {
                "preset": "demo",
                "lr": 2e-3,
                "batch_size": batch_size,
                "max_epochs": epochs,
                "patience": epochs,
                "seed": seed,
            },
        }
    )


def train_cli(data: Path, run_dir: Path, cfg: Path, devices: int) -> float:
    """Train with ``motiflens train`` on ``devices`` CPU processes; return wall seconds."""
    exe = shutil.which("motiflens", path=str(Path(sys.executable).parent)) or "motiflens"
    cmd = [
        exe,
        "train",
        str(data),
        str(run_dir),
        "--config",
        str(cfg),
        "--no-progress",
        "--accelerator",
        "cpu",
        "--devices",
        str(devices),
    ]
    if devices > 1:
        cmd += ["--strategy", "ddp"]
    # one thread per process: 2 processes on 2 cores, and 1 process gets both
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, 2 // devices))}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    if args.batch_size % 2:
        parser.error("--batch-size must be even (each of 2 processes takes half)")

    work = Path(tempfile.mkdtemp(prefix="motiflens-ddp-", dir=args.dir))
    try:
        data = work / "sim.h5"
        summary = simulate(data, n_sequences=args.n, length=args.length, seed=1, progress=False)
        print(f"simulated {args.n:,} x {args.length} bp, splits {summary.n}")
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            for devices in (1, 2):
                per_process = args.batch_size // devices
                cfg = work / f"cfg_{seed}_{devices}.yaml"
                config(per_process, args.epochs, seed).save_yaml(cfg)
                run_dir = work / f"run_{seed}_{devices}"
                seconds = train_cli(data, run_dir, cfg, devices)
                metrics = evaluate(run_dir, data, split="test", verbose=False).metrics
                print(
                    f"seed {seed}, {devices} process(es) x batch {per_process}: "
                    f"trained in {seconds:.0f} s, mean test AUROC "
                    f"{metrics['auroc'].mean():.4f}"
                )
                for target, auroc in zip(metrics["target"], metrics["auroc"], strict=True):
                    rows.append(
                        {
                            "seed": seed,
                            "devices": devices,
                            "target": target,
                            "auroc": float(auroc),
                            "seconds": seconds,
                        }
                    )
        table = pd.DataFrame(rows)
        wide = table.pivot_table(index=["seed", "target"], columns="devices", values="auroc")
        wide.columns = ["auroc_1proc", "auroc_2proc"]
        wide["diff_2_minus_1"] = wide["auroc_2proc"] - wide["auroc_1proc"]
        print()
        print(wide.to_string(float_format=lambda v: f"{v:.4f}"))
        means = table.groupby(["seed", "devices"])["auroc"].mean().unstack()
        print()
        print("mean test AUROC over targets (rows: seed, columns: processes)")
        print(means.to_string(float_format=lambda v: f"{v:.4f}"))
        per_target = table.groupby(["target", "devices"])["auroc"].mean().unstack()
        per_target.columns = ["auroc_1proc", "auroc_2proc"]
        per_target["diff_2_minus_1"] = per_target["auroc_2proc"] - per_target["auroc_1proc"]
        print()
        print(f"per target, mean over {table['seed'].nunique()} seed(s)")
        print(per_target.to_string(float_format=lambda v: f"{v:.4f}"))
        diff = wide["diff_2_minus_1"].to_numpy()
        print(
            f"\n2 - 1 processes, per target: mean {diff.mean():+.4f}, "
            f"largest |diff| {np.abs(diff).max():.4f}"
        )
        seeds = sorted(table["seed"].unique())
        if len(seeds) > 1:
            one = table[table["devices"] == 1].pivot(index="target", columns="seed", values="auroc")
            pairs = [(a, b) for i, a in enumerate(seeds) for b in seeds[i + 1 :]]
            spread = np.concatenate([(one[b] - one[a]).to_numpy() for a, b in pairs])
            print(
                f"between seeds (1 process, {len(pairs)} pair(s)), per target: "
                f"sd {spread.std(ddof=0) if len(spread) > 1 else 0:.4f}, "
                f"largest |diff| {np.abs(spread).max():.4f} (the noise to compare with)"
            )
            print(f"2 - 1 processes, per target and seed: sd {diff.std(ddof=0):.4f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
