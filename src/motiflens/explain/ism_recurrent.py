"""Exact ISM for recurrent models: each LSTM direction reruns only from the first changed step.

A recurrent model is ``head(readout(features(x)))``
(:meth:`~motiflens.models.SequenceModel.recurrent_parts`): per-position features (the
one-hot itself for an RNN, the first conv layer for a CNN-RNN), an
:class:`~motiflens.models.LSTMReadout` (a forward LSTM stack, optionally a backward one
on the reversed steps, outputs pooled over time by a max or a mean), then a head. A
substitution changes the features on a few steps only (the conv's reach). Before the
first changed step the forward LSTM's states (every layer's ``h`` and ``c``) are the
reference's, so a mutant's forward pass starts there from the cached states; after the
last changed step the backward direction's are, so it starts there (in reversed order).
The pooled outputs combine the reference's prefix maxima (or sums) before the start with
the recomputed tail. Everything after the first changed step is recomputed: the
recurrence carries the change to the end.

A mutant's features are computed on the columns it can change only, when the model's
features are one convolution (or none) and element-wise layers that the model lists
(its ``first_block``; the one-hot itself when it has none), which is checked against the
model's features on every column of the reference; otherwise on the whole mutant. Either
way they are compared with the reference's, so a mutant starts at its first step that
really changed (equal features give equal LSTM states) and one whose features do not
change at all has the reference output. The mutants of a chunk run through the model's
own ``nn.LSTM`` (oneDNN's fused recurrence on CPU), in groups whose starts fall in the
same block of :data:`START_STEP` steps, each group from the block's start with the
cached states of its rows: the steps run are about half of the naive computation's per
direction. The reference's states at every step come from stepping the recurrence here,
once per sequence.

Measured on DeMo's CNN-RNN at 101 bp (bidirectional LSTM of 32 units after 128 filters
of 9, ``bench/ism.py``, 2 threads): 1.25-1.4x faster than the naive computation at its
best batch for whole calls on a few sequences, 1.75x on the mutants alone (the reference
pass and the self-check are the rest). The steps run are 54% of the naive ones; the
naive path's convolution over every column and its copies are the part of its time that
this path does not halve but removes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from motiflens.explain.ism_plan import POINTWISE, SKIP, Affine, Conv, Op, Pointwise, bn_affine
from motiflens.explain.ism_plan import _conv as plan_conv
from motiflens.models import LSTMReadout, RecurrentParts, SequenceModel

__all__ = ["RecurrentISM", "RecurrentPlan", "recurrent_plan"]

#: Mutants whose features are computed at a time (they stay in cache).
FEATURE_BATCH = 64
#: Mutants whose first changed step falls in the same block of this many steps run
#: together from the block's start.
START_STEP = 8


@dataclass(frozen=True)
class RecurrentPlan:
    """A recurrent model's parts, as fast ISM uses them (:func:`recurrent_plan`).

    ``local``: the features as one convolution (or none) and element-wise layers, when
    the model says so (its ``first_block``, or no layer at all for a model whose
    features are the one-hot itself); then a mutant's features are computed on the
    few columns it changes. None: on the whole mutant, compared with the reference's.
    """

    parts: RecurrentParts
    local: list[Op] | None = None


def recurrent_plan(model: nn.Module) -> RecurrentPlan | str:
    """The model's recurrent parts, or why the prefix-cached path cannot run it."""
    name = type(model).__name__
    if not (isinstance(model, SequenceModel) and getattr(model, "is_recurrent", False)):
        return f"{name} is not a recurrent model"
    try:
        parts = model.recurrent_parts()
    except Exception as err:  # parts swapped for ones that cannot describe themselves
        return f"{name}: its recurrent parts failed ({type(err).__name__}: {err})"
    readout = parts.readout
    if type(readout) is not LSTMReadout:
        return f"{name}: its readout is not an LSTMReadout"
    for lstm in (readout.fwd, readout.bwd):
        if lstm is None:
            continue
        if type(lstm) is not nn.LSTM or not lstm.batch_first or lstm.bidirectional:
            return f"{name}: its readout holds an LSTM that is not a plain batch-first stack"
        if lstm.proj_size or lstm.mode != "LSTM":
            return f"{name}: LSTMs with projections are not supported"
    # The features' layers: the first block's, or none (the one-hot itself, as the RNN);
    # RecurrentISM checks them against the model's features before it uses them.
    block = getattr(model, "first_block", None)
    layers = block.layers() if block is not None and hasattr(block, "layers") else []
    return RecurrentPlan(parts, _local_ops(layers))


