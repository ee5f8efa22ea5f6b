"""Basset's three-panel figure of an in-silico saturation mutagenesis (``basset_sat.py``).

(1) The sequence as a logo whose letter heights follow the loss score, (2) the loss and
gain tracks, (3) the 4 x W heat map of the change of the output for every base and
position, on a symmetric diverging colour scale. Input comes from
:func:`motiflens.explain.ism.saturation_mutagenesis` and
:func:`motiflens.explain.ism.loss_gain` for one sequence and one target.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.plots.style import plt, save_figure
from motiflens.sequence.onehot import ALPHABET

__all__ = ["plot_ism"]

#: Basset's smallest colour/height limit (``basset_sat.py -m 0.1``).
MIN_LIMIT = 0.1


def plot_ism(
    delta: np.ndarray,
    loss: np.ndarray,
    gain: np.ndarray,
    sequence: str,
    path: str | Path,
    *,
    title: str | None = None,
    positions: Sequence[int] | np.ndarray | None = None,
    mark: int | None = None,
    min_limit: float = MIN_LIMIT,
    mark_width: int = 1,
) -> Path:
    """Draw Basset's saturation mutagenesis figure and save it as PNG and SVG.

    Parameters
    ----------
    delta : array, shape=(4, W)
        Change of the target's logit for base A, C, G, T at each position (0 at the
        reference base).
    loss, gain : array, shape=(W,)
        Loss (reference minus the lowest prediction) and gain (highest prediction minus
        the reference) per position.
    sequence
        The ``W`` reference bases of the window; ``N`` (or any other letter) draws no
        letter.
    path
        Output file; the suffix is replaced by ``.png`` (and ``.svg`` beside it).
    title
        Figure title. Default is None.
    positions : array, shape=(W,), optional
        Sequence coordinate of each column (``ISMResult.positions``). Default
        ``0 .. W-1``.
    mark
        A position (in the coordinates of ``positions``) to draw as a vertical line
        in every panel, e.g. a variant. Default is None.
    min_limit
        Smallest limit of the letter heights and of the colour scale (Basset's ``-m``).
        Default is 0.1.
    mark_width
        Bases the mark covers from ``mark`` on (an indel's allele): with more than one,
        the span ``mark .. mark + mark_width - 1`` is shaded as well. Default is 1.

    Returns
    -------
    Path
        The PNG written.

    Raises
    ------
    ValueError
        Shapes that do not agree, or NaN/infinite values.

    Notes
    -----
    As in Basset, the letter of the reference base is ``0.25 + 1.75 * loss / vlim`` high
    with ``vlim = max(min_limit, max |loss|, max |gain|)``, and the heat map's colour
    limits are ``+-max(min_limit, max |delta|)`` (``RdBu_r``: blue lowers the output,
    red raises it).
    """
    import logomaker

    d = np.asarray(delta, dtype=np.float64)
    lo = np.asarray(loss, dtype=np.float64).ravel()
    ga = np.asarray(gain, dtype=np.float64).ravel()
    if d.ndim != 2 or d.shape[0] != 4:
        raise ValueError(f"expected delta of shape (4, W), got {d.shape}")
    w = d.shape[1]
    if w == 0:
        raise ValueError("an empty window cannot be drawn")
    if lo.size != w or ga.size != w or len(sequence) != w:
        raise ValueError(
            f"delta has {w} positions but loss, gain and sequence have length "
            f"{lo.size}, {ga.size}, {len(sequence)}"
        )
    if not (np.isfinite(d).all() and np.isfinite(lo).all() and np.isfinite(ga).all()):
        raise ValueError("ISM scores hold NaN or infinite values")
    x = np.arange(w) if positions is None else np.asarray(positions)
    if x.shape != (w,):
        raise ValueError(f"positions has shape {x.shape}, expected ({w},)")

    vlim = max(min_limit, float(np.abs(lo).max()), float(np.abs(ga).max()))
    heights = np.zeros((w, 4))
    for i, base in enumerate(sequence.upper()):
        if base in ALPHABET:
            heights[i, ALPHABET.index(base)] = 0.25 + 1.75 * lo[i] / vlim
    clim = max(min_limit, float(np.abs(d).max()))

    width = float(min(max(8.0, 0.16 * w), 40.0))
    fig, (ax_logo, ax_track, ax_heat) = plt.subplots(
        3,
        1,
        figsize=(width, 5.6),
        sharex=True,
        gridspec_kw={"height_ratios": [1.0, 1.0, 1.3], "hspace": 0.12},
    )
    frame = pd.DataFrame(heights, columns=list(ALPHABET), index=x)
    logomaker.Logo(frame, ax=ax_logo, color_scheme="classic", baseline_width=0)
    ax_logo.set_ylim(0, 2.05)
    ax_logo.set_yticks([])
    ax_logo.set_ylabel("loss")
    ax_track.plot(x, lo, color="#c0392b", lw=1.2, label="loss")
    ax_track.plot(x, ga, color="#2471a3", lw=1.2, label="gain")
    ax_track.set_ylabel("score")
    ax_track.legend(loc="upper right", fontsize=8, frameon=False, ncols=2)
    image = ax_heat.imshow(
        d,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-clim,
        vmax=clim,
        interpolation="nearest",
        extent=(x[0] - 0.5, x[-1] + 0.5, 3.5, -0.5),
    )
    ax_heat.set_yticks(range(4), list(ALPHABET))
    ax_heat.set_xlabel("position")
    colorbar = fig.colorbar(image, ax=[ax_logo, ax_track, ax_heat], fraction=0.02, pad=0.01)
    colorbar.set_label("change of logit")
    for ax in (ax_logo, ax_track):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if mark is not None:
        for ax in (ax_logo, ax_track, ax_heat):
            ax.axvline(mark, color="black", lw=0.8, ls="--", zorder=5)
            if mark_width > 1:
                ax.axvspan(
                    mark - 0.5, mark + mark_width - 0.5, color="black", alpha=0.08, gid="mark"
                )
    ax_heat.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    if title:
        ax_logo.set_title(title)
    return save_figure(fig, path)
