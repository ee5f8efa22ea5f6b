"""Benchmark: ISM, training and predict on CUDA, beside the CPU in the same process.

Meant to be run through the ``device`` tool when a GPU is lent (nothing in motiflens
depends on it); without CUDA it prints why and exits 0, unless ``--allow-cpu`` asks for a
dry run of every figure on the CPU (small sizes; the CUDA/CPU ratios are then ~1).

On the default Basset (600 bp, 164 targets, 300/200/200 filters, dense 1000/1000; random
weights with batch-norm statistics taken from random sequences, as ``bench/ism.py``):

* ISM: :func:`motiflens.explain.ism.saturation_mutagenesis` with ``method="fast"`` and
  ``"naive"`` on CUDA (default batch sizes, which are the GPU ones there), largest
  absolute difference between them, sequences/s, and fast CUDA vs fast CPU;
* training: whole steps (forward, BCE, backward, RMSprop) at batch 128 in train mode,
  sequences/s on CUDA and CPU;
* predict: :func:`motiflens.prediction.predict_array` (batch 256), sequences/s on CUDA
  and CPU.

Each figure is the median of ``--repeats`` timed rounds after one warm-up round; CUDA
work is synchronised before every clock read. Ratio lines::

    ratio gpu_ism_fast_vs_naive VALUEx     # naive CUDA time / fast CUDA time
    ratio gpu_ism_vs_cpu VALUEx            # fast ISM, CPU time / CUDA time
    ratio gpu_train_vs_cpu VALUEx          # training sequences/s, CUDA / CPU
    ratio gpu_predict_vs_cpu VALUEx        # predict sequences/s, CUDA / CPU

Usage (from the repository root)::

    .venv/bin/python bench/gpu.py [--ism-sequences 8] [--train-steps 20]
        [--predict-sequences 20000] [--repeats 3] [--allow-cpu]

Through the device tool (nothing to build there but the venv)::

    make install && .venv/bin/python bench/gpu.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.config import ModelConfig
from motiflens.explain.ism import saturation_mutagenesis
from motiflens.models import build_model
from motiflens.prediction import predict_array

LENGTH = 600
N_TARGETS = 164


def basset(seed: int = 0, length: int = LENGTH) -> nn.Module:
    """Default Basset with realistic batch-norm statistics, in eval mode, on the CPU."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name="basset", n_targets=N_TARGETS, length=length))
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(random_onehot(64, length, seed=None))
        for bn in bns:
            bn.weight.normal_(1.0, 0.2)
            bn.bias.normal_(0.0, 0.2)
    return model.eval()


def random_onehot(n: int, length: int = LENGTH, seed: int | None = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    codes = torch.randint(0, 4, (n, length), generator=gen)
    return F.one_hot(codes, 4).permute(0, 2, 1).float()


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` rounds, after one warm-up round."""
    fn()
    synchronise(device)
    times = []
    for _ in range(repeats):
        synchronise(device)
        start = time.perf_counter()
        fn()
        synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ism_seconds(device: torch.device, n: int, repeats: int, naive: bool) -> dict[str, float]:
    """Seconds per sequence of fast (and naive) ISM on ``device``."""
    model = basset()
    x = random_onehot(n)
    out: dict[str, float] = {}
    results = {}
    for method in ("fast", "naive") if naive else ("fast",):

        def run(method: str = method) -> None:
            results[method] = saturation_mutagenesis(model, x, method=method, device=device)

        seconds = median_seconds(run, device, repeats)
        out[method] = seconds / n
        print(f"ism {method:5s} on {device.type}: {n / seconds:.2f} sequences/s ({n} sequences)")
    if naive:
        gap = np.abs(results["fast"].delta - results["naive"].delta).max()
        print(f"ism on {device.type}: max |fast - naive| = {gap:.2e}")
    return out


def train_figure(device: torch.device, steps: int, repeats: int, batch: int = 128) -> float:
    """Training sequences/s: ``steps`` whole optimiser steps per round."""
    model = basset().to(device).train()
    opt = torch.optim.RMSprop(model.parameters(), lr=0.002)
    x = random_onehot(batch).to(device)
    y = (torch.rand(batch, N_TARGETS, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    y = y.to(device)

    def run() -> None:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = F.binary_cross_entropy_with_logits(model(x), y)
            loss.backward()
            opt.step()

    seconds = median_seconds(run, device, repeats)
    rate = steps * batch / seconds
    print(f"train on {device.type}: {rate:,.0f} sequences/s (batch {batch})")
    return rate


def predict_figure(device: torch.device, n: int, repeats: int) -> float:
    model = basset()
    x = random_onehot(n).numpy()
    seconds = median_seconds(lambda: predict_array(model, x, device=device), device, repeats)
    rate = n / seconds
    print(f"predict on {device.type}: {rate:,.0f} sequences/s (batch 256)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ism-sequences", type=int, default=8)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--predict-sequences", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--allow-cpu", action="store_true", help="dry run without CUDA")
    args = parser.parse_args()

    cpu = torch.device("cpu")
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        print(f"device: {torch.cuda.get_device_name(gpu)}, torch {torch.__version__}")
    elif args.allow_cpu:
        gpu = cpu
        print("no CUDA device: dry run on the CPU (ratios ~1)")
    else:
        print("no CUDA device: nothing to measure (run it through the device tool)")
        sys.exit(0)
    print(f"CPU threads: {torch.get_num_threads()}")

    # The CPU side of each ratio runs fewer items: it is the slow side.
    ism_gpu = ism_seconds(gpu, args.ism_sequences, args.repeats, naive=True)
    ism_cpu = ism_seconds(cpu, max(1, args.ism_sequences // 4), 1, naive=False)
    train_gpu = train_figure(gpu, args.train_steps, args.repeats)
    train_cpu = train_figure(cpu, max(2, args.train_steps // 10), 1)
    predict_gpu = predict_figure(gpu, args.predict_sequences, args.repeats)
    predict_cpu = predict_figure(cpu, max(256, args.predict_sequences // 10), 1)

    print(f"ratio gpu_ism_fast_vs_naive {ism_gpu['naive'] / ism_gpu['fast']:.2f}x")
    print(f"ratio gpu_ism_vs_cpu {ism_cpu['fast'] / ism_gpu['fast']:.2f}x")
    print(f"ratio gpu_train_vs_cpu {train_gpu / train_cpu:.2f}x")
    print(f"ratio gpu_predict_vs_cpu {predict_gpu / predict_cpu:.2f}x")


if __name__ == "__main__":
    main()
