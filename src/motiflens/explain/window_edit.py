"""Edits of a window of a sequence through only the columns of each layer they change.

Motif insertion (:mod:`motiflens.explain.insertion`) writes a ``w``-base motif instance
over positions ``start .. start + w - 1`` of a background: a multi-base substitution.
Like a single-base mutant in fast ISM (:mod:`motiflens.explain.fast_ism`), it changes
only a window of every layer's output, so :class:`WindowEdit` runs the backgrounds once,
keeps every layer's output, and pushes edits that share their window through the changed
columns only. A batch holds ``R`` edits of each of the ``n`` backgrounds, so the
reference of a window is one slice of every layer's output, broadcast over the ``R``
edits (no gathers):

* The first convolution of a one-hot input is a sum of table rows: an input column that
  changes from base ``r`` to ``b`` changes the output column it reaches through tap ``t``
  by ``W[:, b, t] - W[:, r, t]`` (``r`` may be an N, a column of 0.25), one
  ``embedding_bag`` over the ``w x k`` (column, tap) pairs instead of a product.
* Any other convolution is linear: the change of its output is the full linear
  convolution of the change of its input with the kernel (``w + reach`` columns from
  ``w``), in the DFT basis of :func:`~motiflens.explain.fast_ism.spectral` (one batched
  product over the frequencies; the window padded with zero change to a multiple of
  :data:`PAD_COLUMNS` columns, so that a few DFT sizes serve every window), else
  :func:`~motiflens.explain.fast_ism.conv_change`. The reference output of those columns
  is added. Zero padding never changes, so this is exact up to the sequence ends, where
  the window is clipped.
* Element-wise layers run on the window's values; a ReLU right before a max-pool runs
  after it (``max`` and ``ReLU`` commute exactly), on fewer columns.
* A max-pool recomputes the pool windows that overlap the changed columns: those inside
  the window from the window alone, the (at most two) partial ones at its ends with the
  maximum of the reference columns they also read; columns past the input's end (ceil
  mode's partial last window) count as ``-inf``, columns no pool window reads (floor
  mode's tail) are dropped.
* The head: a flatten followed by a linear layer gets the reference pre-activation plus
  ``W[:, changed slice] @ change`` (a low-rank update); a global max the maximum of the
  window and of the reference outside it; a global mean the reference mean plus the
  change over the length. The layers after that run on the batch.

On CPU, for Basset's layout (each conv followed by at most a ReLU and a max-pool of stride =
kernel, then flatten + dense), the edits run through fast ISM's compiled kernels instead
(:meth:`~motiflens.explain.fast_ism.FastISM.window_outputs`: an edit is a mutant with a
wider window; the steps between the products fused per edit while its windows are in
cache, the products through oneDNN with packed weights), which keeps every layer's output;
``compiled=False`` keeps this module's torch path. Otherwise only the layer outputs that
edits read are kept from the reference pass (about 0.16 MB per background on the demo
model). The model's layers come from
:func:`~motiflens.explain.ism_plan.plan_model` (the same
description fast ISM uses); :func:`check_window_edit` compares this path with the model
before it is trusted. The arithmetic is that of the model up to float rounding (about
1e-7 on the demo model's logits).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.explain.fast_ism import FastISM, conv_change, spectral
from motiflens.explain.ism_plan import Affine, Conv, Op, Plan, Pointwise, Pool

__all__ = ["WindowEdit", "check_window_edit", "edited_copies"]

#: A convolution's input window is padded (with zero change) to a multiple of this.
PAD_COLUMNS = 4
#: Backgrounds per step of the reference pass.
REF_CHUNK = 16


def _full(op: Op, h: torch.Tensor) -> torch.Tensor:
    """One op on whole ``(n, C, L)`` sequences (the reference pass)."""
    if isinstance(op, Conv):
        return F.conv1d(F.pad(h, op.pad), op.weight, op.bias, dilation=op.dilation)
    if isinstance(op, Affine):
        return h * op.scale[:, None] + op.shift[:, None]
    if isinstance(op, Pool):
        return F.max_pool1d(h, op.kernel, op.stride, ceil_mode=op.ceil_mode)
    return op.fn(h)


def _is_relu(op: Op) -> bool:
    return isinstance(op, Pointwise) and type(op.fn) is nn.ReLU


class WindowEdit:
    """The reference pass of ``n`` backgrounds, then edits of one window through its changes.

    Windows are ``(w, R, n, C)`` arrays (column first, so that a layer's columns are the
    leading axis of every product): the values of ``R`` edits of each background at
    columns ``a .. a + w - 1`` of a layer's output, always inside it.

    Parameters
    ----------
    plan
        From :func:`~motiflens.explain.ism_plan.plan_model`.
    x
        ``(n, 4, L)`` background sequences, on the device to use.
    compiled
        Use fast ISM's compiled kernels where they apply (CPU, Basset's layout); off
        only to run (and test) this module's own path there.

    Attributes
    ----------
    reference
        ``(n, T)`` outputs of the backgrounds, as this path computes them.
    """

    def __init__(self, plan: Plan, x: torch.Tensor, *, compiled: bool = True) -> None:
        self.plan = plan
        ops = plan.ops
        # On CPU, for Basset's layout, fast ISM's compiled kernels run the edits (the
        # pools and DFT transforms fused per edit, the products through oneDNN): about
        # 1.5x faster on the demo model. Everything below is then unused.
        self._compiled: FastISM | None = None
        if (
            compiled
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and plan.head.kind == "flatten"
            and ops
            and isinstance(ops[0], Conv)
        ):
            fast = FastISM(plan, x)
            if fast.stages is not None:
                self._compiled = fast
                self.refs, self.reference = fast.refs, fast.reference
                return
        # Input base codes (0-3, 4 for an N column of 0.25) when every column is one of
        # those and the model starts with a convolution: its table (see _first_conv).
        self.codes: torch.Tensor | None = None
        if ops and isinstance(ops[0], Conv) and x.shape[1] == 4:
            hot = ((x == 0) | (x == 1)).all(1) & ((x == 1).sum(1) == 1)
            n_col = (x == 0.25).all(1)
            if bool((hot | n_col).all()):
                # One-hot columns: the index of the 1 (faster than argmax over 4 rows).
                index = x[:, 1] + 2 * x[:, 2] + 3 * x[:, 3]
                self.codes = torch.where(n_col, 4, index.long())
        # Layer outputs no edit reads are not kept: the input where the table replaces
        # it, and a ReLU's before a pool (the pool runs first, on the ReLU's input).
        unread = {0} if self.codes is not None else set()
        unread |= {k + 1 for k in range(len(ops) - 1) if self._swaps(k)}
        # (L, n, C): a window of every background is one contiguous slice. The pass runs
        # REF_CHUNK backgrounds at a time, each output copied while still in cache
        # (about 1.6x faster than one pass over 256 demo-model backgrounds).
        n = x.shape[0]
        self._cache: dict[tuple, Any] = {}
        self.refs: list[torch.Tensor] = []
        last = []
        for i in range(0, n, REF_CHUNK):
            h = x[i : i + REF_CHUNK]
            for k in range(len(ops) + 1):
                if k:
                    h = _full(ops[k - 1], h)
                if i == 0:
                    keep = k not in unread
                    shape = (h.shape[-1], n if keep else 0, h.shape[1])
                    if k == 1 and self.codes is not None:
                        # The first conv's output lies after the rows of its change table,
                        # so that one embedding_bag reads both without a concatenation.
                        table = self._table(ops[0])  # type: ignore[arg-type]
                        rows = table.shape[0]
                        self._bags = h.new_empty((rows + shape[0] * shape[1], shape[2]))
                        self._bags[:rows] = table
                        self.refs.append(self._bags[rows:].view(shape))
                    else:
                        self.refs.append(h.new_empty(shape))
                if k not in unread:
                    self.refs[k][:, i : i + h.shape[0]] = h.permute(2, 0, 1)
            last.append(h)
        h = torch.cat(last)
        self.lengths = [int(r.shape[0]) for r in self.refs]
        head = plan.head
        if head.kind == "flatten":
            assert head.linear is not None
            self.h0 = head.linear(h.flatten(1))
            c, lf = h.shape[1], h.shape[2]
            # (Lf, C, H): the first dense layer's weights by position and channel.
            self.dense = head.linear.weight.detach().reshape(-1, c, lf).permute(2, 1, 0)
            self.reference = self._rest(self.h0)
        elif head.kind == "max":
            self.g0 = h.amax(-1)
            last = self.refs[-1]
            ninf = torch.full_like(last[:1], float("-inf"))
            # prefix[p] = max of the columns before p; suffix[p] = from p on.
            self.prefix = torch.cat([ninf, last.cummax(0).values], 0)
            self.suffix = torch.cat([last.flip(0).cummax(0).values.flip(0), ninf], 0)
            self.reference = self._rest(self.g0)
        else:
            self.g0 = h.mean(-1)
            self.reference = self._rest(self.g0)

    def _rest(self, h: torch.Tensor) -> torch.Tensor:
        for mod in self.plan.head.rest:
            h = mod(h)
        return h

    def outputs(self, start: int, bases: torch.Tensor) -> torch.Tensor:
        """Outputs ``(R, n, T)`` of the backgrounds with columns from ``start`` replaced.

        Parameters
        ----------
        start
            First edited column; ``0 <= start`` and ``start + w <= L``.
        bases
            ``(R, n, w)`` int64 codes 0-3 (A, C, G, T): edit ``i`` of background ``j``
            writes ``bases[i, j]`` at columns ``start .. start + w - 1``.
        """
        if self._compiled is not None:
            return self._compiled.window_outputs(int(start), bases)
        r, n, w = bases.shape
        ops = self.plan.ops
        a, k = int(start), 0
        if self.codes is not None:
            values, a, w = self._first_conv(ops[0], bases, a)  # type: ignore[arg-type]
            k = 1
        else:
            values = F.one_hot(bases, 4).to(self.refs[0].dtype).permute(2, 0, 1, 3).contiguous()
        while k < len(ops):
            op = ops[k]
            if isinstance(op, Conv):
                # Zero columns pad the change to a multiple of PAD_COLUMNS: a few DFT sizes
                # serve every window (their forms cost more than the extra products).
                wp = w if w <= 2 else -(-w // PAD_COLUMNS) * PAD_COLUMNS
                change = values.new_empty((wp, r, n, values.shape[-1]))
                torch.sub(values, self.refs[k][a : a + w, None], out=change[:w])
                change[w:].zero_()
                delta = self._conv_change(change.view(wp, r * n, -1), op)[: w + op.reach]
                delta = delta.view(w + op.reach, r, n, -1)
                values, a, w = self._add_reference(delta, k + 1, a + op.pad[0] - op.reach)
            elif isinstance(op, Pool):
                values, a, w = self._pool(op, k, values, a, w)
            elif self._swaps(k):
                # Pool first, on the ReLU's input, then the ReLU: max and ReLU commute.
                values, a, w = self._pool(ops[k + 1], k + 1, values, a, w, ref=k)  # type: ignore[arg-type]
                values = values.relu_()
                k += 1
            elif isinstance(op, Affine):
                values = values * op.scale + op.shift
            else:
                values = op.fn(values)
            k += 1
            if w == 0:  # only columns that no pool window reads changed
                return self.reference.expand(r, -1, -1).clone()
        return self._head(values, a, w, k)

    def _add_reference(self, delta: torch.Tensor, k: int, lo: int) -> tuple[torch.Tensor, int, int]:
        """Layer ``k``'s values where ``delta`` (its change from column ``lo``) lies inside."""
        a, hi = max(lo, 0), min(lo + delta.shape[0], self.lengths[k])
        delta = delta[a - lo : hi - lo]
        ref = self.refs[k][a:hi, None]
        # In place where the change is a fresh contiguous array (the DFT path's).
        return (delta.add_(ref) if delta.is_contiguous() else delta + ref), a, hi - a

    def _conv_change(self, change: torch.Tensor, op: Conv) -> torch.Tensor:
        """``(w + reach, M, out)`` change of a conv's output from its input's ``(w, M, in)``.

        In the DFT basis of :func:`~motiflens.explain.fast_ism.spectral` where it has one
        (the per-frequency products as one batched product), else
        :func:`~motiflens.explain.fast_ism.conv_change`.
        """
        w, m, cin = change.shape
        spec = spectral(op, w)
        if spec is None:
            return conv_change(change.transpose(0, 1), op)[0].transpose(0, 1)
        key = ("spectral", id(op), w)
        if key not in self._cache:
            self._cache[key] = torch.stack([x.t() for x in spec.weights])  # (P, in, out)
        p = spec.forward.shape[0]
        u = (spec.forward @ change.reshape(w, m * cin)).view(p, m, cin)
        y = torch.bmm(u, self._cache[key])
        return (spec.inverse @ y.view(p, -1)).view(-1, m, y.shape[-1])

    def _first_conv(self, op: Conv, bases: torch.Tensor, a: int) -> tuple[torch.Tensor, int, int]:
        """The first convolution's output window, as sums of table rows.

        Each output column of each edit is one bag of an ``embedding_bag``: the rows of the
        change that each (column, tap) pair reaching it makes (row (tap, new base,
        reference code) of :meth:`_table`), and the background's reference value of that
        column (rows appended to the table), so the sum is the value itself.
        """
        r, n, w = bases.shape
        m = r * n
        lo, q, fixed, cols, starts = self._pattern(op, a, w)
        # Each entry's row: its fixed part, plus 5 x the new base of its column (0 for
        # the reference value, whose column is the appended zero).
        new = torch.cat([bases.reshape(m, w) * 5, bases.new_zeros((m, 1))], 1)
        idx = (torch.index_select(new, 1, cols).view(r, n, -1) + fixed).view(-1)
        offsets = (torch.arange(m, device=idx.device)[:, None] * cols.numel() + starts).view(-1)
        values = F.embedding_bag(idx, self._bags, offsets, mode="sum")
        # Bags are (edit, column): the window as (column, R, n, C) is a strided view
        # (reordering the bags instead costs more than the pool's strided reads).
        return values.view(r, n, q, -1).permute(2, 0, 1, 3), lo, q

    def _table(self, op: Conv) -> torch.Tensor:
        """``(k * 4 * 5, out)``: row ``(tap, new base, reference code)`` of the change."""
        key = ("table", id(op))
        if key not in self._cache:
            w = op.weight.permute(2, 1, 0)  # (k, 4, out)
            refs = torch.cat([w, w.mean(1, keepdim=True)], 1)  # code 4: an N (0.25 each)
            self._cache[key] = (w[:, :, None] - refs[:, None]).reshape(-1, w.shape[-1])
        return self._cache[key]

    def _pattern(self, op: Conv, a: int, w: int) -> tuple[Any, ...]:
        """How :meth:`_first_conv` lays out an edit's bags for ``w`` columns at ``a``.

        One bag per output column ``j``: the (column, tap) pairs that reach it, then its
        reference value. Returns ``lo`` (the first output column inside the layer),
        ``Q`` (output columns), ``fixed`` (``(n, E)``: each entry's row without its new
        base: ``20 tap + reference code``, or the reference value's row ``20 k + j n +
        background``), ``cols`` (each entry's edited column, ``w`` for a reference
        value) and ``starts`` (where each bag begins).
        """
        assert self.codes is not None
        key = ("pattern", id(op), a, w)
        if key not in self._cache:
            k = op.weight.shape[-1]
            first = a + op.pad[0] - op.reach  # output column of the change's column 0
            out = np.arange(w + op.reach)
            out = out[(first + out >= 0) & (first + out < self.lengths[1])]
            q = out.size
            # Input column i reaches output column i + pad - t * dilation.
            i = out[:, None] - op.reach + np.arange(k)[None, :] * op.dilation
            keep = np.c_[(i >= 0) & (i < w), np.ones(q, bool)]
            cols = np.c_[i, np.full(q, w)][keep]
            taps = np.c_[np.broadcast_to(np.arange(k), i.shape), np.zeros(q, int)][keep]
            j = np.nonzero(keep)[0]
            n = self.codes.shape[0]
            bg = np.arange(n)[:, None]
            codes = self.codes.cpu().numpy()[:, a + np.minimum(cols, w - 1)]
            lo = int(first + out[0])
            # Rows of the reference values: after the table, (column, background) order.
            fixed = np.where(cols == w, k * 20 + (lo + j) * n + bg, taps * 20 + codes)
            starts = np.concatenate([[0], np.cumsum(keep.sum(1))[:-1]])
            dev = op.weight.device
            self._cache[key] = (
                lo,
                q,
                *(torch.as_tensor(v, dtype=torch.long, device=dev) for v in (fixed, cols, starts)),
            )
        return self._cache[key]

    def _swaps(self, k: int) -> bool:
        """Whether op ``k`` is a ReLU right before a max-pool (they run swapped)."""
        ops = self.plan.ops
        return _is_relu(ops[k]) and k + 1 < len(ops) and isinstance(ops[k + 1], Pool)

    def _pool(
        self, op: Pool, k: int, values: torch.Tensor, a: int, w: int, ref: int | None = None
    ) -> tuple[torch.Tensor, int, int]:
        """The pool windows that read columns ``a .. a + w - 1`` of layer ``k``, recomputed.

        ``ref``: the layer whose reference the pool reads instead of layer ``k``'s (the
        ReLU's input when the two run swapped).
        """
        length, n_out, s, kw = self.lengths[k], self.lengths[k + 1], op.stride, op.kernel
        p0 = max(0, -((kw - 1 - a) // s))  # ceil((a - kernel + 1) / stride)
        p1 = min(n_out, (a + w - 1) // s + 1)
        if p1 <= p0:
            return values[:0], p0, 0
        ref_out = self.refs[k if ref is None else ref]
        # Windows inside the edit come from it alone, in one reduction; the others also
        # read reference columns (nothing past the input's end).
        i0 = max(p0, -(-a // s))
        i1 = max(i0, min(p1, (a + w - kw) // s + 1))
        out = values.new_empty((p1 - p0, *values.shape[1:]))
        if i1 > i0:
            inner = values[i0 * s - a : (i1 - 1) * s + kw - a]
            if s == kw:
                torch.amax(inner.unflatten(0, (i1 - i0, kw)), 1, out=out[i0 - p0 : i1 - p0])
            else:
                torch.amax(inner.unfold(0, kw, s), -1, out=out[i0 - p0 : i1 - p0])
        for p in [*range(p0, i0), *range(max(i0, i1), p1)]:
            lo, hi = p * s, min(p * s + kw, length)
            v = out[p - p0]
            torch.amax(values[max(lo, a) - a : min(hi, a + w) - a], 0, out=v)
            if lo < a:
                torch.maximum(v, ref_out[lo:a].amax(0), out=v)
            if hi > a + w:
                torch.maximum(v, ref_out[a + w : hi].amax(0), out=v)
        return out, p0, p1 - p0

    def _head(self, values: torch.Tensor, a: int, w: int, k: int) -> torch.Tensor:
        head = self.plan.head
        r, n = values.shape[1:3]
        if head.kind == "max":
            outside = torch.maximum(self.prefix[a], self.suffix[a + w])
            g = torch.maximum(values.amax(0), outside)
            return self._rest(g.view(r * n, -1)).view(r, n, -1)
        change = values - self.refs[k][a : a + w, None]
        if head.kind == "mean":
            g = self.g0 + change.sum(0) / self.lengths[k]
            return self._rest(g.view(r * n, -1)).view(r, n, -1)
        # Flatten + linear: the reference pre-activation + W[:, window] @ change.
        flat = change.permute(1, 2, 0, 3).reshape(r, n, -1)
        hidden = (flat @ self._dense_slice(a, w)).add_(self.h0)
        return self._rest(hidden.view(r * n, -1)).view(r, n, -1)

    def _dense_slice(self, a: int, w: int) -> torch.Tensor:
        """The first dense layer's ``(w * C, H)`` weights on columns ``a .. a + w - 1``."""
        key = ("dense", a, w)
        if key not in self._cache:
            view = self.dense[a : a + w]  # (w, C, H)
            self._cache[key] = view.reshape(-1, view.shape[-1]).contiguous()
        return self._cache[key]


def edited_copies(x: torch.Tensor, start: int, bases: torch.Tensor) -> torch.Tensor:
    """``(R * n, 4, L)``: ``x`` with ``bases (R, n, w)`` written from column ``start``.

    Edit ``i`` of background ``j`` is row ``i * n + j``.
    """
    r, n, w = bases.shape
    edited = x.repeat(r, 1, 1)
    edited[:, :, start : start + w] = (
        F.one_hot(bases, 4).to(x.dtype).view(r * n, w, 4).transpose(1, 2)
    )
    return edited


def check_window_edit(
    model: nn.Module, plan: Plan, x: torch.Tensor, width: int, *, seed: int = 0
) -> str | None:
    """None when this path gives the model's outputs on a few edits, else why not.

    The edits are ``width`` random bases at both ends and in the middle of the first
    background (padding at the ends, the pools' partial windows). The model must be in
    eval mode.
    """
    try:
        x0 = x[:1]
        fast = WindowEdit(plan, x0)
        ref = model(x0)
        # Float rounding only (about 1e-7 here); far above it means a wrong plan. cuDNN
        # runs float32 convolutions in TF32 by default, which rounds much more.
        scale = max(1.0, float(ref.abs().max()))
        tf32 = x.device.type == "cuda" and torch.backends.cudnn.allow_tf32
        tol = (1e-2 if tf32 else 1e-4) * scale
        err = float((fast.reference - ref).abs().max())
        if not err <= tol:
            return f"its reference pass differs from the model's output by {err:.3g}"
        length = x.shape[-1]
        width = max(1, min(width, length))
        gen = np.random.default_rng(seed)
        for start in sorted({0, (length - width) // 2, length - width}):
            bases = torch.as_tensor(gen.integers(0, 4, (2, 1, width)), device=x.device)
            want = model(edited_copies(x0, start, bases))
            err = float((fast.outputs(start, bases).reshape(want.shape) - want).abs().max())
            if not err <= tol:
                return f"an edit at {start} differs from the model's output by {err:.3g}"
    except Exception as err:  # any failure means: use the full forward passes
        return f"the fast path failed ({type(err).__name__}: {err})"
    return None
