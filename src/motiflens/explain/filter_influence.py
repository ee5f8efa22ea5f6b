"""Filter influence by nullification (Basset's ``basset_motifs_infl.py``).

A filter's influence is what happens to the output when its activation is replaced, at
every position of every sequence, by its mean activation.

Influence runs the network after layer 1 only, on the layer-1 activations computed once.
For a plain conv stack (Basset, DeMo CNN) it goes further: nullifying filter ``f``
changes layer 2's input in one channel, so layer 2's pre-activation changes by a
one-channel convolution (conv and eval-mode batch norm are affine), and only layers 3 and
up run per filter.

For a CNN-RNN (a recurrent model whose LSTM reads the first block's output) the first
LSTM layer's input projection ``W_ih x_t + b`` is linear in the filters' channels, so
nullifying filter ``f`` adds ``W_ih[:, f] (c_f - x_{f,t})`` to it, where ``c_f`` is what
the block's pooling makes of the constant ``m_f`` (``m_f`` itself for a max-pool). The
shared projection is computed once per batch and only the recurrence runs per filter,
many filters x sequences side by side, in a loop written for it: 5-7.5x faster than
rerunning the network after layer 1 per filter on 2 busy CPU cores (default CNN-RNN at
101 bp, ``bench/influence.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.errors import InputError
from motiflens.explain.filter_activations import filter_means, first_conv_model
from motiflens.explain.inputs import SequenceInput, as_onehot
from motiflens.models.layers import ConvBlock, FirstConvModel, LSTMReadout
from motiflens.models.registry import prepared_model
from motiflens.progress import tqdm

__all__ = ["FilterInfluence", "filter_influence", "naive_filter_influence"]

# Activations held at once while nullifying: (filters in a chunk) x (batch) x layer size.
_CHUNK_ELEMENTS = 1 << 24
# Sequence x filter rows run side by side through the recurrence: wide enough that the
# ~10 small operations per time step cost little next to their work, narrow enough that
# a step's gates (2 directions x 4 x hidden x rows floats, 2 MB at 2048) stay in cache.
# 512 to 4096 rows ran within 10% of each other, 16384 ~30% slower (default CNN-RNN,
# 101 bp, one thread on 2 loaded cores).
_RECURRENT_ROWS = 2048


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
        ``"fast"`` (layer 2 updated by a one-channel convolution), ``"recurrent"`` (the
        LSTM's input projection shared, its recurrence run per filter) or ``"rest"`` (the
        network after layer 1 rerun per filter).
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
    conv, pool = blocks[1].conv, blocks[1].pool
    if (conv.stride, conv.dilation, conv.groups) != ((1,), (1,), 1):
        return False
    if isinstance(pool, nn.MaxPool1d) and (_one(pool.padding), _one(pool.dilation)) != (0, 1):
        return False
    if not isinstance(pool, nn.MaxPool1d | nn.Identity) or type(blocks[1].act) is not nn.ReLU:
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


def _pool_positions(z: torch.Tensor, pool: nn.Module) -> torch.Tensor:
    """``pool`` (a ``MaxPool1d`` without padding or dilation, or an identity) over the
    positions of channels-last ``z`` ``(N, L, C)``; channels-last out.

    A stride equal to the kernel is a max over blocks of rows, in one pass (torch's
    max-pool on this layout also computes the indices: 2.5x slower here).
    """
    if not isinstance(pool, nn.MaxPool1d):
        return z
    k, stride = _one(pool.kernel_size), _one(pool.stride)
    if stride != k:
        h = z.transpose(1, 2).unsqueeze(2)  # (N, C, 1, L) in channels-last memory
        return (
            F.max_pool2d(h, (1, k), (1, stride), ceil_mode=pool.ceil_mode)
            .squeeze(2)
            .transpose(1, 2)
        )
    n, length, c = z.shape
    full = length // k
    h = z[:, : full * k].reshape(n, full, k, c).amax(2)
    if pool.ceil_mode and full * k < length:  # the last window, partial
        h = torch.cat([h, z[:, full * k :].amax(1, keepdim=True)], 1)
    return h


def _one(value: int | tuple[int, ...]) -> int:
    """A 1-d layer's size parameter (an int, or a 1-tuple) as an int."""
    return value if isinstance(value, int) else value[0]


