"""Filter influence by nullification (Basset's ``basset_motifs_infl.py``).

A filter's influence is what happens to the output when its activation is replaced, at
every position of every sequence, by its mean activation.

Influence runs the network after layer 1 only, on the layer-1 activations computed once.
For a plain conv stack (Basset, DeMo CNN) it goes further: nullifying filter ``f``
changes layer 2's input in one channel, so layer 2's pre-activation changes by a
one-channel convolution (conv and eval-mode batch norm are affine), and only layers 3 and
up run per filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.errors import InputError
from motiflens.explain.filter_activations import filter_means, first_conv_model
from motiflens.explain.inputs import SequenceInput, as_onehot
from motiflens.models.layers import ConvBlock, FirstConvModel
from motiflens.models.registry import prepared_model
from motiflens.progress import tqdm

__all__ = ["FilterInfluence", "filter_influence", "naive_filter_influence"]

# Activations held at once while nullifying: (filters in a chunk) x (batch) x layer size.
_CHUNK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class FilterInfluence:
    """What nullifying each first-layer filter does to the model's output.

    Attributes
    ----------
    targets
        ``(F, T)`` target influence, Basset's definition: (mean original logit - mean
        logit with the filter nullified) / variance of the original logit, over the
        sequences. Positive: the filter raises that target's prediction.
    loss
        ``(F,)`` increase in the loss (summed over targets) per sequence, or None without
        labels.
    method
        ``"fast"`` (layer 2 updated by a one-channel convolution) or ``"rest"`` (the network
        after layer 1 rerun per filter).
    """

    targets: np.ndarray
    loss: np.ndarray | None
    method: str

    @property
    def sum_of_squares(self) -> np.ndarray:
        """``(F,)`` mean over targets of the squared target influence (the paper's measure)."""
        return np.mean(self.targets**2, axis=1)


def _fast_path_ok(model: FirstConvModel) -> bool:
    blocks = getattr(model, "conv_blocks", None)
    if blocks is None or len(blocks) < 2:
        return False
    if not all(isinstance(b, ConvBlock) for b in blocks[:2]):
        return False
    if not isinstance(blocks[1].bn, nn.Identity | nn.BatchNorm1d):
        return False
    return type(model).forward_from_block is not FirstConvModel.forward_from_block


def _bn_scale(block: ConvBlock) -> torch.Tensor | None:
    """Per-channel scale of the block's eval-mode batch norm (None without one)."""
    bn = block.bn
    if isinstance(bn, nn.Identity):
        return None
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or not bn.track_running_stats:
        raise NotImplementedError("batch norm without running statistics")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    return scale


class _Nullifier:
    """Logits of a batch with each of a chunk of filters nullified, two ways."""

    def __init__(self, model: FirstConvModel, means: torch.Tensor, method: str) -> None:
        self.model = model
        self.means = means
        self.method = method
        if method == "fast":
            block = model.conv_blocks[1]
            self.block2 = block
            self.scale = _bn_scale(block)
            self.weight2 = block.conv.weight  # (C2, F, k)

    def base(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.model.first_activation(x)
        state = {"a": a}
        if self.method == "fast":
            h1 = self.model.first_block.reduce(a)
            state["h1"] = h1
            state["z2"] = self.block2.pre_activation(h1)
            state["logits"] = self.model.forward_from_block(
                2, self.block2.reduce(self.block2.act(state["z2"]))
            )
        else:
            state["logits"] = self.model.forward_from_first_activation(a)
        return state

    def chunk_size(self, state: dict[str, torch.Tensor]) -> int:
        per_filter = state["z2"][0].numel() if self.method == "fast" else state["a"][0].numel()
        return max(1, _CHUNK_ELEMENTS // (per_filter * len(state["a"])))

    def nullified(self, state: dict[str, torch.Tensor], filters: list[int]) -> torch.Tensor:
        """``(G, B, T)`` logits with filter ``filters[g]`` nullified."""
        a = state["a"]
        B, G = a.shape[0], len(filters)
        idx = torch.as_tensor(filters, device=a.device)
        if self.method == "rest":
            edited = a.unsqueeze(0).repeat(G, 1, 1, 1)  # (G, B, F, L1)
            edited[torch.arange(G, device=a.device), :, idx, :] = self.means[idx][:, None, None]
            return self.model.forward_from_first_activation(edited.flatten(0, 1)).view(G, B, -1)
        h1, z2 = state["h1"], state["z2"]
        # Pooling a constant gives the constant, so the pooled channel becomes the mean.
        delta = self.means[idx][None, :, None] - h1[:, idx, :]  # (B, G, Lp)
        weight = self.weight2[:, idx, :].transpose(0, 1).reshape(-1, 1, self.weight2.shape[-1])
        dz = F.conv1d(self.block2.pad(delta), weight, groups=G)  # (B, G*C2, L2)
        dz = dz.view(B, G, -1, dz.shape[-1])
        if self.scale is not None:
            dz = dz * self.scale[None, None, :, None]
        z = (z2.unsqueeze(1) + dz).transpose(0, 1).flatten(0, 1)  # (G*B, C2, L2)
        h2 = self.block2.reduce(self.block2.act(z))
        return self.model.forward_from_block(2, h2).view(G, B, -1)


def _per_sequence_loss(task: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Loss summed over targets, one value per sequence (broadcasts over leading dims)."""
    if task == "binary":
        loss = F.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="none")
    elif task == "regression":
        loss = (logits - y) ** 2
    elif task == "poisson":
        loss = F.poisson_nll_loss(logits, y.expand_as(logits), log_input=True, reduction="none")
    else:
        raise ValueError(f"unknown task {task!r}")
    return loss.sum(dim=-1)


def filter_influence(
    model: nn.Module,
    X: SequenceInput,
    y: np.ndarray | None = None,
    *,
    means: np.ndarray | None = None,
    filters: list[int] | None = None,
    method: str = "auto",
    batch_size: int = 100,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> FilterInfluence:
    """Filter influence by nullification (Basset's ``basset_motifs_infl``).

    Parameters
    ----------
    model
        A model with a first convolution.
    X
        ``(N, 4, L)`` one-hot sequences or DNA strings.
    y
        ``(N, T)`` labels for the loss influence (optional).
    means
        ``(F,)`` the value each filter is set to; default its mean activation over ``X``
        (all sequences and positions; Basset used the batch's, with one batch of 1000).
    filters
        Filters to nullify (default all); rows of the result follow this order.
    method
        ``"fast"``, ``"rest"`` or ``"auto"`` (fast for plain conv stacks).
    batch_size
        Sequences per pass.
    device
        Where to compute.
    verbose
        Show a progress bar. Default is False.

    Returns
    -------
    FilterInfluence
    """
    model = first_conv_model(model)
    X = as_onehot(X)
    n_filters = model.conv1.weight.shape[0]
    chosen = list(range(n_filters)) if filters is None else [int(f) for f in filters]
    if any(not 0 <= f < n_filters for f in chosen):
        raise InputError(f"filter indices must lie in 0..{n_filters - 1}")
    if means is None:
        means = filter_means(model, X, batch_size=batch_size, device=device)
    if method == "auto":
        method = "fast" if _fast_path_ok(model) else "rest"
    if method == "fast" and not _fast_path_ok(model):
        raise ValueError(f"{type(model).__name__}: the fast path needs a plain conv stack")
    task = model.config.task
    n = len(X)
    with torch.no_grad(), prepared_model(model, device) as dev:
        nullifier = _Nullifier(
            model, torch.as_tensor(means, dtype=torch.float32, device=dev), method
        )
        T = model.config.n_targets
        sum_orig = torch.zeros(T, dtype=torch.float64, device=dev)
        sum_orig_sq = torch.zeros_like(sum_orig)
        sum_null = torch.zeros(len(chosen), T, dtype=torch.float64, device=dev)
        loss_gain = torch.zeros(len(chosen), dtype=torch.float64, device=dev)
        bar = tqdm(
            total=n * len(chosen),
            desc="filter influence",
            unit="seq x filter",
            disable=not verbose,
            unit_scale=True,
        )
        for start in range(0, n, batch_size):
            x = torch.as_tensor(X[start : start + batch_size], device=dev)
            state = nullifier.base(x)
            logits = state["logits"]
            sum_orig += logits.double().sum(0)
            sum_orig_sq += (logits.double() ** 2).sum(0)
            yb = (
                None
                if y is None
                else torch.as_tensor(y[start : start + batch_size], dtype=torch.float32, device=dev)
            )
            base_loss = None if yb is None else _per_sequence_loss(task, logits, yb)
            step = nullifier.chunk_size(state)
            for c in range(0, len(chosen), step):
                group = chosen[c : c + step]
                out = nullifier.nullified(state, group)  # (G, B, T)
                sum_null[c : c + len(group)] += out.double().sum(1)
                if yb is not None:
                    null_loss = _per_sequence_loss(task, out, yb)  # (G, B)
                    loss_gain[c : c + len(group)] += (null_loss - base_loss).double().sum(1)
                bar.update(len(x) * len(group))
        bar.close()
        mean_orig = sum_orig / n
        var_orig = sum_orig_sq / n - mean_orig**2
        mean_null = sum_null / n
        with np.errstate(divide="ignore", invalid="ignore"):
            targets = ((mean_orig - mean_null) / var_orig).cpu().numpy()
    targets = np.where(np.isfinite(targets), targets, 0.0)
    loss = None if y is None else (loss_gain / n).cpu().numpy()
    return FilterInfluence(targets=targets, loss=loss, method=method)


def naive_filter_influence(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    means: np.ndarray,
    filters: list[int] | None = None,
    batch_size: int = 100,
) -> FilterInfluence:
    """Reference: one full forward pass per filter with its activation replaced by a hook.

    Slow by design; for tests and ``bench/`` only.
    """
    model = first_conv_model(model)
    n_filters = model.conv1.weight.shape[0]
    chosen = list(range(n_filters)) if filters is None else list(filters)
    task = model.config.task
    X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y_t = None if y is None else torch.as_tensor(np.asarray(y, dtype=np.float32))

    def run(hook=None) -> torch.Tensor:
        handle = model.first_block.act.register_forward_hook(hook) if hook else None
        try:
            return torch.cat(
                [model(X_t[s : s + batch_size]) for s in range(0, len(X_t), batch_size)]
            )
        finally:
            if handle is not None:
                handle.remove()

    with torch.no_grad(), prepared_model(model, "cpu"):
        orig = run().double()
        rows, losses = [], []
        for f in chosen:

            def hook(_module, _inputs, output, f=f):
                output = output.clone()
                output[:, f, :] = float(means[f])
                return output

            null = run(hook).double()
            rows.append((orig.mean(0) - null.mean(0)) / orig.var(0, unbiased=False))
            if y_t is not None:
                losses.append(
                    (
                        _per_sequence_loss(task, null, y_t) - _per_sequence_loss(task, orig, y_t)
                    ).mean()
                )
    targets = torch.stack(rows).numpy()
    loss = None if y_t is None else torch.stack(losses).numpy()
    return FilterInfluence(
        targets=np.where(np.isfinite(targets), targets, 0.0), loss=loss, method="naive"
    )
