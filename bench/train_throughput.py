"""Benchmark: Basset training throughput on CPU (batch 128, 600 bp, 164 targets).

Times whole training steps (forward, BCE loss, backward, RMSprop, max-norm 7 on the
weights) and prints, all measured in this one process:

* the machine's float32 matmul peak: ``torch.mm`` 2048 x 2048 (MKL; on AMD CPUs MKL runs
  its AVX2 code) and oneDNN's GEMM (what the convolutions use; AVX-512 where there is one);
* the analytic GFLOP per step (2 x the multiply-adds of every conv and linear layer, x3
  for forward + backward) and a per-layer forward profile, so the bottleneck is visible;
* (reference) a bare PyTorch loop over the plain Basset (``fast_training = False``: the
  layer-by-layer model as written) on pre-made batches: sequences/s and % of peak;
* (a) the same model through motiflens' ``SequenceModule`` on a real ``lightning.Trainer``
  fed by an in-memory ``DataLoader``: sequences/s and Lightning's overhead;
* (b) the optimized motiflens step: the same Trainer with Basset's channels-last training
  path (``Basset.fast_training``, the default) and glibc malloc told to keep freed memory
  (:func:`keep_freed_memory`), and its ratio to the bare loop;
* the largest differences between the optimized and the reference outputs and gradients,
  and both against a float64 computation.

Variants are timed in alternating rounds (medians over all timed steps; the spread of the
per-round medians shows the noise of a shared machine); the malloc setting is switched on
and off between them (:func:`restore_malloc_defaults`). ``--batch-sweep`` and ``--compile``
run last, with it on.

Usage::

    .venv/bin/python bench/train_throughput.py [--steps N] [--batch-size 128] [--threads N]
        [--rounds R] [--batch-sweep] [--compile]

The issue's targets: Lightning's overhead under 5% of the bare loop; the optimized
motiflens step at least 1.3x the bare loop's throughput.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import resource
import statistics
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from motiflens.config import ModelConfig, TrainingConfig
from motiflens.memory import keep_freed_memory, mallopt
from motiflens.models import build_model
from motiflens.models.basset import Basset

LENGTH = 600
N_TARGETS = 164


# ------------------------------------------------------------------------------ setup


def restore_malloc_defaults() -> bool:
    """Undo :func:`keep_freed_memory`, so that variants can alternate.

    Sets what glibc's dynamic thresholds grow to in a Basset step (mmap for blocks over
    32 MB, trim above 64 MB): the same page faults per step as a fresh process.
    """
    return mallopt(mmap_max=65536, mmap_threshold=32 * 2**20, trim_threshold=64 * 2**20)


def one_hot_batches(n: int, batch: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` random one-hot batches ``(batch, 4, 600)`` with 10%-positive 0/1 targets."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        idx = torch.randint(0, 4, (batch, LENGTH), generator=g)
        x = F.one_hot(idx, 4).permute(0, 2, 1).float().contiguous()
        y = (torch.rand(batch, N_TARGETS, generator=g) < 0.1).float()
        out.append((x, y))
    return out


def model_config() -> ModelConfig:
    return ModelConfig(name="basset", n_targets=N_TARGETS, length=LENGTH)


def new_basset(fast: bool, seed: int = 0) -> Basset:
    torch.manual_seed(seed)
    model = build_model(model_config())
    assert isinstance(model, Basset)
    model.fast_training = fast
    return model.train()


def _times(f: Callable[[], object], repeats: int) -> list[float]:
    f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return times


def median_time(f: Callable[[], object], repeats: int = 5) -> float:
    return statistics.median(_times(f, repeats))


def best_time(f: Callable[[], object], repeats: int = 10) -> float:
    return min(_times(f, repeats))


# ------------------------------------------------------------------------- peak, FLOPs


def matmul_peaks(n: int = 2048) -> tuple[float, float]:
    """GFLOP/s of a float32 n x n x n product: ``torch.mm`` (MKL) and oneDNN's GEMM.

    Best of 10: a peak is what the machine can do when nothing else is running.
    """
    a, b = torch.randn(n, n), torch.randn(n, n)
    flops = 2 * n**3
    mm = flops / best_time(lambda: torch.mm(a, b)) / 1e9
    try:
        from torch.utils import mkldnn as mkldnn_utils

        with torch.no_grad():
            linear = mkldnn_utils.to_mkldnn(nn.Linear(n, n, bias=False))
            am = a.to_mkldnn()
            onednn = flops / best_time(lambda: linear(am)) / 1e9
    except (RuntimeError, AttributeError):
        onednn = float("nan")
    return mm, onednn


def forward_macs(model: nn.Module) -> list[tuple[str, int]]:
    """Multiply-adds per sequence of each conv and linear layer (one forward)."""
    rows: list[tuple[str, int]] = []

    def hook(name):
        def record(module, inputs, output):
            if isinstance(module, nn.Conv1d):
                k = module.in_channels // module.groups * module.kernel_size[0]
                rows.append((name, output[0].numel() * k))
            else:
                rows.append((name, output[0].numel() * module.in_features))

        return record

    handles = [
        m.register_forward_hook(hook(name))
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv1d | nn.Linear)
    ]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 4, LENGTH))
    model.train(was_training)
    for h in handles:
        h.remove()
    return rows


def short_name(name: str) -> str:
    """``conv_blocks.0.conv`` -> ``conv1``, ``dense.1.linear`` -> ``dense2``."""
    parts = name.split(".")
    if len(parts) == 3:
        return ("conv" if parts[0] == "conv_blocks" else "dense") + str(int(parts[1]) + 1)
    return name


# ---------------------------------------------------------------------- layer profile


def layer_profile(batch: torch.Tensor, macs: dict[str, int]) -> None:
    """Forward time of each layer of the reference and of each optimized conv block."""
    model = new_basset(fast=False)
    B = batch.shape[0]
    rows: list[tuple[str, float, float]] = []  # name, seconds, GFLOP

    def timed(name, f, *args, gflop=0.0):
        seconds = median_time(lambda: f(*args), repeats=3)
        rows.append((name, seconds, gflop))
        return f(*args)

    # Parameters need gradients (as in training), so max-pool keeps its indices.
    h = batch
    for i, block in enumerate(model.conv_blocks, start=1):
        gflop = 2 * macs[f"conv_blocks.{i - 1}.conv"] * B / 1e9
        h = timed(f"conv{i}", lambda t, b=block: b.conv(b.pad(t)), h, gflop=gflop)
        h = timed(f"  bn{i}", block.bn, h)
        h = timed(f"  relu{i}", block.act, h)
        h = timed(f"  pool{i}", lambda t, b=block: b.drop(b.pool(t)), h)
    h = h.flatten(1)
    for i, block in enumerate(model.dense, start=1):
        gflop = 2 * macs[f"dense.{i - 1}.linear"] * B / 1e9
        h = timed(f"dense{i} (+bn, relu, dropout)", block, h, gflop=gflop)
    timed("output", model.output, h, gflop=2 * macs["output"] * B / 1e9)

    total = sum(s for _, s, _ in rows)
    print(f"\nreference forward by layer (batch {B}, train mode; {total * 1e3:.0f} ms in all):")
    print(f"  {'layer':30s} {'ms':>7s} {'% time':>7s} {'GFLOP':>7s} {'GFLOP/s':>8s}")
    for name, s, gflop in rows:
        rate = f"{gflop / s:8.1f}" if gflop else ""
        flop = f"{gflop:7.2f}" if gflop else ""
        print(f"  {name:30s} {s * 1e3:7.1f} {100 * s / total:6.1f}% {flop:>7s} {rate}")

    # Whole conv blocks, both paths, with and without the malloc setting.
    fast = new_basset(fast=True)
    blocks: dict[tuple[bool, bool], list[float]] = {}
    for malloc in (False, True):
        if malloc and not keep_freed_memory():
            break
        h, hl = batch, batch.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        for ref_block, block in zip(model.conv_blocks, fast.conv_blocks, strict=True):
            t = median_time(lambda b=ref_block, x=h: b(x), repeats=3)
            blocks.setdefault((False, malloc), []).append(t)
            t = median_time(lambda b=block, x=hl: b.forward_channels_last(x), repeats=3)
            blocks.setdefault((True, malloc), []).append(t)
            h, hl = ref_block(h), block.forward_channels_last(hl)
    restore_malloc_defaults()
    print("forward by conv block (conv, bn, relu, pool), ms: reference / channels-last")
    for i in range(len(model.conv_blocks)):
        line = f"  block{i + 1}: default allocator {blocks[False, False][i] * 1e3:6.1f} / "
        line += f"{blocks[True, False][i] * 1e3:6.1f}"
        if (False, True) in blocks:
            line += (
                f"; malloc keeps memory {blocks[False, True][i] * 1e3:6.1f} / "
                f"{blocks[True, True][i] * 1e3:6.1f}"
            )
        print(line)


# --------------------------------------------------------------------------- exactness


def exactness(batch: torch.Tensor, targets: torch.Tensor) -> None:
    """Optimized vs reference outputs and gradients, and both against float64."""
    ref = new_basset(fast=False)
    fast = copy.deepcopy(ref)
    fast.fast_training = True
    truth = copy.deepcopy(ref).double()

    def run(model, x, y):
        model.zero_grad()
        torch.manual_seed(123)  # the same dropout masks
        out = model(x)
        F.binary_cross_entropy_with_logits(out, y).backward()
        grads = {n: p.grad.double() for n, p in model.named_parameters()}
        return out.detach().double(), grads

    results = {
        "optimized": run(fast, batch, targets),
        "reference": run(ref, batch, targets),
        "float64": run(truth, batch.double(), targets.double()),
    }
    # Biases just before a batch norm have a zero gradient in exact arithmetic (the norm
    # removes any shift); in float32 it is rounding noise, so compare it absolutely.
    zero = {n for n in results["reference"][1] if n.endswith(("conv.bias", "linear.bias"))}

    def diff(a, b):
        (oa, ga), (ob, gb) = results[a], results[b]
        out_abs = (oa - ob).abs().max().item()
        out_rel = out_abs / ob.abs().max().item()
        g_abs = max((ga[n] - gb[n]).abs().max().item() for n in ga if n not in zero)
        g_rel = max(
            ((ga[n] - gb[n]).abs().max() / gb[n].abs().max()).item() for n in ga if n not in zero
        )
        g_norm = max(((ga[n] - gb[n]).norm() / gb[n].norm()).item() for n in ga if n not in zero)
        return out_abs, out_rel, g_abs, g_rel, g_norm

    B = batch.shape[0]
    print(f"\nexactness (batch {B}, one training-mode forward + backward):")
    print(
        f"  {'':24s} {'out max|d|':>10s} {'out rel':>8s} {'grad max|d|':>11s} "
        f"{'grad rel':>8s} {'grad norm rel':>13s}"
    )
    for a, b in (("optimized", "reference"), ("optimized", "float64"), ("reference", "float64")):
        d = diff(a, b)
        print(
            f"  {a + ' vs ' + b:24s} {d[0]:10.1e} {d[1]:8.1e} {d[2]:11.1e} {d[3]:8.1e} {d[4]:13.1e}"
        )
    noise = max(results[k][1][n].abs().max().item() for k in results for n in zero)
    print(
        f"  (gradients of the {len(zero)} biases before a batch norm, zero in exact "
        f"arithmetic, are at most {noise:.1e} in any of the three)"
    )
    print(
        "  rel = max|d| / max|reference| per tensor, worst tensor. A max-pool window whose two\n"
        "  largest inputs differ by less than float32 rounding can route one position's\n"
        "  gradient to its neighbour in either float32 variant; that shows as a few % in one\n"
        "  tensor's 'grad rel' while outputs and 'grad norm rel' stay small."
    )
    same_keys = fast.state_dict().keys() == ref.state_dict().keys()
    same_shapes = all(fast.state_dict()[k].shape == v.shape for k, v in ref.state_dict().items())
    print(f"  state_dict keys and shapes unchanged: {same_keys and same_shapes}")


# ---------------------------------------------------------------------------- timing


def bare_stepper(model: nn.Module, batches) -> Callable[[], None]:
    """One plain-PyTorch Basset training step per call, cycling over ``batches``."""
    opt = torch.optim.RMSprop(model.parameters(), lr=0.002, alpha=0.98)
    loss_fn = nn.BCEWithLogitsLoss()
    capped = [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.Linear)]
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        with torch.no_grad():
            for m in capped:
                m.weight.copy_(torch.renorm(m.weight, 2, 0, 7.0))

    return step


def minor_faults() -> int:
    """Page faults of this process so far (each a fresh page the kernel zero-fills)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class Timed(NamedTuple):
    """Wall seconds and CPU seconds of each timed step; page faults per timed step.

    CPU seconds are what this process used (all its threads): on a shared machine they
    show what a step costs when wall time mostly shows what the others left over.
    """

    times: list[float]
    cpu: list[float]
    faults: float


