"""Motif insertion: which known motifs move which targets (Basset's ``basset_db.py``).

For each motif, an instance is sampled from its PWM for every background sequence,
written over the sequence at a fixed place (the centre by default), and the model's change
in score is averaged over the sequences. Unlike filter influence this asks the model about
a motif directly, so it answers "which motifs matter for which cell type" even when no
single filter learned the motif (Basset issue #36).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence

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
from motiflens.explain.saliency import shuffled_references
from motiflens.models.registry import predict_transform
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
    probs = np.asarray(probs, dtype=np.float64)
    cdf = np.cumsum(probs / probs.sum(axis=0, keepdims=True), axis=0)  # (4, w)
    u = rng.random((n, probs.shape[1]))
    bases = (u[:, None, :] > cdf[None, :, :]).sum(axis=1).clip(0, 3)  # (n, w)
    return np.eye(4, dtype=np.float32)[bases].transpose(0, 2, 1)


def insert_motifs(
    model: nn.Module,
    X: SequenceInput,
    motifs: Sequence[Motif],
    *,
    targets: TargetSelection = None,
    centers: Sequence[int] | None = None,
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
    batch_size, device
        Prediction settings.
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
    """
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
    task = model.config.task
    base_logits = predict_array(model, x, batch_size=batch_size, device=device)
    labels = target_names(model, base_logits.shape[1])
    chosen = model_targets(model, targets, base_logits.shape[1])
    base_pred = predict_transform(task, torch.as_tensor(base_logits)).numpy()
    rows = []
    skipped = []
    for motif in tqdm(motifs, desc="motif insertion", unit="motif", disable=not verbose):
        w = motif.probs.shape[1]
        starts = [c - w // 2 for c in centers]
        if w > length or any(s < 0 or s + w > length for s in starts):
            skipped.append(motif.id)
            continue
        # Seeded by the motif's id, so a motif's result does not depend on the others chosen.
        rng = np.random.default_rng([seed, zlib.crc32(motif.id.encode())])
        # per background (averaged over the centres), so the spread over backgrounds is kept
        per_bg = np.zeros((n, len(labels)))
        d_pred = np.zeros(len(labels))
        for start in starts:
            edited = x.copy()
            edited[:, :, start : start + w] = sample_instances(motif.probs, n, rng)
            logits = predict_array(model, edited, batch_size=batch_size, device=device)
            pred = predict_transform(task, torch.as_tensor(logits)).numpy()
            per_bg += logits - base_logits
            d_pred += (pred - base_pred).mean(axis=0)
        per_bg /= len(starts)
        d_score, sd_score = per_bg.mean(axis=0), per_bg.std(axis=0, ddof=1 if n > 1 else 0)
        for t in chosen:
            rows.append(
                {
                    "motif_id": motif.id,
                    "motif_name": motif.name,
                    "target": labels[t],
                    "delta_score": d_score[t],
                    "delta_score_sd": sd_score[t],
                    "delta_pred": d_pred[t] / len(starts),
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


def top_motifs(table: pd.DataFrame, n: int = 5, by: str = "delta_score") -> pd.DataFrame:
    """The ``n`` motifs with the largest mean change per target."""
    return (
        table.sort_values(["target", by], ascending=[True, False])
        .groupby("target", sort=False)
        .head(n)
        .reset_index(drop=True)
    )
