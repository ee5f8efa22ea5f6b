"""Benchmark: train one epoch on a dataset file far larger than the memory it may use.

Builds a ~10 GB dataset file (uint8 one-hot, the project's ``(N, 4, L)`` layout, written
chunk by chunk with :class:`~motiflens.data.hdf5.DatasetWriter`, so the build itself holds
one chunk at a time), then trains one epoch on it through the normal
:func:`motiflens.training.train` path, which streams batches from the HDF5 file (the
file is well above ``IN_MEMORY_BYTES``). A reference file 1/16 of the size (still above
the threshold, so it streams too) is trained the same way in the same process first, and
the two are compared.

Reported per phase: peak resident memory (VmHWM, reset between phases through
``/proc/self/clear_refs``; the process-lifetime ``ru_maxrss`` of this process and of any
DataLoader worker processes, ``RUSAGE_CHILDREN``, are printed too), wall time, and
sequences per second. The target: peak RSS under 2 GB while training on the 10 GB file.

The sequences and labels are random (two targets): this measures memory and throughput,
not learning. Long sequences (20 kb by default) with a tiny Basset-style model (two conv
layers, max-pools of 20) keep one epoch over 10 GB affordable on two CPU cores. The file
is stored without compression so that its size on disk is the size of the data
(``--compression gzip``, the project default, would make random one-hot ~6x smaller on
disk and need far more sequences for the same file size).

Usage::

    .venv/bin/python bench/large_dataset.py [--gb 10] [--ref-gb 0.625] [--length 20000]
        [--batch-size 64] [--dir DIR] [--keep] [--reuse DIR] [--max-batches N]
        [--num-workers 0]

The files go to a temporary directory (or ``--dir``) and are deleted at the end unless
``--keep``. ``--max-batches`` trains only that many batches of the epoch (Lightning's
``limit_train_batches``), for machines where a full epoch takes too long.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from motiflens import training
from motiflens.config import RunConfig
from motiflens.data.hdf5 import DatasetWriter, SequenceDataset

VALID = 256  # validation sequences (loaded in memory: 20 MB of uint8 at 20 kb)
CHUNK = 256  # sequences written per step (the file's chunk height)
GB = 1e9


def _status_kb(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """Peak RSS since the last :func:`reset_peak` (VmHWM), in MB."""
    return _status_kb("VmHWM") * 1024 / 1e6


def rss_mb() -> float:
    """Current RSS, in MB."""
    return _status_kb("VmRSS") * 1024 / 1e6


def lifetime_peaks_mb() -> tuple[float, float]:
    """``ru_maxrss`` of this process and of its finished children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6
    return own, children


def build(path: Path, size_gb: float, length: int, compression: str | None, seed: int) -> int:
    """Write a dataset of random sequences of about ``size_gb`` GB; return its sequences."""
    per_seq = 4 * length  # uint8 one-hot
    n = max(int(size_gb * GB / per_seq), VALID + CHUNK)
    n_train = n - VALID
    rng = np.random.default_rng(seed)
    sizes = {"train": n_train, "valid": VALID}
    with DatasetWriter(
        path, ["random_a", "random_b"], length, sizes, compression=compression
    ) as writer:
        for split, count in sizes.items():
            for lo in range(0, count, CHUNK):
                k = min(CHUNK, count - lo)
                codes = rng.integers(0, 4, (k, length), dtype=np.uint8)
                labels = (rng.random((k, 2)) < 0.3).astype(np.int8)
                writer.write(split, codes, labels, [f"{split}{lo + i}" for i in range(k)])
    return n


def config(batch_size: int) -> RunConfig:
    """A tiny Basset: 8 filters of 9 bp, pool 20; 8 filters of 5 bp, pool 20; 16 units."""
    return RunConfig.from_dict(
        {
            "model": {
                "name": "basset",
                "arch": {
                    "filters": [8, 8],
                    "sizes": [9, 5],
                    "pools": [20, 20],
                    "hidden": [16],
                    "hidden_dropout": 0.0,
                },
            },
            "training": {
                "preset": "demo",
                "lr": 1e-3,
                "batch_size": batch_size,
                "max_epochs": 1,
                "num_workers": 0,
            },
        }
    )


