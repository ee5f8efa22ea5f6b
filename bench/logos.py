"""Benchmark: per-filter logo PNGs, logomaker against motiflens' own renderer.

All in one process, on random filter-like PWMs of width 19 (each column sharp or nearly flat),
each written as ``motiflens filters`` writes ``logos/filter<f>.png``: a titled information-content
logo, 80 dpi, ``bbox_inches="tight"``.

* (a) logomaker: :func:`motiflens.plots.motifs.motif_logo` and
  :func:`~motiflens.plots.motifs.save_png` with ``draw_logo`` as motiflens had it before issue
  16 (``logomaker.transform_matrix`` then ``logomaker.Logo``, classic colours, DejaVu Sans Mono);
* (b) the same figure and ``save_png`` with today's ``draw_logo`` (cached glyph outlines, one
  collection per logo): the drawing alone changed;
* (c) :class:`~motiflens.plots.motifs.LogoWriter`, what ``filter_figures`` uses (one figure
  per logo width, reused; a new writer per round, so its set-up is counted).

(a), (b) and (c) run in alternating rounds (their order rotating) so that all see the same
load on a shared machine; per-logo medians over rounds are printed. ``ratio logos`` is
(a) / (c), what a user of ``motiflens filters`` waits; ``ratio logos_same_figure`` is (a) / (b).

Usage::

    .venv/bin/python bench/logos.py [--logos 50] [--rounds 5]

Target (issue 16): ``ratio logos`` at least 10x.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import motiflens.plots.motifs as motif_plots

ALPHABET = "ACGT"


def filter_pwms(n: int, width: int = 19, seed: int = 0) -> list[np.ndarray]:
    """``n`` random ``(4, width)`` PWMs: 40% of columns sharp (Dirichlet 0.2), the rest flat-ish."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        alpha = np.where(rng.random(width) < 0.4, 0.2, 4.0)
        out.append(np.stack([rng.dirichlet(np.full(4, a)) for a in alpha], axis=1))
    return out


def logomaker_draw_logo(ax, probs: np.ndarray, *, scale: str = "information", start: int = 0):
    """``draw_logo`` as it was before issue 16 (logomaker 0.8.7)."""
    import logomaker

    mat = np.asarray(probs, dtype=np.float64)
    mat = mat / mat.sum(axis=0, keepdims=True)
    df = pd.DataFrame(mat.T, columns=list(ALPHABET), index=np.arange(mat.shape[1]) + start)
    if scale == "information":
        df = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    logomaker.Logo(df, ax=ax, color_scheme="classic", font_name="DejaVu Sans Mono")
    ax.set_ylim(0, 2.0 if scale == "information" else 1.0)
    ax.set_ylabel("bits" if scale == "information" else "probability")
    ax.spines[["top", "right"]].set_visible(False)


def figure_way(draw: Callable) -> Callable[[list[np.ndarray], Path], None]:
    """motif_logo + save_png per logo, with ``draw`` as the module's ``draw_logo``."""

    def run(pwms: list[np.ndarray], out: Path) -> None:
        saved = motif_plots.draw_logo
        motif_plots.draw_logo = draw  # motif_logo looks it up in the module at call time
        try:
            for i, probs in enumerate(pwms):
                fig = motif_plots.motif_logo(probs, title=f"filter {i} ~ GABPA")
                motif_plots.save_png(fig, out / f"filter{i}.png")
        finally:
            motif_plots.draw_logo = saved

    return run


def writer_way(pwms: list[np.ndarray], out: Path) -> None:
    writer = motif_plots.LogoWriter()
    for i, probs in enumerate(pwms):
        writer.save(probs, out / f"filter{i}.png", title=f"filter {i} ~ GABPA")


def measure(n_logos: int, rounds: int, verbose: bool = True) -> dict[str, float]:
    """Median seconds per logo of each way, over ``rounds`` alternating rounds."""
    ways = {
        "logomaker": figure_way(logomaker_draw_logo),
        "ours_figure": figure_way(motif_plots.draw_logo),
        "ours_writer": writer_way,
    }
    pwms = filter_pwms(n_logos)
    times: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for run in ways.values():  # warm-up: imports, font cache, first text layouts
            run(pwms[:2], out)
        names = list(ways)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                t0 = time.perf_counter()
                ways[name](pwms, out)
                times[name].append((time.perf_counter() - t0) / n_logos)
            if verbose:
                line = "  ".join(f"{k} {v[-1] * 1e3:.1f} ms" for k, v in times.items())
                print(f"round {r + 1}/{rounds}: per logo {line}", flush=True)
    return {name: statistics.median(v) for name, v in times.items()}


def ratios(medians: dict[str, float]) -> list[tuple[str, float]]:
    return [
        ("logos", medians["logomaker"] / medians["ours_writer"]),
        ("logos_same_figure", medians["logomaker"] / medians["ours_figure"]),
    ]


def quick() -> list[tuple[str, float]]:
    """The ratios at a size that takes well under a minute on 2 cores (20 logos, 3 rounds)."""
    return ratios(measure(20, 3, verbose=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logos", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    medians = measure(args.logos, args.rounds)
    for name, seconds in medians.items():
        print(f"median per logo {name}: {seconds * 1e3:.1f} ms")
    for name, value in ratios(medians):
        print(f"ratio {name} {value:.1f}x")


if __name__ == "__main__":
    main()
