"""Temporal output scores (DeMo §2.6): the prediction on every prefix and every suffix.

For an RNN model and a sequence ``x`` of length ``L``, the *forward* score at ``t`` is the
model's prediction on the prefix ``x[..., :t+1]`` and the *backward* score the prediction on
the suffix ``x[..., t:]``. Reading them left to right shows where along the sequence the
evidence for a target appears (a step up in the forward row when a motif has been read,
a step down in the backward row once it has been passed).

DeMo ran the model once per prefix and suffix (``2L`` passes per sequence). Here the work
is batched and shared, exactly:

* a forward-direction LSTM reads a prefix as the first ``t+1`` steps of the whole sequence,
  so its time-mean (or max) over every prefix is a cumulative mean (or max) of one pass;
* a backward-direction LSTM reads a suffix, reversed, as the first steps of the reversed
  sequence: again a cumulative mean (or max) of one pass;
* the other two cases (forward LSTM on a suffix, backward LSTM on a prefix) start from a
  zero state at a different place for each ``t``. All ``L`` of them run side by side in
  one staggered loop of ``L`` batched steps, sharing the input-to-hidden products of each
  position (half the LSTM steps of the per-prefix loop, and none of its ``2L`` passes).

For the CNN-RNN the convolution runs once on the whole sequence and prefixes/suffixes of
its output go to the LSTM, as in DeMo (so a prefix's last conv column still sees the
bases after the prefix, as it did in the whole sequence).

Any model with ``is_recurrent`` works: it describes itself as features -> LSTM readout ->
head (:meth:`~motiflens.models.SequenceModel.recurrent_parts`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from motiflens.explain.inputs import TargetSelection, as_onehot, model_targets
from motiflens.models import RecurrentParts, predict_transform, prepared_model
from motiflens.progress import tqdm

__all__ = ["TemporalScores", "temporal_scores"]


class TemporalScores(NamedTuple):
    """Predictions on every prefix and suffix of each sequence.

    Attributes
    ----------
    forward
        ``(N, L, T)`` float32: ``forward[n, t]`` is the prediction on ``x[n, :, :t+1]``.
    backward
        ``(N, L, T)`` float32: ``backward[n, t]`` is the prediction on ``x[n, :, t:]``.
    targets
        The target indices along the last axis.
    """

    forward: np.ndarray
    backward: np.ndarray
    targets: list[int]


# ------------------------------------------------------------------ model state


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = as_onehot(x)  # DNA strings too
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    if t.dim() != 3 or t.shape[1] != 4:
        raise ValueError(f"expected one-hot input of shape (n, 4, length), got {tuple(t.shape)}")
    return t


# ------------------------------------------------------------------------- LSTM runs


def _prefix_pooled(lstm: nn.LSTM, seq: torch.Tensor, pool: str) -> torch.Tensor:
    """``out[:, t]`` = time-mean or max of ``lstm`` outputs on ``seq[:, :t+1]``: ``(n, L, H)``."""
    out = lstm(seq)[0]
    if pool == "max":
        return out.cummax(dim=1).values
    steps = torch.arange(1, seq.shape[1] + 1, device=seq.device, dtype=out.dtype)
    return out.cumsum(dim=1) / steps[:, None]


def _suffix_pooled(lstm: nn.LSTM, seq: torch.Tensor, pool: str) -> torch.Tensor:
    """``out[:, k]`` = time-mean (or max) of ``lstm`` outputs on ``seq[:, k:]`` (zero start).

    ``seq`` is ``(n, L, C)``; the result ``(n, L, H)``. All ``L`` suffixes of a sequence
    run side by side, staggered: at step ``s`` suffix ``k`` reads position ``k + s``, so
    the input-to-hidden products (the bulk of the work when ``C`` is large) are computed
    once per position and shared by every suffix that reads it, and each step is one
    batched matrix product over the suffixes still running (``L - s`` of them). The cell
    is ``nn.LSTM``'s (gates i, f, g, o); only the order of float sums differs.
    """
    if lstm.proj_size or lstm.bidirectional or not lstm.batch_first:
        raise ValueError("expected a batch_first, one-directional nn.LSTM without projections")
    n, length, _ = seq.shape
    hidden = lstm.hidden_size
    # Layer input, staggered: x_in[:, k, s] is what suffix k reads at step s. For the first
    # layer that is seq[:, k + s] for every k, so it is kept unstaggered (shared).
    x_in: torch.Tensor | None = None
    if pool == "max":
        total = seq.new_full((n, length, hidden), -torch.inf)
    else:
        total = seq.new_zeros(n, length, hidden)
    for layer in range(lstm.num_layers):
        w_ih = getattr(lstm, f"weight_ih_l{layer}")
        w_hh = getattr(lstm, f"weight_hh_l{layer}")
        bias = 0.0
        if lstm.bias:
            bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
        proj = (seq if x_in is None else x_in) @ w_ih.T + bias
        last = layer == lstm.num_layers - 1
        outputs = None if last else seq.new_zeros(n, length, length, hidden)
        h = seq.new_zeros(n, length, hidden)
        c = seq.new_zeros(n, length, hidden)
        for s in range(length):
            active = length - s  # suffixes 0 .. L-1-s are still running
            h, c = h[:, :active], c[:, :active]
            pre = proj[:, s:] if x_in is None else proj[:, :active, s]
            i, f, g, o = (pre + h @ w_hh.T).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            if last and pool == "max":
                total[:, :active] = torch.maximum(total[:, :active], h)
            elif last:
                total[:, :active] += h
            else:
                outputs[:, :active, s] = h
        if not last:
            x_in = outputs  # (eval mode: no dropout between layers)
    if pool == "max":
        return total
    steps = torch.arange(length, 0, -1, device=seq.device, dtype=total.dtype)
    return total / steps[:, None]


def _temporal_logits(parts: RecurrentParts, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits on every prefix and suffix: two ``(n, L, T)`` tensors."""
    h = parts.features(x)
    readout = parts.readout
    seq = h.transpose(1, 2)  # (n, L, C), as LSTMReadout feeds its batch_first LSTMs
    drop = readout.drop  # identity in eval mode; kept so the arithmetic mirrors the model
    pool = readout.pool
    prefix = [drop(_prefix_pooled(readout.fwd, seq, pool))]
    suffix = [drop(_suffix_pooled(readout.fwd, seq, pool))]
    if readout.bwd is not None:
        rev = seq.flip(1)
        # A prefix x[:t+1], reversed, is the suffix of rev starting at L-1-t.
        prefix.append(drop(_suffix_pooled(readout.bwd, rev, pool)).flip(1))
        # A suffix x[t:], reversed, is the prefix of rev of length L-t.
        suffix.append(drop(_prefix_pooled(readout.bwd, rev, pool)).flip(1))
    return parts.head(torch.cat(prefix, dim=2)), parts.head(torch.cat(suffix, dim=2))


