"""How ISM runs a chunk of sequences: the engine (fast or naive), its self-check, the mutants.

:func:`choose_engine` decides once per call of :func:`~motiflens.explain.ism.ism_chunks`
between the fast path and the naive one (every mutant through the whole model); the fast
path is :mod:`motiflens.explain.fast_ism` for models that
:func:`~motiflens.explain.ism_plan.plan_model` understands, else
:mod:`motiflens.explain.ism_recurrent` for recurrent models
(:func:`~motiflens.explain.ism_recurrent.recurrent_plan`), and either must pass a
self-check against the model's own outputs. :func:`run_chunk` computes a chunk's
reference and ``delta`` with it.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import numpy as np
import torch
from torch import nn

from motiflens.errors import InputError
from motiflens.explain.fast_ism import FastISM
from motiflens.explain.ism_plan import Plan, model_state, plan_model
from motiflens.explain.ism_recurrent import RecurrentISM, RecurrentPlan, recurrent_plan

__all__ = ["choose_engine", "mutants", "naive_outputs", "run_chunk"]

#: Mutants per chunk of the fast path on CPU (a chunk's windows stay in cache; about
#: 0.1 MB per mutant on Basset at 600 bp) and on GPU.
FAST_BATCH = 384
FAST_BATCH_GPU = 8192
#: Mutated sequences per forward pass of the naive path on CPU (the fastest of 32-256 for
#: Basset at 600 bp; larger batches fall out of cache) and on GPU.
NAIVE_BATCH = 32
NAIVE_BATCH_GPU = 512
#: Mutants per packed LSTM run of the recurrent fast path (larger batches amortise the
#: per-step work of the recurrence).
RECURRENT_BATCH = 1024
#: Plans that passed their self-check, per model, with the state they were made from
#: (:func:`~motiflens.explain.ism_plan.model_state`): a later call on the same unchanged
#: model reuses the plan and its caches (the first layer's table, DFT forms, dense-layer
#: slices) and skips the self-check, about 0.1 s per call on Basset at 600 bp. Its
#: dense-layer slices stay in memory with the model (at most
#: ``fast_ism.DENSE_CACHE_BYTES``; 120 MB for Basset).
_PLANS: weakref.WeakKeyDictionary[nn.Module, tuple[Any, Plan]] = weakref.WeakKeyDictionary()
#: Models whose recurrent plan passed its self-check, with their state then.
_CHECKED: weakref.WeakKeyDictionary[nn.Module, Any] = weakref.WeakKeyDictionary()
#: Sequences whose reference pass the fast path holds at a time.
GROUP_SEQUENCES = 32


def mutants(
    x: torch.Tensor, positions: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(seq, pos, base, slot)`` of the 3 substitutions per position (reference = argmax).

    ``slot`` is the position's index in the window. The reference base of a column that
    is not one-hot (an N) is its first maximum: A for a column of 0.25.
    """
    pos = torch.as_tensor(positions, device=x.device)
    ref = x[:, :, pos].argmax(1)  # (n, w)
    bases = torch.arange(4, device=x.device)
    alt = bases[None, None, :] != ref[:, :, None]  # (n, w, 4)
    seq, slot, base = alt.nonzero(as_tuple=True)  # 3 per (seq, slot), in order
    return seq, pos[slot], base, slot


