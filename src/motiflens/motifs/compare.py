"""Motif comparison with TomTom semantics, on memelite's implementation of TomTom.

memelite (``memelite.tomtom``) scores an aligned pair of columns by their negative Euclidean
distance and computes TomTom's "complete score" p-values: for every query column the
distribution of its scores against all target columns, combined by dynamic programming over
every offset and both strands. motiflens adds what MEME's tomtom prints on top:

distance
    ``"pearson"`` (the default, Basset's ``-dist pearson``): every column of queries and targets
    is centred and scaled to unit length before memelite sees it, so the squared Euclidean
    distance between two columns is ``2 (1 - r)`` with ``r`` their Pearson correlation. The
    column score ``-sqrt(2 (1 - r))`` is a monotone function of ``r`` (MEME's tomtom sums ``r``
    itself), so the ranking of column pairs is TomTom's; the p-values, computed from the same
    empirical null, are close to but not identical with MEME's. A column with four equal
    probabilities has no correlation and becomes the zero vector (score ``-1``, as for
    ``r = 0.5``); a query whose every column is constant matches nothing (p = 1).
    ``"euclidean"``: the probabilities as they are (memelite's native score, MEME's
    ``-dist ed``).
E-value
    ``p * n_targets``, as MEME's tomtom.
q-value
    Benjamini-Hochberg over each query's p-values against all targets (MEME's tomtom estimates
    q-values per query from the p-values of all its target comparisons).
offset and strand
    ``strand`` is ``'+'`` when the target matches as given and ``'-'`` when its reverse
    complement matches. ``offset`` is the query column where column 0 of the target, reverse
    complemented first when ``strand == '-'``, lies. To draw the alignment, put query column
    ``i`` at x = ``i`` and oriented-target column ``j`` at x = ``offset + j``; the ``overlap``
    columns where both exist were scored. A target that is the query's columns 3 onward has
    offset 3; a query that is a target's columns 4 onward has offset -4. (memelite returns
    ``-offset``: the target column aligned with query column 0.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from motiflens.motifs.pwm import Motif

__all__ = ["TOMTOM_COLUMNS", "benjamini_hochberg", "best_matches", "tomtom"]

TOMTOM_COLUMNS = [
    "query_id",
    "target_id",
    "target_name",
    "offset",
    "overlap",
    "strand",
    "score",
    "p_value",
    "e_value",
    "q_value",
    "query_index",
    "target_index",
]


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis (same order, capped at 1).

    A 2-D input gives each row's q-values separately (one row per query in :func:`tomtom`).
    """
    p = np.asarray(p_values, dtype=np.float64)
    n = p.shape[-1]
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    scaled = np.take_along_axis(p, order, axis=-1) * n / np.arange(1, n + 1)
    # q_(i) = min over j >= i of p_(j) n / j
    q_sorted = np.minimum.accumulate(scaled[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(q_sorted, 1.0), axis=-1)
    return q


def _standardise(probs: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit norm; constant columns become zeros."""
    centred = probs - probs.mean(axis=0, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=0, keepdims=True))
    safe = np.where(norm > 1e-12, norm, 1.0)
    return np.where(norm > 1e-12, centred / safe, 0.0)


def _prepare(motifs: Sequence[Motif], distance: str) -> list[np.ndarray]:
    widths = [m.probs.shape[1] for m in motifs]
    joined = np.concatenate([np.asarray(m.probs, dtype=np.float64) for m in motifs], axis=1)
    if distance == "pearson":
        joined = _standardise(joined)  # column-wise, so once for all motifs
    # C-contiguous float64 (4, w) each: one numba compilation for every call.
    return [np.ascontiguousarray(m) for m in np.split(joined, np.cumsum(widths)[:-1], axis=1)]


def tomtom(
    queries: Sequence[Motif],
    targets: Sequence[Motif],
    *,
    distance: Literal["pearson", "euclidean"] = "pearson",
    thresh: float | None = 0.1,
    reverse_complement: bool = True,
    n_jobs: int = -1,
) -> pd.DataFrame:
    """Compare query motifs with target motifs, TomTom-style (see the module docstring).

    Parameters
    ----------
    queries
        Motifs to annotate (e.g. filter PWMs).
    targets
        The database (e.g. :func:`~motiflens.motifs.databases.load_database`). p-values use the
        target columns as the null, so give a whole database (memelite warns below 25 targets).
    distance
        Column similarity: ``"pearson"`` (default, TomTom ``-dist pearson``) or ``"euclidean"``.
    thresh
        Keep matches with ``q_value <= thresh`` (TomTom's ``-thresh`` on q-values; Basset used
        0.1). ``None`` keeps every query-target pair.
    reverse_complement
        Also try each target's reverse complement (TomTom's default).
    n_jobs
        Threads for memelite (numba); -1 for all.

    Returns
    -------
    pandas.DataFrame
        One row per kept (query, target) pair with columns :data:`TOMTOM_COLUMNS`: ids and the
        target's name, ``offset``/``overlap``/``strand`` of the best alignment, memelite's
        ``score``, ``p_value``, ``e_value`` (p x number of targets) and ``q_value`` (BH per
        query), and the positions of the query and target in the input lists. Sorted by query
        (input order), then q-value, then p-value.
    """
    if distance not in ("pearson", "euclidean"):
        raise ValueError(f"distance must be 'pearson' or 'euclidean', got {distance!r}")
    queries, targets = list(queries), list(targets)
    if not queries or not targets:
        return pd.DataFrame({c: [] for c in TOMTOM_COLUMNS})
    q_mats, t_mats = _prepare(queries, distance), _prepare(targets, distance)
    n_q, n_t = len(queries), len(targets)
    p = np.ones((n_q, n_t))
    scores = np.zeros((n_q, n_t))
    offsets = np.zeros((n_q, n_t), dtype=np.int64)
    overlaps = np.zeros((n_q, n_t), dtype=np.int64)
    strands = np.zeros((n_q, n_t), dtype=np.int64)
    # memelite refuses an all-zero query; such a query (every column constant under Pearson)
    # carries no information and keeps p = 1.
    usable = [i for i, m in enumerate(q_mats) if np.any(m != 0)]
    if usable and any(np.any(m != 0) for m in t_mats):
        from memelite import tomtom as memelite_tomtom

        res = memelite_tomtom(
            [q_mats[i] for i in usable],
            t_mats,
            reverse_complement=reverse_complement,
            n_jobs=n_jobs,
        )
        p[usable], scores[usable] = res[0], res[1]
        # memelite's offset is the target column under query column 0; ours is its negative.
        offsets[usable] = -np.rint(res[2]).astype(np.int64)
        overlaps[usable] = np.rint(res[3]).astype(np.int64)
        strands[usable] = np.rint(res[4]).astype(np.int64)
    p = np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)
    q = benjamini_hochberg(p)
    # Filter before building the table: 300 filters x 879 targets is 264k pairs, few kept.
    keep = np.ones_like(q, dtype=bool) if thresh is None else q <= thresh
    qi, ti = np.nonzero(keep)
    order = np.lexsort((p[qi, ti], q[qi, ti], qi))  # query, then q, then p
    qi, ti = qi[order], ti[order]
    table = pd.DataFrame(
        {
            "query_id": np.array([m.id for m in queries], dtype=object)[qi],
            "target_id": np.array([m.id for m in targets], dtype=object)[ti],
            "target_name": np.array([m.name for m in targets], dtype=object)[ti],
            "offset": offsets[qi, ti],
            "overlap": overlaps[qi, ti],
            "strand": np.where(strands[qi, ti] == 1, "-", "+"),
            "score": scores[qi, ti],
            "p_value": p[qi, ti],
            "e_value": p[qi, ti] * n_t,
            "q_value": q[qi, ti],
            "query_index": qi,
            "target_index": ti,
        }
    )
    return table


def best_matches(table: pd.DataFrame, q: float = 0.1) -> pd.DataFrame:
    """The best match of each query: the row with the lowest q-value (then p-value), if ``<= q``.

    Parameters
    ----------
    table
        A :func:`tomtom` result.
    q
        Largest q-value that counts as a match.

    Returns
    -------
    pandas.DataFrame
        At most one row per query, in query order; queries without a match are absent.
    """
    key = "query_index" if "query_index" in table.columns else "query_id"
    kept = table[table["q_value"] <= q]
    kept = kept.sort_values([key, "q_value", "p_value"], kind="stable")
    return kept.drop_duplicates(key, keep="first").reset_index(drop=True)
