"""Shared figure plumbing: a headless backend and atomic PNG + SVG saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs on servers and in CI

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from motiflens.files import atomic_path


def save_figure(fig: Figure, path: str | Path, svg: bool = True) -> Path:
    """Save a figure as PNG (and SVG beside it) atomically, then close it."""
    path = Path(path).with_suffix(".png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    if svg:
        with atomic_path(path.with_suffix(".svg")) as tmp:
            fig.savefig(tmp, format="svg", bbox_inches="tight")
    plt.close(fig)
    return path
