"""Fast ISM's view of a model: the layers it knows, as a list of operations.

:func:`plan_model` turns a model into a :class:`Plan` (convolutions with their batch
norms folded in, per-channel affines, max-pools, element-wise functions, then a head:
flatten + dense, or a global max or mean) that :class:`~motiflens.explain.fast_ism.FastISM`
runs, or says why it cannot. A :class:`~motiflens.models.SequenceModel` lists its layers
itself (:meth:`~motiflens.models.SequenceModel.ism_layers`); nothing here asks for a
model's name or class.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from motiflens.models import SequenceModel

if TYPE_CHECKING:
    from motiflens.explain.fast_ism import Spectral

__all__ = [
    "Affine",
    "Conv",
    "Head",
    "Op",
    "Plan",
    "Pointwise",
    "Pool",
    "model_state",
    "plan_model",
]


@dataclass(frozen=True)
class Conv:
    """A convolution, with a batch norm right after it folded in."""

    weight: torch.Tensor  # (out, in, k)
    bias: torch.Tensor | None
    pad: tuple[int, int]
    dilation: int
    spectral: dict[int, Spectral | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def reach(self) -> int:
        return (self.weight.shape[-1] - 1) * self.dilation

    @functools.cached_property
    def weight_t(self) -> torch.Tensor:
        """``(in, out, 1, k)``, taps reversed, channels-last: for conv_transpose2d."""
        w = self.weight.flip(-1).transpose(0, 1).unsqueeze(2)
        return w.contiguous(memory_format=torch.channels_last)

    @functools.cached_property
    def table(self) -> torch.Tensor:
        """``(in, k * out)``: output columns ``0 .. k-1`` of a change in one input column."""
        return self.weight.flip(-1).permute(1, 2, 0).reshape(self.weight.shape[1], -1)

    def fold(self, bn: nn.BatchNorm1d) -> Conv:
        scale, shift = bn_affine(bn)
        bias = shift if self.bias is None else self.bias * scale + shift
        return Conv(self.weight * scale[:, None, None], bias, self.pad, self.dilation)


@dataclass(frozen=True)
class Affine:
    """A batch norm (eval mode) that does not follow a convolution: per-channel affine."""

    scale: torch.Tensor
    shift: torch.Tensor


@dataclass(frozen=True)
class Pool:
    kernel: int
    stride: int
    ceil_mode: bool


@dataclass(frozen=True)
class Pointwise:
    fn: nn.Module


Op = Conv | Affine | Pool | Pointwise


@dataclass(frozen=True)
class Head:
    kind: str  # "flatten" (then `linear`), "max" or "mean" (global, over positions)
    linear: nn.Linear | None
    rest: list[nn.Module]


@dataclass(frozen=True)
class Plan:
    ops: list[Op]
    head: Head
    cache: dict[Any, torch.Tensor] = field(default_factory=dict, compare=False)


POINTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
)
SKIP: tuple[type[nn.Module], ...] = (nn.Identity, nn.Dropout)


class _Unsupported(Exception):
    pass


def plan_model(model: nn.Module) -> Plan | str:
    """The model as a list of layers the fast path knows, or why it is not one.

    A :class:`~motiflens.models.SequenceModel` gives its layers itself
    (:meth:`~motiflens.models.SequenceModel.ism_layers`); a plain ``nn.Sequential`` is
    its own list. Anything else is not supported.
    """
    name = type(model).__name__
    layers: list[nn.Module] | None = None
    try:
        if isinstance(model, SequenceModel):
            try:
                layers = model.ism_layers()
            except Exception as err:  # parts swapped for ones that cannot list themselves
                return f"{name}: its layer list failed ({type(err).__name__}: {err})"
        elif type(model) is nn.Sequential:
            layers = list(model)
        if layers is not None:
            return _parse(_flat(layers), name)
    except _Unsupported as err:
        return str(err)
    return (
        f"{name} is not a stack of convolution, pooling and dense layers that fast ISM "
        "knows (recurrent layers, residual connections and custom modules are not)"
    )


def model_state(model: nn.Module, device: torch.device) -> tuple[Any, ...]:
    """What a checked plan depends on, to compare with a later call's.

    Every parameter and buffer (storage and in-place version, so that training steps and
    loaded weights count), each module's type, any ``forward`` set on the instance and
    its mode, and the device.
    """
    tensors = itertools.chain(model.parameters(), model.buffers())
    state = tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in tensors)
    mods = tuple((type(m), id(m.__dict__.get("forward")), m.training) for m in model.modules())
    return (str(device), state, mods)


def _flat(mods: Iterable[nn.Module]) -> list[nn.Module]:
    out: list[nn.Module] = []
    for mod in mods:
        out += _flat(mod) if type(mod) is nn.Sequential else [mod]
    return out


def _parse(mods: list[nn.Module], name: str) -> Plan:
    ops: list[Op] = []
    pad = (0, 0)
    after_conv = False  # the last op is a conv with nothing but identities since
    for i, mod in enumerate(mods):
        kind = type(mod)
        if kind in SKIP:  # dropout is off in eval mode
            continue
        if kind in (nn.ConstantPad1d, nn.ZeroPad1d):
            if float(mod.value) != 0.0:  # type: ignore[attr-defined]
                raise _Unsupported(f"{name}: padding with a non-zero value")
            left, right = mod.padding  # type: ignore[attr-defined]
            pad = (pad[0] + left, pad[1] + right)
            after_conv = False
            continue
        if pad != (0, 0) and kind is not nn.Conv1d:
            raise _Unsupported(f"{name}: zero padding before a {kind.__name__}")
        if kind is nn.Conv1d:
            ops.append(_conv(mod, pad, name))  # type: ignore[arg-type]
            pad = (0, 0)
            after_conv = True
            continue
        if kind is nn.BatchNorm1d:
            _check_bn(mod, name)
            if after_conv:
                ops[-1] = ops[-1].fold(mod)  # type: ignore[union-attr, arg-type]
            else:
                ops.append(Affine(*bn_affine(mod)))  # type: ignore[arg-type]
        elif kind is nn.MaxPool1d:
            ops.append(_pool(mod, name))  # type: ignore[arg-type]
        elif kind in POINTWISE:
            ops.append(Pointwise(mod))
        elif kind is nn.Flatten:
            return Plan(ops, _dense_head(mods[i + 1 :], name, mod))  # type: ignore[arg-type]
        elif kind in (nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d):
            if _single(mod.output_size) != 1:  # type: ignore[attr-defined]
                raise _Unsupported(f"{name}: adaptive pooling to more than one position")
            rest = [m for m in mods[i + 1 :] if type(m) not in SKIP]
            if not rest or type(rest[0]) is not nn.Flatten:
                raise _Unsupported(f"{name}: global pooling not followed by Flatten")
            _check_flatten(rest[0], name)  # type: ignore[arg-type]
            _check_rest(rest[1:], name)
            head_kind = "max" if kind is nn.AdaptiveMaxPool1d else "mean"
            return Plan(ops, Head(head_kind, None, _fold_dense(rest[1:])))
        else:
            raise _Unsupported(f"{name}: fast ISM does not know the layer {kind.__name__}")
        after_conv = False
    raise _Unsupported(f"{name}: no Flatten or global pooling before the outputs")


def _single(value: Any) -> Any:
    return value[0] if isinstance(value, tuple | list) else value


def _conv(conv: nn.Conv1d, pad: tuple[int, int], name: str) -> Conv:
    if conv.groups != 1 or _single(conv.stride) != 1 or conv.padding_mode != "zeros":
        raise _Unsupported(f"{name}: a Conv1d with groups, a stride or a non-zero padding mode")
    k, d = conv.kernel_size[0], _single(conv.dilation)
    if conv.padding == "same":
        total = d * (k - 1)
        own = (total // 2, total - total // 2)
    elif conv.padding == "valid":
        own = (0, 0)
    else:
        own = (_single(conv.padding),) * 2  # type: ignore[assignment]
    return Conv(
        weight=conv.weight.detach(),
        bias=None if conv.bias is None else conv.bias.detach(),
        pad=(pad[0] + own[0], pad[1] + own[1]),
        dilation=d,
    )


def _pool(pool: nn.MaxPool1d, name: str) -> Pool:
    k = _single(pool.kernel_size)
    s = _single(pool.stride) or k
    if _single(pool.padding) != 0 or _single(pool.dilation) != 1 or pool.return_indices:
        raise _Unsupported(f"{name}: a MaxPool1d with padding, dilation or indices")
    if s > k:
        raise _Unsupported(f"{name}: a MaxPool1d with a stride larger than its kernel")
    return Pool(int(k), int(s), bool(pool.ceil_mode))


def bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode batch norm as ``x * scale + shift``."""
    assert bn.running_mean is not None and bn.running_var is not None
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach()
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach()
    return scale, shift