def limit_batches(max_batches: int | None) -> None:
    """Make every Trainer that train() builds stop after ``max_batches`` training batches."""
    if max_batches is None:
        return
    original = training.L.Trainer

    class Limited(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["limit_train_batches"] = max_batches
            super().__init__(*args, **kwargs)

    training.L.Trainer = Limited  # type: ignore[misc]


def train_once(
    dataset: Path, run_dir: Path, batch_size: int, num_workers: int, max_batches: int | None
) -> dict[str, float]:
    """Train one epoch; return wall time, epoch time, sequences seen and peak RSS."""
    probe = SequenceDataset(dataset, "train")
    streamed = not training._dataset(dataset, "train").in_memory
    cfg = config(batch_size)
    cfg = RunConfig.from_dict(
        {
            "model": cfg.model.to_dict(),
            "training": {**cfg.training.to_dict(), "num_workers": num_workers},
        }
    )
    reset_peak()
    before = rss_mb()
    t0 = time.perf_counter()
    training.train(dataset, run_dir, cfg, accelerator="cpu", devices=1, verbose=False)
    wall = time.perf_counter() - t0
    table = pd.read_csv(run_dir / "metrics" / "training.tsv", sep="\t")
    epoch = float(table["seconds"].iloc[0])
    # what was trained, from the run's own record: optimizer steps x batch (drop_last)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    seen = int(ckpt["global_step"]) * batch_size
    return {
        "streamed": float(streamed),
        "n_train": float(len(probe)),
        "seen": float(seen),
        "wall_s": wall,
        "epoch_s": epoch,
        "seq_per_s": seen / epoch,
        "rss_before_mb": before,
        "peak_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=10.0, help="size of the big file (GB)")
    parser.add_argument("--ref-gb", type=float, default=0.625, help="size of the reference")
    parser.add_argument("--length", type=int, default=20_000, help="sequence length (bp)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--max-batches", type=int, default=None)
    parser.add_argument("--compression", default=None, choices=[None, "gzip", "lzf"])
    parser.add_argument("--dir", type=Path, default=None, help="where to build the files")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    parser.add_argument(
        "--reuse", type=Path, default=None, help="a kept directory: train on its files again"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    logging.getLogger("lightning").setLevel(logging.ERROR)
    limit_batches(args.max_batches)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    if args.reuse is not None:
        workdir = args.reuse
        args.keep = True
    else:
        workdir = Path(tempfile.mkdtemp(prefix="motiflens-large-", dir=args.dir))
    print(f"working in {workdir}; train() streams above {training.IN_MEMORY_BYTES / GB:.2f} GB "
          "of float32")  # fmt: skip
    try:
        files = {}
        for name, size in (("reference", args.ref_gb), ("large", args.gb)):
            path = workdir / f"{name}.h5"
            files[name] = path
            if args.reuse is not None:
                print(f"reusing {path}: {path.stat().st_size / GB:.3f} GB")
                shutil.rmtree(workdir / f"run_{name}", ignore_errors=True)
                continue
            reset_peak()
            t0 = time.perf_counter()
            n = build(path, size, args.length, args.compression, args.seed)
            seconds = time.perf_counter() - t0
            disk = path.stat().st_size
            print(f"built {name:9} {disk / GB:7.3f} GB on disk, {n:,} x {args.length:,} bp "
                  f"in {seconds:6.1f} s ({disk / GB / seconds:.2f} GB/s); "
                  f"peak RSS while building {peak_mb():,.0f} MB")  # fmt: skip
        results = {}
        for name, path in files.items():
            res = train_once(
                path, workdir / f"run_{name}", args.batch_size, args.num_workers, args.max_batches
            )
            results[name] = res
            print(f"trained {name:9} streamed from HDF5: {bool(res['streamed'])}; "
                  f"{int(res['seen']):,} of {int(res['n_train']):,} sequences in "
                  f"{res['epoch_s']:.1f} s (train() call {res['wall_s']:.1f} s): "
                  f"{res['seq_per_s']:,.1f} seq/s = {res['seq_per_s'] * args.length / 1e6:.2f} "
                  f"Mbp/s; RSS before {res['rss_before_mb']:,.0f} MB, "
                  f"peak {res['peak_mb']:,.0f} MB")  # fmt: skip
        own, children = lifetime_peaks_mb()
        big, ref = results["large"], results["reference"]
        size_ratio = files["large"].stat().st_size / files["reference"].stat().st_size
        print(f"ratios large / reference: file size {size_ratio:.1f}x, "
              f"peak RSS {big['peak_mb'] / ref['peak_mb']:.2f}x, "
              f"throughput {big['seq_per_s'] / ref['seq_per_s']:.2f}x")  # fmt: skip
        print(f"process lifetime peak RSS (ru_maxrss): {own:,.0f} MB; "
              f"DataLoader worker processes (RUSAGE_CHILDREN): {children:,.0f} MB")  # fmt: skip
        worst = max(big["peak_mb"], children)
        verdict = "PASS" if worst < 2000 else "FAIL"
        print(f"{verdict}: peak RSS while training on the large file {worst:,.0f} MB "
              f"(limit 2,000 MB)")  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