def _local_ops(mods: list[nn.Module]) -> list[Op] | None:
    """One conv (stride 1, zero padding) then element-wise layers, as ops; else None."""
    ops: list[Op] = []
    pad = (0, 0)
    for mod in mods:
        kind = type(mod)
        if kind in SKIP or (kind is nn.MaxPool1d and mod.kernel_size in (1, (1,))):
            continue
        if kind in (nn.ConstantPad1d, nn.ZeroPad1d) and not ops:
            if float(mod.value) != 0.0:  # type: ignore[attr-defined]
                return None
            left, right = mod.padding  # type: ignore[attr-defined]
            pad = (pad[0] + left, pad[1] + right)
        elif kind is nn.Conv1d and not ops:
            conv = mod
            if conv.groups != 1 or conv.stride not in (1, (1,)) or conv.padding_mode != "zeros":
                return None
            ops.append(plan_conv(conv, pad, "features"))  # type: ignore[arg-type]
        elif kind is nn.BatchNorm1d and mod.running_mean is not None:
            scale, shift = bn_affine(mod)  # type: ignore[arg-type]
            ops.append(Affine(scale, shift))
        elif kind in POINTWISE:
            ops.append(Pointwise(mod))
        else:
            return None
    return ops


class _Direction:
    """One LSTM stack of the readout and the reference's states along it.

    ``flip``: the backward stack, which reads the steps in reverse order; everything
    here is in its own reading order. The recurrence is stepped here rather than through
    ``nn.LSTM``: each mutant joins the batch at its own start step, with the cached
    states, and one call per step serves them all (oneDNN's fused LSTM cannot start rows
    at different steps, and a call per row or per step costs far more than the step).
    """

    def __init__(self, lstm: nn.LSTM, feats: torch.Tensor, flip: bool, pool: str) -> None:
        self.flip, self.pool, self.lstm = flip, pool, lstm
        # The cell input gate g takes tanh(x) = 2 sigmoid(2x) - 1: its weights and bias
        # doubled (exact in floating point), all four gates take one sigmoid over a
        # contiguous array (tanh on a strided slice is very slow on several threads).
        hid = lstm.hidden_size
        double = torch.ones(4 * hid, device=feats.device, dtype=feats.dtype)
        double[2 * hid : 3 * hid] = 2.0
        self.weights = [
            (
                (getattr(lstm, f"weight_ih_l{k}") * double[:, None]).t(),
                (getattr(lstm, f"weight_hh_l{k}") * double[:, None]).t(),
                _bias(lstm, k) * double,
            )
            for k in range(lstm.num_layers)
        ]
        self.hidden = lstm.hidden_size
        n, _, length = feats.shape
        self.length = length
        zero = feats.new_zeros((lstm.num_layers, n, self.hidden))
        start = torch.zeros(n, dtype=torch.long, device=feats.device)
        # States before each step, (L, layers, n, H): what a mutant starting there needs.
        self.h = feats.new_empty((length, lstm.num_layers, n, self.hidden))
        self.c = torch.empty_like(self.h)
        order = torch.arange(n, device=feats.device)
        out = self._scan(self.project(feats), order, start, zero, zero)  # (n, L, H)
        # prefix[:, s]: the pool's running value over steps 0 .. s-1 (-inf or 0 for none).
        if pool == "max":
            first = torch.full_like(out[:, :1], float("-inf"))
            self.prefix = torch.cat([first, out.cummax(1).values], 1)
            self.pooled = out.amax(1)
        else:
            self.prefix = torch.cat([torch.zeros_like(out[:, :1]), out.cumsum(1)], 1)
            self.pooled = out.mean(1)

    def project(self, feats: torch.Tensor) -> torch.Tensor:
        """The first layer's input projections ``(M, L, 4H)`` of features ``(M, C, L)``,
        bias included, in the input's step order: one product."""
        m, c, length = feats.shape
        w_ih, _, bias = self.weights[0]
        flat = feats.transpose(1, 2).reshape(m * length, c)
        return torch.addmm(bias, flat, w_ih).view(m, length, -1)

    def _scan(
        self,
        proj: torch.Tensor,
        order: torch.Tensor,
        start: torch.Tensor,
        h0: torch.Tensor,
        c0: torch.Tensor,
        pooled: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the stack on rows that start at ``start``; the last layer's outputs.

        ``proj`` from :meth:`project` (rows in any order, steps in the input's order; the
        backward stack reads them from the end); ``order``: its rows to run, sorted by
        ``start`` (in this direction's reading order) ascending; ``h0``/``c0``
        ``(layers, M, H)`` the states before each row's start step. Returns the outputs
        ``(M, L, H)`` in reading order (0 before a row's start), or, with ``pooled``
        ``(M, H)`` (the pool's value over the steps before each start), pools them into
        it and returns it. Without ``pooled`` (the reference) the states before every
        step are kept.
        """
        m, length = order.numel(), proj.shape[1]
        hid = self.hidden
        steps = torch.arange(length, device=start.device)
        # Rows active at step t: the first active[t] (those with start <= t).
        active = torch.searchsorted(start, steps, right=True).tolist()
        t0 = int(start[0]) if m else length
        record = pooled is None
        out = None
        for layer, (w_ih, w_hh, bias) in enumerate(self.weights):
            if layer:  # the previous layer's outputs, already in reading order
                assert out is not None
                proj = torch.addmm(bias, out.view(m * length, hid), w_ih).view(m, length, -1)
            h, c = h0[layer].clone(), c0[layer].clone()
            gates = proj.new_empty((m, proj.shape[-1]))
            last = layer == len(self.weights) - 1
            out = None if last and not record else proj.new_zeros((m, length, hid))
            for t in range(t0, length):
                a = active[t]
                if record:
                    self.h[t, layer], self.c[t, layer] = h, c
                if layer:
                    x_t = proj[:a, t]
                else:
                    x_t = proj[order[:a], length - 1 - t if self.flip else t]
                g_a, h_a, c_a = gates[:a], h[:a], c[:a]
                torch.addmm(x_t, h_a, w_hh, out=g_a).sigmoid_()
                # PyTorch's gate order i, f, g, o; g doubled: tanh(x) = 2 sigmoid(2x) - 1.
                g = g_a[:, 2 * hid : 3 * hid].mul_(2.0).sub_(1.0)
                c_a.mul_(g_a[:, hid : 2 * hid]).addcmul_(g_a[:, :hid], g)
                torch.tanh(c_a, out=h_a).mul_(g_a[:, 3 * hid :])
                if out is not None:
                    out[:a, t] = h_a
                elif self.pool == "max":
                    torch.maximum(pooled[:a], h_a, out=pooled[:a])  # type: ignore[index]
                else:
                    pooled[:a] += h_a  # type: ignore[index]
        if record:
            assert out is not None
            return out
        assert pooled is not None
        return pooled if self.pool == "max" else pooled / length

    def run(
        self,
        seq: torch.Tensor,
        start: torch.Tensor,
        inputs: Callable[[torch.Tensor, int], torch.Tensor],
    ) -> torch.Tensor:
        """Pooled outputs ``(M, H)`` of mutants of reference sequences ``seq`` whose first
        changed step (in this direction's reading order) is ``start``; ``inputs(rows, s)``
        gives the features of mutants ``rows`` at steps ``s ..`` (reading order), ``(B,
        L - s, C)``.

        Mutants run through the stack itself (``nn.LSTM``: oneDNN's fused recurrence on
        CPU) in groups that start together, at their start rounded down to a multiple of
        :data:`START_STEP` (the few reference steps between are recomputed, exactly), from
        the reference's states there.
        """
        length = self.length
        group = torch.div(start, START_STEP, rounding_mode="floor") * START_STEP
        pooled = self.prefix.new_empty((seq.numel(), self.hidden))
        for s in torch.unique(group).tolist():
            rows = (group == s).nonzero(as_tuple=True)[0]
            sq = seq[rows]
            h0 = self.h[s, :, sq].contiguous()  # (layers, M, H)
            c0 = self.c[s, :, sq].contiguous()
            out, _ = self.lstm(inputs(rows, s), (h0, c0))
            before = self.prefix[sq, s]
            if self.pool == "max":
                pooled[rows] = torch.maximum(before, out.amax(1))
            else:
                pooled[rows] = (before + out.sum(1)) / length
        return pooled


def _bias(lstm: nn.LSTM, k: int) -> torch.Tensor:
    bias = [getattr(lstm, f"bias_{kind}_l{k}", None) for kind in ("ih", "hh")]
    parts = [b for b in bias if b is not None]
    if not parts:
        return lstm.weight_ih_l0.new_zeros(4 * lstm.hidden_size)
    return parts[0] + parts[1] if len(parts) == 2 else parts[0]


class RecurrentISM:
    """The reference pass of recurrent models' sequences, then mutants from their starts.

    The same interface as :class:`~motiflens.explain.fast_ism.FastISM`: ``reference``
    ``(n, T)`` logits and :meth:`outputs`.

    Parameters
    ----------
    plan
        From :func:`recurrent_plan`.
    x
        ``(n, 4, L)`` reference sequences, on the device to use.
    """

    def __init__(self, plan: RecurrentPlan, x: torch.Tensor) -> None:
        self.plan = plan
        self.x = x
        parts = plan.parts
        readout = parts.readout
        self.feats = parts.features(x)  # (n, C, L)
        self.local = plan.local
        if self.local is not None:
            conv = next((op for op in self.local if isinstance(op, Conv)), None)
            self.reach = 0 if conv is None else conv.reach
            self.pad_left = 0 if conv is None else conv.pad[0]
            # The windowed features must be the model's: checked on every reference column.
            n, _, length = x.shape
            seq = torch.arange(n, device=x.device).repeat_interleave(length)
            pos = torch.arange(length, device=x.device).repeat(n)
            got, cols, inside = self._window_feats(seq, pos, None)
            want = self.feats.transpose(1, 2)[seq[:, None], cols.clamp(0, length - 1)]
            scale = 1.0 + float(want.abs().max()) if want.numel() else 1.0
            if got.shape != want.shape or not bool(
                ((got - want).abs() <= 1e-5 * scale)[inside].all()
            ):
                self.local = None
        # Each direction's reference steps in its reading order, time-major (L, n, C):
        # gathered for a group of mutants, it is the layout the LSTM runs in (batch-first
        # input is transposed to it), so no copy is made there.
        self.steps = [
            (self.feats.flip(-1) if flip else self.feats).permute(2, 0, 1).contiguous()
            for flip in (False, True)[: 1 + (readout.bwd is not None)]
        ]
        stacks = [(readout.fwd, False)]
        if readout.bwd is not None:
            stacks.append((readout.bwd, True))
        self.dirs = [_Direction(lstm, self.feats, flip, readout.pool) for lstm, flip in stacks]
        self.pooled = torch.cat([d.pooled for d in self.dirs], 1)
        self.reference = parts.head(readout.drop(self.pooled))
        # What the mutants cost: LSTM steps run, and mutants whose features did not change.
        self.stats = {"mutants": 0, "skipped": 0, "steps": 0}

    def outputs(
        self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor, batch_size: int
    ) -> torch.Tensor:
        """Logits ``(M, T)`` of the mutants ``(seq, pos, base)``, in chunks."""
        outs = [
            self._chunk(seq[s : s + batch_size], pos[s : s + batch_size], base[s : s + batch_size])
            for s in range(0, seq.numel(), batch_size)
        ]
        return torch.cat(outs) if outs else self.reference[:0]

    def _window_feats(
        self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features ``(M, reach + 1, C)`` of the columns a substitution at ``pos`` can
        change (base ``base``; None: the reference), those columns ``(M, reach + 1)``,
        and which of them lie inside the sequence."""
        assert self.local is not None
        r, length = self.reach, self.x.shape[-1]
        span = torch.arange(2 * r + 1, device=seq.device)
        cols_in = pos[:, None] - r + span  # input columns pos - r .. pos + r
        padded = nn.functional.pad(self.x, (r, r))  # zero outside, as the conv's padding
        h = padded[seq[:, None], :, cols_in + r].transpose(1, 2)  # (M, 4, 2r + 1)
        if base is not None:
            rows = torch.arange(seq.numel(), device=seq.device)
            h[rows, :, r] = 0.0
            h[rows, base, r] = 1.0
        for op in self.local:
            if isinstance(op, Conv):
                h = nn.functional.conv1d(h, op.weight, op.bias, dilation=op.dilation)
            elif isinstance(op, Affine):
                h = h * op.scale[:, None] + op.shift[:, None]
            else:
                h = op.fn(h)
        cols = pos[:, None] + self.pad_left - r + span[: r + 1]
        inside = (cols >= 0) & (cols < length)
        return h.transpose(1, 2), cols, inside

    def _chunk_local(
        self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`_chunk` with the features computed on the changed columns only."""
        parts = self.plan.parts
        m, length = seq.numel(), self.x.shape[-1]
        self.stats["mutants"] += m
        vals, cols, inside = self._window_feats(seq, pos, base)  # (M, w, C), (M, w)
        ref = self.steps[0][cols.clamp(0, length - 1), seq[:, None]]  # (M, w, C)
        changed = (vals != ref).any(2) & inside  # (M, w)
        alive = changed.any(1)
        out = self.reference[seq]
        self.stats["skipped"] += int((~alive).sum())
        if not bool(alive.any()):
            return out
        keep = alive.nonzero(as_tuple=True)[0]
        seq, vals, cols, changed = seq[keep], vals[keep], cols[keep], changed[keep]
        w = cols.shape[1]
        big = torch.full_like(cols, length)
        first = torch.where(changed, cols, big).amin(1)
        last = torch.where(changed, cols, -big).amax(1)
        pooled = []
        for d, steps in zip(self.dirs, self.steps, strict=True):
            start = (length - 1 - last) if d.flip else first
            at = (length - 1 - cols) if d.flip else cols  # window columns, reading order
            self.stats["steps"] += int((length - start).sum())

            def inputs(rows: torch.Tensor, s: int, steps=steps, at=at) -> torch.Tensor:
                # The reference's steps from s on, (L - s, B, C), with the window's.
                inp = steps[s:].index_select(1, seq[rows])
                rel = at[rows] - s
                ok = changed[rows] & (rel >= 0)
                b_idx = torch.arange(rows.numel(), device=rows.device)[:, None].expand(-1, w)
                inp[rel[ok], b_idx[ok]] = vals[rows][ok]
                return inp.transpose(0, 1)

            pooled.append(d.run(seq, start, inputs))
        out[keep] = parts.head(parts.readout.drop(torch.cat(pooled, 1)))
        return out

    def _chunk(self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        if self.local is not None:
            return self._chunk_local(seq, pos, base)
        parts = self.plan.parts
        m, length = seq.numel(), self.x.shape[-1]
        self.stats["mutants"] += m
        changed = torch.zeros((m, length), dtype=torch.bool, device=seq.device)
        # Each direction's steps in its reading order, (M, L, C): what its LSTM reads.
        steps = [self.x.new_empty((m, length, self.feats.shape[1])) for _ in self.dirs]
        # Features a few mutants at a time, so that their comparison with the reference's
        # runs in cache.
        for s in range(0, m, FEATURE_BATCH):
            sq, p, b = (
                seq[s : s + FEATURE_BATCH],
                pos[s : s + FEATURE_BATCH],
                base[s : s + FEATURE_BATCH],
            )
            rows = torch.arange(sq.numel(), device=seq.device)
            xm = self.x[sq]
            xm[rows, :, p] = 0.0
            xm[rows, b, p] = 1.0
            f = parts.features(xm)  # (B, C, L)
            changed[s : s + sq.numel()] = (f - self.feats[sq]).abs_().sum(1) > 0
            for d, st in zip(self.dirs, steps, strict=True):
                st[s : s + sq.numel()] = (f.flip(-1) if d.flip else f).transpose(1, 2)
        alive = changed.any(1)
        out = self.reference[seq]
        self.stats["skipped"] += int((~alive).sum())
        if not bool(alive.any()):
            return out
        keep = alive.nonzero(as_tuple=True)[0]
        seq, changed = seq[keep], changed[keep]
        first = changed.int().argmax(1)  # first changed step
        last = length - 1 - changed.flip(1).int().argmax(1)  # last changed step
        pooled = []
        for d, st in zip(self.dirs, steps, strict=True):
            start = (length - 1 - last) if d.flip else first
            self.stats["steps"] += int((length - start).sum())
            pooled.append(d.run(seq, start, lambda rows, s, st=st: st[keep[rows], s:]))
        out[keep] = parts.head(parts.readout.drop(torch.cat(pooled, 1)))
        return out
