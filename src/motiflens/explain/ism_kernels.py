"""Fast ISM's memory-bound steps on CPU as compiled loops: a conv's change through its
ReLU and max-pool to the next layer's change, in one pass per mutant.

Between two of fast ISM's matrix products a chunk's windows went through a dozen torch
operations (gather the reference window, add the change, ReLU, splice into the pool's
windows, gather the reference maxima beside them, max, gather the pooled reference,
subtract, mask the columns outside the layer), each a pass over the whole chunk in
memory. Each kernel here does all of that in one pass, mutant by mutant, while the
windows are in cache, and writes the next conv's input change position-major
(``(w, M, C)``), the layout in which the next DFT transform is one matrix product (the
last one, for the dense head, mutant-major).

Exactness: the kernels do the same float32 additions as the torch path and take maxima
(exact in any order), so the results are bit for bit those of
:mod:`~motiflens.explain.fast_ism`'s general path.

The kernels release the GIL (fast ISM runs chunks on several threads) and are compiled
with explicit signatures into numba's on-disk cache when this module is first imported
(a few seconds; ``make install`` imports it), and later processes load them in
milliseconds.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

__all__ = ["conv_pool", "table_pool"]

_F3 = types.Array(types.float32, 3, "C")
_F2 = types.Array(types.float32, 2, "C")
_I1 = types.Array(types.int64, 1, "C")
_U1 = types.Array(types.uint8, 1, "C")

_TABLE_POOL = types.void(
    _F2, _I1, _F3, _F3, _I1, _I1, types.int64, types.int64, types.int64, types.int64,
    types.int64, types.boolean, _F3, types.boolean, _U1,
)  # fmt: skip
_CONV_POOL = types.void(
    _F3, _I1, _I1, _F3, _F3, _F3, types.int64, types.int64, types.int64, types.int64,
    types.int64, types.boolean, _F3, types.boolean, _U1,
)  # fmt: skip


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
    position_major: bool,
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
    out
        ``(wp, M, C)`` when ``position_major``, else ``(M, wp, C)``: the pooled change
        (mutant minus reference), 0 for windows outside the pool's output.
    alive
        ``(M,)`` set to 1 where the mutant's change is not all 0, else 0.
    """
    m_count = rows.shape[0]
    c_count = ref_conv.shape[2]
    best = np.empty(c_count, np.float32)
    floor = np.float32(0.0 if relu else -np.inf)  # the ReLU as a max with 0
    for m in range(m_count):
        s = seq[m]
        r = rows[m]
        changed = False
        for o in range(wp):
            g = first[m] + o
            dst = out[o, m] if position_major else out[m, o]
            if g < 0 or g >= pool_len:
                dst[:] = 0.0
                continue
            best[:] = -np.inf
            for t in range(kernel):
                j = g * kernel + t
                if j >= conv_len:
                    break
                ref = ref_conv[s, j + margin]
                row = diff[r, (o * kernel + t) * c_count : (o * kernel + t + 1) * c_count]
                for c in range(c_count):
                    v = ref[c] + row[c]
                    b = best[c]
                    best[c] = v if v > b else b  # a select, not a branch: vectorised
            pooled = ref_pool[s, g + margin]
            nonzero = 0
            for c in range(c_count):
                v = best[c]
                v = v if v > floor else floor
                d = v - pooled[c]
                dst[c] = d
                nonzero += d != 0.0
            changed |= nonzero > 0
        alive[m] = changed


@numba.njit(_CONV_POOL, nogil=True, cache=True, boundscheck=False)
def conv_pool(
    delta: np.ndarray,
    seq: np.ndarray,
    start: np.ndarray,
    ref_conv: np.ndarray,
    ref_act: np.ndarray,
    ref_pool: np.ndarray,
    kernel: int,
    wp: int,
    conv_len: int,
    pool_len: int,
    margin: int,
    relu: bool,
    out: np.ndarray,
    position_major: bool,
    alive: np.ndarray,
) -> None:
    """A conv's change (``delta``), its ReLU and a max-pool of stride = kernel.

    Parameters
    ----------
    delta
        ``(n, M, C)`` the change of the conv's output at columns ``start .. start + n -
        1`` of each mutant (position-major).
    seq, start
        ``(M,)`` each mutant's sequence and first changed conv column.
    ref_conv, ref_act, ref_pool
        ``(n_seq, L + 2 margin, C)`` the reference's conv output, activation (the same
        array when there is no ReLU) and pool output.
    kernel, wp
        The pool's kernel (= stride) and the pool windows per mutant written: from
        window ``start // kernel`` on.
    relu
        A ReLU between the conv and the pool.
    out, position_major, alive
        As in :func:`table_pool`.
    """
    n = delta.shape[0]
    m_count = delta.shape[1]
    c_count = delta.shape[2]
    best = np.empty(c_count, np.float32)
    floor = np.float32(0.0 if relu else -np.inf)  # the ReLU as a max with 0
    for m in range(m_count):
        s = seq[m]
        s0 = start[m]
        first = s0 // kernel  # floor division, also for negative columns
        changed = False
        for o in range(wp):
            g = first + o
            dst = out[o, m] if position_major else out[m, o]
            if g < 0 or g >= pool_len:
                dst[:] = 0.0
                continue
            best[:] = -np.inf
            for t in range(kernel):
                j = g * kernel + t
                if j >= conv_len:
                    break
                i = j - s0
                if 0 <= i < n:
                    ref = ref_conv[s, j + margin]
                    dl = delta[i, m]
                    for c in range(c_count):
                        v = ref[c] + dl[c]
                        v = v if v > floor else floor
                        b = best[c]
                        best[c] = v if v > b else b  # selects, not branches: vectorised
                else:
                    act = ref_act[s, j + margin]
                    for c in range(c_count):
                        v = act[c]
                        b = best[c]
                        best[c] = v if v > b else b
            pooled = ref_pool[s, g + margin]
            nonzero = 0
            for c in range(c_count):
                d = best[c] - pooled[c]
                dst[c] = d
                nonzero += d != 0.0
            changed |= nonzero > 0
        alive[m] = changed
