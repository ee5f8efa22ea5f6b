"""Figures of per-base attributions: logos (logomaker) and heat maps.

Both take one sequence's attributions for one target, ``(4, L)`` (channels A, C, G, T):
``result.attributions[i, :, :, k]`` of :func:`motiflens.explain.saliency.attribute`
(whose result is ``(N, 4, L, T)``, target last), or its ``hypothetical[i, :, :, k]``, and
write PNG + SVG through :func:`motiflens.plots.style.save_figure`.

The projection on the observed bases (``attributions``) draws as the sequence itself, one
letter per position standing up or hanging down; the hypothetical contributions draw every
base at every position, which shows what the model would have preferred at each position
(what tfmodisco clusters) but does not read as a sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.plots.style import plt, save_figure
from motiflens.sequence.onehot import ALPHABET

__all__ = ["plot_attribution_heatmap", "plot_attribution_logo"]

Highlight = Sequence[tuple[int, int]]


def _as_attr(attr: np.ndarray) -> np.ndarray:
    arr = np.asarray(attr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 4:
        raise ValueError(f"expected attributions of shape (4, L), got {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError("attributions of an empty sequence cannot be drawn")
    if not np.isfinite(arr).all():
        raise ValueError("attributions hold NaN or infinite values")
    return arr


def _width(length: int) -> float:
    return float(min(max(6.0, length * 0.12), 30.0))


def _shade(ax: plt.Axes, highlight: Highlight | None, start: int) -> None:
    for lo, hi in highlight or ():
        ax.axvspan(lo + start - 0.5, hi + start - 0.5, color="#f2c14e", alpha=0.3, lw=0, zorder=0)


def plot_attribution_logo(
    attr: np.ndarray,
    path: str | Path,
    *,
    title: str | None = None,
    highlight: Highlight | None = None,
    start: int = 0,
    ylabel: str = "attribution",
) -> Path:
    """Draw attributions as a sequence logo: each letter as tall as its value.

    Positive values stack above zero, negative ones below, so a gradient x input map
    shows the sequence itself with the bases that raise the output standing up and those
    that lower it hanging down. Saved as PNG and SVG.

    Parameters
    ----------
    attr : array, shape=(4, L)
        Attributions per base (A, C, G, T) and position.
    path
        Output file; the suffix is replaced by ``.png`` (and ``.svg`` beside it).
    title
        Figure title. Default is None.
    highlight
        Half-open ``(start, end)`` position ranges (0-based, as in the ground truth of a
        simulation) shaded behind the letters, e.g. planted motif sites. Default is None.
    start
        Coordinate of the first position on the x axis. Default is 0.
    ylabel
        Label of the y axis. Default is ``"attribution"``.

    Returns
    -------
    Path
        The PNG written.
    """
    import logomaker

    arr = _as_attr(attr)
    length = arr.shape[1]
    frame = pd.DataFrame(arr.T, columns=list(ALPHABET), index=np.arange(start, start + length))
    fig, ax = plt.subplots(figsize=(_width(length), 2.2))
    logomaker.Logo(frame, ax=ax, color_scheme="classic", flip_below=False, baseline_width=0.5)
    _shade(ax, highlight, start)
    ax.set_xlim(start - 0.5, start + length - 0.5)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("position")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_attribution_heatmap(
    attr: np.ndarray,
    path: str | Path,
    *,
    title: str | None = None,
    highlight: Highlight | None = None,
    start: int = 0,
    cmap: str = "RdBu_r",
    label: str = "attribution",
) -> Path:
    """Draw attributions as a 4 x L heat map with a diverging, zero-centred colour scale.

    The colour limits are symmetric, ``+-max|attr|`` (as Basset's saturation mutagenesis
    heat maps), so white is exactly zero. Non-negative maps (DeMo saliency) use the same
    scale and show in reds only. Saved as PNG and SVG.

    Parameters
    ----------
    attr : array, shape=(4, L)
        Attributions per base (A, C, G, T) and position.
    path
        Output file; the suffix is replaced by ``.png`` (and ``.svg`` beside it).
    title
        Figure title. Default is None.
    highlight
        Half-open ``(start, end)`` position ranges outlined above the map. Default is
        None.
    start
        Coordinate of the first position on the x axis. Default is 0.
    cmap
        Matplotlib colour map. Default is ``"RdBu_r"``.
    label
        Label of the colour bar. Default is ``"attribution"``.

    Returns
    -------
    Path
        The PNG written.
    """
    arr = _as_attr(attr)
    length = arr.shape[1]
    limit = float(np.abs(arr).max()) or 1.0
    fig, ax = plt.subplots(figsize=(_width(length), 1.9))
    image = ax.imshow(
        arr,
        aspect="auto",
        cmap=cmap,
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=(start - 0.5, start + length - 0.5, 3.5, -0.5),
    )
    for lo, hi in highlight or ():
        ax.add_patch(
            plt.Rectangle(
                (lo + start - 0.5, -0.5),
                hi - lo,
                4,
                fill=False,
                edgecolor="#222222",
                lw=1.2,
            )
        )
    ax.set_yticks(range(4), list(ALPHABET))
    ax.set_xlabel("position")
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label=label)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