# ------------------------------------------------------------------------ public API


def temporal_scores(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    *,
    targets: TargetSelection = None,
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    verbose: bool = False,
    raw: bool = False,
) -> TemporalScores:
    """Predictions on every prefix (forward) and every suffix (backward) of each sequence.

    Exactly what running the model on each prefix and suffix would give (to float
    rounding), computed in batches and with the shared parts computed once; see the
    module docstring. For the CNN-RNN, prefixes and suffixes are taken of the conv
    output of the whole sequence, as DeMo did.

    Parameters
    ----------
    model
        A recurrent model (``model.is_recurrent``: ``rnn``, ``cnn-rnn``). It runs in eval
        mode; its mode and device are restored afterwards.
    X
        One-hot ``(N, 4, L)`` (numpy or torch).
    targets
        A target index or name (``model.target_labels``), a list of them, or ``None``
        for all targets. Default is ``None``.
    batch_size
        Prefixes/suffixes computed at once: ``batch_size // L`` sequences (at least one)
        per chunk, each contributing its ``L`` prefixes and ``L`` suffixes. Memory is
        about ``batch_size * 4 * hidden`` floats per LSTM layer, times ``L`` for the
        lower layers of a multi-layer LSTM. Default is 4096.
    device
        Where to run; default the device the model's weights are on.
    verbose
        Show a progress bar over sequences. Default is False.
    raw
        Return logits instead of predictions (``predict_transform`` of the model's task:
        probabilities for binary targets). Default is False.

    Returns
    -------
    TemporalScores
        ``forward`` and ``backward``, each ``(N, L, len(targets))`` float32 numpy arrays,
        and ``targets``.

    Raises
    ------
    ValueError
        The model is not recurrent (the message names its architecture), the input is
        not ``(N, 4, L)``, or ``batch_size`` < 1.
    InputError
        A target that is not an index or a name of the model's outputs.
    """
    if not getattr(model, "is_recurrent", False):
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        raise ValueError(
            f"temporal output scores need a recurrent model (rnn or cnn-rnn); "
            f"this run is a {name} model"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    x_all = _as_tensor(X)
    chosen = model_targets(model, targets, int(model.config.n_targets))
    parts: RecurrentParts = model.recurrent_parts()  # type: ignore[operator]
    n, _, length = x_all.shape
    per_chunk = max(1, batch_size // max(length, 1))
    fwd_out: list[np.ndarray] = []
    bwd_out: list[np.ndarray] = []
    with prepared_model(model, device) as dev, torch.inference_mode():
        bar = tqdm(total=n, disable=not verbose, desc="temporal scores", unit="seq")
        for lo in range(0, n, per_chunk):
            x = x_all[lo : lo + per_chunk].to(device=dev, dtype=torch.float32)
            pre, suf = _temporal_logits(parts, x)
            pre, suf = pre[..., chosen], suf[..., chosen]
            if not raw:
                pre = predict_transform(model.config.task, pre)
                suf = predict_transform(model.config.task, suf)
            fwd_out.append(pre.float().cpu().numpy())
            bwd_out.append(suf.float().cpu().numpy())
            bar.update(len(x))
        bar.close()
    if not fwd_out:
        empty = np.zeros((0, length, len(chosen)), np.float32)
        return TemporalScores(empty, empty.copy(), chosen)
    return TemporalScores(np.concatenate(fwd_out), np.concatenate(bwd_out), chosen)