def time_bare(fast: bool, batches, warmup: int, steps: int) -> Timed:
    step = bare_stepper(new_basset(fast), batches)
    for _ in range(warmup):
        step()
    times, cpu = [], []
    faults = minor_faults()
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return Timed(times, cpu, (minor_faults() - faults) / steps)


def time_lightning(
    fast: bool, batches, warmup: int, steps: int, compile_model: bool = False
) -> tuple[Timed, float]:
    """Per-step seconds of ``SequenceModule`` on a ``lightning.Trainer`` (after warm-up).

    A step is the interval between consecutive ``on_train_batch_start`` calls: it holds
    the data loading, the training step, the optimizer and the module's max-norm hook.
    Also returns the seconds of the first step (compilation, with ``compile_model``).
    """
    import lightning as L
    from lightning.pytorch.callbacks import Callback
    from torch.utils.data import DataLoader, TensorDataset

    from motiflens.training import SequenceModule

    class StepTimer(Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []
            self.cpu: list[float] = []
            self.faults: list[int] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.starts.append(time.perf_counter())
            self.cpu.append(time.process_time())
            self.faults.append(minor_faults())

    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    B = batches[0][0].shape[0]
    n_steps = warmup + steps + 1
    reps = -(-n_steps * B // len(x))
    loader = DataLoader(
        TensorDataset(x.repeat(reps, 1, 1), y.repeat(reps, 1)),
        batch_size=B,
        shuffle=True,
        drop_last=True,
    )
    torch.manual_seed(0)
    module = SequenceModule(model_config().to_dict(), TrainingConfig(preset="basset").to_dict())
    module.model.fast_training = fast
    if compile_model:
        module.model.compile()  # in place: state_dict keys stay as they are
    timer = StepTimer()
    threads = torch.get_num_threads()
    trainer = L.Trainer(
        max_steps=n_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(module, loader)
    torch.set_num_threads(threads)
    starts, cpu, faults = timer.starts, timer.cpu, timer.faults
    first = starts[1] - starts[0] if len(starts) > 1 else float("nan")
    times = [b - a for a, b in zip(starts[warmup:], starts[warmup + 1 :], strict=False)]
    cpu_times = [b - a for a, b in zip(cpu[warmup:], cpu[warmup + 1 :], strict=False)]
    return Timed(times, cpu_times, (faults[-1] - faults[warmup]) / max(len(times), 1)), first


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before those")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of variants")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument(
        "--batch-sweep", action="store_true", help="also time batch 32/64/128/256 (bare loops)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="also time torch.compile on the optimized step"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the per-layer profile")
    args = parser.parse_args()

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)  # "GPU available", tips, "stopped"
    for message in ("does not have many workers", "TF32", "LeafSpec", "no `val_dataloader`"):
        warnings.filterwarnings("ignore", f".*{message}.*")
    if args.threads:
        torch.set_num_threads(args.threads)
    B = args.batch_size
    load0 = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"{os.cpu_count()} CPU(s), load average {load0:.2f}; batch {B}, {LENGTH} bp, "
        f"{N_TARGETS} targets"
    )
    t_start = time.perf_counter()

    mm_peak, onednn_peak = matmul_peaks()
    peak = max(mm_peak, onednn_peak)
    print(f"matmul peak (float32 2048^3): torch.mm {mm_peak:.0f} GFLOP/s, oneDNN {onednn_peak:.0f}")

    rows = forward_macs(new_basset(fast=False))
    macs = dict(rows)
    step_gflop = 2 * sum(macs.values()) * 3 * B / 1e9
    shares = ", ".join(f"{short_name(k)} {100 * v / sum(macs.values()):.1f}%" for k, v in rows)
    print(
        f"analytic: {2 * sum(macs.values()) / 1e6:.0f} MFLOP per sequence forward ({shares}); "
        f"x3 for forward + backward = {step_gflop:.1f} GFLOP per step at batch {B}"
    )

    batches = one_hot_batches(4, B)
    if not args.no_profile:
        layer_profile(batches[0][0], macs)
    small = one_hot_batches(1, 16, seed=1)[0]
    exactness(*small)

    warm, n = args.warmup, args.steps
    # name -> (time the steps, malloc keeps freed memory)
    variants: dict[str, tuple[Callable[[], Timed], bool]] = {
        "bare loop, reference Basset": (lambda: time_bare(False, batches, warm, n), False),
        "Lightning, reference Basset": (lambda: time_lightning(False, batches, warm, n)[0], False),
        "bare loop, channels-last Basset": (lambda: time_bare(True, batches, warm, n), False),
        "Lightning, channels-last Basset": (
            lambda: time_lightning(True, batches, warm, n)[0],
            False,
        ),
        "bare loop, reference Basset + malloc": (lambda: time_bare(False, batches, warm, n), True),
        "bare loop, channels-last Basset + malloc": (
            lambda: time_bare(True, batches, warm, n),
            True,
        ),
        "Lightning, channels-last Basset + malloc": (
            lambda: time_lightning(True, batches, warm, n)[0],
            True,
        ),
    }
    if not keep_freed_memory():
        print("(the malloc setting needs glibc: skipping those variants)")
        variants = {k: v for k, v in variants.items() if not v[1]}
    restore_malloc_defaults()
    results: dict[str, list[Timed]] = {}
    print(f"\ntiming: {args.rounds} rounds x {n} steps per variant (after {warm} warm-up steps)")
    print("  seq/s per round, in the order of the table below")
    for r in range(args.rounds):
        for name, (run, malloc) in variants.items():
            if malloc:
                keep_freed_memory()
            else:
                restore_malloc_defaults()
            results.setdefault(name, []).append(run())
        meds = ", ".join(f"{B / statistics.median(results[k][-1].times):.0f}" for k in variants)
        print(f"  round {r + 1}: {meds}", flush=True)
    if any(malloc for _, malloc in variants.values()):
        keep_freed_memory()

    def rate(name: str, cpu: bool = False) -> tuple[float, float, float]:
        """Median seq/s over all timed steps; lowest and highest per-round median.

        Per second of wall time, or with ``cpu`` per second of this process's CPU time.
        """
        rounds = [r.cpu if cpu else r.times for r in results[name]]
        allsteps = [t for r in rounds for t in r]
        per_round = [B / statistics.median(r) for r in rounds]
        return B / statistics.median(allsteps), min(per_round), max(per_round)

    print(
        f"\n{'variant':42s} {'seq/s':>6s} {'(rounds)':>10s} {'GFLOP/s':>7s} {'% peak':>6s} "
        f"{'seq/CPU-s':>9s} {'faults/step':>11s}"
    )
    for name in results:
        s, lo, hi = rate(name)
        gflops = s / B * step_gflop
        faults = statistics.median(r.faults for r in results[name])
        print(
            f"{name:42s} {s:6.1f} {f'({lo:.0f}-{hi:.0f})':>10s} {gflops:7.1f} "
            f"{100 * gflops / peak:5.1f}% {rate(name, cpu=True)[0]:9.1f} {faults:11.0f}"
        )
    print(
        f"(% peak: of the higher matmul peak, {peak:.0f} GFLOP/s; seq/CPU-s: sequences per "
        "second of this process's CPU time, less sensitive to other processes)"
    )

    def speed(name: str) -> tuple[float, float, float]:
        """seq/s three ways: median over all steps, best round, per CPU-second."""
        med, _, best_round = rate(name)
        return med, best_round, rate(name, cpu=True)[0]

    def ratio(a: str, b: str) -> str:
        ra, rb = speed(a), speed(b)
        return (
            f"{ra[0] / rb[0]:.2f}x (best rounds {ra[1] / rb[1]:.2f}x, "
            f"CPU time {ra[2] / rb[2]:.2f}x)"
        )

    def overhead(model: str) -> str:
        """Lightning's extra time per step, in % of the bare loop's, three ways."""
        a, b = speed(f"bare loop, {model}"), speed(f"Lightning, {model}")
        pcts = [100 * (x / y - 1) for x, y in zip(a, b, strict=True)]
        return f"{pcts[0]:+.1f}% (best rounds {pcts[1]:+.1f}%, CPU time {pcts[2]:+.1f}%)"

    def of_peak(seq_per_s: float) -> str:
        gflops = seq_per_s / B * step_gflop
        return (
            f"{gflops:.1f} GFLOP/s = {100 * gflops / mm_peak:.0f}% of the torch.mm peak, "
            f"{100 * gflops / onednn_peak:.0f}% of oneDNN's"
        )

    reference = "bare loop, reference Basset"
    bare = speed(reference)[0]
    print("\nsummary (ratios three ways: median of all steps, best rounds, CPU time)")
    print(f"  bare loop (reference Basset): {bare:.1f} seq/s, {of_peak(bare)}")
    light = speed("Lightning, reference Basset")[0]
    print(
        f"  Lightning step (reference Basset): {light:.1f} seq/s; overhead vs the bare loop "
        f"{overhead('reference Basset')}"
    )
    print(f"    same with channels-last Basset: {overhead('channels-last Basset')}")
    if "Lightning, channels-last Basset + malloc" in results:
        # Without page faults the pair is the cleanest comparison: with them, each
        # variant's time also depends on where the heap happens to stand.
        print(
            "    same with channels-last Basset + malloc (no page faults): "
            f"{overhead('channels-last Basset + malloc')}"
        )
    best_name = "Lightning, channels-last Basset + malloc"
    if best_name not in results:
        best_name = "Lightning, channels-last Basset"
    best = speed(best_name)[0]
    print(f"  optimized motiflens step ({best_name}): {best:.1f} seq/s, {of_peak(best)}")
    print(f"    = {ratio(best_name, reference)} the bare loop")
    if "bare loop, reference Basset + malloc" in results:
        same = "bare loop, reference Basset + malloc"
        print(f"    = {ratio(best_name, same)} the bare loop with the same malloc setting")

    if args.compile:
        timed, first = time_lightning(True, batches, warm, n, compile_model=True)
        s = B / statistics.median(timed.times)
        print(
            f"  + torch.compile (model.compile()): {s:.1f} seq/s = {s / best:.2f}x the "
            f"optimized step's median; first step {first:.0f} s (compilation)"
        )
    if args.batch_sweep:
        print("\nbatch size (bare loops, seq/s; the comparison above is at batch 128):")
        for size in (32, 64, 128, 256):
            bb = one_hot_batches(2, size)
            out = []
            for fast in (False, True):
                times = [t for _ in range(2) for t in time_bare(fast, bb, warm, n).times]
                out.append(size / statistics.median(times))
            print(f"  batch {size:4d}: reference {out[0]:6.1f}, channels-last {out[1]:6.1f}")

    print(
        f"\n{time.perf_counter() - t_start:.0f} s; load average {load0:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end (other processes share these CPUs)"
    )


if __name__ == "__main__":
    main()
