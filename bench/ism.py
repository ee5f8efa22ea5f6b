"""Benchmark: in-silico saturation mutagenesis on the Basset model at 600 bp (CPU).

All in one process, on the default Basset (300/200/200 filters, 19/11/7 wide, pools
3/4/4, two dense layers of 1000, 164 targets), random weights with batch-norm running
statistics taken from random sequences (as training leaves them) and shifted/scaled
batch-norm affine parameters, in eval mode, on random sequences:

* (a) motiflens fast ISM (:func:`motiflens.explain.ism.saturation_mutagenesis`,
  ``method="fast"``, everything included: checks, reference pass; the self-check
  runs on the first call, whose checked plan later calls on the unchanged model reuse);
* (b) naive batched ISM: all 1800 mutants of a sequence through the whole model, at the
  best of ``--naive-batches`` (chosen on one sequence);
* (c) tangermeme's ``saturation_mutagenesis`` (fast path, batch 256) when tangermeme is
  installed (a bench-only extra, not a dependency of motiflens:
  ``pip install tangermeme==1.6.0``). Its fast path is attempted only for jobs it
  expects to take 30 s naively; the bench sets that floor to 0. Printed per sequence
  with its setup (capture with ``torch.export``, checks) and without it (the time spent
  inside its fast path's ``predict_edits``, measured directly).

(a) and (b) are timed in alternating rounds (all sequences through (a), then one through
(b)) so that both see the same load on a shared machine; medians are printed. Also
printed: the ratios, the largest absolute difference from the naive logits; what the
exact skipping of unchanged mutants and window columns saved (the fast core with and
without it, on this model and on one whose first layer fires rarely); and the
arithmetic per sequence: the naive computation, the *locality bound* (recomputing, for
every mutant, the changed output window of each layer with an ordinary convolution,
then the changed slice of the first dense layer and the rest of the dense layers), and
what the fast path did (its products in the DFT basis, the first layer's table, the
dense layers), with the achieved GFLOP/s.

Then (c) again in alternating rounds with (a) (one call of each per round, same
sequences), its steady state (the time in its fast path) against all of (a), and the
CNN-RNN: DeMo's ``cnn-rnn`` (101 bp, 128 filters of 9, bidirectional LSTM of 32, max over
time, 164 targets, random weights) through motiflens' recurrent fast path
(:mod:`motiflens.explain.ism_recurrent`: each LSTM direction restarted at a mutant's
first changed step from the reference's cached states) against the naive path at its
best batch, alternating. The headline lines are ``ratio NAME VALUEx``:
``ism_vs_tangermeme`` (median tangermeme steady state / median motiflens),
``ism_vs_naive`` and ``ism_cnn_rnn_vs_naive``; :func:`quick` returns them at a small size.

``OMP_WAIT_POLICY`` is left as it is (printed): users run with OpenMP's default. On this
2-core machine ``PASSIVE`` made motiflens' Basset figure a few percent faster and
tangermeme's about 10% slower, and made every LSTM step wait for a sleeping thread: the
CNN-RNN's fast path (many short recurrent runs) became 4x slower than with the default
and slower than the naive path, so a figure measured under it would describe a setting
nobody uses by default.

Usage::

    .venv/bin/python bench/ism.py [--sequences 8] [--threads N]
        [--naive-batches 32,64,128,256] [--no-tangermeme] [--rounds 3]

Targets (issue): (a) at least 15x faster than (b) and at least 5x faster than (c)'s
steady state; the CNN-RNN's gain over naive reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from motiflens.config import ModelConfig
from motiflens.explain import ism, ism_engine, ism_plan
from motiflens.explain.fast_ism import FastISM
from motiflens.models import build_model

LENGTH = 600
N_TARGETS = 164


def basset(seed: int = 0, sparse: bool = False) -> nn.Module:
    """Default Basset with realistic batch-norm statistics, in eval mode.

    ``sparse``: the first layer's batch-norm shift lowered by 2 standard deviations, so
    that each filter fires on about 2% of positions, as motif detectors of a trained
    model do (the skipping of unchanged mutants has something to skip then).
    """
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name="basset", n_targets=N_TARGETS, length=LENGTH))
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(random_sequences(64, seed=None))
        for bn in bns:
            bn.weight.normal_(1.0, 0.2)
            bn.bias.normal_(0.0, 0.2)
        if sparse:
            bns[0].bias.sub_(2.0 * bns[0].weight.abs())
    return model.eval()


def random_sequences(n: int, seed: int | None = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    codes = torch.randint(0, 4, (n, LENGTH), generator=gen)
    return torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time over ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


# ------------------------------------------------------------------- arithmetic


def flop_counts(model: nn.Module) -> dict[str, float]:
    """FLOP per mutant: naive, locality bound (mean over positions), per layer sizes."""
    plan = ism_plan.plan_model(model)
    assert isinstance(plan, ism_plan.Plan)
    lengths = [LENGTH]
    naive = 0.0
    for op in plan.ops:
        n = lengths[-1]
        if isinstance(op, ism_plan.Conv):
            out_c, in_c, k = op.weight.shape
            n = n + sum(op.pad) - op.reach
            naive += 2.0 * n * k * in_c * out_c
        elif isinstance(op, ism_plan.Pool):
            n = torch.nn.functional.max_pool1d(
                torch.zeros(1, 1, n), op.kernel, op.stride, ceil_mode=op.ceil_mode
            ).shape[-1]
        lengths.append(n)
    head = plan.head
    dense = [m for m in head.rest if isinstance(m, nn.Linear)]
    rest_flops = sum(2.0 * m.in_features * m.out_features for m in dense)
    assert head.linear is not None
    naive += 2.0 * head.linear.in_features * head.linear.out_features + rest_flops
    # Locality bound: per mutant, each conv recomputes its changed output columns.
    local = []
    for i in range(LENGTH):
        lo, hi, total = i, i, 0.0  # changed columns [lo, hi] of the current layer
        for k, op in enumerate(plan.ops):
            if isinstance(op, ism_plan.Conv):
                out_c, in_c, kw = op.weight.shape
                lo = max(0, lo + op.pad[0] - op.reach)
                hi = min(lengths[k + 1] - 1, hi + op.pad[0])
                total += 2.0 * (hi - lo + 1) * kw * in_c * out_c
            elif isinstance(op, ism_plan.Pool):
                lo = max(0, -(-(lo - op.kernel + 1) // op.stride))
                hi = min(lengths[k + 1] - 1, hi // op.stride)
        c_last = head.linear.in_features // lengths[-1]
        total += 2.0 * (hi - lo + 1) * c_last * head.linear.out_features + rest_flops
        local.append(total)
    return {"naive": naive, "local": float(np.mean(local)), "interior": local[LENGTH // 2]}


# ------------------------------------------------------------------------- runs


def naive_ism(model: nn.Module, x: torch.Tensor, batch: int) -> ism.ISMResult:
    return ism.saturation_mutagenesis(model, x, method="naive", batch_size=batch, device="cpu")


def fast_ism(model: nn.Module, x: torch.Tensor) -> ism.ISMResult:
    return ism.saturation_mutagenesis(model, x, method="fast", device="cpu")


def core(model: nn.Module, x: torch.Tensor, skip: bool) -> tuple[float, dict]:
    """The fast path's mutant loop alone (no checks, no output array): seconds, stats."""
    plan = ism_plan.plan_model(model)
    assert isinstance(plan, ism_plan.Plan)
    stats = {"mutants": 0, "skipped": 0, "flops": 0}
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(x.shape[0]):
            engine = FastISM(plan, x[i : i + 1], skip=skip)
            seq, pos, base, _ = ism_engine.mutants(x[i : i + 1], np.arange(LENGTH))
            engine.outputs(seq, pos, base, ism_engine.FAST_BATCH)
            for key in stats:
                stats[key] += engine.stats[key]
    return time.perf_counter() - t, stats


