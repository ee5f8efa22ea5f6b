"""Test AUROC of cnn, rnn and cnn-rnn with the defaults on three DeepBind ENCODE sets.

Makes the ENCODE tables of docs/benchmarks.md. Run from the repository root::

    python bench/deepbind_auroc.py                       # 3 sets x 3 models x seeds 1-3
    python bench/deepbind_auroc.py --models rnn-demo cnn-rnn-demo --seeds 1
    python bench/deepbind_auroc.py --report              # only print the tables again
    python bench/deepbind_auroc.py --report --figure docs/figures/rnn_pooling.png

Every run uses the command-line defaults a user gets (``motiflens train DATA RUN --model M
--seed S``; ``motiflens test RUN``); the only option is the seed. Each (set, model, seed)
trains in its own process on one thread, ``--jobs`` at a time; runs already in
``WORK/results.tsv`` are skipped, so an interrupted benchmark picks up where it stopped.
``test`` is also run with ``--no-rc`` to measure test-time reverse-complement averaging.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

TFS = ("GABPA_GM12878", "SRF_H1-hESC", "ZBTB7A_HepG2")
#: DeepBind* (trained on all of AC) test AUROC, copied from each set's README.
DEEPBIND_STAR = {"GABPA_GM12878": 0.980, "SRF_H1-hESC": 0.960, "ZBTB7A_HepG2": 0.874}
COLUMNS = [
    "tf",
    "model",
    "seed",
    "epochs_run",
    "best_epoch",
    "best_val_auroc",
    "train_s",
    "test_auroc",
    "test_auprc",
    "test_auroc_no_rc",
    "baseline_auroc",
]


def motiflens(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("motiflens")
    return [str(exe), *args]


def run(cmd: list[str], log: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with log.open("a") as out:
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT, env=env)


def dataset(data: Path, work: Path, tf: str) -> Path:
    """train_AC + one dinucleotide shuffle per peak (10% held out); test = test_B as it is."""
    path = work / f"{tf}.h5"
    if not path.exists():
        folder = data / f"deepbind_encode_{tf}"
        run(
            motiflens(
                "dataset", "sequences", str(folder / "train_AC.seq.gz"), "-o", str(path),
                "--test-file", str(folder / "test_B.seq.gz"), "--negatives", "shuffle",
                "--seed", "1",
            ),
            work / f"{tf}.log",
        )  # fmt: skip
    return path


def test_metrics(run_dir: Path) -> pd.Series:
    return pd.read_csv(run_dir / "metrics" / "test.tsv", sep="\t").iloc[0]


def one(data: Path, work: Path, tf: str, model: str, seed: int) -> dict[str, object]:
    h5 = work / f"{tf}.h5"
    run_dir = work / f"{tf}-{model}-seed{seed}"
    log = run_dir.with_suffix(".log")
    trained = run_dir.with_suffix(".trained")  # a finished training is kept (only tests rerun)
    if not trained.exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        log.unlink(missing_ok=True)
        run(motiflens("train", str(h5), str(run_dir), "--model", model, "--seed", str(seed),
                      "--no-progress"), log)  # fmt: skip
        trained.touch()
    run(motiflens("test", str(run_dir), "--no-rc", "--no-progress"), log)
    no_rc = test_metrics(run_dir)
    run(motiflens("test", str(run_dir), "--no-progress"), log)  # the default
    test = test_metrics(run_dir)
    history = pd.read_csv(run_dir / "metrics" / "training.tsv", sep="\t")
    best = history["val_auroc"].idxmax()
    return {
        "tf": tf,
        "model": model,
        "seed": seed,
        "epochs_run": len(history),
        "best_epoch": int(history["epoch"][best]),
        "best_val_auroc": round(float(history["val_auroc"][best]), 4),
        "train_s": round(float(history["seconds"].sum()), 1),
        "test_auroc": round(float(test["auroc"]), 4),
        "test_auprc": round(float(test["auprc"]), 4),
        "test_auroc_no_rc": round(float(no_rc["auroc"]), 4),
        "baseline_auroc": round(float(test.get("baseline_auroc", float("nan"))), 4),
    }


def report(results: pd.DataFrame) -> str:
    """The markdown tables of docs/benchmarks.md."""
    lines = ["Test AUROC on test_B, mean ± SD over seeds (n), defaults:", ""]
    models = list(dict.fromkeys(results["model"]))
    lines.append("| TF | " + " | ".join(models) + " | k-mer baseline | DeepBind\\* |")
    lines.append("|---" * (len(models) + 3) + "|")
    for tf in TFS:
        cells = []
        for model in models:
            sub = results[(results.tf == tf) & (results.model == model)]["test_auroc"]
            cells.append(
                f"{sub.mean():.3f} ± {sub.std(ddof=1):.3f} ({len(sub)})" if len(sub) else ""
            )
        base = results[results.tf == tf]["baseline_auroc"].dropna()
        base_cell = f"{base.iloc[0]:.3f}" if len(base) else ""
        lines.append(
            f"| {tf} | " + " | ".join(cells) + f" | {base_cell} | {DEEPBIND_STAR[tf]:.3f} |"
        )
    means = results.groupby(["model", "tf"])["test_auroc"].mean().groupby("model").mean()
    lines.append(
        "| mean of the sets | "
        + " | ".join(f"{means.get(m, float('nan')):.3f}" for m in models)
        + f" | | {sum(DEEPBIND_STAR.values()) / 3:.3f} |"
    )
    gain = (results["test_auroc"] - results["test_auroc_no_rc"]).groupby(results["tf"]).mean()
    lines += ["", "Mean AUROC gain of test-time reverse-complement averaging (default vs --no-rc):"]
    lines += [f"- {tf}: {gain.get(tf, float('nan')):+.4f}" for tf in TFS]
    capped = results[results.epochs_run >= results.epochs_run.max()]
    lines += ["", f"Runs that used every epoch allowed: {len(capped)} of {len(results)}"]
    return "\n".join(lines)


def curves_figure(work: Path, out: Path, seed: int = 1) -> None:
    """Validation AUROC per epoch: DeMo's exact (time-mean) models against the defaults."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TFS), figsize=(4 * len(TFS), 3.2), sharey=True)
    styles = {
        "rnn-demo": ("tab:red", "--"),
        "rnn": ("tab:red", "-"),
        "cnn-rnn-demo": ("tab:blue", "--"),
        "cnn-rnn": ("tab:blue", "-"),
        "cnn": ("0.3", "-"),
    }
    for ax, tf in zip(axes, TFS, strict=True):
        for model, (color, line) in styles.items():
            table = work / f"{tf}-{model}-seed{seed}" / "metrics" / "training.tsv"
            if table.exists():
                history = pd.read_csv(table, sep="\t")
                ax.plot(history["epoch"], history["val_auroc"], line, color=color, label=model)
        ax.axhline(0.5, color="0.8", lw=0.8)
        ax.set_title(tf)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("validation AUROC")
    axes[-1].legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/motiflens-deepbind"))
    parser.add_argument("--tfs", nargs="+", default=list(TFS))
    parser.add_argument("--models", nargs="+", default=["cnn", "rnn", "cnn-rnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="only print the tables")
    parser.add_argument("--figure", type=Path, help="also draw the per-epoch curves here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    table = args.work / "results.tsv"
    done = pd.read_csv(table, sep="\t") if table.exists() else pd.DataFrame(columns=COLUMNS)
    if not args.report:
        for tf in args.tfs:
            dataset(args.data, args.work, tf)
        todo = [
            (tf, model, seed)
            for seed in args.seeds
            for tf in args.tfs
            for model in args.models
            if done[(done.tf == tf) & (done.model == model) & (done.seed == seed)].empty
        ]

        lock = threading.Lock()

        def job(key: tuple[str, str, int]) -> None:
            start = time.time()
            try:
                row = one(args.data, args.work, *key)
            except subprocess.CalledProcessError as err:
                print(f"{key}: failed ({err}); see its .log", flush=True)
                return
            with lock:
                pd.DataFrame([row], columns=COLUMNS).to_csv(
                    table, sep="\t", index=False, mode="a", header=not table.exists()
                )
            print(f"{key}: AUROC {row['test_auroc']} in {time.time() - start:.0f} s", flush=True)

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(job, todo))
        done = pd.read_csv(table, sep="\t")
    print(report(done))
    if args.figure:
        curves_figure(args.work, args.figure)


if __name__ == "__main__":
    main()