def run_chunk(
    model: nn.Module,
    x: torch.Tensor,
    positions: np.ndarray,
    t_idx: np.ndarray,
    reverse_complement: bool,
    plan: Plan | RecurrentPlan | None,
    batch_size: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """ISM of one chunk of sequences: the fast path with ``plan``, else the naive one.

    Returns
    -------
    reference, delta
        ``(n, T)`` logits of ``x`` and ``(n, 4, W, T)`` changes, for the targets
        ``t_idx`` and the window ``positions`` (float32).
    """
    n, _, length = x.shape
    w = positions.size
    t_sel = torch.as_tensor(t_idx, device=x.device)
    reference = torch.zeros((n, t_idx.size), dtype=torch.float32, device=x.device)
    full = torch.zeros((n, 4, w, t_idx.size), dtype=torch.float32, device=x.device)
    # The fast path keeps every layer's reference output (~2 MB per 600 bp Basset
    # sequence): a group of sequences at a time.
    for g in range(0, n, GROUP_SEQUENCES):
        xg = x[g : g + GROUP_SEQUENCES]
        seq, pos, base, slot = mutants(xg, positions)
        strands = [(xg, pos, base)]
        change: torch.Tensor | None = None
        if reverse_complement:
            strands.append((xg.flip(1, 2), length - 1 - pos, 3 - base))
        for xs, p, b in strands:
            if plan is not None:
                # The engine's reference pass is the model's output (its self-check
                # compared them): no second forward pass.
                fast = _engine(plan, xs)
                ref = fast.reference
                default = _fast_batch(plan, xs.device)
                d = fast.outputs(seq, p, b, batch_size or default) - ref[seq]
            else:
                ref = model(xs)
                default = NAIVE_BATCH if xs.device.type == "cpu" else NAIVE_BATCH_GPU
                out = naive_outputs(model, xs, seq, p, b, batch_size or default)
                d = out - ref[seq]
            if reverse_complement:
                ref, d = ref / 2, d / 2
            reference[g : g + xg.shape[0]] += ref[:, t_sel]
            # Both strands' mutants come in the same order: their sum, then one write (a
            # plain index_put is ten times faster than an accumulating one).
            change = d[:, t_sel] if change is None else change + d[:, t_sel]
        full[g + seq, base, slot] = change
    return reference.cpu().numpy(), full.cpu().numpy()


def naive_outputs(
    model: nn.Module,
    x: torch.Tensor,
    seq: torch.Tensor,
    pos: torch.Tensor,
    base: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    """Logits of every mutant ``x[seq]`` with column ``pos`` set to base ``base``."""
    outs = []
    for s in range(0, seq.numel(), batch_size):
        sq, p, b = seq[s : s + batch_size], pos[s : s + batch_size], base[s : s + batch_size]
        xm = x[sq].clone()
        rows = torch.arange(sq.numel(), device=x.device)
        xm[rows, :, p] = 0.0
        xm[rows, b, p] = 1.0
        outs.append(model(xm))
    if not outs:
        return torch.zeros((0, model(x[:1]).shape[1]), device=x.device)
    return torch.cat(outs)


def _engine(plan: Plan | RecurrentPlan, x: torch.Tensor) -> FastISM | RecurrentISM:
    return RecurrentISM(plan, x) if isinstance(plan, RecurrentPlan) else FastISM(plan, x)


def _fast_batch(plan: Plan | RecurrentPlan, device: torch.device) -> int:
    if isinstance(plan, RecurrentPlan):
        return RECURRENT_BATCH
    return FAST_BATCH if device.type == "cpu" else FAST_BATCH_GPU


def choose_engine(
    model: nn.Module, x: torch.Tensor, positions: np.ndarray, method: str
) -> tuple[str, Plan | RecurrentPlan | None]:
    """``("fast", plan)`` or ``("naive", None)``: the plan must pass its self-check.

    ``plan`` is a :class:`~motiflens.explain.ism_plan.Plan` (windowed fast ISM) or, for
    a recurrent model, a :class:`~motiflens.explain.ism_recurrent.RecurrentPlan`.
    """
    if method == "naive":
        return "naive", None
    key = model_state(model, x.device)
    known = _PLANS.get(model)
    if known is not None and known[0] == key:
        return "fast", known[1]
    plan: Plan | RecurrentPlan | str = plan_model(model)
    if isinstance(plan, str):
        recurrent = recurrent_plan(model)
        plan = plan if isinstance(recurrent, str) else recurrent
        if isinstance(plan, RecurrentPlan) and _CHECKED.get(model) == key:
            return "fast", plan
    reason = plan if isinstance(plan, str) else _self_check(model, plan, x, positions)
    if reason is None:
        assert not isinstance(plan, str)
        if isinstance(plan, Plan):
            _PLANS[model] = (key, plan)
        else:  # its parts refer to the model itself: only the verdict is kept
            _CHECKED[model] = key
        return "fast", plan
    if method == "fast":
        raise InputError(
            f"fast ISM cannot run this model: {reason}",
            hint="use method='auto' or method='naive'",
        )
    warnings.warn(f"ISM: using naive batched ISM: {reason}", stacklevel=3)
    return "naive", None


def _self_check(
    model: nn.Module, plan: Plan | RecurrentPlan, x: torch.Tensor, positions: np.ndarray
) -> str | None:
    """Compare the fast path with the model on the reference and a few mutants."""
    try:
        x0 = x[:1]
        fast = _engine(plan, x0)
        ref = model(x0)
        # Float rounding only (about 1e-6 here); far above it means a wrong plan. cuDNN
        # runs float32 convolutions in TF32 by default, which rounds much more.
        scale = max(1.0, float(ref.abs().max()))
        tf32 = x.device.type == "cuda" and torch.backends.cudnn.allow_tf32
        tol = (1e-2 if tf32 else 1e-4) * scale
        err = float((fast.reference - ref).abs().max())
        if not err <= tol:
            return (
                f"its reference pass differs from the model's output by {err:.3g} "
                "(the model does not compute what its layers suggest)"
            )
        # Both ends of the sequence (padding) and of the window, and the middle.
        length = x.shape[-1]
        ends = [0, length // 2, length - 1, positions[0], positions[-1]]
        seq, pos, base, _ = mutants(x0, np.unique(np.asarray(ends, dtype=np.int64)))
        want = naive_outputs(model, x0, seq, pos, base, NAIVE_BATCH)
        got = fast.outputs(seq, pos, base, _fast_batch(plan, x.device))
        err = float((want - got).abs().max())
        if not err <= tol:
            return f"its mutants differ from the model's outputs by {err:.3g}"
    except Exception as err:  # any failure means: use the naive path
        return f"the fast path failed ({type(err).__name__}: {err})"
    return None
