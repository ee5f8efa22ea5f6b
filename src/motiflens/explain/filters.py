"""What the first-layer filters learned: PWMs, known-motif matches and influence.

Basset's motif analysis in one call (:func:`analyze_filters`): the filters' activating
sites (:mod:`motiflens.explain.filter_activations`) give PWMs, TomTom matches them to a
motif database, and nullification gives each filter's influence
(:mod:`motiflens.explain.filter_influence`). On simulated data :func:`planted_recovery`
says which planted motifs some filter recovered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from motiflens.explain.filter_activations import (
    FilterStats,
    filter_means,
    filter_stats,
    first_conv_model,
)
from motiflens.explain.filter_influence import (
    FilterInfluence,
    filter_influence,
    naive_filter_influence,
)
from motiflens.explain.inputs import SequenceInput, as_onehot, target_names
from motiflens.motifs.compare import tomtom
from motiflens.motifs.pwm import Motif, information_content, trim
from motiflens.sequence.onehot import reverse_complement

__all__ = [
    "FilterInfluence",
    "FilterReport",
    "FilterStats",
    "analyze_filters",
    "filter_influence",
    "filter_means",
    "filter_motifs",
    "filter_stats",
    "first_conv_model",
    "naive_filter_influence",
    "planted_recovery",
    "same_family",
]


# ------------------------------------------------------------------ motifs and the report


@dataclass
class FilterReport:
    """Everything ``motiflens filters`` computes, ready to be written or shown.

    Attributes
    ----------
    stats
        Activation statistics and site counts.
    motifs
        The PWM of every filter with enough sites (id ``filter<f>``; trimmed of
        low-information ends when asked), in filter order.
    matches
        Every TomTom match at ``q <= q_threshold`` (columns of
        :func:`motiflens.motifs.compare.tomtom` plus ``filter``).
    table
        One row per filter: ``filter, sites, consensus, ic, act_mean, act_std, match_id,
        match_name, match_q, match_offset, match_strand, influence, influence_ss``.
    influence
        Nullification influence, or None when it was not computed.
    target_labels
        Names of the model's outputs.
    database
        The motifs the filters were compared with (only those matched are kept).
    """

    stats: FilterStats
    motifs: list[Motif]
    matches: pd.DataFrame
    table: pd.DataFrame
    influence: FilterInfluence | None
    target_labels: list[str]
    database: list[Motif]


def filter_motifs(
    stats: FilterStats, *, min_sites: int = 10, trim_ic: float | None = 0.2
) -> list[Motif]:
    """PWMs of the filters with at least ``min_sites`` activating sites.

    With ``trim_ic`` the low-information ends (per-position IC below it) are cut off, as
    Basset's ``-t`` does; a filter with nothing left is dropped.
    """
    out = []
    pwms = stats.pwms()
    for f in np.flatnonzero(stats.sites >= min_sites):
        probs = pwms[f]
        if trim_ic is not None:
            start, end = trim(probs, min_ic=trim_ic)
            if end <= start:
                continue
            probs = probs[:, start:end]
        out.append(Motif(f"filter{f}", f"filter{f}", probs, nsites=int(stats.sites[f])))
    return out


def analyze_filters(
    model: nn.Module,
    X: SequenceInput,
    y: np.ndarray | None = None,
    *,
    database: list[Motif] | None = None,
    q_threshold: float = 0.1,
    threshold: float = 0.5,
    min_sites: int = 10,
    trim_ic: float | None = 0.2,
    influence: bool = True,
    batch_size: int = 100,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> FilterReport:
    """Filters -> PWMs -> TomTom matches -> influence, Basset's motif analysis in one call.

    Parameters
    ----------
    model
        A model whose first layer is a convolution.
    X, y
        ``(N, 4, L)`` one-hot sequences or DNA strings (Basset: 1000 test sequences) and
        optional labels ``(N, T)`` (for the loss influence).
    database
        Known motifs to match against (:func:`motiflens.motifs.databases.load_database`);
        None skips matching.
    q_threshold
        TomTom q-value threshold (Basset: 0.1).
    threshold
        Activation threshold fraction (see :func:`filter_stats`).
    min_sites
        Filters with fewer activating sites get no PWM and no match (reported, not matched).
    trim_ic
        Trim PWM ends below this information content before matching (None: keep all).
    influence
        Also compute nullification influence.
    batch_size, device, verbose
        Computation settings.

    Returns
    -------
    FilterReport
        Its ``target_labels`` are the model's (``model.target_labels``).
    """
    X = as_onehot(X)
    stats = filter_stats(
        model, X, threshold=threshold, batch_size=batch_size, device=device, verbose=verbose
    )
    motifs = filter_motifs(stats, min_sites=min_sites, trim_ic=trim_ic)
    matches = pd.DataFrame()
    if database and motifs:
        matches = tomtom(motifs, database, thresh=q_threshold)
        matches.insert(0, "filter", [int(m[len("filter") :]) for m in matches["query_id"]])
    infl = None
    if influence:
        infl = filter_influence(
            model,
            X,
            y,
            means=stats.mean,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
        )
    table = _filters_table(stats, motifs, matches, infl)
    kept = set(matches["target_id"]) if len(matches) else set()
    n_outputs = int(getattr(model.config, "n_targets", 0)) or (
        infl.targets.shape[1] if infl is not None else 0
    )
    return FilterReport(
        stats=stats,
        motifs=motifs,
        matches=matches,
        table=table,
        influence=infl,
        target_labels=target_names(model, n_outputs),
        database=[m for m in (database or []) if m.id in kept],
    )


def _filters_table(
    stats: FilterStats,
    motifs: list[Motif],
    matches: pd.DataFrame,
    infl: FilterInfluence | None,
) -> pd.DataFrame:
    by_filter = {int(m.id[len("filter") :]): m for m in motifs}
    best = (
        matches.sort_values(["filter", "q_value", "p_value"]).groupby("filter").head(1)
        if len(matches)
        else pd.DataFrame(columns=["filter"])
    ).set_index("filter")
    rows = []
    for f in range(len(stats.sites)):
        motif = by_filter.get(f)
        row = {
            "filter": f,
            "sites": int(stats.sites[f]),
            "consensus": motif.consensus() if motif else "",
            "ic": float(information_content(motif.probs).sum()) if motif else 0.0,
            "act_mean": float(stats.mean[f]),
            "act_std": float(stats.std[f]),
            "match_id": "",
            "match_name": "",
            "match_q": np.nan,
            "match_offset": np.nan,
            "match_strand": "",
        }
        if f in best.index:
            b = best.loc[f]
            row.update(
                match_id=b["target_id"],
                match_name=b["target_name"],
                match_q=float(b["q_value"]),
                match_offset=int(b["offset"]),
                match_strand=b["strand"],
            )
        row["influence"] = (
            float(infl.loss[f]) if infl is not None and infl.loss is not None else np.nan
        )
        row["influence_ss"] = float(infl.sum_of_squares[f]) if infl is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _core(motif: Motif, min_ic: float = 1.0) -> str:
    """Consensus of the informative core: positions below ``min_ic`` bits are N, ends cut."""
    return motif.consensus(min_ic=min_ic).strip("N")


def _within(long: str, short: str, mismatches: int = 1) -> bool:
    """``short`` aligns inside ``long`` with at most ``mismatches``.

    An N in ``short`` matches anything; an N in ``long`` against a base of ``short`` is a
    mismatch (otherwise a gappy core would contain every short motif).
    """
    for i in range(len(long) - len(short) + 1):
        pairs = zip(long[i : i + len(short)], short, strict=True)
        if sum(b != "N" and a != b for a, b in pairs) <= mismatches:
            return True
    return False


def same_family(a: Motif, b: Motif) -> bool:
    """Whether two database motifs stand for the same binding preference.

    True for the same matrix (any version: MA0139.1 ~ MA0139.2), the same TF name, or the
    same informative core: the consensus of the positions with >= 1 bit, ends trimmed, of
    one lies within the other's on either strand (exactly; one mismatch allowed from 8
    informative bases on), the shorter having at least 5 informative bases and at least
    half as many as the longer. This accepts, say, FOS::JUN for FOSL2 (both TGA.TCA).
    """
    if a.id.split(".")[0] == b.id.split(".")[0] or a.name.upper() == b.name.upper():
        return True
    short, long = sorted((_core(a), _core(b)), key=len)
    informative = len(short) - short.count("N")
    # Cores of similar size only: a 6-mer lies, with a mismatch, inside many long ZNF cores.
    if informative < 5 or 2 * informative < len(long) - long.count("N"):
        return False
    allowed = 0 if informative < 8 else 1
    return _within(long, short, allowed) or _within(long, reverse_complement(short), allowed)


def planted_recovery(report: FilterReport, planted: list[Motif]) -> pd.DataFrame:
    """Which planted motifs some filter recovered (simulated data).

    A planted motif is recovered when a filter's best TomTom match (at the report's q-value
    threshold) is that motif or one of its family (:func:`same_family`).

    Returns
    -------
    pandas.DataFrame
        One row per planted motif: ``motif_id``, ``motif_name``, ``recovered``, ``filter``
        (the best such filter, by q-value), ``match_id``, ``match_name``, ``q_value``,
        ``n_filters`` (how many filters recovered it).
    """
    table = report.table[report.table["match_id"].astype(bool)]
    database = {m.id: m for m in report.database}
    rows = []
    for motif in planted:
        hits = [
            r
            for r in table.itertuples()
            if r.match_id in database and same_family(database[r.match_id], motif)
        ]
        best = min(hits, key=lambda r: r.match_q) if hits else None
        rows.append(
            {
                "motif_id": motif.id,
                "motif_name": motif.name,
                "recovered": best is not None,
                "filter": best.filter if best else -1,
                "match_id": best.match_id if best else "",
                "match_name": best.match_name if best else "",
                "q_value": best.match_q if best else np.nan,
                "n_filters": len(hits),
            }
        )
    return pd.DataFrame(rows)
