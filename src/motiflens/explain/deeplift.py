"""DeepLIFT/SHAP multipliers with rules for every operation of motiflens' architectures.

DeepLIFT (Shrikumar et al. 2017) explains ``f(x) - f(r)`` against a reference ``r`` by
backpropagating *multipliers* instead of gradients: at every non-linear operation the
local derivative is replaced by a rule that satisfies *summation-to-delta*, ``sum_i m_i
(in_i - in'_i) = out - out'``, and linear operations keep their gradient. Chained
through the network, the multipliers of the input then add up exactly to the change of
the output: ``sum((x - r) * m) = f(x) - f(r)`` (completeness).

Why not Captum or tangermeme
----------------------------
Both install their rules as hooks on ``nn.Module`` non-linearities (``nn.ReLU``,
``nn.MaxPool1d``, ...). Neither has a rule for what two of motiflens' architectures are
made of: the DeMo CNN's global max is a tensor method (``h.amax(dim=-1)``, the model
takes any length, so no fixed-size ``nn.MaxPool1d`` can stand in for it), and
``nn.LSTM`` runs its sigmoid and tanh gates and their products inside one fused kernel
that no module hook can reach. Both libraries then fall back to plain gradients there:
on the GABPA runs of ``bench/deepbind_auroc.py`` (20 test peaks, 20 shuffles each) Captum
0.9 missed completeness by up to 37% (CNN), 253% (RNN) and 850% (CNN-RNN), where these
rules stay below 2e-6. Captum 0.9 also drops the max-pool rule where a ReLU feeds a
max-pool directly (captum#1104). This module intercepts the *operations* instead, with a
:class:`torch.overrides.TorchFunctionMode`, so a rule applies whichever way a model calls
the operation (module, functional or tensor method) and the model needs no change.

Rules
-----
Every rule sees the batch ``[inputs; references]`` (the first half the sequences, the
second their references, pair ``i`` being rows ``i`` and ``i + n``) and gives both halves
of its input the same multipliers.

* Element-wise non-linearities (ReLU, ELU, leaky ReLU, GELU, SiLU, softplus, sigmoid,
  tanh, ...): the *rescale* rule, ``m = (f(a) - f(a')) / (a - a')``, computed in float64;
  where ``a`` and ``a'`` (almost) coincide, the derivative at their midpoint.
* Maxima (``max_pool1d``/``2d``, ``adaptive_max_pool1d``, ``amax`` and ``max`` over one
  non-batch dimension): the DeepSHAP max rule, as Captum's max-pool rule. With ``A`` and
  ``B`` the maxima of a window for the input and the reference, the input's argmax gets
  ``max(A, B) - B`` and the reference's argmax ``A - max(A, B)``; they add up to ``A - B``.
* ``torch.lstm`` (``nn.LSTM``, unpacked, no projections, eval mode): recomputed step by
  step from the module's weights, with the rescale rule on each sigmoid and tanh and the
  Shapley rule on each product of two input-dependent values (``f * c``, ``i * g``,
  ``o * tanh(c)``): ``a b - a' b' = (b + b') / 2 * (a - a') + (a + a') / 2 * (b - b')``,
  exact, and the Shapley values of the two-player product game.

Everything else is differentiated as usual, which is exact for the linear operations
(convolutions, linear layers, batch norm in eval mode, padding, means, concatenation,
flips, dropout in eval mode). Products of two input-dependent tensors outside an LSTM
(attention, gating) and in-place non-linearities get no rule: completeness then fails
and :func:`motiflens.explain.saliency.attribute` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["DeepLiftRules", "deeplift_multipliers", "product", "rescale"]

#: Below this |a - a'| (relative to 1 + |a|, in float64) the rescale rule uses the
#: derivative at the midpoint: the difference quotient would be rounding noise there.
RESCALE_EPS = 1e-9


# ------------------------------------------------------------------------ pair helpers


def _halves(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = t.shape[0] // 2
    return t[:n], t[n:]


def _wide(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float64 for the rules' differences (float32 where there is none: MPS)."""
    return t.float() if t.device.type == "mps" else t.double()


def _both(t: torch.Tensor) -> torch.Tensor:
    """The same values for the inputs and for the references."""
    return torch.cat([t, t])


# ------------------------------------------------------------------------------- rules


