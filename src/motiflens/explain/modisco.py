"""TF-MoDISco motifs from attributions, on modisco-lite (compute only: arrays in, patterns out).

:func:`discover_motifs` hands one-hot sequences and their hypothetical contributions to
modisco-lite's ``TFMoDISco``: it cuts seqlets (windows of high total contribution) from the
attributions, clusters them (Leiden, on seeds 1..``n_leiden_runs``, so a run is
deterministic for given inputs) and aggregates each cluster into a pattern. Each pattern
comes back trimmed as modisco-lite's own report trims it: from the first to the last
position whose total absolute contribution reaches 30% of the pattern's largest, and its
seqlets are cut to the same window, in the coordinates of the input sequences.

motiflens arrays are ``(N, 4, L)``; modisco-lite's are ``(N, L, 4)``: the transposes are
made here and nowhere else.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Pattern", "Seqlets", "discover_motifs", "trim_window"]

#: modisco-lite report's trimming: keep positions with >= this fraction of the peak.
TRIM_FRACTION = 0.3


class Seqlets(NamedTuple):
    """The seqlets of one pattern, trimmed to its window.

    Attributes
    ----------
    index
        int64 ``(S,)``: row of the input sequences.
    start, end
        int64 ``(S,)``: 0-based half-open window on the input sequence (forward strand).
    strand
        ``(S,)`` of ``"+"`` / ``"-"``: ``"-"`` when the pattern reads the sequence's
        reverse complement there.
    """

    index: np.ndarray
    start: np.ndarray
    end: np.ndarray
    strand: np.ndarray


class Pattern(NamedTuple):
    """One TF-MoDISco pattern.

    Attributes
    ----------
    name
        ``pos_patterns.pattern_0`` style (modisco-lite's names).
    kind
        ``"pos"`` (positive contributions) or ``"neg"``.
    n_seqlets
        Seqlets aggregated into the pattern.
    probs
        ``(4, w)`` position probability matrix of the seqlets' bases (columns sum to 1).
    contrib
        ``(4, w)`` mean contribution of the observed bases (the CWM).
    hypothetical
        ``(4, w)`` mean hypothetical contributions.
    seqlets
        Where the seqlets lie (:class:`Seqlets`), trimmed to the same ``w`` columns.
    """

    name: str
    kind: str
    n_seqlets: int
    probs: np.ndarray
    contrib: np.ndarray
    hypothetical: np.ndarray
    seqlets: Seqlets


def trim_window(contrib: np.ndarray, fraction: float = TRIM_FRACTION) -> tuple[int, int]:
    """``(start, end)`` of the columns from the first to the last whose total absolute
    contribution is at least ``fraction`` of the largest (modisco-lite report's trim).

    ``contrib`` is ``(4, w)``.
    """
    score = np.abs(np.asarray(contrib)).sum(axis=0)
    if score.size == 0 or score.max() <= 0:
        return 0, int(score.size)
    keep = np.flatnonzero(score >= fraction * score.max())
    return int(keep[0]), int(keep[-1]) + 1


def _normalise(probs: np.ndarray) -> np.ndarray:
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    total = probs.sum(axis=0, keepdims=True)
    return np.where(total > 0, probs / np.where(total > 0, total, 1.0), 0.25)


def _seqlets(raw: list, a: int, b: int, n: int, length: int) -> Seqlets:
    """Seqlets of an untrimmed pattern, cut to its columns ``[a, b)``."""
    rows = []
    for s in raw:
        if s.is_revcomp:  # pattern column 0 is the seqlet's last base
            start, end, strand = s.end - b, s.end - a, "-"
        else:
            start, end, strand = s.start + a, s.start + b, "+"
        if 0 <= s.example_idx < n and 0 <= start and end <= length:
            rows.append((s.example_idx, start, end, strand))
    if not rows:
        empty = np.zeros(0, np.int64)
        return Seqlets(empty, empty, empty, np.zeros(0, dtype=object))
    idx, start, end, strand = zip(*rows, strict=True)
    return Seqlets(
        np.asarray(idx, np.int64),
        np.asarray(start, np.int64),
        np.asarray(end, np.int64),
        np.asarray(strand, dtype=object),
    )


def discover_motifs(
    onehot: np.ndarray,
    attributions: np.ndarray,
    hypothetical: np.ndarray,
    *,
    max_seqlets: int = 2000,
    window: int = 21,
    flank: int = 10,
    trim_to: int = 20,
    pattern_flank: int = 0,
    min_metacluster_size: int = 20,
    final_min_cluster_size: int = 20,
    n_leiden_runs: int = 10,
    target_seqlet_fdr: float = 0.2,
    random_state: int | None = 0,
    verbose: bool = False,
) -> list[Pattern]:
    """TF-MoDISco patterns from attributions (modisco-lite 3.0.0).

    Parameters
    ----------
    onehot
        ``(N, 4, L)`` one-hot sequences (A, C, G, T).
    attributions
        ``(N, 4, L)`` contributions of the observed bases (``hypothetical * onehot``); used
        to check the inputs agree (modisco-lite recomputes them from the hypothetical ones).
    hypothetical
        ``(N, 4, L)`` hypothetical contributions of every base (DeepLIFT/SHAP's, or ISM
        deltas centred per position).
    max_seqlets
        Seqlets kept per metacluster (positive, negative); modisco-lite's default 20,000
        costs minutes, 2,000 is enough for a few motifs.
    window, flank
        Seqlet core width and the flank added either side.
    trim_to, pattern_flank
        modisco-lite trims each cluster to the ``trim_to`` columns of most contribution,
        then widens it by ``pattern_flank`` either side; a seqlet whose widened window
        leaves its sequence is dropped. modisco-lite's 30 and 10 (a 50 bp window) drop
        most seqlets of 100 bp sequences (71 of 300 planted sites in the tests, against
        216 with 20 and 0); the pattern is trimmed by contribution afterwards anyway.
    min_metacluster_size
        A metacluster with fewer seqlets gives no patterns (modisco-lite's default 100 is
        too many for a few hundred sequences).
    final_min_cluster_size
        Smallest pattern kept, in seqlets.
    n_leiden_runs
        Leiden clusterings (seeds 1..n) whose best is kept (modisco-lite's default 50).
    target_seqlet_fdr
        False discovery rate of the seqlet threshold against a Laplace null.
    random_state
        Seed of the sequence order fed to modisco-lite (it keeps the first
        ``max_seqlets``); ``None`` keeps the input order.
    verbose
        modisco-lite's messages.

    Returns
    -------
    list of Pattern
        Positive patterns, then negative ones, each in modisco-lite's order (most seqlets
        first); empty when no metacluster has enough seqlets.

    Raises
    ------
    ValueError
        The arrays disagree in shape, are not ``(N, 4, L)``, or the attributions are not
        the hypothetical contributions on the observed bases.
    """
    from modiscolite import precompile  # heavy (numba, igraph): on first use
    from modiscolite.tfmodisco import TFMoDISco

    # What modisco-lite's own command does first: forked children compile its numba
    # kernels into numba's on-disk cache while this process gets on with the run, and
    # caching is switched on for them, so later runs load them. It does nothing where
    # forking is unsafe (other Python threads, not Linux); nothing depends on it.
    precompile.start()

    onehot = np.asarray(onehot, dtype=np.float32)
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    attributions = np.asarray(attributions, dtype=np.float32)
    if onehot.ndim != 3 or onehot.shape[1] != 4:
        raise ValueError(f"onehot must be (N, 4, L), got {onehot.shape}")
    if not (onehot.shape == hypothetical.shape == attributions.shape):
        raise ValueError(
            f"onehot {onehot.shape}, attributions {attributions.shape} and hypothetical "
            f"{hypothetical.shape} must have one shape"
        )
    projected = hypothetical * onehot
    scale = max(float(np.abs(projected).max(initial=0.0)), 1e-12)
    if np.abs(projected - attributions).max(initial=0.0) > 1e-3 * scale:
        raise ValueError("attributions must be hypothetical * onehot (the observed bases)")
    n, _, length = onehot.shape
    if n == 0:
        return []
    order = (
        np.arange(n) if random_state is None else np.random.default_rng(random_state).permutation(n)
    )
    pos, neg = TFMoDISco(
        one_hot=np.ascontiguousarray(onehot[order].transpose(0, 2, 1)),
        hypothetical_contribs=np.ascontiguousarray(hypothetical[order].transpose(0, 2, 1)),
        sliding_window_size=window,
        flank_size=flank,
        min_metacluster_size=min_metacluster_size,
        max_seqlets_per_metacluster=max_seqlets,
        target_seqlet_fdr=target_seqlet_fdr,
        n_leiden_runs=n_leiden_runs,
        trim_to_window_size=trim_to,
        initial_flank_to_add=pattern_flank,
        final_min_cluster_size=final_min_cluster_size,
        verbose=verbose,
    )
    patterns: list[Pattern] = []
    for kind, found in (("pos", pos), ("neg", neg)):
        for i, p in enumerate(found or []):
            contrib = np.asarray(p.contrib_scores, dtype=np.float64).T
            a, b = trim_window(contrib)
            cut = _seqlets(p.seqlets, a, b, n, length)
            # back to the caller's row numbers
            cut = cut._replace(index=order[cut.index].astype(np.int64))
            patterns.append(
                Pattern(
                    name=f"{kind}_patterns.pattern_{i}",
                    kind=kind,
                    n_seqlets=len(p.seqlets),
                    probs=_normalise(np.asarray(p.sequence).T[:, a:b]),
                    contrib=contrib[:, a:b],
                    hypothetical=np.asarray(p.hypothetical_contribs, dtype=np.float64).T[:, a:b],
                    seqlets=cut,
                )
            )
    return patterns
