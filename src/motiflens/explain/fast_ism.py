"""Fast ISM kernels: every single-base substitution through the windows it changes.

A substitution at position ``i`` changes only a window of every convolution's and
pooling layer's output, so :func:`~motiflens.explain.ism.saturation_mutagenesis`
(``method="fast"``) runs the unmutated sequences once, keeps every layer's output, and
pushes all mutants of a chunk through their windows together, as a few large matrix
products:

* A convolution is linear: the change of its output is the (transposed) convolution of
  the change of its input, which is non-zero on a few columns only. ``w`` changed
  columns and a ``k``-wide kernel give ``w + k - 1`` changed output columns, a full
  linear convolution; it is computed in the basis of a length-``(w + k - 1)`` DFT (one
  shorter plus one product for the column that wraps around, when that length is odd),
  where it is one channel-mixing product per frequency (three real ones per complex
  frequency) instead of ``w x k`` (24 instead of 77 products of 300 x 200 for Basset's
  second layer), all in one batched product. The DFT is orthogonal up to a scale, so
  the rounding stays that of the direct sum (about 1e-6 relative in float32). Where it
  would save little, a plain transposed convolution is used.
* The first layer, its batch norm (folded into the convolution), ReLU and max-pool run
  as one step: the change of the convolution is written straight into the pool's
  windows (a row of a small table per offset, reference base and new base), the
  reference is added (gathered once per position for its three mutants), and the ReLU
  runs after the pool (``max`` and ``ReLU`` commute exactly), on a third of the columns.
* Element-wise layers run on the mutant's values in the window. A max-pool with stride
  = kernel combines the window with two precomputed reference maxima per position (of
  its pool window left and right of it); other max-pools splice the window into the
  reference around it. Ceil mode's partial last window is exact.
* Exact skipping: a mutant whose change becomes all zero after a layer (below every
  ReLU threshold, or below the maximum of every pool window it touches) cannot change
  anything downstream, so its output *is* the reference output and it leaves the chunk;
  window columns that no mutant of a chunk changes are trimmed.
* A flatten followed by a linear layer gets ``h0 + W[:, window] @ change``, one product
  per position of the layer over the mutants that change it (a mutant's unchanged
  columns cost nothing); a global max over positions the maximum of the mutant's window and
  the reference's maxima left and right of it (prefix and suffix maxima); a global mean
  the reference mean plus the change over the length. The layers after that run on the
  batch of mutants; a linear layer among them whose input is 0 on some units for every
  mutant of the chunk (a ReLU leaves them there) multiplies the other units only.

On CPU the products go through oneDNN (about twice MKL's float32 speed on AMD CPUs, where
MKL runs its AVX2 code). On Basset at 600 bp the fast path does 14 GFLOP per sequence
where the naive computation does 537 (``bench/ism.py``).

On CPU, for Basset's layout (convs each followed by at most a ReLU and a max-pool of
stride = kernel, then flatten + dense), the steps between the products run as compiled
kernels (:mod:`~motiflens.explain.ism_kernels`): one pass per mutant from a conv's
per-frequency products through its inverse DFT transform, ReLU and pool to the next
conv's change, already in that conv's DFT basis; the per-frequency products in between
are one grouped convolution through oneDNN, its weights packed once into oneDNN's own
layout. They agree with the general path to float rounding (about 1e-6); the general path
(every other layout, and GPUs) is the torch code here. Motif insertion's multi-base edits
take the same kernels (:meth:`FastISM.window_outputs`, through
:class:`~motiflens.explain.window_edit.WindowEdit`).

The fast path takes any model whose layer list (a model's
:meth:`~motiflens.models.SequenceModel.ism_layers`, or an ``nn.Sequential``) is made of
``Conv1d`` (any dilation, stride 1, zero padding), zero padding, ``BatchNorm1d``,
element-wise activations, ``Dropout``, ``MaxPool1d`` (stride at most the kernel size),
then ``Flatten`` + ``Linear`` or ``AdaptiveMaxPool1d(1)`` / ``AdaptiveAvgPool1d(1)`` +
``Flatten``, then ``Linear``/``BatchNorm1d``/activations. Anything else (the RNNs,
residual connections, unknown layers) runs the naive computation.

The model's layers come from :func:`~motiflens.explain.ism_plan.plan_model`; the choice
between this path and the naive one, and its self-check, from
:mod:`motiflens.explain.ism_engine`. This module is the arithmetic only.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from motiflens.explain.ism_plan import Affine, Conv, Op, Plan, Pointwise, Pool

__all__ = ["FastISM", "Spectral", "conv_change", "spectral"]

#: Memory the fast path may keep per model for slices of the first dense layer's weights.
DENSE_CACHE_BYTES = 512 * 2**20
#: A dense layer after the first takes the product over the units in use (non-zero in
#: some mutant of the chunk) only when at most this fraction of them are (the gather of
#: weight columns costs too).
SPARSE_UNITS = 0.8
#: Chunks in a row in which a layer's skipping check found nothing, after which an engine
#: stops checking there.
PRUNE_TRIALS = 2
#: Sequences per step of the reference pass.
REF_CHUNK = 16
#: Fewest edits per worker thread in :meth:`FastISM.window_outputs`.
WINDOW_MIN = 64


def _ceil_div(a: torch.Tensor, b: int) -> torch.Tensor:
    return -torch.div(-a, b, rounding_mode="floor")


def _full(op: Op, h: torch.Tensor) -> torch.Tensor:
    """One op on whole ``(n, C, L)`` sequences (the reference pass)."""
    if isinstance(op, Conv):
        return F.conv1d(F.pad(h, op.pad), op.weight, op.bias, dilation=op.dilation)
    if isinstance(op, Affine):
        return h * op.scale[:, None] + op.shift[:, None]
    if isinstance(op, Pool):
        return F.max_pool1d(h, op.kernel, op.stride, ceil_mode=op.ceil_mode)
    return op.fn(h)


@dataclass(frozen=True)
class Spectral:
    """A conv's output change from ``w`` changed input columns, in a DFT basis.

    The change of the output is the full linear convolution of the ``w`` changed columns
    with the kernel: ``n = w + reach`` columns. In the basis of the length-``n`` DFT a
    linear convolution is a product per frequency, so the ``w x k`` channel-mixing
    products of the direct form become one per frequency: ``n // 2 + 1`` of them (for an
    odd ``n``, of the length ``n - 1`` DFT, see :func:`spectral`), real
    for frequency 0 (and ``n / 2``), complex for the others, each done as three real
    products (Gauss: with ``U = Ur + i Ui`` and ``W = Wr + i Wi``, ``k1 = (Ur + Ui) Wr``,
    ``k2 = Ur (Wi - Wr)``, ``k3 = Ui (Wr + Wi)``, ``Re = k1 - k3``, ``Im = k1 + k2``).
    ``forward`` maps the changed columns straight to the inputs of the products and
    ``inverse`` maps the products straight to output columns (the recombination is in
    it), so the products are the only other work. The DFT is unitary up to a scale, so
    the rounding stays that of the direct form (about 1e-6 relative in float32).
    """

    forward: torch.Tensor  # (P, w): input of each product from the changed columns
    inverse: torch.Tensor  # (n, P): output columns from the products
    weights: list[torch.Tensor]  # P x (out, in)
    #: ``(P, in, out)``: the weights stacked for one batched product (``torch.bmm``).
    stacked: torch.Tensor | None = None
    #: ``(P * out, in, 1, 1)``: the same as a grouped 1x1 convolution's weight (oneDNN).
    grouped: torch.Tensor | None = None
    #: ``grouped`` in oneDNN's own blocked layout, made on first use (see
    #: :func:`_grouped_products`).
    packed: list[torch.Tensor] = field(default_factory=list, compare=False, repr=False)


def spectral(op: Conv, w: int) -> Spectral | None:
    """The DFT form for ``w`` changed columns, or None when it saves too little.

    When the ``n`` output columns are odd in number, the DFT is of length ``n - 1`` and
    the last output column, the only one that wraps around (the last changed column by
    the first tap), is one product more: a real DFT of even length needs one product
    fewer per pair of lengths, so this is one product fewer in all (24 instead of 25 for
    Basset's second layer, 15 instead of 16 for its third).
    """
    if w not in op.spectral:
        k = op.weight.shape[-1]
        n = w + op.reach
        wrap = int(n % 2 == 1 and n > 2)
        length = n - wrap  # of the DFT (cyclic convolution)
        bins = length // 2 + 1
        real = [0, *([bins - 1] if length % 2 == 0 else [])]
        complex_ = [f for f in range(bins) if f not in real]
        if len(real) + 3 * len(complex_) + wrap > 0.7 * w * k:
            op.spectral[w] = None
        else:
            dev, f64 = op.weight.device, torch.float64
            freq = torch.arange(bins, dtype=f64, device=dev)[:, None]

            def dft(at: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                angle = 2 * math.pi * freq * at[None, :] / length
                return torch.cos(angle), -torch.sin(angle)

            ar, ai = dft(torch.arange(w, dtype=f64, device=dev))
            # Input column c reaches output c + q with q = (k - 1 - t) * dilation for tap t.
            kr, ki = dft((k - 1 - torch.arange(k, dtype=f64, device=dev)) * op.dilation)
            wr = torch.einsum("ft,oit->foi", kr, op.weight.double())
            wi = torch.einsum("ft,oit->foi", ki, op.weight.double())
            # Inverse real DFT: x = sum_f scale_f (Re Y_f cos - Im Y_f sin).
            scale = torch.full((bins, 1), 2.0 / length, dtype=f64, device=dev)
            scale[real] = 1.0 / length
            at = torch.arange(length, dtype=f64, device=dev)[None, :]
            angle = 2 * math.pi * freq * at / length
            br, bi = scale * torch.cos(angle), -scale * torch.sin(angle)
            c = complex_
            forward = torch.cat([ar[real], ar[c] + ai[c], ar[c], ai[c]])
            inverse = torch.cat([br[real], br[c] + bi[c], bi[c], -br[c]]).t()
            weights = [wr[f] for f in real] + [wr[f] for f in c]
            weights += [wi[f] - wr[f] for f in c] + [wr[f] + wi[f] for f in c]
            if wrap:
                # Column n - 1 (last changed column, tap 0) landed on column 0 of the
                # cyclic convolution: computed on its own, added at n - 1, taken from 0.
                last = torch.zeros((1, w), dtype=f64, device=dev)
                last[0, w - 1] = 1.0
                forward = torch.cat([forward, last])
                inverse = F.pad(inverse, (0, 1, 0, 1))
                inverse[0, -1], inverse[-1, -1] = -1.0, 1.0
                weights.append(op.weight[:, :, 0].double())
            op.spectral[w] = Spectral(
                forward=forward.float().contiguous(),
                inverse=inverse.float().contiguous(),
                weights=[x.float().contiguous() for x in weights],
                stacked=torch.stack(weights).transpose(1, 2).float().contiguous(),
                grouped=torch.stack(weights).reshape(-1, weights[0].shape[1], 1, 1).float(),
            )
    return op.spectral[w]


_EMPTY = torch.empty((0, 0))
_MKLDNN_GROUPED: list[bool] = []  # [usable], decided on first use


def _dft_form(op: Conv, w: int) -> Spectral | None:
    """The DFT form the compiled path uses for ``w`` changed columns (None: none)."""
    spec = spectral(op, w)
    return spec if spec is not None and spec.grouped is not None else None


def _conv_products(u: torch.Tensor, op: Conv, w: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """A conv's change from a compiled kernel's output ``u``, for the next kernel.

    ``u`` is ``(M, P, in)``, each mutant's ``w`` changed columns already multiplied by the
    DFT form's ``forward`` (the kernel did it), or the columns themselves ``(M, w, in)``
    when the op has no DFT form. Returns ``(y, inverse, flops)``: the per-frequency
    products ``(M, P, out)`` and the inverse form ``(n, P)`` that the next kernel applies
    per mutant, or the change itself ``(M, n, out)`` and an empty inverse.
    """
    spec = _dft_form(op, w)
    if spec is None:
        delta, flops = conv_change(u, op)
        return delta.contiguous(), _EMPTY, flops
    m, p, cin = u.shape
    assert spec.grouped is not None and spec.stacked is not None
    cout = spec.grouped.shape[0] // p
    y = _grouped_products(u, spec)
    n = spec.inverse.shape[0]
    return y, spec.inverse, 2 * m * (p * cin * cout + p * w * cin + n * p * cout)


def _grouped_products(u: torch.Tensor, spec: Spectral) -> torch.Tensor:
    """``y[m, f] = u[m, f] @ W_f`` for every frequency ``f``: ``(M, P, in)`` -> ``(M, P, out)``.

    As a grouped 1x1 convolution through oneDNN with the mutants as positions
    (channels-last: exactly ``u``'s memory), its weights reordered once into oneDNN's
    blocked layout (a plain weight is reordered on every call: 16% of the product's
    time for Basset's second layer). On an AMD EPYC, where MKL's batched product runs
    its AVX2 code, about 15% faster than ``torch.bmm`` for Basset's second layer (24
    products of 384 x 300 by 300 x 200) before the packing; and the per-mutant layout
    lets the kernels apply the DFT transforms on either side. oneDNN's convolution is
    internal to PyTorch, so it is used only after it has given ``torch.bmm``'s result on
    a first call; otherwise (and if it is missing) this is ``torch.bmm`` on a
    transposed copy.
    """
    m, p, cin = u.shape
    assert spec.grouped is not None and spec.stacked is not None
    if _MKLDNN_GROUPED != [False]:
        x = u.view(1, 1, m, p * cin).permute(0, 3, 1, 2)  # (1, P * in, 1, M), channels-last
        one, zero = [1, 1], [0, 0]
        try:
            if not spec.packed:
                # (Two threads may both pack on first use: the same result either way.)
                spec.packed[:] = [
                    torch.ops.mkldnn._reorder_convolution_weight(
                        spec.grouped, zero, one, one, p, list(x.shape)
                    )
                ]
            y = torch.ops.mkldnn._convolution_pointwise(
                x, spec.packed[0], None, zero, one, one, p, "none", [], ""
            )
            y = y.permute(0, 2, 3, 1).reshape(m, p, -1).contiguous()
        except (AttributeError, RuntimeError):
            _MKLDNN_GROUPED[:] = [False]
        else:
            if _MKLDNN_GROUPED:
                return y
            want = torch.bmm(u.transpose(0, 1), spec.stacked).transpose(0, 1)
            ok = y.shape == want.shape and bool(
                ((y - want).abs() <= 1e-4 * (1.0 + want.abs())).all()
            )
            _MKLDNN_GROUPED[:] = [ok]
            return y if ok else want.contiguous()
    return torch.bmm(u.transpose(0, 1), spec.stacked).transpose(0, 1).contiguous()


@dataclass(frozen=True)
class _Stage:
    """A conv after the first layer, an optional ReLU and an optional max-pool of stride
    = kernel, for the compiled kernels; ``index``: the conv's op index."""

    conv: Conv = field(repr=False)
    pool: Pool | None
    relu: bool
    index: int


def _nlc(h: torch.Tensor, margin: int, fill: float) -> torch.Tensor:
    """``(n, C, L)`` -> ``(n, L + 2 margin, C)``, contiguous, margins set to ``fill``."""
    return F.pad(h, (margin, margin), value=fill).transpose(1, 2).contiguous()


def _pool_sides(h: torch.Tensor, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position of ``h (n, C, L)``: max of its pool window before it, and from it on.

    ``right`` is -inf at the first position of a window (nothing of the window lies
    before it there, so a change that ends just before it leaves the whole window as is);
    ``left`` is -inf there by definition.
    """
    n, c, length = h.shape
    windows = -(-length // kernel)
    padded = F.pad(h, (0, windows * kernel - length), value=float("-inf"))
    blocks = padded.view(n, c, windows, kernel)
    ninf = torch.full_like(blocks[..., :1], float("-inf"))
    left = torch.cat([ninf, blocks.cummax(-1).values[..., :-1]], -1)
    right = blocks.flip(-1).cummax(-1).values.flip(-1)
    right = torch.cat([ninf, right[..., 1:]], -1)
    return left.reshape(n, c, -1)[..., :length], right.reshape(n, c, -1)[..., :length]


def conv_change(change: torch.Tensor, op: Conv) -> tuple[torch.Tensor, int]:
    """Change of a conv's output ``(M, w + reach, out)`` from its input's ``(M, w, in)``.

    A transposed convolution of the changed columns with the reversed kernel: in a DFT
    basis (:class:`Spectral`) where that needs far fewer products, else as a 2-D
    transposed convolution in channels-last memory (what oneDNN does fastest on CPU).
    One changed column (the input layer) is a plain product with the kernel. Also
    returns the FLOP done.
    """
    m, w, cin = change.shape
    cout, _, k = op.weight.shape
    if w == 1 and op.dilation == 1:
        return (change.view(m, cin) @ op.table).view(m, k, cout), 2 * m * cin * k * cout
    spec = spectral(op, w)
    if spec is None:
        return _direct_change(change, op), 2 * m * w * k * cin * cout
    p, n = spec.forward.shape[0], spec.inverse.shape[0]
    # (M, P, in) by one broadcast product (three times faster than einsum's transposed
    # layout); its (P, M, in) view feeds the batched product without a copy.
    u = torch.matmul(spec.forward, change).transpose(0, 1)
    if spec.stacked is not None:
        # One batched product: no per-frequency call and no stacking of the results.
        y = torch.bmm(u, spec.stacked)
    else:
        y = torch.stack([_linear(u[j], weight, None) for j, weight in enumerate(spec.weights)])
    out = torch.matmul(spec.inverse, y.transpose(0, 1))  # (M, n, out), contiguous
    flops = 2 * m * (p * cin * cout + p * w * cin + n * p * cout)
    return out, flops


def _direct_change(change: torch.Tensor, op: Conv) -> torch.Tensor:
    """:func:`conv_change` without a DFT: a 2-D transposed convolution in channels-last
    memory (what oneDNN does fastest on CPU); ``(M, w + reach, out)``, contiguous on CPU."""
    x = change.permute(0, 2, 1).unsqueeze(2).contiguous(memory_format=torch.channels_last)
    y = F.conv_transpose2d(x, op.weight_t, dilation=(1, op.dilation))
    return y.squeeze(2).permute(0, 2, 1)


_MKLDNN_LINEAR: list[bool] = []  # [usable], decided on first use


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear``, through oneDNN on CPU when this torch build has it.

    On AMD CPUs MKL's float32 GEMM runs its AVX2 code; oneDNN's inner product uses
    AVX-512 and is about twice as fast for the dense layers here. The oneDNN op is
    internal to PyTorch, so it is used only after it has given ``F.linear``'s result
    on a first call; otherwise (and on GPUs) this is ``F.linear``.
    """
    if x.device.type != "cpu" or x.dtype != torch.float32 or _MKLDNN_LINEAR == [False]:
        return F.linear(x, weight, bias)
    try:
        y = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    except (AttributeError, RuntimeError):
        _MKLDNN_LINEAR[:] = [False]
        return F.linear(x, weight, bias)
    if not _MKLDNN_LINEAR:
        want = F.linear(x, weight, bias)
        ok = y.shape == want.shape and bool(((y - want).abs() <= 1e-4 * (1.0 + want.abs())).all())
        _MKLDNN_LINEAR[:] = [ok]
        return y if ok else want
    return y


def _in_threads(fn: Callable[[slice], torch.Tensor], parts: list[slice]) -> list[torch.Tensor]:
    """``[fn(part) for part in parts]``, on as many worker threads as torch has threads,
    each with single-threaded torch operations (restored after).

    Most operations of a chunk are too small to split well, and threads that wait for
    each other inside every small operation are what make a busy machine slow.
    """
    threads = torch.get_num_threads()
    if threads < 2 or len(parts) < 2:
        return [fn(part) for part in parts]
    torch.set_num_threads(1)
    try:
        # OpenMP keeps its thread count per calling thread: a new worker thread runs its
        # products on all cores whatever torch.get_num_threads() says (a batched product
        # alone in one: CPU time 1.96x wall time on 2 cores), so each worker sets its own.
        with ThreadPoolExecutor(
            min(threads, len(parts)), initializer=torch.set_num_threads, initargs=(1,)
        ) as pool:
            return list(pool.map(fn, parts))
    finally:
        torch.set_num_threads(threads)


class FastISM:
    """The reference pass of a batch of sequences, then mutants through their windows.

    Windows are ``(M, w, C)`` arrays (channels last) holding a mutant's values at
    positions ``start .. start + w - 1`` of a layer's output; positions outside the
    layer (before 0, past its length) are masked wherever they could matter.

    Parameters
    ----------
    plan
        From :func:`plan_model`.
    x
        ``(n, 4, L)`` reference sequences, on the device to use.
    skip
        Drop mutants (and trim window columns) that no longer differ from the reference
        after a layer. Off only to measure what it saves.
    """

    def __init__(self, plan: Plan, x: torch.Tensor, *, skip: bool = True) -> None:
        self.plan = plan
        self.skip = skip
        # What the mutants cost: FLOP of the conv and dense layers, mutants stopped early.
        self.stats = {"mutants": 0, "skipped": 0, "flops": 0}
        self._lock = threading.Lock()
        # Per op, chunks in which the skipping check found nothing (see _prune).
        self._prune_misses: dict[int, int] = {}
        # The widest window of one mutant, so that no window falls off the margins.
        w, widest = 1, 1
        for op in plan.ops:
            if isinstance(op, Conv):
                w += op.reach
            elif isinstance(op, Pool):
                widest = max(widest, w + 2 * op.kernel)
                w = (op.kernel + w - 2) // op.stride + 1
            widest = max(widest, w)
        self.margin = mg = widest + 2
        self.arange = torch.arange(widest + 2 * mg, device=x.device)
        self.first_layer = self._fuse_first_layer()
        # Reference base codes (0-3, 4 for an N column of 0.25) when every column is one of
        # those, for the first layer's difference table; else None (a product instead).
        hot = (x == 1).sum(1) == 1
        hot &= ((x == 0) | (x == 1)).all(1)
        n_col = (x == 0.25).all(1)
        if bool((hot | n_col).all()):
            # One-hot columns: the index of the 1 (argmax over 4 strided rows is slower).
            index = (x[:, 1] + 2 * x[:, 2] + 3 * x[:, 3]).long()
            self.input_codes = torch.where(n_col, 4, index)
        else:
            self.input_codes = None
        self.stages = self._compiled_stages(x)
        read = self._compiled_reads()
        # Reference pass; every op's output (0 = the input) padded and channels-last (the
        # compiled kernels' layers only: the others are left empty), REF_CHUNK sequences
        # at a time, each output written while still in cache (for motif insertion's
        # hundreds of backgrounds: 2-3x faster than one pass).
        n = x.shape[0]
        self.refs: list[torch.Tensor] = []
        self.lengths: list[int] = []
        last = []
        for i in range(0, n, REF_CHUNK):
            h = x[i : i + REF_CHUNK]
            for k in range(len(plan.ops) + 1):
                if k:
                    h = _full(plan.ops[k - 1], h)
                keep = read is None or k in read
                if i == 0:
                    op = plan.ops[k] if k < len(plan.ops) else None
                    fill = float("-inf") if isinstance(op, Pool) else 0.0
                    self.lengths.append(int(h.shape[-1]))
                    cols = h.shape[-1] + 2 * mg if keep else 0
                    ref = h.new_empty((n, cols, h.shape[1]))
                    ref[:, :mg] = fill
                    ref[:, mg + h.shape[-1] :] = fill
                    self.refs.append(ref)
                if keep:
                    rows = slice(i, i + h.shape[0])
                    self.refs[k][rows, mg : mg + self.lengths[k]] = h.transpose(1, 2)
            last.append(h)
        h = torch.cat(last) if len(last) > 1 else last[0]
        # For a pool with stride = kernel: at each position j of its input, the maximum
        # of j's pool window before j (`left`) and from j on (`right`, -inf where j
        # starts a window), so that a mutant's pooled window needs two reference columns.
        self.left: dict[int, torch.Tensor] = {}
        self.right: dict[int, torch.Tensor] = {}
        fused = self.first_layer[-1] - 1 if self.first_layer is not None else -1
        # (The compiled kernels read the pools' inputs themselves.)
        for k, op in enumerate(plan.ops if self.stages is None else []):
            if isinstance(op, Pool) and op.stride == op.kernel and k != fused:
                out = self.refs[k][:, mg : mg + self.lengths[k]].transpose(1, 2)
                left, right = _pool_sides(out, op.kernel)
                self.left[k] = _nlc(left, mg, float("-inf"))
                self.right[k] = _nlc(right, mg, float("-inf"))
        head = plan.head
        c, lf = h.shape[1], h.shape[2]
        if head.kind == "flatten":
            assert head.linear is not None
            self.h0 = head.linear(h.flatten(1))
            key = ("dense", lf, mg)
            if key not in plan.cache:
                # (Lf + 2 margin, C, H): the first dense layer's weights by position.
                wl = head.linear.weight.detach().reshape(-1, c, lf).permute(2, 1, 0)
                plan.cache[key] = F.pad(wl, (0, 0, 0, 0, mg, mg)).contiguous()
            self.dense_t = plan.cache[key]
            self.reference = self._rest(self.h0)
        elif head.kind == "max":
            self.g0 = h.amax(-1)
            ninf = torch.full_like(h[..., :1], float("-inf"))
            # prefix[..., p] = max of h[..., :p]; suffix[..., p] = max of h[..., p:].
            self.prefix = torch.cat([ninf, h.cummax(-1).values], -1)
            self.suffix = torch.cat([h.flip(-1).cummax(-1).values.flip(-1), ninf], -1)
            self.reference = self._rest(self.g0)
        else:
            self.g0 = h.mean(-1)
            self.reference = self._rest(self.g0)
        self.stats["flops"] = 0

    def _fuse_first_layer(self) -> tuple | None:
        """How to run the first layers fused (see :meth:`_first_layer`), or None.

        ``(conv, between, pool, relu_last, table, wp, next op)`` when the plan starts with
        a conv, element-wise layers and a pool of stride = kernel not much wider than the
        conv's change.
        """
        ops = self.plan.ops
        n = next(
            (i for i in range(1, len(ops)) if not isinstance(ops[i], Affine | Pointwise)),
            len(ops),
        )
        if not ops or not isinstance(ops[0], Conv) or n >= len(ops):
            return None
        conv, pool, between = ops[0], ops[n], ops[1:n]
        if not isinstance(pool, Pool) or pool.stride != pool.kernel:
            return None
        w = conv.reach + 1
        wp = (pool.kernel + w - 2) // pool.kernel + 1
        wr = wp * pool.kernel
        if wr > 2 * w + 2:  # a pool much wider than the change: the general path
            return None
        relu_last = len(between) == 1 and type(getattr(between[0], "fn", None)) is nn.ReLU
        key = ("first", id(conv), wp)
        if key not in self.plan.cache:
            # Rows: (offset of the change in the region, input channel); columns: (region
            # column, output channel). Tap t of a change at offset o reaches column
            # o + (k - 1 - t) * dilation.
            cout, cin, k = conv.weight.shape
            table = conv.weight.new_zeros((pool.kernel, cin, wr, cout))
            for o in range(pool.kernel):
                for t in range(k):
                    table[o, :, o + (k - 1 - t) * conv.dilation] = conv.weight[:, :, t].t()
            self.plan.cache[key] = table.view(pool.kernel * cin, wr * cout)
        between = [] if relu_last else between
        return conv, between, pool, relu_last, self.plan.cache[key], wp, n + 1

    def _compiled_stages(self, x: torch.Tensor) -> list[_Stage] | None:
        """The layers after the first as :class:`_Stage` s for the compiled kernels, or None.

        Taken on CPU in float32 when the first layers run fused (:meth:`_first_layer`,
        on one-hot or N columns, with nothing but a ReLU before the pool), every later
        conv is followed by at most a ReLU and a max-pool of stride = kernel, and the
        head is flatten + dense: Basset's layout. Anything else runs the general path
        (also on GPUs, where these steps are not the bottleneck).
        """
        if (
            x.device.type != "cpu"
            or x.dtype != torch.float32
            or self.first_layer is None
            or self.input_codes is None
            or self.first_layer[1]  # element-wise layers other than one ReLU
            or self.plan.head.kind != "flatten"
        ):
            return None
        ops, k, stages = self.plan.ops, self.first_layer[-1], []
        while k < len(ops):
            index, conv = k, ops[k]
            relu = k + 1 < len(ops) and type(getattr(ops[k + 1], "fn", None)) is nn.ReLU
            k += 1 + relu
            pool = ops[k] if k < len(ops) and isinstance(ops[k], Pool) else None
            if not isinstance(conv, Conv) or (pool is not None and pool.stride != pool.kernel):
                return None
            k += pool is not None
            if k < len(ops) and not isinstance(ops[k], Conv):
                return None
            stages.append(_Stage(conv, pool, relu, index))
        try:
            from motiflens.explain import ism_kernels  # noqa: F401  (numba: compiled once)
        except ImportError:  # pragma: no cover - numba comes with memelite
            return None
        return stages

    def _compiled_reads(self) -> set[int] | None:
        """The layer outputs the compiled kernels read (each conv's and each pool's), or
        None (the general path: all of them)."""
        if self.stages is None:
            return None
        assert self.first_layer is not None
        read = {1, self.first_layer[-1]}
        for stage in self.stages:
            c = stage.index + 1
            read |= {c, c + stage.relu + (stage.pool is not None)}
        return read

    def _rest(self, h: torch.Tensor, seq: torch.Tensor | None = None) -> torch.Tensor:
        """The layers after the head's first one on ``h``; ``seq``: mutants' sequences.

        On mutants (``seq`` given), a linear layer whose input is exactly 0 on some units
        for every mutant of the chunk (a ReLU before it leaves them there) takes the
        product over the other units only: those add nothing, so the result is the
        whole layer's, with a smaller product.
        """
        for mod in self.plan.head.rest:
            if type(mod) is nn.Linear:
                if seq is not None and h.shape[0] > 1:
                    cols = (h.abs().amax(0) > 0).nonzero(as_tuple=True)[0]
                    if cols.numel() <= SPARSE_UNITS * mod.in_features:
                        weight = mod.weight.index_select(1, cols)
                        h = _linear(h.index_select(1, cols), weight, mod.bias)
                        flops = 2 * h.shape[0] * cols.numel() * mod.out_features
                        self._count("flops", flops)
                        continue
                h = _linear(h, mod.weight, mod.bias)
                self._count("flops", 2 * h.shape[0] * mod.in_features * mod.out_features)
            elif type(mod) is nn.ReLU:
                # In place on mutants only: the reference's hidden layer is kept (h0).
                h = h.relu() if seq is None else h.relu_()
            else:
                h = mod(h)
        return h

    def _dense_slice(self, s: int, w: int) -> torch.Tensor | None:
        """The first dense layer's ``(H, w * C)`` weights on positions ``s .. s + w - 1``.

        Cached on the plan (up to :data:`DENSE_CACHE_BYTES`), contiguous, so that the
        product goes through :func:`_linear`.
        """
        cache = self.plan.cache
        key = ("slice", id(self.dense_t), s, w)
        if key not in cache:
            used = sum(t.numel() * t.element_size() for t in cache.values())
            view = self.dense_t[s + self.margin : s + self.margin + w]  # (w, C, H)
            if used + view.numel() * view.element_size() > DENSE_CACHE_BYTES:
                return None
            cache[key] = view.permute(2, 0, 1).reshape(view.shape[-1], -1).contiguous()
        return cache[key]

    def _partial(self, op: Pool, k: int) -> bool:
        """Whether the pool (input: op ``k``'s) reads positions past its input's end.

        Only then must a window's columns outside the layer be set to -inf before it:
        otherwise they fall in pooled positions outside the layer, which are masked where
        they are used.
        """
        length = self.lengths[k]
        return op.stride != op.kernel or (self.lengths[k + 1] - 1) * op.stride + op.kernel > length

    def _outside(self, t: torch.Tensor, k: int, start: torch.Tensor, fill: float) -> torch.Tensor:
        """``t`` (M, w, C) with its columns outside layer ``k`` set to ``fill``, in place.

        Only the few windows at the ends of a sequence have such columns.
        """
        w = t.shape[1]
        bad = (start < 0) | (start + w > self.lengths[k])
        if bool(bad.any()):
            rows = bad.nonzero(as_tuple=True)[0]
            t[rows] = t[rows].masked_fill(~self._valid(k, start[rows], w), fill)
        return t

    def _window(self, k: int, seq: torch.Tensor, start: torch.Tensor, w: int) -> torch.Tensor:
        """Reference output of op ``k`` (0 = the input) at ``start .. start + w - 1``."""
        return self._gather(self.refs[k], seq, start, w)

    def _gather(
        self, ref: torch.Tensor, seq: torch.Tensor, start: torch.Tensor, w: int
    ) -> torch.Tensor:
        """``ref[seq, start + margin : start + margin + w]`` for every mutant: ``(M, w, C)``."""
        n, lpad, c = ref.shape
        rows = (seq * lpad + start + self.margin)[:, None] + self.arange[:w]
        return ref.view(n * lpad, c).index_select(0, rows.view(-1)).view(-1, w, c)

    def _valid(self, k: int, start: torch.Tensor, w: int) -> torch.Tensor:
        cols = start[:, None] + self.arange[:w]
        return ((cols >= 0) & (cols < self.lengths[k]))[:, :, None]

    def outputs(
        self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor, batch_size: int
    ) -> torch.Tensor:
        """Logits ``(M, T)`` of the mutants ``(seq, pos, base)``, in chunks.

        On CPU with more than one torch thread, chunks run concurrently on that many
        worker threads, each with single-threaded operations (torch's thread count is 1
        meanwhile, and restored after): most operations here are too small to split
        well, and threads that wait for each other inside every small operation are what
        make a busy machine slow. The result is that of one thread (to float rounding:
        the chunks are cut differently).
        """
        size = max(3, batch_size // 3 * 3)  # whole positions (3 mutants each) per chunk
        threads = torch.get_num_threads()
        if seq.device.type == "cpu" and threads > 1 and seq.numel() > size:
            # As many chunks per worker thread, of about equal size: no thread is left
            # with one more chunk than the others while they wait.
            count = -(-seq.numel() // (size * threads)) * threads
            size = -(-seq.numel() // (3 * count)) * 3
        parts = [slice(s, s + size) for s in range(0, seq.numel(), size)]
        if not parts:
            return self.reference[:0]

        def run(part: slice) -> torch.Tensor:
            with torch.inference_mode():
                return self._chunk(seq[part], pos[part], base[part])

        if seq.device.type != "cpu":
            return torch.cat([run(part) for part in parts])
        return torch.cat(_in_threads(run, parts))

    def _count(self, key: str, value: int) -> None:
        with self._lock:
            self.stats[key] += value

    def _chunk(self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        if self.stages is not None:
            return self._chunk_compiled(seq, pos, base)
        m = seq.numel()
        self._count("mutants", m)
        out = self.reference[seq]
        keep = torch.arange(m, device=seq.device)
        # The mutant's values at the input: one column, the substituted base.
        values = F.one_hot(base, 4).to(out.dtype)[:, None, :]
        start, w, k = pos, 1, 0
        if self.first_layer is not None:
            values, start, w, k = self._first_layer(seq, pos, values)
        for op in self.plan.ops[k:]:
            if isinstance(op, Conv):
                change = self._outside(values - self._window(k, seq, start, w), k, start, 0.0)
                change, seq, start, w, keep = self._prune(k, change, seq, start, w, keep)
                if not keep.numel():
                    return out
                delta, flops = conv_change(change, op)
                self._count("flops", flops)
                start = start + op.pad[0] - op.reach
                w = w + op.reach
                values = self._window(k + 1, seq, start, w).add_(delta)
            elif isinstance(op, Pool):
                if self._partial(op, k):
                    values = self._outside(values, k, start, float("-inf"))
                values, start, w = self._pool(op, k, values, seq, start, w)
            elif isinstance(op, Affine):
                values = values * op.scale + op.shift
            elif type(op.fn) is nn.ReLU:
                values = values.relu_()  # always a fresh array here
            else:
                values = op.fn(values)
            k += 1
        return self._head(out, values, seq, start, w, k, keep)

    def _chunk_compiled(
        self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`_chunk` through the compiled kernels (:meth:`_compiled_stages`).

        Each conv's per-frequency products go through its inverse DFT transform, ReLU and
        pool to the next conv's change in its DFT basis in one kernel call per layer
        (:mod:`~motiflens.explain.ism_kernels`), mutant by mutant; the products between
        are one grouped convolution (:func:`_grouped_products`). Mutants whose change is
        all 0 leave the chunk as in the general path.
        """
        from motiflens.explain import ism_kernels

        m = seq.numel()
        self._count("mutants", m)
        out = self.reference[seq]
        keep = torch.arange(m)
        conv, _, pool, relu, table, wp, k = self.first_layer
        kernel = pool.kernel
        s = pos + conv.pad[0] - conv.reach  # first conv output column a mutant changes
        start = torch.div(s, kernel, rounding_mode="floor")
        rows = ((s - start * kernel) * 4 + base) * 5 + self.input_codes[seq, pos]
        stages = self.stages
        assert stages is not None
        after = stages[0].conv if stages else None
        change, scratch, transform = self._kernel_out(m, wp, k, after)
        alive = torch.empty(m, dtype=torch.uint8)
        ism_kernels.table_pool(
            self._first_diff(table).numpy(), rows.numpy(), self.refs[1].numpy(),
            self.refs[k].numpy(), seq.numpy(), start.numpy(), kernel, wp,
            self.lengths[1], self.lengths[k], self.margin, relu, change.numpy(),
            transform.numpy(), scratch.numpy(), alive.numpy(),
        )  # fmt: skip
        return self._compiled_rest(out, change, alive, seq, start, wp, keep)

    def window_outputs(self, start: int, bases: torch.Tensor) -> torch.Tensor:
        """Outputs ``(R, n, T)`` of the reference sequences with columns from ``start``
        replaced: :meth:`~motiflens.explain.window_edit.WindowEdit.outputs` (motif
        insertion's edits) through the compiled kernels (only where
        :attr:`stages` is set).

        The first conv's change, its ReLU and pool run as one kernel per edit
        (:func:`~motiflens.explain.ism_kernels.window_pool`: each edited column adds its
        rows of the conv's difference table); from there on, each edit is a
        mutant of :meth:`_chunk_compiled` with a wider window. Edits run background by
        background (the ``R`` edits of one background read the same reference columns
        in turn).
        """
        from motiflens.explain import ism_kernels

        r, n, w = bases.shape
        m = r * n
        conv, _, pool, relu, _, _, k = self.first_layer
        assert self.input_codes is not None
        seq = torch.arange(n).repeat_interleave(r)  # edit i of background j: row j * r + i
        self._count("mutants", m)
        self._count("flops", 2 * m * w * conv.weight.numel())
        s0 = start + conv.pad[0] - conv.reach  # the first conv column the edit changes
        kernel = pool.kernel
        wp = (s0 % kernel + w + conv.reach - 1) // kernel + 1
        after = self.stages[0].conv if self.stages else None
        table = self._window_table(conv).numpy()
        codes = bases.transpose(0, 1).reshape(m, w)
        out = self.reference.index_select(0, seq)

        def run(part: slice) -> torch.Tensor:
            count = part.stop - part.start
            change, scratch, transform = self._kernel_out(count, wp, k, after)
            alive = torch.empty(count, dtype=torch.uint8)
            acc = torch.empty((w + conv.reach, self.refs[1].shape[2]))
            ism_kernels.window_pool(
                table, codes[part].numpy(), self.input_codes.numpy(), seq[part].numpy(),
                start, conv.weight.shape[-1], conv.dilation, self.refs[1].numpy(),
                self.refs[k].numpy(), s0, kernel, wp, self.lengths[1], self.lengths[k],
                self.margin, relu, change.numpy(), transform.numpy(), scratch.numpy(),
                acc.numpy(), alive.numpy(),
            )  # fmt: skip
            first = torch.full((count,), s0 // kernel, dtype=torch.long)
            keep = torch.arange(count)
            with torch.inference_mode():
                return self._compiled_rest(out[part], change, alive, seq[part], first, wp, keep)

        # On CPU threads, as in :meth:`outputs`: about as many edits per thread.
        size = max(WINDOW_MIN, -(-m // torch.get_num_threads()))
        parts = [slice(a, min(m, a + size)) for a in range(0, m, size)]
        _in_threads(run, parts)  # each part fills its rows of `out`
        return out.view(n, r, -1).transpose(0, 1).contiguous()

    def _window_table(self, conv: Conv) -> torch.Tensor:
        """``(k * 20, C)``: row ``(tap, new base, reference code)`` of the first conv's
        change (reference code 4: an N, 0.25 each)."""
        key = ("window-table", id(conv))
        if key not in self.plan.cache:
            wt = conv.weight.detach().permute(2, 1, 0)  # (k, 4, C)
            refs = torch.cat([wt, wt.mean(1, keepdim=True)], 1)
            diff = (wt[:, :, None] - refs[:, None]).reshape(-1, wt.shape[-1])
            self.plan.cache[key] = diff.contiguous()
        return self.plan.cache[key]

    def _compiled_rest(
        self,
        out: torch.Tensor,
        change: torch.Tensor,
        alive: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """The compiled stages after the first pool, then the dense head: fills
        ``out[keep]`` from the mutants' pooled change ``(M, P, C)`` in the first stage's
        DFT basis (``w`` columns from pooled column ``start``)."""
        from motiflens.explain import ism_kernels

        stages = self.stages
        assert stages is not None
        for i, stage in enumerate(stages):
            change, seq, start, keep = self._drop(change, alive, seq, start, keep)
            if not keep.numel():
                return out
            y, inverse, flops = _conv_products(change, stage.conv, w)
            self._count("flops", flops)
            n = w + stage.conv.reach
            first = start + stage.conv.pad[0] - stage.conv.reach
            # Without a pool: a pool of 1 over the activation (the kernel's loop is the same).
            kernel = stage.pool.kernel if stage.pool is not None else 1
            wp = (kernel + n - 2) // kernel + 1
            c = stage.index + 1  # the conv's output, its activation's, the pool's
            a = c + stage.relu
            p = a + (stage.pool is not None)
            after = stages[i + 1].conv if i + 1 < len(stages) else None
            change, scratch, transform = self._kernel_out(keep.numel(), wp, p, after)
            alive = torch.empty(keep.numel(), dtype=torch.uint8)
            ism_kernels.conv_pool(
                y.numpy(), inverse.numpy(), torch.empty((n, y.shape[2])).numpy(),
                seq.numpy(), first.numpy(), self.refs[c].numpy(),
                self.refs[p].numpy(), kernel, wp, self.lengths[c], self.lengths[p],
                self.margin, stage.relu, change.numpy(), transform.numpy(),
                scratch.numpy(), alive.numpy(),
            )  # fmt: skip
            start, w = torch.div(first, kernel, rounding_mode="floor"), wp
        change, seq, start, keep = self._drop(change, alive, seq, start, keep)
        if not keep.numel():
            return out
        return self._dense_head(out, change, seq, start, w, keep)

    def _kernel_out(
        self, m: int, w: int, k: int, conv: Conv | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A kernel's output array for ``m`` mutants, its ``(w, C)`` scratch and the
        transform it applies: the DFT forward form of the next conv (``conv``), or
        ``(0, 0)`` (the change as it is: the head's input, or a conv with no DFT form).
        ``k``: the op whose output's channels they hold."""
        c = self.refs[k].shape[2]
        spec = _dft_form(conv, w) if conv is not None else None
        transform = spec.forward if spec is not None else _EMPTY
        rows = transform.shape[0] if spec is not None else w
        return torch.empty((m, rows, c)), torch.empty((w, c)), transform

    def _drop(
        self,
        change: torch.Tensor,
        alive: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        keep: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Drop the mutants whose change is all 0 (``alive`` 0): their output is the
        reference's."""
        if not self.skip or bool(alive.all()):
            return change, seq, start, keep
        rows = alive.bool().nonzero(as_tuple=True)[0]
        self._count("skipped", keep.numel() - rows.numel())
        return change.index_select(0, rows), seq[rows], start[rows], keep[rows]

    def _first_layer(
        self, seq: torch.Tensor, pos: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """The first conv, its element-wise layers and its pool in one go (see __init__).

        The conv's change is computed straight into the pool's region (one product with
        a table per offset), the reference region added (gathered once per position and
        shared by its three mutants), then the max-pool; a ReLU right before the pool is
        applied after it (max and ReLU commute exactly), on fewer columns.
        """
        conv, between, pool, relu_last, table, wp, after = self.first_layer
        m = seq.numel()
        kernel, wr = pool.kernel, wp * pool.kernel
        s = pos + conv.pad[0] - conv.reach  # first conv output column a mutant changes
        first = torch.div(s, kernel, rounding_mode="floor")
        offset = s - first * kernel
        if self.input_codes is not None:
            # One row of the difference table per mutant: (offset, new base, reference).
            code = self.input_codes[seq, pos]
            row = (offset * 4 + values[:, 0].argmax(1)) * 5 + code
            delta = self._first_diff(table).index_select(0, row).view(m, wr, -1)
        else:
            change = values[:, 0] - self._window(0, seq, pos, 1)[:, 0]  # (M, 4)
            inp = change.new_zeros((m, kernel, change.shape[1]))
            inp[torch.arange(m, device=seq.device), offset] = change
            delta = (inp.view(m, -1) @ table).view(m, wr, -1)
            self._count("flops", 2 * m * table.numel())
        start = first * kernel
        if (
            m % 3 == 0
            and bool((seq.view(-1, 3) == seq[::3, None]).all())
            and bool((pos.view(-1, 3) == pos[::3, None]).all())
        ):
            ref = self._window(1, seq[::3], start[::3], wr)
            values = delta.view(m // 3, 3, wr, -1).add_(ref[:, None]).view(m, wr, -1)
        else:
            values = delta.add_(self._window(1, seq, start, wr))
        for op in between:
            values = values * op.scale + op.shift if isinstance(op, Affine) else op.fn(values)
        if self._partial(pool, after - 1):
            values = self._outside(values, 1, start, float("-inf"))
        values = values.view(m, wp, kernel, -1).amax(2)
        if relu_last:
            values = values.relu_()
        return values, first, wp, after

    def _first_diff(self, table: torch.Tensor) -> torch.Tensor:
        """``table`` as differences: row ``(offset, new base, reference code)``.

        Reference codes 0-3 are the bases, 4 is an N (0.25 each); the row is the change of
        the first conv over the pool region when that reference becomes the new base.
        """
        key = ("diff", id(table))
        if key not in self.plan.cache:
            kernel = table.shape[0] // 4
            t = table.view(kernel, 4, -1)
            refs = torch.cat([t, t.mean(1, keepdim=True)], 1)  # (kernel, 5, R)
            self.plan.cache[key] = (t[:, :, None] - refs[:, None]).reshape(kernel * 20, -1)
        return self.plan.cache[key]

    def _pool(
        self,
        op: Pool,
        k: int,
        values: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The pooled window of the mutants' values (``-inf`` where outside the layer)."""
        m, _, c = values.shape
        first = _ceil_div(start - op.kernel + 1, op.stride)  # first pool window touched
        wp = (op.kernel + w - 2) // op.stride + 1
        wr = (wp - 1) * op.stride + op.kernel
        rows = torch.arange(m, device=seq.device)[:, None]
        cols = (start - first * op.stride)[:, None] + self.arange[:w]
        if op.stride != op.kernel:
            # Overlapping windows: splice the values into the reference around them.
            region = self._window(k, seq, first * op.stride, wr)
            region[rows, cols] = values
            pooled = F.max_pool2d(
                region.permute(0, 2, 1).unsqueeze(2), (1, op.kernel), (1, op.stride)
            )
            return pooled.squeeze(2).permute(0, 2, 1), first, wp
        if wp * w < wr:
            # Windows wider than the change: a max over each window's part of the change.
            window_of = torch.div(
                start[:, None] + self.arange[:w], op.kernel, rounding_mode="floor"
            )
            window_of = (window_of - first[:, None])[:, :, None]  # (M, w, 1)
            ninf = values.new_tensor(float("-inf"))
            pooled = torch.stack(
                [torch.where(window_of == o, values, ninf).amax(1) for o in range(wp)], 1
            )
        else:
            region = values.new_full((m, wr, c), float("-inf"))
            region[rows, cols] = values
            pooled = region.view(m, wp, op.kernel, c).amax(2)
        # The reference part of the first and of the last window touched.
        pooled[:, 0] = torch.maximum(pooled[:, 0], self._gather(self.left[k], seq, start, 1)[:, 0])
        last = torch.div(start + w - 1, op.kernel, rounding_mode="floor") - first
        after = self._gather(self.right[k], seq, start + w, 1)[:, 0]
        pooled[rows[:, 0], last] = torch.maximum(pooled[rows[:, 0], last], after)
        if bool((last < wp - 1).any()):  # windows past the last one touched: unchanged
            untouched = (self.arange[:wp] > last[:, None])[:, :, None]
            pooled = torch.where(untouched, self._window(k + 1, seq, first, wp), pooled)
        return pooled, first, wp

    def _head(
        self,
        out: torch.Tensor,
        values: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
        k: int,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        head = self.plan.head
        if head.kind == "max":
            inside = self._outside(values, k, start, float("-inf")).amax(1)
            a = start.clamp(0, self.lengths[k])
            b = (start + w).clamp(0, self.lengths[k])
            outside = torch.maximum(self.prefix[seq, :, a], self.suffix[seq, :, b])
            g = torch.maximum(inside, outside)
            if self.skip:
                alive = (g != self.g0[seq]).any(1)
                self._count("skipped", int((~alive).sum()))
                g, keep, seq = g[alive], keep[alive], seq[alive]
            if keep.numel():
                out[keep] = self._rest(g, seq)
            return out
        change = self._outside(values - self._window(k, seq, start, w), k, start, 0.0)
        change, seq, start, w, keep = self._prune(k, change, seq, start, w, keep)
        if not keep.numel():
            return out
        if head.kind == "mean":
            out[keep] = self._rest(self.g0[seq] + change.sum(1) / self.lengths[k], seq)
            return out
        return self._dense_head(out, change, seq, start, w, keep)

    def _dense_head(
        self,
        out: torch.Tensor,
        change: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """Flatten + linear on the mutants' ``change`` ``(M, w, C)`` (0 outside the
        layer), then the dense layers after it; fills ``out[keep]``.

        ``h0 + W[:, window] @ change`` as one product per position of the layer, over the
        mutants that change it: a mutant's unchanged columns cost nothing (on Basset the
        last pool's edge windows are unchanged for about a third of the mutants). Where
        every mutant's window starts at the same column (motif insertion's edits), one
        product over the window: fewer, larger products.
        """
        m, w, c = change.shape
        hidden = self.h0.index_select(0, seq)
        s0 = int(start[0])
        if bool((start == s0).all()):
            weight = self._dense_slice(s0, w)
            flat = change.reshape(m, w * c)
            self._count("flops", 2 * flat.numel() * hidden.shape[1])
            if weight is None:  # the cache is full: an (in, out) view, through MKL
                view = self.dense_t[s0 + self.margin : s0 + self.margin + w]
                hidden.addmm_(flat, view.reshape(-1, hidden.shape[1]))
            else:
                hidden += _linear(flat, weight, None)
            out[keep] = self._rest(hidden, seq)
            return out
        mi, ji = (change.abs().amax(2) > 0).nonzero(as_tuple=True)
        at = start[mi] + ji
        order = torch.argsort(at, stable=True)
        mi, at = mi[order], at[order]
        rows = change.reshape(m * w, c).index_select(0, mi * w + ji[order])
        positions, counts = torch.unique_consecutive(at, return_counts=True)
        self._count("flops", 2 * rows.numel() * hidden.shape[1])
        a = 0
        for s, count in zip(positions.tolist(), counts.tolist(), strict=True):
            part = slice(a, a + count)
            weight = self._dense_slice(s, 1)
            if weight is None:  # the cache is full: an (in, out) view, through MKL
                y = rows[part] @ self.dense_t[s + self.margin]
            else:
                y = _linear(rows[part], weight, None)
            hidden.index_add_(0, mi[part], y)
            a += count
        out[keep] = self._rest(hidden, seq)
        return out

    def _prune(
        self,
        k: int,
        change: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
        keep: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Tensor]:
        """Drop mutants whose change (at op ``k``'s output) is all zero, and columns no
        mutant changes.

        The check costs about 5% of the time on Basset, where it found nothing (random
        weights and the trained demo model: every substitution changed every window
        column of every layer): after :data:`PRUNE_TRIALS` chunks in which it found
        nothing at a layer, it stops there for this engine. Exactness does not depend
        on it.
        """
        if not self.skip or self._prune_misses.get(k, 0) >= PRUNE_TRIALS:
            return change, seq, start, w, keep
        cols_any = change.abs().amax(2) > 0  # (M, w); faster than (change != 0).any(2)
        rows = cols_any.any(1)
        found = False
        if not bool(rows.all()):
            found = True
            self._count("skipped", int((~rows).sum()))
            change, seq, start, keep = change[rows], seq[rows], start[rows], keep[rows]
            cols_any = cols_any[rows]
            if not keep.numel():
                return change, seq, start, w, keep
        cols = cols_any.any(0).nonzero(as_tuple=True)[0]
        lo, hi = int(cols[0]), int(cols[-1]) + 1
        if lo > 0 or hi < w:
            found = True
            change = change[:, lo:hi]
            start = start + lo
            w = hi - lo
        with self._lock:
            if found:
                self._prune_misses[k] = -(10**9)  # it pays here: never stop
            else:
                self._prune_misses[k] = self._prune_misses.get(k, 0) + 1
        return change, seq, start, w, keep