def tangermeme_ism(model: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, list[str], float]:
    """tangermeme's ISM deltas, its warnings, and the seconds its fast path spent on edits."""
    import tangermeme._fastism as tfast
    import tangermeme.saturation_mutagenesis as tsm

    tsm._FAST_MIN_SECONDS = 0.0  # attempt the fast path on small jobs too
    spent = [0.0]
    predict_edits = tfast._FastISM.predict_edits

    def timed_edits(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return predict_edits(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t

    tfast._FastISM.predict_edits = timed_edits
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y0, y_hat = tsm.saturation_mutagenesis(
                model, x, batch_size=256, raw_outputs=True, device="cpu", fast=True
            )
    finally:
        tfast._FastISM.predict_edits = predict_edits
    delta = (y_hat - y0[:, None, None, :]).numpy()
    return delta, [str(w.message) for w in caught], spent[0]


def skipping(model: nn.Module, x: torch.Tensor, label: str) -> None:
    n = x.shape[0]
    t_skip, s_skip = core(model, x, skip=True)
    t_all, s_all = core(model, x, skip=False)
    print(
        f"skipping ({label}): fast core {t_skip / n:.3f} s/sequence with it, "
        f"{t_all / n:.3f} s without ({t_all / t_skip:.2f}x); "
        f"{s_skip['skipped']} of {s_skip['mutants']} mutants stopped early "
        f"({100 * s_skip['skipped'] / max(1, s_skip['mutants']):.1f}%); "
        f"{s_skip['flops'] / 1e9 / n:.1f} instead of {s_all['flops'] / 1e9 / n:.1f} "
        "GFLOP/sequence"
    )


def tangermeme_installed() -> bool:
    try:
        import tangermeme  # noqa: F401
    except ImportError:
        return False
    return True


def tangermeme_rounds(model: nn.Module, x: torch.Tensor, rounds: int) -> tuple[float, float]:
    """Alternating rounds of motiflens fast ISM and tangermeme on ``x``: medians of the
    seconds per sequence of motiflens and of tangermeme's steady state (its fast path)."""
    n = x.shape[0]
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(timed(lambda: fast_ism(model, x), 1)[0] / n)
        theirs.append(tangermeme_ism(model, x)[2] / n)
    return statistics.median(ours), statistics.median(theirs)


def cnn_rnn(seed: int = 0) -> nn.Module:
    """DeMo's CNN-RNN at 101 bp (default architecture), random weights, eval mode."""
    torch.manual_seed(seed)
    return build_model(ModelConfig(name="cnn-rnn", n_targets=N_TARGETS, length=101)).eval()


def cnn_rnn_rounds(n: int, rounds: int, batches: tuple[int, ...] = (32, 128)) -> float:
    """Naive over fast ISM time on the CNN-RNN, medians of alternating rounds; prints."""
    model = cnn_rnn()
    gen = torch.Generator().manual_seed(2)
    codes = torch.randint(0, 4, (n, 101), generator=gen)
    x = torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()
    fast_ism(model, x[:1])  # warm-up
    trial = {b: timed(lambda b=b: naive_ism(model, x[:1], b), 1)[0] for b in batches}
    best = min(trial, key=trial.__getitem__)
    t_fast, t_naive = [], []
    fast = naive = None
    for _ in range(rounds):
        t, fast = timed(lambda: fast_ism(model, x), 1)
        t_fast.append(t / n)
        t, naive = timed(lambda: naive_ism(model, x, best), 1)
        t_naive.append(t / n)
    assert fast is not None and naive is not None and fast.method_used == "fast"
    a, b_ = statistics.median(t_fast), statistics.median(t_naive)
    err = np.abs(fast.delta - naive.delta).max()
    print(
        f"CNN-RNN (cnn-rnn, 101 bp, {N_TARGETS} targets, {n} sequences, {rounds} rounds): "
        f"fast {a * 1e3:.1f} ms/sequence, naive (batch {best}) {b_ * 1e3:.1f} ms/sequence, "
        f"max |fast - naive| {err:.2e} (max |delta| {np.abs(naive.delta).max():.3f})"
    )
    return b_ / a


def quick() -> list[tuple[str, float]]:
    """The headline ratios at a small size (about 2-3 minutes on 2 cores)."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model = basset()
    # 4 sequences and 3 rounds: on a shared 2-core host, single calls of either tool vary
    # by 10-20%, and a median of 2 rounds is only their mean.
    x = random_sequences(4)
    fast_ism(model, x[:1])  # warm-up
    out = []
    if tangermeme_installed():
        a, c = tangermeme_rounds(model, x, 3)
        print(
            f"  alternating rounds (3, {x.shape[0]} sequences): motiflens {a:.3f} s/sequence, "
            f"tangermeme steady state {c:.3f} s/sequence (medians)"
        )
        out.append(("ism_vs_tangermeme", c / a))
    else:
        print(
            "ism_vs_tangermeme: skipped, tangermeme is not installed "
            "(pip install tangermeme==1.6.0)"
        )
    t_fast, t_naive = [], []
    for i in range(2):
        t_fast.append(timed(lambda: fast_ism(model, x), 1)[0] / x.shape[0])
        t_naive.append(timed(lambda i=i: naive_ism(model, x[i : i + 1], 64), 1)[0])
    out.append(("ism_vs_naive", statistics.median(t_naive) / statistics.median(t_fast)))
    out.append(("ism_cnn_rnn_vs_naive", cnn_rnn_rounds(4, 3)))
    for name, value in out:
        print(f"ratio {name} {value:.2f}x")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--naive-batches", default="32,64,128,256")
    parser.add_argument("--no-tangermeme", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds for (c)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n = args.sequences
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; Basset {LENGTH} bp, "
        f"{N_TARGETS} targets, eval mode, {n} random sequences, {3 * LENGTH} mutants each"
    )
    model = basset()
    x = random_sequences(n)

    # Best naive batch size, on one sequence.
    fast_ism(model, x[:1])  # warm-up
    trial = {}
    for b in (int(v) for v in args.naive_batches.split(",")):
        trial[b] = timed(lambda b=b: naive_ism(model, x[:1], b), 1)[0]
    best = min(trial, key=trial.__getitem__)
    print("naive batch sizes (s/sequence): " + ", ".join(f"{b}: {t:.2f}" for b, t in trial.items()))

    # Interleaved rounds: (a) on all sequences, then (b) on one, so both see the same load.
    t_fast, t_naive, naive_parts = [], [], []
    fast = None
    for i in range(n):
        t, fast = timed(lambda: fast_ism(model, x), 1)
        t_fast.append(t / n)
        t, part = timed(lambda i=i: naive_ism(model, x[i : i + 1], best), 1)
        t_naive.append(t)
        naive_parts.append(part)
    assert fast is not None
    naive_delta = np.concatenate([p.delta for p in naive_parts])
    naive_ref = np.concatenate([p.reference for p in naive_parts])
    a, b_ = statistics.median(t_fast), statistics.median(t_naive)
    ratios = [tn / tf for tf, tn in zip(t_fast, t_naive, strict=True)]
    ratio_naive = b_ / a
    print(f"(a) motiflens fast ISM: {a:.3f} s/sequence (median of {n} rounds)")
    print(f"(b) naive batched ISM, batch {best}: {b_:.2f} s/sequence (median of {n})")
    print(
        f"    (b)/(a) = {b_ / a:.1f}x (per-round ratios {min(ratios):.1f}-{max(ratios):.1f}x); "
        "target >= 15x"
    )
    print(
        f"    max |fast - naive|: {np.abs(fast.delta - naive_delta).max():.2e} on delta, "
        f"{np.abs(fast.reference - naive_ref).max():.2e} on reference logits "
        f"(max |delta| {np.abs(naive_delta).max():.3f}, max |logit| "
        f"{np.abs(naive_ref).max():.3f})"
    )

    # (c) tangermeme
    ratio_tm = None
    if args.no_tangermeme:
        print("(c) tangermeme: skipped (--no-tangermeme)")
    else:
        try:
            import tangermeme
        except ImportError:
            print("(c) tangermeme: not installed (pip install tangermeme==1.6.0 to compare)")
        else:
            t_tm, (d_tm, notes, edits) = timed(lambda: tangermeme_ism(model, x), 1)
            t_f = timed(lambda: fast_ism(model, x), 1)[0] / n
            per, total = edits / n, t_tm / n
            print(
                f"(c) tangermeme {tangermeme.__version__} (fast path, batch 256): "
                f"{total:.3f} s/sequence over {n} sequences with its setup, {per:.3f} "
                f"s/sequence in its fast path alone; motiflens {t_f:.3f} s/sequence just after"
            )
            for note in sorted(set(notes)):
                print(f"    tangermeme warned: {note[:200]}")
            print(
                f"    (c)/(a) = {total / t_f:.1f}x with its setup, {per / t_f:.1f}x without; "
                "target >= 3x"
            )
            print(f"    max |tangermeme - naive|: {np.abs(d_tm - naive_delta).max():.2e}")
            ours, theirs = tangermeme_rounds(model, x, args.rounds)
            print(
                f"    alternating rounds ({args.rounds}): motiflens {ours:.3f} s/sequence, "
                f"tangermeme steady state {theirs:.3f} s/sequence (medians); target >= 5x"
            )
            ratio_tm = theirs / ours

    skipping(model, x, "this model")
    skipping(basset(sparse=True), x, "first layer firing on ~2% of positions")

    # Arithmetic
    flops = flop_counts(model)
    mutants = 3 * LENGTH
    naive_g = flops["naive"] * mutants / 1e9
    local_g = flops["local"] * mutants / 1e9
    _, stats = core(model, x[:1], skip=True)
    done = stats["flops"] / 1e9
    print(
        f"arithmetic per sequence: naive {naive_g:.0f} GFLOP ({flops['naive'] / 1e6:.0f} "
        f"MFLOP/mutant); locality bound {local_g:.1f} GFLOP ({flops['local'] / 1e6:.1f} "
        f"MFLOP/mutant on average, {flops['interior'] / 1e6:.1f} away from the ends); "
        f"fast path {done:.1f} GFLOP ({done / local_g:.2f} of the locality bound)"
    )
    print(
        f"    achieved: naive {naive_g / b_:.0f} GFLOP/s; fast {done / a:.0f} GFLOP/s of its "
        f"own arithmetic. The locality bound at the naive run's {naive_g / b_:.0f} GFLOP/s "
        f"would take {local_g / (naive_g / b_):.3f} s/sequence; the fast path takes "
        f"{a / (local_g / (naive_g / b_)):.2f}x that"
    )
    ratio_rnn = cnn_rnn_rounds(n, args.rounds)
    if ratio_tm is not None:
        print(f"ratio ism_vs_tangermeme {ratio_tm:.2f}x")
    print(f"ratio ism_vs_naive {ratio_naive:.2f}x")
    print(f"ratio ism_cnn_rnn_vs_naive {ratio_rnn:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
