"""Pieces shared by the architectures: length arithmetic, blocks, the base classes.

A model describes itself to the rest of motiflens through :class:`SequenceModel`'s class
attributes and methods (``arch_config``, ``needs_length``, ``is_recurrent``,
``output_lengths``, ``ism_layers``, ``recurrent_parts``), so that adding an architecture
is one module and one :func:`~motiflens.models.register_model` call: nothing else asks
for a model's name or type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from motiflens.config import ConfigBase, ModelConfig
from motiflens.errors import InputError

# ------------------------------------------------------------------ length arithmetic


def same_padding(size: int) -> tuple[int, int]:
    """Zero padding ``(left, right)`` that keeps the length for a width-``size`` conv.

    Even widths get the extra position on the right, so width 10 keeps 600 at 600
    (Basset's symmetric ``floor((k-1)/2)`` lost one: issue #30).
    """
    return (size - 1) // 2, size // 2


def pool_length(length: int, width: int, ceil_mode: bool) -> int:
    """Output length of a max-pool with kernel = stride = ``width`` (PyTorch's rule)."""
    if ceil_mode:
        out = -(-(length - width) // width) + 1
        # PyTorch drops a last window that would start past the input.
        if (out - 1) * width >= length:
            out -= 1
        return out
    return (length - width) // width + 1


@dataclass(frozen=True)
class Stage:
    """One length-changing layer: a conv (``mode`` valid/same) or a pool (ceil/floor)."""

    name: str
    kind: str  # "conv" or "pool"
    width: int
    mode: str  # conv: "valid" | "same"; pool: "ceil" | "floor"

    def apply(self, length: int) -> int:
        if self.kind == "conv":
            return length if self.mode == "same" else length - self.width + 1
        if self.width == 1:
            return length
        return pool_length(length, self.width, self.mode == "ceil")


def trace_lengths(stages: list[Stage], length: int) -> list[tuple[str, int]]:
    """``[("input", L), (stage name, length after it), ...]``, stopping at the first < 1."""
    out = [("input", length)]
    for stage in stages:
        length = stage.apply(length)
        out.append((stage.name, length))
        if length < 1:
            break
    return out


def check_lengths(model: str, stages: list[Stage], length: int, hint: str) -> list[int]:
    """Lengths after each stage; raise an InputError naming the first one that is < 1."""
    if length < 1:
        raise InputError(f"{model}: input length must be at least 1, got {length}")
    trace = trace_lengths(stages, length)
    if trace[-1][1] < 1:
        (_, before), (name, after) = trace[-2], trace[-1]
        stage = next(s for s in stages if s.name == name)
        what = "kernel" if stage.kind == "conv" else "width"
        raise InputError(
            f"{model}: {name} ({what} {stage.width}) gets length {before} -> output length "
            f"{after} at input length {length}",
            hint=hint,
        )
    return [n for _, n in trace]


def min_length(stages: list[Stage]) -> int:
    """Shortest input for which every stage has length >= 1 (lengths grow with input)."""

    def ok(n: int) -> bool:
        return trace_lengths(stages, n)[-1][1] >= 1

    hi = 1
    while not ok(hi):
        hi *= 2
    lo = hi // 2  # not ok (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


# ----------------------------------------------------------------------------- blocks


class ConvBlock(nn.Module):
    """pad -> conv -> [batch norm] -> ReLU -> [max-pool] -> [dropout].

    Split in two so the first block's activations (after ReLU, before pooling) can be
    read and replaced: ``forward(x) == reduce(activate(x))``.

    Parameters
    ----------
    in_channels, out_channels, size
        The convolution.
    pool
        Max-pool width and stride; 1 means no pooling.
    dropout
        Dropout probability after pooling (0 = none).
    padding
        ``"valid"`` or ``"same"`` (zero padding from :func:`same_padding`).
    batch_norm
        Batch norm between conv and ReLU.
    ceil_mode
        Pool in ceil mode (Torch's SpatialMaxPooling:ceil() as Basset used) or floor.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        size: int,
        *,
        pool: int = 1,
        dropout: float = 0.0,
        padding: str = "valid",
        batch_norm: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.padding = same_padding(size) if padding == "same" else (0, 0)
        self.pad = nn.ConstantPad1d(self.padding, 0.0) if any(self.padding) else nn.Identity()
        self.conv = nn.Conv1d(in_channels, out_channels, size)
        self.bn = nn.BatchNorm1d(out_channels) if batch_norm else nn.Identity()
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(pool, pool, ceil_mode=ceil_mode) if pool > 1 else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """Conv (and batch norm) output before the ReLU."""
        return self.bn(self.conv(self.pad(x)))

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        """Activations after the ReLU, before pooling."""
        return self.act(self.pre_activation(x))

    def reduce(self, a: torch.Tensor) -> torch.Tensor:
        """Pooling and dropout applied to :meth:`activate`'s output."""
        return self.drop(self.pool(a))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.activate(x))

    def layers(self) -> list[nn.Module]:
        """The block as a flat layer list, in order (what fast ISM parses)."""
        return [self.pad, self.conv, self.bn, self.act, self.pool, self.drop]

    def has_channels_last_path(self) -> bool:
        """True when :meth:`forward_channels_last` knows every layer of this block.

        Not, for example, after ``SyncBatchNorm.convert_sync_batchnorm`` swapped its norm.
        """
        return (
            type(self.conv) is nn.Conv1d
            and type(self.bn) in (nn.BatchNorm1d, nn.Identity)
            and type(self.act) is nn.ReLU
            and type(self.pool) in (nn.MaxPool1d, nn.Identity)
            and type(self.drop) in (nn.Dropout, nn.Identity)
        )

    def forward_channels_last(self, h: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on ``(batch, channels, 1, L)`` in channels-last memory (CPU speed).

        The same parameters and the same result to float rounding (batch norm sums in
        another order), in channels-last memory again. On CPU this layout makes oneDNN's
        convolutions ~1.15x faster, batch norm ~3x and max-pool with indices (what the
        backward needs) ~20x: on ``(batch, channels, L)`` that is a slow generic loop. The
        ReLU runs after the max-pool: max and ReLU commute exactly (ReLU is monotone, max
        selects), the pool picks the same first maximum wherever the ReLU passes a
        gradient, and the ReLU touches a pool-th of the values. Needs
        :meth:`has_channels_last_path`.
        """
        if any(self.padding):
            h = F.pad(h, self.padding).contiguous(memory_format=torch.channels_last)
        h = F.conv2d(h, self.conv.weight.unsqueeze(2), self.conv.bias)
        if isinstance(self.bn, nn.BatchNorm1d):
            h = batch_norm_any_dim(self.bn, h)
        if isinstance(self.pool, nn.MaxPool1d):
            width = self.pool.kernel_size
            h = F.max_pool2d(h, (1, width), (1, width), ceil_mode=self.pool.ceil_mode)
        h = self.act(h)
        if isinstance(self.drop, nn.Dropout):
            # Dropout draws its mask in memory order: draw it in the usual layout so a
            # seeded run drops the same units as forward().
            h = self.drop(h.contiguous()).contiguous(memory_format=torch.channels_last)
        return h


def batch_norm_any_dim(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """``bn(x)`` without the module's check of ``x.dim()`` (statistics per dim-1 channel).

    Mirrors ``torch.nn.modules.batchnorm._BatchNorm.forward``: the same running-statistics
    update (momentum, or a cumulative average when it is None) and ``num_batches_tracked``.
    """
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        momentum = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    use_batch = bn.training or (bn.running_mean is None and bn.running_var is None)
    track = not bn.training or bn.track_running_stats
    return F.batch_norm(
        x,
        bn.running_mean if track else None,
        bn.running_var if track else None,
        bn.weight,
        bn.bias,
        use_batch,
        momentum,
        bn.eps,
    )


class LSTMReadout(nn.Module):
    """LSTM forward (and backward) over ``(batch, channels, L)``; outputs pooled over time.

    As in DeMo, the backward direction is its own LSTM stack run on the reversed sequence
    (not PyTorch's per-layer bidirectional stacking), and dropout follows every layer.
    For one layer the two are the same.

    Parameters
    ----------
    n_in, hidden, layers, bidirectional, dropout
        Input channels, units per direction, stacked layers, add a backward stack,
        dropout after every layer.
    pool
        ``"mean"`` (DeMo: the time-mean of the outputs) or ``"max"`` (the time-max of each
        unit). A mean over 101 steps dilutes a 10 bp motif ten-fold; a max keeps it whole.
    forget_bias
        Initial forget-gate bias. DeMo's LSTM (torch-rnn) starts it at 1 so the cell keeps
        what it has read; PyTorch starts it at 0.

    Returns ``(batch, hidden * directions)``: the pooled forward outputs, then the pooled
    backward outputs.
    """

    def __init__(
        self,
        n_in: int,
        hidden: int,
        layers: int,
        bidirectional: bool,
        dropout: float,
        pool: str = "mean",
        forget_bias: float = 0.0,
    ) -> None:
        super().__init__()
        if pool not in ("mean", "max"):
            raise ValueError(f"pool must be 'mean' or 'max', got {pool!r}")
        between = dropout if layers > 1 else 0.0  # nn.LSTM warns on dropout with 1 layer

        def stack() -> nn.LSTM:
            lstm = nn.LSTM(n_in, hidden, num_layers=layers, batch_first=True, dropout=between)
            with torch.no_grad():
                for name, param in lstm.named_parameters():
                    if name.startswith("bias_ih"):  # gates i, f, g, o; bias_hh adds to it
                        param[hidden : 2 * hidden] = forget_bias
                    elif name.startswith("bias_hh"):
                        param[hidden : 2 * hidden] = 0.0
            return lstm

        self.pool = pool
        self.fwd = stack()
        self.bwd = stack() if bidirectional else None
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_features = hidden * (2 if bidirectional else 1)

    def pooled(self, out: torch.Tensor) -> torch.Tensor:
        """``(batch, L, H)`` LSTM outputs -> ``(batch, H)``."""
        return out.mean(dim=1) if self.pool == "mean" else out.amax(dim=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        seq = h.transpose(1, 2)  # (batch, L, channels) for batch_first LSTMs
        parts = [self.pooled(self.drop(self.fwd(seq)[0]))]
        if self.bwd is not None:
            # Pooling over time does not depend on order, so no flip back is needed.
            parts.append(self.pooled(self.drop(self.bwd(seq.flip(1))[0])))
        return torch.cat(parts, dim=1)


class RecurrentParts(NamedTuple):
    """A recurrent model as ``head(readout(features(x)))`` (what temporal scores need).

    Attributes
    ----------
    features
        ``(batch, 4, L)`` one-hot -> ``(batch, C, L)``: one step per input position
        (the one-hot itself for an RNN, the first conv's output for a CNN-RNN).
    readout
        The :class:`LSTMReadout` that reads the steps and averages over time.
    head
        ``(batch, readout.out_features)`` -> ``(batch, n_targets)`` logits.
    """

    features: Callable[[torch.Tensor], torch.Tensor]
    readout: LSTMReadout
    head: Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------- base classes


class SequenceModel(nn.Module):
    """A model from one-hot ``(batch, 4, L)`` to ``(batch, n_targets)`` logits.

    A subclass is built as ``cls(config)`` and describes itself through the class
    attributes and methods below; the defaults fit any model, so a new architecture
    overrides only what it has (see ``tests/models/test_new_architecture.py``).

    Attributes
    ----------
    config
        The :class:`~motiflens.config.ModelConfig` it was built from.
    min_length
        Shortest input it accepts.
    target_labels
        One name per output (``target_0 ..`` until a run directory names them).
    arch_config
        (class) The frozen :class:`~motiflens.config.ConfigBase` dataclass that the
        ``arch:`` section of a config is read as; :func:`~motiflens.models.register_model`
        registers it with the model's name.
    needs_length
        (class) True when the model is built for one input length (dense layers after
        the convolutions), so ``config.length`` must be set to build it.
    is_recurrent
        (class) True when :meth:`recurrent_parts` describes it (temporal scores).
    """

    config: ModelConfig
    min_length: int
    target_labels: list[str]
    arch_config: ClassVar[type[ConfigBase] | None] = None
    needs_length: ClassVar[bool] = False
    is_recurrent: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.target_labels = []

    @classmethod
    def output_lengths(cls, config: ModelConfig) -> list[tuple[str, int]]:
        """Length after each length-changing layer at ``config.length``.

        Starts with ``("input", L)`` and stops at the first layer whose length is < 1.
        The default builds the model on the meta device (no memory) and records the
        length after every ``Conv1d`` and pooling layer of a forward pass (so it stops
        just before such a layer: the pass fails there); a model whose arithmetic is
        known overrides it (no build, and the trace shows the layer that runs out).
        """
        if config.length is None:
            raise ValueError(f"{config.name}: length is not set")
        out = [("input", config.length)]
        kinds = (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d)
        with torch.device("meta"):
            model = cls(config)
            hooks = [
                mod.register_forward_hook(
                    lambda _m, _i, y, name=name: out.append((name, int(y.shape[-1])))
                )
                for name, mod in model.named_modules()
                if isinstance(mod, kinds)
            ]
            try:
                model.eval()(torch.zeros(1, 4, config.length))
            except (ValueError, RuntimeError):
                pass  # too short: the trace ends at the last layer that had positions
            finally:
                for hook in hooks:
                    hook.remove()
        return out

    @classmethod
    def length_stages(cls, config: ModelConfig) -> list[Stage] | None:
        """The conv and pool layers that read along the sequence, in order, or None.

        What the resource guard checks widths against the input length with
        (:func:`~motiflens.models.resources.check_widths`); None (the default) means
        the model does not describe them and is not checked.
        """
        return None

    def ism_layers(self) -> list[nn.Module] | None:
        """The model as a flat list of layers that computes it, or None.

        What fast ISM parses (:mod:`motiflens.explain.ism_plan`): ``Conv1d``, zero
        padding, ``BatchNorm1d``, element-wise activations, ``Dropout``, ``MaxPool1d``,
        then ``Flatten`` + ``Linear`` or global pooling + ``Flatten``, then dense layers.
        None (the default) means the model is not such a stack: ISM runs every mutant
        through the whole model. Fast ISM checks the list against the model before
        using it.
        """
        return None

    def recurrent_parts(self) -> RecurrentParts:
        """The model as features -> :class:`LSTMReadout` -> head; needs ``is_recurrent``."""
        raise NotImplementedError(f"{type(self).__name__} is not a recurrent model")

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError unless ``x`` is ``(batch, 4, L)`` with an allowed L."""
        if x.dim() != 3 or x.shape[1] != 4:
            raise ValueError(
                f"{self.config.name}: expected one-hot input of shape (batch, 4, length), "
                f"got {tuple(x.shape)}"
            )
        if x.shape[-1] < self.min_length:
            raise ValueError(
                f"{self.config.name}: input length {x.shape[-1]} is shorter than the "
                f"minimum {self.min_length} this architecture allows"
            )


class FirstConvModel(SequenceModel):
    """A model whose first layer is a :class:`ConvBlock`; the rest can run on its output.

    ``forward(x) == forward_from_first_activation(first_activation(x))`` exactly, which is
    what filter nullification and fast ISM build on.
    """

    @property
    def first_block(self) -> ConvBlock:
        """The first conv layer (a property, so its weights are not registered twice)."""
        raise NotImplementedError

    @property
    def conv1(self) -> nn.Conv1d:
        """The first convolution (weights ``(filters, 4, width)``)."""
        return self.first_block.conv

    @property
    def conv1_padding(self) -> tuple[int, int]:
        """Zeros added ``(left, right)`` of the input before the first convolution."""
        return self.first_block.padding

    def first_activation(self, x: torch.Tensor) -> torch.Tensor:
        """First-layer activations after the ReLU, before pooling: ``(batch, filters, L1)``."""
        self.check_input(x)
        return self.first_block.activate(x)

    def forward_from_first_activation(self, a: torch.Tensor) -> torch.Tensor:
        """Run the rest of the network on (possibly edited) first-layer activations."""
        raise NotImplementedError

    def forward_from_block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Run conv blocks ``i, i+1, ...`` and the head on block ``i-1``'s output ``h``.

        Only models that are a plain stack of :class:`ConvBlock` followed by a head have
        it (``conv_blocks``); filter nullification uses it to start after layer 2.
        """
        raise NotImplementedError(f"{type(self).__name__} is not a plain conv stack")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from_first_activation(self.first_activation(x))
