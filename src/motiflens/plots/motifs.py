"""Figures about motifs and filters: logos, aligned matches, influence, clustered heat maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from motiflens.files import atomic_path
from motiflens.plots.style import save_figure
from motiflens.progress import tqdm

ALPHABET = "ACGT"


def draw_logo(
    ax,
    probs: np.ndarray,
    *,
    scale: Literal["probability", "information"] = "information",
    start: int = 0,
) -> None:
    """Draw a ``(4, w)`` probability matrix as a logomaker logo on ``ax``.

    ``start`` shifts the x positions (to align two motifs on one axis).
    """
    import logomaker

    mat = np.asarray(probs, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[0] != 4 or mat.shape[1] < 1:
        raise ValueError(f"expected a (4, w) probability matrix, got {mat.shape}")
    mat = mat / mat.sum(axis=0, keepdims=True)
    df = pd.DataFrame(mat.T, columns=list(ALPHABET), index=np.arange(mat.shape[1]) + start)
    if scale == "information":
        df = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    logomaker.Logo(df, ax=ax, color_scheme="classic", font_name="DejaVu Sans Mono")
    ax.set_ylim(0, 2.0 if scale == "information" else 1.0)
    ax.set_ylabel("bits" if scale == "information" else "probability")
    ax.spines[["top", "right"]].set_visible(False)


def motif_logo(probs: np.ndarray, *, title: str | None = None) -> Figure:
    """An information-content logo of one motif."""
    w = np.asarray(probs).shape[1]
    fig = Figure(figsize=(max(2.5, 0.25 * w + 1), 1.6))
    ax = fig.add_subplot()
    draw_logo(ax, probs)
    ax.set_xticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 80) -> Path:
    """PNG only, atomically (for the hundreds of per-filter logos, where SVG is not worth it)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def aligned_logos(
    query: np.ndarray,
    target: np.ndarray,
    *,
    offset: int,
    strand: str,
    query_title: str,
    target_title: str,
) -> Figure:
    """A query motif above its match, aligned as TomTom aligned them.

    Parameters
    ----------
    query, target
        ``(4, w)`` probability matrices.
    offset
        Position of the target's first column relative to the query's first column, after
        reverse-complementing the target when ``strand == "-"``.
    strand
        ``"+"`` or ``"-"``.
    """
    target = np.asarray(target)
    if strand == "-":
        target = target[::-1, ::-1]
    q_w, t_w = np.asarray(query).shape[1], target.shape[1]
    lo, hi = min(0, offset), max(q_w, offset + t_w)
    fig = Figure(figsize=(max(3.0, 0.25 * (hi - lo) + 1), 3.0))
    axes = fig.subplots(2, 1, sharex=True)
    draw_logo(axes[0], query, start=0)
    draw_logo(axes[1], target, start=offset)
    for ax, title in zip(axes, (query_title, f"{target_title} ({strand})"), strict=True):
        ax.set_xlim(lo - 0.5, hi - 0.5)
        ax.set_title(title, fontsize=9, loc="left")
    axes[1].set_xticks([])
    return fig


