"""Logos drawn without logomaker: letter boxes worked out by hand, logomaker's look, PNG writer."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.path import Path

from motiflens.motifs.pwm import Motif
from motiflens.plots.logo import logo_heights
from motiflens.plots.motifs import (
    LogoWriter,
    aligned_logos,
    draw_logo,
    filter_figures,
    motif_logo,
    save_png,
)

# logomaker 0.8.7, src/colors.py, scheme "classic", written out rather than imported.
CLASSIC = {"A": (0.0, 0.5, 0.0), "C": (0.0, 0.0, 1.0), "G": (1.0, 0.65, 0.0), "T": (1.0, 0.0, 0.0)}


def naive_ic(column: list[float]) -> float:
    """2 - H in bits, the relative entropy to a uniform background."""
    return 2.0 + sum(p * math.log2(p) for p in column if p > 0)


def glyph_boxes(ax) -> dict[tuple[int, str], tuple[float, float, float, float]]:
    """``(column, letter) -> (x0, y0, x1, y1)`` in data units, from the drawn paths."""
    boxes = {}
    for collection in ax.collections:
        for path, colour in zip(collection.get_paths(), collection.get_facecolors(), strict=True):
            letter = next(k for k, v in CLASSIC.items() if np.allclose(colour[:3], v))
            # Each subpath (from a MOVETO) belongs to the column of its first point.
            starts = path.codes == Path.MOVETO
            columns = np.round(path.vertices[starts, 0]).astype(int)[np.cumsum(starts) - 1]
            for j in np.unique(columns):
                keep = columns == j
                # Path.get_extents gives the curves' extents, not their control points'.
                box = Path(path.vertices[keep], path.codes[keep]).get_extents()
                assert (j, letter) not in boxes, "one glyph per letter and column"
                boxes[(j, letter)] = (box.x0, box.y0, box.x1, box.y1)
    return boxes


def new_axes(figsize=(4.0, 1.6)):
    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def test_heights_stacking_and_colours_by_hand():
    probs = np.array(
        [
            # A     A/C    ACGT rising   uniform
            [1.0, 0.5, 0.1, 0.25],
            [0.0, 0.5, 0.2, 0.25],
            [0.0, 0.0, 0.3, 0.25],
            [0.0, 0.0, 0.4, 0.25],
        ]
    )
    _fig, ax = new_axes()
    draw_logo(ax, probs)
    boxes = glyph_boxes(ax)
    # Column 0: one base, IC = 2 bits, all of it A.
    # Column 1: two bases, H = 1, IC = 1: A and C 0.5 each; equal heights stack A below C.
    # Column 2: H = 0.332193 + 0.464386 + 0.521090 + 0.528771 = 1.846439, IC = 0.153561:
    #           A 0.0153561 < C 0.0307122 < G 0.0460683 < T 0.0614244, smallest at the bottom.
    # Column 3: uniform, IC = 0: no glyph.
    expected = {
        (0, "A"): (0.0, 2.0),
        (1, "A"): (0.0, 0.5),
        (1, "C"): (0.5, 1.0),
        (2, "A"): (0.0, 0.0153561),
        (2, "C"): (0.0153561, 0.0460683),
        (2, "G"): (0.0460683, 0.0921366),
        (2, "T"): (0.0921366, 0.1535610),
    }
    assert set(boxes) == set(expected)
    assert naive_ic([0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.153561, abs=1e-6)
    for key, (y0, y1) in expected.items():
        x0, gy0, x1, gy1 = boxes[key]
        assert (gy0, gy1) == pytest.approx((y0, y1), abs=1e-6), key
        # Centred on its column, inside logomaker's 0.95-wide box.
        assert (x0 + x1) / 2 == pytest.approx(key[0], abs=1e-6)
        assert -0.475 - 1e-9 <= x0 - key[0] and x1 - key[0] <= 0.475 + 1e-9
    # Every letter of a monospaced font is stretched to nearly the full box (at least 80%).
    assert all(x1 - x0 > 0.8 * 0.95 for x0, _, x1, _ in boxes.values())
    assert ax.get_xlim() == pytest.approx((-0.475, 3.475))
    assert ax.get_ylim() == (0.0, 2.0)
    assert ax.get_ylabel() == "bits"


def test_probability_scale_and_start():
    probs = np.array([[0.6, 0.0], [0.4, 0.0], [0.0, 0.9], [0.0, 0.1]])
    _fig, ax = new_axes()
    draw_logo(ax, probs, scale="probability", start=5)
    boxes = glyph_boxes(ax)
    expected = {
        (5, "C"): (0.0, 0.4),
        (5, "A"): (0.4, 1.0),
        (6, "T"): (0.0, 0.1),
        (6, "G"): (0.1, 1.0),
    }
    assert set(boxes) == set(expected)
    for key, (y0, y1) in expected.items():
        assert (boxes[key][1], boxes[key][3]) == pytest.approx((y0, y1), abs=1e-6), key
        assert (boxes[key][0] + boxes[key][2]) / 2 == pytest.approx(key[0], abs=1e-6)
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.get_xlim() == pytest.approx((4.525, 6.475))


def test_unnormalised_weights_are_normalised():
    # Counts 3:1 are probabilities 0.75 and 0.25: IC = 2 - 0.811278 = 1.188722.
    heights = logo_heights(np.array([[3.0], [1.0], [0.0], [0.0]]))
    ic = naive_ic([0.75, 0.25])
    assert ic == pytest.approx(1.188722, abs=1e-6)
    assert heights[:, 0] == pytest.approx([0.75 * ic, 0.25 * ic, 0.0, 0.0], abs=1e-12)


def test_uniform_columns_draw_nothing():
    fig, ax = new_axes()
    draw_logo(ax, np.full((4, 6), 0.25))
    assert glyph_boxes(ax) == {}
    FigureCanvasAgg(fig).draw()  # draws without error


@pytest.mark.parametrize("width", [1, 30])
def test_widths(width):
    probs = np.random.default_rng(width).dirichlet(np.full(4, 0.3), size=width).T
    fig, ax = new_axes((0.25 * width + 1, 1.6))
    draw_logo(ax, probs)
    boxes = glyph_boxes(ax)
    assert {j for j, _ in boxes} == set(range(width))
    assert ax.get_xlim() == pytest.approx((-0.475, width - 1 + 0.475))
    # The column stacks are as tall as their information content.
    for j in range(width):
        top = max(y1 for (c, _), (_, _, _, y1) in boxes.items() if c == j)
        assert top == pytest.approx(naive_ic(list(probs[:, j])), abs=1e-6)
    FigureCanvasAgg(fig).draw()


def test_bad_shape():
    _fig, ax = new_axes()
    with pytest.raises(ValueError, match=r"\(4, w\)"):
        draw_logo(ax, np.ones((3, 5)))
    with pytest.raises(ValueError, match="no column 0"):
        draw_logo(ax, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="unknown scale"):
        draw_logo(ax, np.ones((4, 2)), scale="bits")


def render(draw, probs: np.ndarray) -> np.ndarray:
    fig = Figure(figsize=(0.25 * probs.shape[1] + 1, 1.6), dpi=80)
    ax = fig.add_subplot()
    draw(ax, probs)
    ax.set_xticks([])
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(float) / 255


def logomaker_logo(ax, probs: np.ndarray) -> None:
    """The logo as motiflens drew it with logomaker 0.8.7."""
    logomaker = pytest.importorskip("logomaker")
    df = pd.DataFrame(probs.T / probs.sum(axis=0)[:, None], columns=list("ACGT"))
    df = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    logomaker.Logo(df, ax=ax, color_scheme="classic", font_name="DejaVu Sans Mono")
    ax.set_ylim(0, 2.0)
    ax.set_ylabel("bits")
    ax.spines[["top", "right"]].set_visible(False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_looks_like_logomaker(seed):
    rng = np.random.default_rng(seed)
    width = [8, 19, 25][seed]
    # Filter-like columns: some sharp, some nearly flat.
    alpha = np.where(rng.random(width) < 0.5, 0.2, 3.0)
    probs = np.stack([rng.dirichlet(np.full(4, a)) for a in alpha], axis=1)
    ours, theirs = render(draw_logo, probs), render(logomaker_logo, probs)
    assert ours.shape == theirs.shape
    # Measured: 99.6-99.7% of pixels identical; the rest anti-aliased edges.
    assert (np.abs(ours - theirs).max(axis=2) < 0.02).mean() > 0.99
    for letter, rgb in CLASSIC.items():
        # A pixel is the letter's when it is within anti-aliasing distance of its colour.
        near = [np.abs(image - np.array(rgb)).max(axis=2) < 0.25 for image in (ours, theirs)]
        union = (near[0] | near[1]).sum()
        if union < 20:
            continue  # no visible glyph of this letter
        iou = (near[0] & near[1]).sum() / union
        assert iou > 0.95, (letter, iou)


def read_png(path) -> np.ndarray:
    """RGB in [0, 1]; the images are opaque."""
    pixels = imread(path)
    assert pixels.shape[2] == 3 or np.all(pixels[..., 3] == 1.0)
    return pixels[..., :3]


def test_writer_images_are_save_png_images(tmp_path):
    rng = np.random.default_rng(3)
    writer = LogoWriter()
    cases = [(19, "filter 0 ~ GABPA"), (19, "filter 1"), (7, None), (19, "x" * 300)]
    for k, (width, title) in enumerate(cases):
        probs = rng.dirichlet(np.full(4, 0.3), size=width).T
        ours = read_png(writer.save(probs, tmp_path / f"w{k}.png", title=title))
        reference = read_png(save_png(motif_logo(probs, title=title), tmp_path / f"r{k}.png"))
        assert ours.shape == reference.shape, (width, title)
        # Identical but for a few anti-aliased pixels.
        assert (np.abs(ours - reference).max(axis=2) > 0.02).mean() < 1e-3, (width, title)
    query = rng.dirichlet(np.full(4, 0.3), size=12).T
    target = rng.dirichlet(np.full(4, 0.3), size=9).T
    for k, (offset, strand) in enumerate([(2, "+"), (-3, "-"), (5, "-")]):
        kwargs = dict(
            offset=offset, strand=strand, query_title="filter 3", target_title="MA0062.2 GABPA"
        )
        ours = read_png(writer.save_aligned(query, target, tmp_path / f"a{k}.png", **kwargs))
        fig = aligned_logos(query, target, **kwargs)
        reference = read_png(save_png(fig, tmp_path / f"ra{k}.png"))
        assert ours.shape == reference.shape, (offset, strand)
        assert (np.abs(ours - reference).max(axis=2) > 0.02).mean() < 1e-3, (offset, strand)


def test_filter_figures_writes_every_logo(tmp_path):
    rng = np.random.default_rng(4)
    motifs = [Motif(f"filter{f}", f"filter{f}", rng.dirichlet(np.ones(4), 10).T) for f in (0, 2)]
    match = Motif("MA0001.1", "AGL3", rng.dirichlet(np.ones(4), 8).T)
    table = pd.DataFrame(
        {
            "filter": [0, 1, 2],
            "match_id": ["MA0001.1", None, None],
            "match_name": ["AGL3", None, None],
            "match_q": [0.01, np.nan, np.nan],
            "match_offset": [1, 0, 0],
            "match_strand": ["-", None, None],
        }
    )
    report = SimpleNamespace(table=table, motifs=motifs, database=[match], influence=None)
    written = filter_figures(report, tmp_path)
    logos = tmp_path / "logos"
    assert sorted(p.name for p in written) == ["filter0.png", "filter0_match.png", "filter2.png"]
    reference = read_png(
        save_png(motif_logo(motifs[0].probs, title="filter 0 ~ AGL3"), tmp_path / "r.png")
    )
    ours = read_png(logos / "filter0.png")
    assert ours.shape == reference.shape
    assert (np.abs(ours - reference).max(axis=2) > 0.02).mean() < 1e-3
