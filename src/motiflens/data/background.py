"""Background sequence for simulations: i.i.d. at a GC content, or a Markov chain of order k.

:func:`estimate_markov` fits the transition table from real sequences and
:func:`sample_background` draws from it (the simulator's background, see
:mod:`motiflens.data.simulate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from motiflens.errors import InputError
from motiflens.sequence.onehot import UNKNOWN, encode_codes


def gc_table(gc: float) -> np.ndarray:
    return np.array([[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]])


def table_order(table: np.ndarray) -> int:
    order = round(math.log(table.shape[0], 4)) if table.shape[0] else -1
    if table.ndim != 2 or table.shape[1] != 4 or 4**order != table.shape[0]:
        raise InputError(
            f"a Markov transition table must have shape (4**k, 4), got {table.shape}",
            hint="row i holds P(next base | previous k bases), the k-mer read as a "
            "base-4 number with A=0, C=1, G=2, T=3 and the latest base last",
        )
    return order


def normalise_table(table: np.ndarray) -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    table_order(table)
    if not np.all(np.isfinite(table)) or np.any(table < 0):
        raise InputError("a Markov transition table must hold finite non-negative numbers")
    sums = table.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise InputError("every row of a Markov transition table needs a positive sum")
    return table / sums


def estimate_markov(
    sequences: Iterable[str | np.ndarray], order: int = 1, pseudocount: float = 1.0
) -> np.ndarray:
    """Estimate an order-k Markov transition table from sequences.

    Parameters
    ----------
    sequences
        DNA strings or arrays of base codes; windows holding N (or any ambiguity code)
        are skipped, and windows never span two sequences.
    order
        Number of preceding bases k the next base depends on (0 gives base composition).
    pseudocount
        Added to every (k+1)-mer count, so unseen contexts get uniform rows.

    Returns
    -------
    numpy.ndarray
        ``(4**k, 4)`` rows of ``P(next base | previous k bases)``; the context is read
        as a base-4 number (A=0, C=1, G=2, T=3) with the most recent base last.
    """
    if order < 0:
        raise InputError(f"markov_order must be >= 0, got {order}")
    k1 = order + 1
    weights = 4 ** np.arange(order, -1, -1)
    counts = np.zeros(4**k1, dtype=np.float64)
    seen = 0
    for i, seq in enumerate(sequences):
        codes = encode_codes(seq, record=str(i)) if isinstance(seq, str | bytes) else seq
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size < k1:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(codes, k1)
        windows = windows[(windows < UNKNOWN).all(axis=1)]
        counts += np.bincount(windows @ weights, minlength=4**k1)
        seen += len(windows)
    if seen == 0:
        raise InputError(
            f"no {k1}-mer of A/C/G/T found in the background sequences",
            hint="pass longer sequences, or lower markov_order",
        )
    return normalise_table(counts.reshape(4**order, 4) + pseudocount)


def stationary(table: np.ndarray) -> np.ndarray:
    """Stationary distribution over the 4**k contexts of an order-k chain."""
    n_states = table.shape[0]
    nxt = (np.arange(n_states)[:, None] * 4 + np.arange(4)[None, :]) % n_states
    pi = np.full(n_states, 1.0 / n_states)
    # Power iteration; averaging two steps makes a periodic chain converge as well.
    for _ in range(10_000):
        step = np.bincount(nxt.ravel(), weights=(pi[:, None] * table).ravel(), minlength=n_states)
        new = 0.5 * (pi + step)
        if np.abs(new - pi).max() < 1e-13:
            break
        pi = new
    return new / new.sum()


def sample_background(
    n: int, length: int, table: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Sample sequences from an order-k Markov chain (k = 0 is i.i.d. bases).

    Parameters
    ----------
    n, length
        Number and length of sequences.
    table
        ``(4**k, 4)`` transition probabilities (see :func:`estimate_markov`); for a GC
        content ``g`` use ``[[(1-g)/2, g/2, g/2, (1-g)/2]]``.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        ``(n, length)`` uint8 base codes. The first k bases come from the chain's
        stationary distribution, so every position has the same composition.
    """
    table = normalise_table(table)
    order = table_order(table)
    # inverse-CDF sampling against the first three cumulative thresholds: the fourth is
    # 1 up to rounding, and leaving it out can never produce a code of 4
    cum = np.cumsum(table, axis=1)[:, :3]
    u = rng.random((n, length))
    if order == 0:
        return (u[..., None] >= cum[0]).sum(axis=-1).astype(np.uint8)
    out = np.empty((n, length), dtype=np.uint8)
    n_states = table.shape[0]
    start = min(order, length)
    pi_cum = np.cumsum(stationary(table))[:-1]
    state = np.searchsorted(pi_cum, rng.random(n), side="right")
    for j in range(start):
        out[:, j] = (state // 4 ** (order - 1 - j)) % 4
    # One vectorised step per position: a loop over L, never over sequences.
    for j in range(start, length):
        base = (u[:, j, None] >= cum[state]).sum(axis=1)
        out[:, j] = base
        state = (state * 4 + base) % n_states
    return out