class _Rescale(torch.autograd.Function):
    """``y = fn(x)`` (computed by the caller); backward: the rescale rule."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, fn: Callable) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.fn = fn
        return y.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        a, a_ref = (_wide(h) for h in _halves(x))
        delta = a - a_ref
        multiplier = (ctx.fn(a) - ctx.fn(a_ref)) / torch.where(delta == 0, 1.0, delta)
        small = delta.abs() <= RESCALE_EPS * (1 + a.abs())
        if small.any():
            with torch.enable_grad():
                mid = ((a + a_ref) / 2).requires_grad_(True)
                (slope,) = torch.autograd.grad(ctx.fn(mid).sum(), mid)
            multiplier = torch.where(small, slope, multiplier)
        multiplier = multiplier.to(grad.dtype)
        return grad * _both(multiplier), None, None


def rescale(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` for an element-wise ``fn``, with the rescale rule in the backward pass."""
    with torch.no_grad():
        y = fn(x)
    return _Rescale.apply(x, y, fn)


class _Product(torch.autograd.Function):
    """``a * b``; backward: the Shapley rule (each factor's multiplier is the other's mean)."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors
        a_mean = _both(sum(_halves(a)) / 2)
        b_mean = _both(sum(_halves(b)) / 2)
        return grad * b_mean, grad * a_mean


def product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a * b`` (same shapes) with the Shapley product rule in the backward pass."""
    return _Product.apply(a, b)


class _Max(torch.autograd.Function):
    """Window maxima ``y`` of ``x`` at flat ``indices``; backward: the DeepSHAP max rule.

    ``x`` is ``(2n, C, S)``; ``y`` and ``indices`` are ``(2n, C, K)``: window ``k`` of row
    ``c`` has its maximum ``y[.., c, k]`` at ``x[.., c, indices[.., c, k]]``.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, y, indices)
        return y.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        x, y, indices = ctx.saved_tensors
        g = _wide(_halves(grad)[0])
        top, top_ref = (_wide(h) for h in _halves(y))
        idx, idx_ref = _halves(indices)
        both_max = torch.maximum(top, top_ref)
        a, a_ref = (_wide(h) for h in _halves(x))
        contribution = torch.zeros_like(a)
        contribution.scatter_add_(-1, idx, g * (both_max - top_ref))
        contribution.scatter_add_(-1, idx_ref, g * (top - both_max))
        delta = a - a_ref
        # Only two positions of a window carry a contribution, and neither has a == a':
        # with A > B the input's argmax has a - a' >= A - B > 0, with B > A the
        # reference's has a - a' <= A - B < 0. Where a == a' the multiplier meets a zero
        # difference, so any value keeps completeness; the plain gradient stands in.
        gradient = torch.zeros_like(a).scatter_add_(-1, idx, g)
        multiplier = torch.where(
            delta == 0, gradient, contribution / torch.where(delta == 0, 1.0, delta)
        )
        return _both(multiplier.to(grad.dtype)), None, None


def _window_max(x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """:class:`_Max` on any shapes: flattens the window and position dims per channel."""
    lead = x.shape[:2]
    flat = _Max.apply(
        x.reshape(*lead, -1), y.detach().reshape(*lead, -1), indices.reshape(*lead, -1)
    )
    return flat.reshape(y.shape)


def _reduce_max(x: torch.Tensor, dim: int, keepdim: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values, indices)`` of the max over ``dim`` with the DeepSHAP max rule."""
    moved = x.movedim(dim, -1)
    lead = moved.shape[:-1]
    flat = moved.reshape(moved.shape[0], -1, moved.shape[-1])
    values, indices = flat.detach().max(dim=-1, keepdim=True)
    out = _Max.apply(flat, values, indices).reshape(lead)
    idx = indices.reshape(lead)
    if keepdim:
        out, idx = out.unsqueeze(dim), idx.unsqueeze(dim)
    return out, idx


# ------------------------------------------------------------------------------- LSTM


