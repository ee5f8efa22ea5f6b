"""Fast ISM's steps between its products on CPU as compiled loops: a conv's change
through its ReLU and max-pool to the next conv's change, in one pass per mutant.

Between two of fast ISM's products a chunk's windows went through a dozen torch
operations (the inverse DFT transform, gather the reference window, add the change, ReLU,
splice into the pool's windows, gather the reference maxima beside them, max, gather the
pooled reference, subtract, mask the columns outside the layer, the next DFT transform),
each a pass over the whole chunk in memory. Each kernel here does all of that mutant by
mutant while its windows are in cache: the DFT transforms as small BLAS products
(``np.dot``) on the mutant's own rows, the rest as loops. Outputs are mutant-major
(``(M, P, C)``: each mutant's change in the next conv's DFT basis, the input of
:func:`~motiflens.explain.fast_ism._grouped_products`; ``(M, w, C)`` before the dense
head).

Exactness: the additions and maxima are the torch path's; the transforms' sums run in
another order, so results agree with :mod:`~motiflens.explain.fast_ism`'s general path to
float rounding (about 1e-6), not bit for bit.

The kernels release the GIL (fast ISM runs chunks on several threads) and are compiled
with explicit signatures into numba's on-disk cache when this module is first imported
(a few seconds; ``make install`` imports it), and later processes load them in
milliseconds.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

__all__ = ["conv_pool", "table_pool", "window_pool"]

_F3 = types.Array(types.float32, 3, "C")
_F2 = types.Array(types.float32, 2, "C")
_I1 = types.Array(types.int64, 1, "C")
_I2 = types.Array(types.int64, 2, "C")
_U1 = types.Array(types.uint8, 1, "C")

_TABLE_POOL = types.void(
    _F2, _I1, _F3, _F3, _I1, _I1, types.int64, types.int64, types.int64, types.int64,
    types.int64, types.boolean, _F3, _F2, _F2, _U1,
)  # fmt: skip
_WINDOW_POOL = types.void(
    _F2, _I2, _I2, _I1, types.int64, types.int64, types.int64, _F3, _F3, types.int64,
    types.int64, types.int64, types.int64, types.int64, types.int64, types.boolean, _F3,
    _F2, _F2, _F2, _U1,
)  # fmt: skip
_CONV_POOL = types.void(
    _F3, _F2, _F2, _I1, _I1, _F3, _F3, types.int64, types.int64, types.int64,
    types.int64, types.int64, types.boolean, _F3, _F2, _F2, _U1,
)  # fmt: skip


@numba.njit(inline="always", nogil=True, boundscheck=False)
def _store(ch: np.ndarray, m: int, out: np.ndarray, transform: np.ndarray) -> None:
    """Mutant ``m``'s change ``ch`` ``(w, C)`` into ``out[m]``: as it is (``transform``
    ``(0, 0)``), else ``transform @ ch`` (one small BLAS product)."""
    if transform.shape[0] == 0:
        out[m, :, :] = ch
    else:
        np.dot(transform, ch, out[m])


@numba.njit(inline="always", nogil=True, boundscheck=False)
def _window_change(best: np.ndarray, floor: float, pooled: np.ndarray, dst: np.ndarray) -> bool:
    """``dst = max(best, floor) - pooled`` (a pool window's change); whether it is not all 0."""
    nonzero = 0
    for c in range(best.shape[0]):
        v = best[c]
        v = v if v > floor else floor  # a select, not a branch: vectorised
        d = v - pooled[c]
        dst[c] = d
        nonzero += d != 0.0
    return nonzero > 0


@numba.njit(inline="always", nogil=True, boundscheck=False)
def _pool_windows(
    delta: np.ndarray,
    s: int,
    s0: int,
    ref_conv: np.ndarray,
    ref_pool: np.ndarray,
    kernel: int,
    wp: int,
    conv_len: int,
    pool_len: int,
    margin: int,
    floor: float,
    best: np.ndarray,
    ch: np.ndarray,
) -> bool:
    """Pool windows ``s0 // kernel ..`` (``wp`` of them) of sequence ``s``'s conv output
    with ``delta`` ``(n, C)`` added at columns ``s0 .. s0 + n - 1``: each window's change
    into ``ch`` (0 outside the pool's output); whether any is not 0. ``floor``: a ReLU
    after the max (0), or none (-inf)."""
    n = delta.shape[0]
    c_count = delta.shape[1]
    first = s0 // kernel  # floor division, also for negative columns
    changed = False
    for o in range(wp):
        g = first + o
        dst = ch[o]
        if g < 0 or g >= pool_len:
            dst[:] = 0.0
            continue
        best[:] = -np.inf
        for t in range(kernel):
            j = g * kernel + t
            if j >= conv_len:
                break
            i = j - s0
            ref = ref_conv[s, j + margin]
            if 0 <= i < n:
                dl = delta[i]
                for c in range(c_count):
                    v = ref[c] + dl[c]
                    b = best[c]
                    best[c] = v if v > b else b  # a select, not a branch: vectorised
            else:
                for c in range(c_count):
                    v = ref[c]
                    b = best[c]
                    best[c] = v if v > b else b
        # The ReLU after the max (they commute).
        changed |= _window_change(best, floor, ref_pool[s, g + margin], dst)
    return changed


@numba.njit(_TABLE_POOL, nogil=True, cache=True, boundscheck=False)
def table_pool(
    diff: np.ndarray,
    rows: np.ndarray,
    ref_conv: np.ndarray,
    ref_pool: np.ndarray,
    seq: np.ndarray,
    first: np.ndarray,
    kernel: int,
    wp: int,
    conv_len: int,
    pool_len: int,
    margin: int,
    relu: bool,
    out: np.ndarray,
    transform: np.ndarray,
    ch: np.ndarray,
    alive: np.ndarray,
) -> None:
    """The first conv's change (a row of ``diff`` per mutant), then max-pool, then ReLU.

    Parameters
    ----------
    diff
        ``(R, wr * C)``: the change of the conv's output over a pool region of ``wr =
        wp * kernel`` columns, per (offset, new base, reference base) row.
    rows
        ``(M,)`` the row of ``diff`` of each mutant.
    ref_conv, ref_pool
        ``(n, L + 2 margin, C)`` the reference conv output and pool output.
    seq, first
        ``(M,)`` each mutant's sequence and first pool window touched (the region starts
        at conv column ``first * kernel``).
    relu
        Apply a ReLU after the pool (max and ReLU commute).
    out, transform
        The pooled change (mutant minus reference, 0 for windows outside the pool's
        output), mutant-major: ``(M, wp, C)`` as it is when ``transform`` is ``(0, 0)``,
        else ``(M, P, C)``, multiplied by ``transform`` ``(P, wp)`` (the next conv's DFT
        forward form: its products start from it).
    ch
        ``(wp, C)`` scratch.
    alive
        ``(M,)`` set to 1 where the mutant's change is not all 0, else 0.
    """
    m_count = rows.shape[0]
    c_count = ref_conv.shape[2]
    best = np.empty(c_count, np.float32)
    floor = np.float32(0.0 if relu else -np.inf)  # the ReLU as a max with 0
    for m in range(m_count):
        # The row is the change over the region's wp * kernel columns, column-major.
        delta = diff[rows[m]].reshape((wp * kernel, c_count))
        alive[m] = _pool_windows(
            delta, seq[m], first[m] * kernel, ref_conv, ref_pool, kernel, wp, conv_len,
            pool_len, margin, floor, best, ch,
        )  # fmt: skip
        _store(ch, m, out, transform)


@numba.njit(_CONV_POOL, nogil=True, cache=True, boundscheck=False)
def conv_pool(
    y: np.ndarray,
    inverse: np.ndarray,
    d: np.ndarray,
    seq: np.ndarray,
    start: np.ndarray,
    ref_conv: np.ndarray,
    ref_pool: np.ndarray,
    kernel: int,
    wp: int,
    conv_len: int,
    pool_len: int,
    margin: int,
    relu: bool,
    out: np.ndarray,
    transform: np.ndarray,
    ch: np.ndarray,
    alive: np.ndarray,
) -> None:
    """A conv's change, its ReLU and a max-pool of stride = kernel.

    Parameters
    ----------
    y, inverse
        The change of the conv's output at columns ``start .. start + n - 1`` of each
        mutant: ``inverse @ y[m]`` (``inverse`` ``(n, P)``, the conv's inverse DFT form,
        ``y`` ``(M, P, C)`` its products), or ``y[m]`` itself (``(M, n, C)``) when
        ``inverse`` is ``(0, 0)``.
    d
        ``(n, C)`` scratch.
    seq, start
        ``(M,)`` each mutant's sequence and first changed conv column.
    ref_conv, ref_pool
        ``(n_seq, L + 2 margin, C)`` the reference's conv output and pool output.
    kernel, wp
        The pool's kernel (= stride) and the pool windows per mutant written: from
        window ``start // kernel`` on.
    relu
        A ReLU between the conv and the pool (applied after it: max and ReLU commute).
    out, transform, ch, alive
        As in :func:`table_pool`.
    """
    m_count = y.shape[0]
    c_count = y.shape[2]
    best = np.empty(c_count, np.float32)
    floor = np.float32(0.0 if relu else -np.inf)  # the ReLU as a max with 0
    for m in range(m_count):
        if inverse.shape[0] == 0:
            delta = y[m]
        else:
            np.dot(inverse, y[m], d)
            delta = d
        alive[m] = _pool_windows(
            delta, seq[m], start[m], ref_conv, ref_pool, kernel, wp, conv_len, pool_len,
            margin, floor, best, ch,
        )  # fmt: skip
        _store(ch, m, out, transform)


@numba.njit(_WINDOW_POOL, nogil=True, cache=True, boundscheck=False)
def window_pool(
    table: np.ndarray,
    bases: np.ndarray,
    codes: np.ndarray,
    seq: np.ndarray,
    start: int,
    taps: int,
    dilation: int,
    ref_conv: np.ndarray,
    ref_pool: np.ndarray,
    s0: int,
    kernel: int,
    wp: int,
    conv_len: int,
    pool_len: int,
    margin: int,
    relu: bool,
    out: np.ndarray,
    transform: np.ndarray,
    ch: np.ndarray,
    acc: np.ndarray,
    alive: np.ndarray,
) -> None:
    """The first conv's change from a multi-base edit, its ReLU and a max-pool of stride =
    kernel (motif insertion's edits; :func:`conv_pool` with the change made here).

    Parameters
    ----------
    table
        ``(taps * 20, C)``: row ``20 t + 5 b + r``: the conv's output change through tap
        ``t`` when an input column's reference ``r`` (4: an N) becomes base ``b``.
    bases
        ``(M, w)`` each edit's new bases at columns ``start .. start + w - 1``.
    codes
        ``(n, L)`` the reference base codes of the sequences.
    seq, start, taps, dilation, s0
        Each edit's sequence; the first edited column; the conv's taps and dilation; the
        first conv column the edit changes (edited column ``i`` reaches conv column
        ``s0 + i + (taps - 1 - t) * dilation`` through tap ``t``).
    ref_conv, ref_pool, kernel, wp, conv_len, pool_len, margin, relu
        As in :func:`conv_pool`.
    out, transform, ch, alive
        As in :func:`table_pool`.
    acc
        ``(w + (taps - 1) * dilation, C)`` scratch: the edit's change of the conv's
        columns ``s0 ..``.
    """
    m_count, w = bases.shape
    c_count = table.shape[1]
    best = np.empty(c_count, np.float32)
    floor = np.float32(0.0 if relu else -np.inf)  # the ReLU as a max with 0
    for m in range(m_count):
        s = seq[m]
        # The conv's change: each edited column's rows, tap by tap.
        acc[:, :] = 0.0
        for i in range(w):
            new = bases[m, i]
            ref = codes[s, start + i]
            if new == ref:  # its rows are 0: a motif base that is the background's
                continue
            for t in range(taps):
                row = 20 * t + 5 * new + ref
                q = i + (taps - 1 - t) * dilation
                for c in range(c_count):
                    acc[q, c] += table[row, c]
        alive[m] = _pool_windows(
            acc, s, s0, ref_conv, ref_pool, kernel, wp, conv_len, pool_len, margin, floor,
            best, ch,
        )  # fmt: skip
        _store(ch, m, out, transform)