def ic_influence_scatter(
    ic: np.ndarray, influence: np.ndarray, labels: Sequence[str], *, ylabel: str
) -> Figure:
    """Information content vs influence per filter, annotated filters coloured and named."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    labels = list(labels)
    named = np.array([bool(x) for x in labels])
    ax.scatter(ic[~named], influence[~named], s=14, c="0.6", label="no match")
    ax.scatter(ic[named], influence[named], s=18, c="tab:red", label="matches a known motif")
    top = np.argsort(-np.abs(influence))[:15]
    for i in top:
        if labels[i]:
            ax.annotate(
                labels[i],
                (ic[i], influence[i]),
                fontsize=7,
                xytext=(3, 2),
                textcoords="offset points",
            )
    ax.set_xlabel("information content (bits)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def cluster_order(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column orders from average-linkage hierarchical clustering (correlation)."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    def order(m: np.ndarray) -> np.ndarray:
        if len(m) < 3:
            return np.arange(len(m))
        # Euclidean on the rows: correlation is undefined for constant rows.
        return leaves_list(linkage(m, method="average", metric="euclidean"))

    m = np.nan_to_num(np.asarray(matrix, dtype=np.float64))
    return order(m), order(m.T)


def clustered_heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    colorbar: str,
    max_rows: int = 120,
) -> Figure:
    """Heat map with rows and columns in hierarchical-clustering order, centred at 0.

    Only the ``max_rows`` rows with the largest absolute values are drawn, so a 300-filter
    model still gives a readable figure; the TSV beside it has them all.
    """
    m = np.nan_to_num(np.asarray(matrix, dtype=np.float64))
    rows = np.arange(len(m))
    if len(m) > max_rows:
        rows = np.sort(np.argsort(-np.abs(m).max(axis=1))[:max_rows])
        m = m[rows]
    r, c = cluster_order(m)
    m = m[r][:, c]
    lim = float(np.abs(m).max()) or 1.0
    fig = Figure(figsize=(max(4.0, 0.35 * m.shape[1] + 3), max(3.0, 0.16 * m.shape[0] + 1.5)))
    ax = fig.add_subplot()
    im = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_xticks(
        range(m.shape[1]), [col_labels[i] for i in c], rotation=60, ha="right", fontsize=8
    )
    ax.set_yticks(range(m.shape[0]), [row_labels[rows[i]] for i in r], fontsize=6)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=colorbar, shrink=0.6)
    return fig


def filter_figures(
    report: Any, out: str | Path, *, logos: bool = True, verbose: bool = False
) -> list[Path]:
    """All figures of a :class:`~motiflens.explain.filters.FilterReport` into ``out``.

    ``logos/filter<f>.png`` for every filter with a PWM and ``logos/filter<f>_match.png``
    (the filter above its best match) for annotated ones; ``ic_influence`` and
    ``influence_heatmap`` (PNG + SVG) when influence was computed.
    """
    out = Path(out)
    written: list[Path] = []
    table = report.table.set_index("filter")
    names = {f: (n if isinstance(n, str) and n else "") for f, n in table["match_name"].items()}
    if logos:
        (out / "logos").mkdir(parents=True, exist_ok=True)
        database = {m.id: m for m in report.database}
        for motif in tqdm(report.motifs, desc="filter logos", unit="logo", disable=not verbose):
            f = int(motif.id[len("filter") :])
            title = f"filter {f}" + (f" ~ {names[f]}" if names[f] else "")
            fig = motif_logo(motif.probs, title=title)
            written.append(save_png(fig, out / "logos" / f"filter{f}.png"))
            match = database.get(table.at[f, "match_id"])
            if match is not None:
                fig = aligned_logos(
                    motif.probs,
                    match.probs,
                    offset=int(table.at[f, "match_offset"]),
                    strand=table.at[f, "match_strand"],
                    query_title=f"filter {f}",
                    target_title=f"{match.id} {match.name} (q = {table.at[f, 'match_q']:.2g})",
                )
                written.append(save_png(fig, out / "logos" / f"filter{f}_match.png"))
    if report.influence is not None:
        labels = [f"{f} {names[f]}".strip() for f in table.index]
        infl = report.influence
        y, ylabel = (
            (infl.loss, "loss influence")
            if infl.loss is not None
            else (infl.sum_of_squares, "mean squared target influence")
        )
        fig = ic_influence_scatter(
            table["ic"].to_numpy(), y, [names[f] for f in table.index], ylabel=ylabel
        )
        written.append(save_figure(fig, out / "ic_influence.png"))
        fig = clustered_heatmap(
            infl.targets,
            labels,
            report.target_labels,
            title="filter influence per target (nullification)",
            colorbar="(mean - mean nullified) / variance",
        )
        written.append(save_figure(fig, out / "influence_heatmap.png"))
    return written


__all__ = [
    "aligned_logos",
    "cluster_order",
    "clustered_heatmap",
    "draw_logo",
    "filter_figures",
    "ic_influence_scatter",
    "motif_logo",
    "save_png",
]