class _Nullifier:
    """Logits of a batch with each of a chunk of filters nullified, two ways."""

    def __init__(self, model: FirstConvModel, means: torch.Tensor, method: str) -> None:
        self.model = model
        self.means = means
        self.method = method
        if method == "fast":
            block = model.conv_blocks[1]
            self.block2 = block
            scale = _bn_scale(block)
            weight = block.conv.weight  # (C2, F, k)
            # Eval-mode batch norm scales each output channel: folded into the weights.
            self.weight2 = weight if scale is None else weight * scale[:, None, None]

    def base(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.model.first_activation(x)
        state = {"a": a}
        if self.method == "fast":
            h1 = self.model.first_block.reduce(a)
            state["h1"] = h1
            z2 = self.block2.pre_activation(h1)
            state["logits"] = self.model.forward_from_block(
                2, self.block2.reduce(self.block2.act(z2))
            )
            state["z2"] = z2.transpose(1, 2).contiguous()  # (B, L2, C2)
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
        _, L2, C2 = z2.shape
        k = self.weight2.shape[-1]
        # Pooling a constant gives the constant, so the pooled channel becomes the mean.
        delta = self.block2.pad(self.means[idx][None, :, None] - h1[:, idx, :])  # (B, G, Lp)
        # Layer 2's change, channels last: each position's k inputs of the nullified
        # channel times that channel's weights, one product per filter, added to layer
        # 2's reference. Then the rest of block 2 on (G * B, L2, C2): the max-pool, and
        # the ReLU on the pooled values (they commute). Elementwise passes over these
        # arrays (64 MB per chunk) were half the time in a grouped conv's (B, G * C2, L2).
        cols = delta.unfold(2, k, 1).transpose(0, 1).reshape(G, B * L2, k)
        weight = self.weight2[:, idx, :].permute(1, 2, 0)  # (G, k, C2)
        z = torch.baddbmm(z2.view(1, B * L2, C2).expand(G, -1, -1), cols, weight)
        z = z.view(G * B, L2, C2)
        h = _pool_positions(z, self.block2.pool).transpose(1, 2)  # (G * B, C2, Lp2)
        h2 = self.block2.drop(h.relu_())
        return self.model.forward_from_block(2, h2).view(G, B, -1)


# ------------------------------------------------------------------------ CNN-RNN path


def _recurrent_path_ok(model: FirstConvModel) -> bool:
    """True when the model is first block -> :class:`LSTMReadout` -> head, structurally.

    The first block's pooling and dropout must act channel by channel (so a nullified
    channel stays one channel), the readout's LSTMs must be plain one-directional
    ``nn.LSTM`` stacks. :func:`_features_are_first_block` checks the wiring on data.
    """
    block = model.first_block
    if not getattr(model, "is_recurrent", False) or not isinstance(block, ConvBlock):
        return False
    if type(block.pool) not in (nn.MaxPool1d, nn.Identity):
        return False
    if type(block.drop) not in (nn.Dropout, nn.Identity):
        return False
    try:
        readout = model.recurrent_parts().readout
    except NotImplementedError:
        return False
    if not isinstance(readout, LSTMReadout) or type(readout.drop) not in (nn.Dropout, nn.Identity):
        return False
    stacks = [readout.fwd] if readout.bwd is None else [readout.fwd, readout.bwd]
    return all(
        type(lstm) is nn.LSTM
        and lstm.batch_first
        and not lstm.bidirectional
        and not lstm.proj_size
        and lstm.num_layers == stacks[0].num_layers
        and lstm.hidden_size == stacks[0].hidden_size
        for lstm in stacks
    )


def _features_are_first_block(model: FirstConvModel, x: torch.Tensor) -> bool:
    """The readout reads the first block's output: ``features(x) == reduce(activation)``."""
    features = model.recurrent_parts().features(x)
    h1 = model.first_block.reduce(model.first_activation(x))
    return features.shape == h1.shape and bool(torch.allclose(features, h1, rtol=1e-5, atol=1e-6))


def _gates_ifog(w: torch.Tensor) -> torch.Tensor:
    """PyTorch's gate rows i, f, g, o reordered to i, f, o, g: one sigmoid covers 3 of 4."""
    i, f, g, o = w.chunk(4, dim=0)
    return torch.cat([i, f, o, g])


@dataclass(frozen=True)
class _LSTMLayer:
    """One layer of every direction's LSTM, stacked: direction is the leading axis."""

    w_ih: torch.Tensor  # (D, 4H, n_in), gates i, f, o, g
    w_hh: torch.Tensor  # (D, 4H, H)
    bias: torch.Tensor  # (D, 4H, 1): bias_ih + bias_hh


def _lstm_layers(readout: LSTMReadout) -> list[_LSTMLayer]:
    stacks = [readout.fwd] if readout.bwd is None else [readout.fwd, readout.bwd]
    layers = []
    for k in range(stacks[0].num_layers):
        w_ih, w_hh, bias = [], [], []
        for lstm in stacks:
            w_ih.append(_gates_ifog(getattr(lstm, f"weight_ih_l{k}")))
            w_hh.append(_gates_ifog(getattr(lstm, f"weight_hh_l{k}")))
            b = torch.zeros_like(w_hh[-1][:, 0])
            if lstm.bias:
                b = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
                b = _gates_ifog(b)
            bias.append(b)
        layers.append(
            _LSTMLayer(
                torch.stack(w_ih), torch.stack(w_hh).contiguous(), torch.stack(bias)[..., None]
            )
        )
    return layers


def _recurrence(
    fill: Callable[[int, torch.Tensor], None],
    w_hh: torch.Tensor,
    length: int,
    rows: int,
    pool: str | None,
) -> torch.Tensor:
    """One LSTM layer over ``rows`` sequences of every direction at once, ``nn.LSTM``'s cell.

    ``fill(t, gates)`` writes step ``t``'s input part of the gates (``(D, 4H, rows)``,
    i, f, o, g) into ``gates``. Everything is laid out ``(D, units, rows)`` so that each
    gate is one contiguous block and the hidden-to-hidden product has the rows as its
    wide side. Returns the outputs ``(D, length, H, rows)`` (``pool=None``) or their
    time-mean or time-max ``(D, H, rows)``.
    """
    d, four_h, hidden = w_hh.shape
    gates = w_hh.new_empty(d, four_h, rows)
    sig, g = gates[:, : 3 * hidden], gates[:, 3 * hidden :]
    i, f, o = gates[:, :hidden], gates[:, hidden : 2 * hidden], gates[:, 2 * hidden : 3 * hidden]
    h = w_hh.new_zeros(d, hidden, rows)
    c = torch.zeros_like(h)
    tanh_c = torch.empty_like(h)
    outputs = w_hh.new_empty(d, length, hidden, rows) if pool is None else None
    total = torch.full_like(h, -torch.inf) if pool == "max" else torch.zeros_like(h)
    for t in range(length):
        fill(t, gates)
        gates.baddbmm_(w_hh, h)
        sig.sigmoid_()
        g.tanh_()
        c.mul_(f).addcmul_(i, g)
        torch.tanh(c, out=tanh_c)
        if outputs is not None:
            h = outputs[:, t]
        torch.mul(tanh_c, o, out=h)
        if pool == "max":
            torch.maximum(total, h, out=total)
        elif pool == "mean":
            total += h
    if outputs is not None:
        return outputs
    return total / length if pool == "mean" else total


class _RecurrentNullifier:
    """Logits of a batch with each of a chunk of filters nullified, for a CNN-RNN.

    The first block feeds the LSTMs directly, so its nullified channel ``f`` enters the
    first LSTM layer only through ``W_ih[:, f]``: the shared input projection plus
    ``W_ih[:, f] (c_f - x_{f,t})``. The nullified channel after the block's pooling and
    dropout, ``c_f``, is the block's own ``reduce`` of the constant mean (a max-pool of a
    constant is that constant; dropout is off in eval mode).
    """

    def __init__(self, model: FirstConvModel, means: torch.Tensor) -> None:
        parts = model.recurrent_parts()
        self.model = model
        self.means = means
        self.head = parts.head
        self.pool = parts.readout.pool
        self.bidirectional = parts.readout.bwd is not None
        self.layers = _lstm_layers(parts.readout)

    def _both_ways(self, t: torch.Tensor) -> torch.Tensor:
        """``(D, ...)``: ``t`` and, for the backward LSTM, ``t`` reversed in time (last axis)."""
        return torch.stack([t, t.flip(-1)]) if self.bidirectional else t[None]

    def base(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.model.first_activation(x)
        h1 = self.model.first_block.reduce(a)  # (B, F, L)
        constant = self.means[None, :, None].expand(1, -1, a.shape[-1]).contiguous()
        first = self.layers[0]
        # Shared first-layer input projection, (D, L, 4H, B): step t is one contiguous block.
        proj = torch.einsum("dkf,dbfl->dlkb", first.w_ih, self._both_ways(h1))
        return {
            "h1": h1,
            "nullified": self.model.first_block.reduce(constant)[0],  # (F, L)
            "proj": (proj + first.bias[:, None]).contiguous(),
            "logits": self.model.forward_from_first_activation(a),
        }

    def chunk_size(self, state: dict[str, torch.Tensor]) -> int:
        batch, _, length = state["h1"].shape
        d, hidden = state["proj"].shape[0], self.layers[0].w_hh.shape[-1]
        # Floats per row: the channel change, the gates and states, and (stacked LSTMs)
        # the outputs of the layer below.
        per_row = d * (length + 8 * hidden + (length * hidden if len(self.layers) > 1 else 0))
        rows = min(_RECURRENT_ROWS, _CHUNK_ELEMENTS // per_row)
        return max(1, rows // batch)

    def nullified(self, state: dict[str, torch.Tensor], filters: list[int]) -> torch.Tensor:
        """``(G, B, T)`` logits with filter ``filters[g]`` nullified."""
        h1, proj = state["h1"], state["proj"]
        batch, _, length = h1.shape
        n_filters, rows = len(filters), len(filters) * len(h1)
        idx = torch.as_tensor(filters, device=h1.device)
        change = state["nullified"][idx][:, None, :] - h1[:, idx, :].transpose(0, 1)  # (G, B, L)
        change = self._both_ways(change).permute(0, 3, 1, 2).contiguous()  # (D, L, G, B)
        w_f = self.layers[0].w_ih[:, :, idx, None]  # (D, 4H, G, 1)
        d = proj.shape[0]

        def first_input(t: int, gates: torch.Tensor) -> None:
            view = gates.view(d, -1, n_filters, batch)
            torch.addcmul(proj[:, t, :, None, :], change[:, t, None], w_f, out=view)

        pool = self.pool if len(self.layers) == 1 else None
        out = _recurrence(first_input, self.layers[0].w_hh, length, rows, pool)
        for k, layer in enumerate(self.layers[1:], start=2):
            below = out  # (D, L, H, rows); no dropout between layers in eval mode

            def upper_input(t: int, gates: torch.Tensor, w=layer, x=below) -> None:
                torch.baddbmm(w.bias, w.w_ih, x[:, t], out=gates)

            pool = self.pool if k == len(self.layers) else None
            out = _recurrence(upper_input, layer.w_hh, length, rows, pool)
        # (D, H, G, B) -> (G*B, D*H): the forward units first, as LSTMReadout concatenates.
        pooled = out.view(d, -1, n_filters, batch).permute(2, 3, 0, 1).reshape(rows, -1)
        return self.head(pooled).view(n_filters, batch, -1)


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
        ``"fast"``, ``"recurrent"``, ``"rest"`` or ``"auto"``: fast for plain conv stacks,
        recurrent for a CNN-RNN (a first conv block feeding an :class:`LSTMReadout`), the
        rest of the network rerun per filter otherwise.
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
    if method not in ("auto", "fast", "recurrent", "rest"):
        raise ValueError(f"unknown method {method!r}: use auto, fast, recurrent or rest")
    if method == "fast" and not _fast_path_ok(model):
        raise ValueError(f"{type(model).__name__}: the fast path needs a plain conv stack")
    if method == "recurrent" and not _recurrent_path_ok(model):
        raise ValueError(f"{type(model).__name__}: the recurrent path needs a CNN-RNN")
    task = model.config.task
    n = len(X)
    # Inference mode inside: prepared_model moves the weights (and back) outside it.
    with prepared_model(model, device) as dev, torch.inference_mode():
        if method == "auto":
            method = "fast" if _fast_path_ok(model) else "rest"
            if method == "rest" and _recurrent_path_ok(model) and n:
                # The structure fits; check on a few sequences that the LSTM reads the
                # first block's output (and nothing made from it) before relying on it.
                probe = torch.as_tensor(X[: min(n, 4)], device=dev)
                method = "recurrent" if _features_are_first_block(model, probe) else "rest"
        means_t = torch.as_tensor(means, dtype=torch.float32, device=dev)
        nullifier = (
            _RecurrentNullifier(model, means_t)
            if method == "recurrent"
            else _Nullifier(model, means_t, method)
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
