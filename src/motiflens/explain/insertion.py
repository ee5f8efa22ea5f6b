"""Motif insertion: which known motifs move which targets (Basset's ``basset_db.py``).

For each motif, an instance is sampled from its PWM for every background sequence,
written over the sequence at a fixed place (the centre by default), and the model's change
in score is averaged over the sequences. Unlike filter influence this asks the model about
a motif directly, so it answers "which motifs matter for which cell type" even when no
single filter learned the motif (Basset issue #36).
"""

from __future__ import annotations

import logging
import warnings
import weakref
import zlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from motiflens.errors import InputError
from motiflens.explain.inputs import (
    SequenceInput,
    TargetSelection,
    as_onehot,
    model_targets,
    target_names,
)
from motiflens.explain.ism_plan import Plan, model_state, plan_model
from motiflens.explain.saliency import shuffled_references
from motiflens.explain.window_edit import WindowEdit, check_window_edit
from motiflens.models.registry import predict_transform, prepared_model
from motiflens.motifs.pwm import Motif
from motiflens.prediction import predict_array
from motiflens.progress import tqdm

__all__ = ["insert_motifs", "insertion_backgrounds", "sample_instances", "top_motifs"]

COLUMNS = [
    "motif_id",
    "motif_name",
    "target",
    "delta_score",
    "delta_score_sd",
    "delta_pred",
    "n_sequences",
]

Method = Literal["auto", "fast", "naive"]
METHODS: tuple[str, ...] = ("auto", "fast", "naive")
#: Memory the fast path's reference pass may keep (the layer outputs of a group of
#: backgrounds: about 0.16 MB per background on the demo model).
GROUP_BYTES = 256 * 2**20
#: Inserted sequences per call of the fast path (its windows: about 60 KB each on the
#: demo model, 150 KB on Basset at 600 bp); motifs whose instances are drawn together,
#: batched by window. A call takes ``FAST_EDITS // backgrounds`` motifs of one window:
#: with 256 backgrounds, 4 at 1024, where 512 (2) made twice the calls, each reading
#: every background's reference columns again (100 motifs: 0.65 -> 0.57 s; 2048 and
#: 4096 measured the same as 1024).
FAST_EDITS = 1024
BLOCK_MOTIFS = 64
#: Per model, the fast path's engine (plan, device, group, outputs) after its check
#: passed, with the model's state then and the widest motif checked: a later call on
#: the unchanged model skips the check and reuses the plan's DFT forms.
_CHECKED: weakref.WeakKeyDictionary[nn.Module, tuple[Any, int, Any]] = weakref.WeakKeyDictionary()


def insertion_backgrounds(
    X: SequenceInput, kind: str = "shuffle", *, random_state: int | None = None
) -> np.ndarray:
    """Background sequences to insert motifs into.

    Parameters
    ----------
    X
        ``(N, 4, L)`` one-hot sequences or DNA strings (e.g. a sample of the test split).
    kind
        ``"shuffle"``: one dinucleotide shuffle of each (keeps composition, destroys the
        motifs already there); ``"sequences"``: the sequences themselves (Basset).
    random_state
        Seed of the shuffles. Default is None (fresh entropy).

    Returns
    -------
    numpy.ndarray
        ``(N, 4, L)`` float32.
    """
    x = as_onehot(X)
    if kind == "sequences":
        return x
    if kind == "shuffle":
        return shuffled_references(x, 1, random_state=random_state)[:, 0]
    raise InputError(f"unknown background {kind!r}", hint="use 'shuffle' or 'sequences'")


