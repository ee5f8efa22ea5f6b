"""Figures for interpretation results: temporal output heat maps, class-optimization logos.

Each function returns a matplotlib ``Figure``; pass it to
:func:`motiflens.plots.style.save_figure` for PNG + SVG.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from motiflens.plots import style  # noqa: F401  (selects the headless backend first)

__all__ = ["class_optimization_logo", "temporal_heatmap"]

ALPHABET = "ACGT"
MAX_LETTER_TICKS = 120


def _width(length: int, per_position: float, lo: float = 6.0, hi: float = 24.0) -> float:
    return float(min(max(lo, length * per_position + 1.5), hi))


def temporal_heatmap(
    forward: np.ndarray,
    backward: np.ndarray,
    *,
    sequence: str | None = None,
    target_name: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
) -> Figure:
    """Forward and backward temporal output scores of one sequence as a 2-row heat map.

    Red-yellow-green, as DeMo's ``heatmap_temporal.R``: red is a low prediction, green
    a high one.

    Parameters
    ----------
    forward, backward
        ``(L,)`` predictions for one target: on each prefix ending at a position, and
        on each suffix starting there (one sequence's slice of
        :class:`~motiflens.explain.temporal.TemporalScores`).
    sequence
        The sequence; its letters label the x axis when ``L <= 120`` (positions
        otherwise).
    target_name
        Shown in the colour bar's label.
    vmin, vmax
        Colour range; default 0 and 1 when all values lie in [0, 1] (probabilities),
        else the data's range.
    title
        Figure title.

    Returns
    -------
    Figure
    """
    fwd = np.asarray(forward, dtype=np.float64).ravel()
    bwd = np.asarray(backward, dtype=np.float64).ravel()
    if fwd.shape != bwd.shape or fwd.size == 0:
        raise ValueError(
            f"forward and backward must be equal-length 1-D arrays, got {fwd.shape}, {bwd.shape}"
        )
    length = fwd.size
    if sequence is not None and len(sequence) != length:
        raise ValueError(f"sequence has length {len(sequence)}, the scores {length}")
    data = np.vstack([fwd, bwd])
    if vmin is None and vmax is None and data.min() >= 0 and data.max() <= 1:
        vmin, vmax = 0.0, 1.0
    fig = Figure(figsize=(_width(length, 0.13), 1.9))
    ax = fig.add_subplot()
    image = ax.imshow(
        data, aspect="auto", cmap="RdYlGn", vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    ax.set_yticks([0, 1], ["forward", "backward"])
    if sequence is not None and length <= MAX_LETTER_TICKS:
        ax.set_xticks(np.arange(length), list(sequence.upper()), fontsize=6, family="monospace")
        ax.tick_params(axis="x", length=0)
    else:
        ticks = ax.get_xticks()
        ticks = ticks[(ticks >= 0) & (ticks < length)]
        ax.set_xticks(ticks, [str(int(t) + 1) for t in ticks])
        ax.set_xlabel("position")
    label = "prediction" if target_name is None else f"prediction ({target_name})"
    fig.colorbar(image, ax=ax, label=label, fraction=0.03, pad=0.01)
    if title:
        ax.set_title(title)
    return fig


def class_optimization_logo(
    matrix: np.ndarray,
    *,
    scale: Literal["probability", "information"] = "information",
    title: str | None = None,
    highlight: tuple[int, int] | None = None,
    first_position: int = 1,
) -> Figure:
    """A sequence logo of a ``(4, L)`` probability matrix (e.g. a class optimization).

    Parameters
    ----------
    matrix
        ``(4, L)``, rows A, C, G, T, columns summing to 1.
    scale
        ``"information"`` (letter height = probability x information content, bits;
        the default) or ``"probability"``.
    title
        Figure title.
    highlight
        0-based ``(start, end)`` columns (end exclusive) to shade, e.g. the motif window
        of :class:`~motiflens.explain.optimize.ClassOptimization`.
    first_position
        The 1-based sequence position of the first column, for the x axis: a motif cut
        from positions 41-60 of a sequence is drawn at 41-60. Default 1.

    Returns
    -------
    Figure
    """
    import logomaker

    mat = np.asarray(matrix, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[0] != 4 or mat.shape[1] < 1:
        raise ValueError(f"expected a (4, L) probability matrix, got {mat.shape}")
    if np.any(mat < 0) or not np.allclose(mat.sum(axis=0), 1.0, atol=1e-3):
        raise ValueError("not a probability matrix: entries must be >= 0, columns sum to 1")
    if scale not in ("probability", "information"):
        raise ValueError(f"unknown scale {scale!r}; choose 'probability' or 'information'")
    length = mat.shape[1]
    if highlight is not None and not 0 <= highlight[0] < highlight[1] <= length:
        raise ValueError(f"highlight {highlight} is not a column range of 0..{length}")
    positions = np.arange(first_position, first_position + length)
    df = pd.DataFrame(mat.T, columns=list(ALPHABET), index=positions)
    if scale == "information":
        df = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    fig = Figure(figsize=(_width(length, 0.2), 2.2))
    ax = fig.add_subplot()
    logomaker.Logo(df, ax=ax, color_scheme="classic", font_name="DejaVu Sans Mono")
    if highlight is not None:
        lo, hi = positions[highlight[0]], positions[highlight[1] - 1]
        ax.axvspan(lo - 0.5, hi + 0.5, color="#f2c14e", alpha=0.3, lw=0, zorder=-1)
    ax.set_ylim(0, 2.0 if scale == "information" else 1.0)
    ax.set_ylabel("bits" if scale == "information" else "probability")
    ax.set_xlabel("position")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return fig