def _check_bn(mod: nn.Module, name: str) -> None:
    if isinstance(mod, nn.BatchNorm1d) and (mod.running_mean is None or mod.running_var is None):
        raise _Unsupported(f"{name}: batch norm without running statistics")


def _check_flatten(mod: nn.Flatten, name: str) -> None:
    if mod.start_dim != 1 or mod.end_dim != -1:
        raise _Unsupported(f"{name}: a Flatten over other dimensions")


def _check_rest(mods: list[nn.Module], name: str) -> None:
    for mod in mods:
        if type(mod) not in (nn.Linear, nn.BatchNorm1d, *POINTWISE, *SKIP):
            raise _Unsupported(f"{name}: layer {type(mod).__name__} after the flatten")
        _check_bn(mod, name)


def _dense_head(mods: list[nn.Module], name: str, flatten: nn.Flatten) -> Head:
    _check_flatten(flatten, name)
    mods = [m for m in mods if type(m) not in SKIP]
    if not mods or type(mods[0]) is not nn.Linear:
        raise _Unsupported(f"{name}: Flatten not followed by Linear")
    _check_rest(mods[1:], name)
    folded = _fold_dense(mods)
    return Head("flatten", folded[0], folded[1:])  # type: ignore[arg-type]


def _fold_dense(mods: list[nn.Module]) -> list[nn.Module]:
    """``mods`` with each batch norm right after a linear layer folded into a copy of it.

    In eval mode the batch norm is a per-unit affine map, so ``BN(W x + b)`` is one
    linear layer, ``(s W) x + (s b + t)``: one pass over the mutants fewer per batch norm.
    """
    out: list[nn.Module] = []
    for mod in mods:
        if type(mod) is nn.BatchNorm1d and out and type(out[-1]) is nn.Linear:
            linear = out[-1]
            scale, shift = bn_affine(mod)  # type: ignore[arg-type]
            with torch.no_grad():
                weight = linear.weight.detach()
                folded = nn.Linear(
                    linear.in_features,
                    linear.out_features,
                    device=weight.device,
                    dtype=weight.dtype,
                ).requires_grad_(False)
                folded.weight.copy_(scale[:, None] * weight)
                bias = linear.bias.detach() if linear.bias is not None else 0.0
                folded.bias.copy_(scale * bias + shift)
            out[-1] = folded.eval()
        else:
            out.append(mod)
    return out