def sample_instances(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` one-hot instances ``(n, 4, w)`` of a motif, each base drawn from its column."""
    return np.eye(4, dtype=np.float32)[_sample_bases(probs, n, rng)].transpose(0, 2, 1)


def _sample_bases(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Base codes ``(n, w)`` (0-3) of ``n`` instances: :func:`sample_instances`' draws."""
    probs = np.asarray(probs, dtype=np.float64)
    cdf = np.cumsum(probs / probs.sum(axis=0, keepdims=True), axis=0)  # (4, w)
    u = rng.random((n, probs.shape[1]))
    return (u[:, None, :] > cdf[None, :, :]).sum(axis=1).clip(0, 3)  # (n, w)


def insert_motifs(
    model: nn.Module,
    X: SequenceInput,
    motifs: Sequence[Motif],
    *,
    targets: TargetSelection = None,
    centers: Sequence[int] | None = None,
    method: Method = "auto",
    batch_size: int = 256,
    device: str | torch.device | None = None,
    verbose: bool = False,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Mean change of each target's score when each motif is written into the backgrounds.

    Parameters
    ----------
    model
        Any sequence model; its ``target_labels`` name the rows of the result.
    X
        Background sequences, ``(N, 4, L)`` one-hot or DNA strings
        (:func:`insertion_backgrounds`).
    motifs
        Motifs to insert (probability matrices ``(4, w)``).
    targets
        Targets to report: an index or name, a list, or None for all. Default is None.
    centers
        0-based positions where the motif's centre goes; the result averages over them.
        Default: the middle of the sequence.
    method
        ``"fast"``: one reference pass per background, then only the columns of each
        layer an inserted instance changes (:mod:`motiflens.explain.window_edit`; the
        same numbers to float rounding; on the demo model on one CPU thread 10-15x
        faster with 256 backgrounds, 7x with 64: ``bench/insertion.py``); ``"naive"``:
        every inserted sequence
        through the whole model; ``"auto"`` (default): fast where the model's layers
        allow it (convolution, pooling and dense stacks, after a self-check against the
        model), else naive with a warning.
    batch_size
        Sequences per forward pass of the naive path.
    device
        Where to run; default the device the model's weights are on.
    verbose
        Show a progress bar. Default is False.
    random_state
        Seed of the sampled instances. Each motif's stream is seeded by this and its id,
        so adding or removing motifs does not change the others' results. Default is
        None (fresh entropy).

    Returns
    -------
    pandas.DataFrame
        Long table, one row per motif and target (motif order, then target order):
        ``motif_id``, ``motif_name``, ``target``, ``delta_score`` (mean change of the
        logit), ``delta_score_sd`` (its standard deviation over the backgrounds, each
        background's change averaged over the centres), ``delta_pred`` (mean change of
        the prediction: probability for binary tasks), ``n_sequences``. Motifs that do
        not fit at a centre are left out (with a warning).

    Raises
    ------
    InputError
        A centre outside the sequences, an unknown ``method``, or ``method="fast"`` for
        a model the fast path does not support.
    """
    if method not in METHODS:
        raise InputError(
            f"unknown insertion method {method!r}", hint=f"choose {', '.join(METHODS)}"
        )
    x = as_onehot(X)
    n, _, length = x.shape
    centers = [length // 2] if not centers else [int(c) for c in centers]
    outside = [c for c in centers if not 0 <= c < length]
    if outside:
        raise InputError(
            f"motif centre(s) {outside} lie outside the {length} bp sequences",
            hint=f"give positions from 0 to {length - 1}",
        )
    seed = np.random.SeedSequence().entropy if random_state is None else int(random_state)
    fits: list[tuple[Motif, list[int]]] = []
    skipped = []
    for motif in motifs:
        w = motif.probs.shape[1]
        starts = [c - w // 2 for c in centers]
        if w > length or any(s < 0 or s + w > length for s in starts):
            skipped.append(motif.id)
        else:
            fits.append((motif, starts))
    engine = None
    if n and fits and method != "naive":
        widest = max(m.probs.shape[1] for m, _ in fits)
        engine = _fast_engine(model, x, widest, method, device)
    if engine is None:
        base_logits = predict_array(model, x, batch_size=batch_size, device=device)
        n_outputs = base_logits.shape[1]
    else:
        n_outputs = engine[-1]
    labels = target_names(model, n_outputs)
    chosen = model_targets(model, targets, n_outputs)
    stats = _Stats(len(fits), n_outputs)
    progress = tqdm(total=len(fits), desc="motif insertion", unit="motif", disable=not verbose)
    with progress:
        if engine is None:
            _insert_naive(model, x, fits, base_logits, seed, stats, progress, batch_size, device)
        else:
            plan, dev, group, _ = engine
            _insert_fast(model, plan, x, fits, seed, stats, progress, dev, group)
    rows = []
    for j, (motif, starts) in enumerate(fits):
        d_score = stats.mean[j] if stats.count[j] else np.full(stats.mean.shape[1], np.nan)
        sd_score = stats.sd(j)
        d_pred = stats.d_pred[j] / (max(n, 1) * len(starts))
        for t in chosen:
            rows.append(
                {
                    "motif_id": motif.id,
                    "motif_name": motif.name,
                    "target": labels[t],
                    "delta_score": d_score[t],
                    "delta_score_sd": sd_score[t],
                    "delta_pred": d_pred[t],
                    "n_sequences": n,
                }
            )
    if skipped:
        shown = ", ".join(skipped[:10]) + (" ..." if len(skipped) > 10 else "")
        logging.getLogger(__name__).warning(
            "%d motif(s) do not fit at the chosen position in %d bp and were skipped: %s",
            len(skipped),
            length,
            shown,
        )
    return pd.DataFrame(rows, columns=COLUMNS)


class _Stats:
    """Per motif: the mean and spread of each background's change, the prediction's sum.

    Backgrounds come in groups; the mean and the sum of squared deviations of a group
    are merged into the running ones (Chan et al.'s parallel update), which for a single
    group is exactly NumPy's ``mean`` and ``std``.
    """

    def __init__(self, n_motifs: int, n_targets: int) -> None:
        self.count = np.zeros(n_motifs, dtype=np.int64)
        self.mean = np.zeros((n_motifs, n_targets))
        self.m2 = np.zeros((n_motifs, n_targets))
        self.d_pred = np.zeros((n_motifs, n_targets))

    def add(self, j: int, per_bg: np.ndarray, d_pred: np.ndarray) -> None:
        """Motif ``j``'s changes ``(n_group, T)`` (averaged over the centres) of a group."""
        nb = per_bg.shape[0]
        if nb == 0:
            return
        mean_b = per_bg.mean(axis=0)
        m2_b = ((per_bg - mean_b) ** 2).sum(axis=0)
        na = int(self.count[j])
        total = na + nb
        d = mean_b - self.mean[j]
        self.mean[j] = self.mean[j] + d * (nb / total) if na else mean_b
        self.m2[j] = self.m2[j] + m2_b + d * d * (na * nb / total) if na else m2_b
        self.count[j] = total
        self.d_pred[j] += d_pred

    def sd(self, j: int) -> np.ndarray:
        n = int(self.count[j])
        if n == 0:
            return np.full(self.mean.shape[1], np.nan)
        return np.sqrt(self.m2[j] / (n - 1 if n > 1 else 1))


def _draws(motif: Motif, starts: list[int], n: int, seed: int) -> list[np.ndarray]:
    """The sampled base codes ``(n, w)`` per centre, from the motif's own stream.

    Seeded by the motif's id, so a motif's result does not depend on the others chosen.
    """
    rng = np.random.default_rng([seed, zlib.crc32(motif.id.encode())])
    return [_sample_bases(motif.probs, n, rng) for _ in starts]


def _fast_engine(
    model: nn.Module, x: np.ndarray, widest: int, method: str, device: str | torch.device | None
) -> tuple[Plan, torch.device, int, int] | None:
    """``(plan, device, backgrounds per group, outputs)`` of the fast path, or None.

    A plan that passed its check is kept with the model's state (:data:`_CHECKED`).
    """
    with prepared_model(model, device) as dev, torch.inference_mode():
        state = model_state(model, dev)
        known = _CHECKED.get(model)
        if known is not None and known[0] == state and known[1] >= widest:
            return known[2]
        plan = plan_model(model)
        x0 = torch.as_tensor(x[:1], device=dev)
        reason = plan if isinstance(plan, str) else check_window_edit(model, plan, x0, widest)
        if reason is None:
            assert isinstance(plan, Plan)
            one = WindowEdit(plan, x0)
            # What a background's reference pass keeps: every layer's output.
            kept = sum(r.numel() * r.element_size() for r in one.refs)
            n_outputs = int(one.reference.shape[1])
            engine = (plan, dev, max(1, GROUP_BYTES // kept), n_outputs)
            _CHECKED[model] = (state, widest, engine)
            return engine
    assert reason is not None
    if method == "fast":
        raise InputError(
            f"fast motif insertion cannot run this model: {reason}",
            hint="use method='auto' or method='naive'",
        )
    warnings.warn(f"motif insertion: using full forward passes: {reason}", stacklevel=3)
    return None


def _insert_fast(
    model: nn.Module,
    plan: Plan,
    x: np.ndarray,
    fits: list[tuple[Motif, list[int]]],
    seed: int,
    stats: _Stats,
    progress: tqdm,
    dev: torch.device,
    group: int,
) -> None:
    """Every motif's changes through :class:`~motiflens.explain.window_edit.WindowEdit`.

    Per group of backgrounds one reference pass; the instances of a block of motifs are
    batched by window (centre and width), ``R`` instances of every background per call.
    The backgrounds' logits are the reference pass's.
    """
    n = x.shape[0]
    task = model.config.task
    for g0 in range(0, n, group):
        g1 = min(n, g0 + group)
        ng = g1 - g0
        with prepared_model(model, dev), torch.inference_mode():
            engine = WindowEdit(plan, torch.as_tensor(x[g0:g1], device=dev))
            base = engine.reference.double().cpu()
            base_pred = predict_transform(task, base)
            for b0 in range(0, len(fits), BLOCK_MOTIFS):
                block = fits[b0 : b0 + BLOCK_MOTIFS]
                # Per motif of the block: the summed change (ng, T) and prediction change.
                per_bg = [torch.zeros_like(base) for _ in block]
                d_pred = [torch.zeros(base.shape[1], dtype=torch.float64) for _ in block]
                windows: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
                for i, (motif, starts) in enumerate(block):
                    for start, codes in zip(starts, _draws(motif, starts, n, seed), strict=True):
                        windows.setdefault((start, codes.shape[1]), []).append((i, codes[g0:g1]))
                for (start, _), edits in windows.items():
                    per_call = max(1, FAST_EDITS // ng)
                    for e0 in range(0, len(edits), per_call):
                        part = edits[e0 : e0 + per_call]
                        bases = torch.as_tensor(np.stack([c for _, c in part]), device=dev)
                        out = engine.outputs(start, bases)
                        change = (out - engine.reference).double().cpu()
                        pred = predict_transform(task, base + change)
                        for (i, _), ch, pr in zip(part, change, pred, strict=True):
                            per_bg[i] += ch
                            d_pred[i] += (pr - base_pred).sum(0)
                for i, (_, starts) in enumerate(block):
                    stats.add(b0 + i, per_bg[i].numpy() / len(starts), d_pred[i].numpy())
                if g0 == 0:
                    progress.update(len(block))


def _insert_naive(
    model: nn.Module,
    x: np.ndarray,
    fits: list[tuple[Motif, list[int]]],
    base_logits: np.ndarray,
    seed: int,
    stats: _Stats,
    progress: tqdm,
    batch_size: int,
    device: str | torch.device | None,
) -> None:
    """Every inserted sequence through the whole model (:func:`predict_array`)."""
    n = x.shape[0]
    task = model.config.task
    base_pred = predict_transform(task, torch.as_tensor(base_logits)).numpy()
    for j, (motif, starts) in enumerate(fits):
        per_bg = np.zeros(base_logits.shape)
        d_pred = np.zeros(base_logits.shape[1])
        for start, codes in zip(starts, _draws(motif, starts, n, seed), strict=True):
            edited = x.copy()
            edited[:, :, start : start + codes.shape[1]] = np.eye(4, dtype=np.float32)[
                codes
            ].transpose(0, 2, 1)
            logits = predict_array(model, edited, batch_size=batch_size, device=device)
            pred = predict_transform(task, torch.as_tensor(logits)).numpy()
            per_bg += logits - base_logits
            d_pred += (pred - base_pred).sum(axis=0)
        stats.add(j, per_bg / len(starts), d_pred)
        progress.update(1)


def top_motifs(table: pd.DataFrame, n: int = 5, by: str = "delta_score") -> pd.DataFrame:
    """The ``n`` motifs with the largest mean change per target."""
    return (
        table.sort_values(["target", by], ascending=[True, False])
        .groupby("target", sort=False)
        .head(n)
        .reset_index(drop=True)
    )