def _lstm_direction(
    seq: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    weights: list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM layer in one direction over ``seq (B, T, F)``: outputs ``(B, T, H)``, h, c."""
    w_ih, w_hh = weights[0], weights[1]
    b_ih = weights[2] if len(weights) > 2 else None
    b_hh = weights[3] if len(weights) > 3 else None
    projected = F.linear(seq, w_ih, b_ih)  # every step's input term at once
    outputs = []
    for t in range(seq.shape[1]):
        gates = projected[:, t] + F.linear(h, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
        i, f, o = rescale(torch.sigmoid, i), rescale(torch.sigmoid, f), rescale(torch.sigmoid, o)
        g = rescale(torch.tanh, g)
        c = product(f, c) + product(i, g)
        h = product(o, rescale(torch.tanh, c))
        outputs.append(h)
    return torch.stack(outputs, dim=1), h, c


def _lstm(args: tuple, kwargs: dict) -> tuple[torch.Tensor, ...] | None:
    """``torch.lstm``'s unpacked form with the rules, or None for what it does not cover."""
    names = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train")
    names += ("bidirectional", "batch_first")
    if len(args) + len(kwargs) != len(names) or isinstance(args[1], torch.Tensor):
        return None  # the packed-sequence form
    bound = dict(zip(names, args, strict=False)) | kwargs
    x, (h0, c0), params = bound["input"], bound["hx"], list(bound["params"])
    layers, directions = int(bound["num_layers"]), 2 if bound["bidirectional"] else 1
    per = 4 if bound["has_biases"] else 2
    if len(params) != layers * directions * per or h0.shape[-1] != c0.shape[-1]:
        return None  # projections (proj_size)
    if bound["train"] and bound["dropout"] > 0 and layers > 1:
        return None  # random dropout between layers: not a function of the input
    if x.dim() != 3:
        return None  # an unbatched sequence
    seq = x if bound["batch_first"] else x.transpose(0, 1)
    h_out, c_out = [], []
    for layer in range(layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            weights = params[k * per : (k + 1) * per]
            run = seq if d == 0 else seq.flip(1)
            out, h, c = _lstm_direction(run, h0[k], c0[k], weights)
            outs.append(out if d == 0 else out.flip(1))
            h_out.append(h)
            c_out.append(c)
        seq = torch.cat(outs, dim=2)
    output = seq if bound["batch_first"] else seq.transpose(0, 1)
    return output, torch.stack(h_out), torch.stack(c_out)


# ----------------------------------------------------------------------- the mode


def _elementwise() -> dict[Callable, Callable]:
    """Element-wise non-linear functions -> the function of one tensor to rescale."""
    unary: list[Callable] = [
        torch.relu,
        torch.Tensor.relu,
        torch.sigmoid,
        torch.Tensor.sigmoid,
        torch.tanh,
        torch.Tensor.tanh,
        F.sigmoid,
        F.tanh,
        torch.exp,
        torch.Tensor.exp,
    ]
    with_args: list[Callable] = [
        F.relu,
        F.relu6,
        F.elu,
        F.selu,
        F.celu,
        F.leaky_relu,
        F.gelu,
        F.silu,
        F.mish,
        F.softplus,
        F.logsigmoid,
        F.softsign,
        F.hardtanh,
    ]
    table: dict[Callable, Callable] = {fn: fn for fn in unary}
    table.update({fn: fn for fn in with_args})
    return table


_ELEMENTWISE = _elementwise()
#: Functional non-linearities whose ``inplace`` flag may come positionally: its position
#: after the input (F.relu(x, inplace), F.elu(x, alpha, inplace), ...).
_INPLACE_POSITION = {F.relu: 1, F.relu6: 1, F.selu: 1, F.elu: 2, F.celu: 2, F.leaky_relu: 2}
_INPLACE_POSITION[F.hardtanh] = 3
_MAX_POOLS = {F.max_pool1d: 1, F.max_pool2d: 2}
_AMAX = (torch.amax, torch.Tensor.amax)
_MAX = (torch.max, torch.Tensor.max)


def _out_of_place(func: Callable, rest: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The arguments after the input, with ``inplace`` off: the rule needs the input kept."""
    at = _INPLACE_POSITION.get(func)
    if at is not None and len(rest) >= at:
        rest = (*rest[: at - 1], False, *rest[at:])
    if "inplace" in kwargs:
        kwargs = {**kwargs, "inplace": False}
    return rest, kwargs


def _dim_arg(args: tuple, kwargs: dict, position: int) -> Any:
    return kwargs.get("dim", args[position] if len(args) > position else None)


class DeepLiftRules(TorchFunctionMode):
    """Inside this context, supported operations backpropagate DeepLIFT multipliers.

    Forward values are unchanged (the LSTM's to float rounding: it is recomputed step by
    step). The batch must be ``[inputs; references]`` of equal halves, and the gradient
    requested for both halves alike (``out[:, t].sum()``), as
    :func:`deeplift_multipliers` does. Outside the context the model is untouched.

    Attributes
    ----------
    unsupported
        Names of the ``torch.lstm`` calls and max reductions that got no rule (packed
        sequences, projections, reductions over the batch): they are differentiated as
        usual.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unsupported: set[str] = set()

    def __torch_function__(
        self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = dict(kwargs or {})
        out = self._rule(func, args, kwargs)
        if out is not NotImplemented:
            return out
        return func(*args, **kwargs)

    def _rule(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        if func in _ELEMENTWISE and args and isinstance(args[0], torch.Tensor):
            rest, options = _out_of_place(func, args[1:], kwargs)
            return rescale(lambda t: func(t, *rest, **options), args[0])
        if func in _MAX_POOLS:
            return self._pool(func, args, kwargs)
        if func is F.adaptive_max_pool1d:
            want = bool(kwargs.pop("return_indices", args[2] if len(args) > 2 else False))
            x = args[0]
            if x.dim() != 3:
                return NotImplemented
            y, idx = func(x, *args[1:2], **kwargs, return_indices=True)
            out = _window_max(x, y, idx)
            return (out, idx) if want else out
        if func in _AMAX or func in _MAX:
            return self._reduction(func, args, kwargs)
        if func is torch.lstm:
            out = _lstm(args, kwargs)
            if out is None:
                self.unsupported.add("torch.lstm")
                return NotImplemented
            return out
        return NotImplemented

    def _pool(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        x = args[0]
        if x.dim() != 2 + _MAX_POOLS[func]:
            self.unsupported.add(getattr(func, "__name__", "max_pool"))
            return NotImplemented
        names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        bound = dict(zip(names, args[1:], strict=False)) | kwargs
        want = bool(bound.pop("return_indices", False))
        y, idx = func(x, **bound, return_indices=True)
        out = _window_max(x, y, idx)
        return (out, idx) if want else out

    def _reduction(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        x = args[0]
        dim = _dim_arg(args, kwargs, 1)
        if isinstance(dim, (tuple, list)) and len(dim) == 1:
            dim = dim[0]
        if not isinstance(x, torch.Tensor):
            return NotImplemented
        if isinstance(dim, torch.Tensor):
            self.unsupported.add("the element-wise max of two tensors")
            return NotImplemented
        if isinstance(dim, (tuple, list)):
            self.unsupported.add("a max over several dimensions")
            return NotImplemented
        if dim is None or x.dim() < 2 or dim % x.dim() == 0:
            self.unsupported.add("a max over the batch")
            return NotImplemented
        keepdim = bool(kwargs.get("keepdim", args[2] if len(args) > 2 else False))
        values, indices = _reduce_max(x, dim % x.dim(), keepdim)
        if func in _AMAX:
            return values
        return torch.return_types.max((values, indices))


# ------------------------------------------------------------------------------- API


def deeplift_multipliers(
    model: nn.Module,
    inputs: torch.Tensor,
    references: torch.Tensor,
    targets: list[int],
) -> tuple[torch.Tensor, torch.Tensor, set[str]]:
    """DeepLIFT multipliers of each target's output for input-reference pairs.

    Parameters
    ----------
    model
        In eval mode; takes ``(batch, ...)`` and returns ``(batch, n_targets)``.
    inputs, references
        The same shape ``(P, ...)``: pair ``i`` is ``inputs[i]`` against
        ``references[i]``.
    targets
        Output columns.

    Returns
    -------
    multipliers : torch.Tensor, shape=(P, ..., len(targets))
        ``sum((inputs - references) * multipliers[..., k])`` over all but the first axis
        equals ``out[:, t_k]`` of the inputs minus that of the references (completeness).
    outputs : torch.Tensor, shape=(2P, n_targets)
        The model's outputs for ``[inputs; references]``, detached.
    unsupported
        Operations that got no rule (see :class:`DeepLiftRules`).
    """
    both = torch.cat([inputs, references]).detach().requires_grad_(True)
    rules = DeepLiftRules()
    with torch.enable_grad(), rules:
        out = model(both)
    grads = []
    for k, t in enumerate(targets):
        # Both halves alike: every rule then sees equal gradients for the input and the
        # reference of a pair, and gives both the pair's multipliers.
        (grad,) = torch.autograd.grad(out[:, t].sum(), both, retain_graph=k < len(targets) - 1)
        grads.append(grad[: len(inputs)])
    stacked = torch.stack(grads, dim=-1) if grads else both.new_zeros((*inputs.shape, 0))
    return stacked, out.detach(), rules.unsupported
