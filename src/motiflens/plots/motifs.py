"""Figures about motifs and filters: logos, aligned matches, influence, clustered heat maps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib import rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image

from motiflens.files import atomic_path
from motiflens.plots.logo import GLYPH_WIDTH, draw_glyphs, logo_heights
from motiflens.plots.style import save_figure
from motiflens.progress import tqdm


def draw_logo(
    ax,
    probs: np.ndarray,
    *,
    scale: Literal["probability", "information"] = "information",
    start: int = 0,
) -> None:
    """Draw a ``(4, w)`` probability matrix as a logo on ``ax``, in logomaker's classic look.

    Parameters
    ----------
    ax
        A matplotlib ``Axes``.
    probs
        ``(4, w)`` non-negative weights, rows A, C, G, T; columns are normalised to sum 1.
    scale
        ``"information"`` (letter height = probability x information content, bits; the
        default) or ``"probability"``.
    start
        x position of the first column (to align two motifs on one axis).

    Raises
    ------
    ValueError
        If ``probs`` is not a ``(4, w)`` matrix of non-negative weights (see
        :func:`~motiflens.plots.logo.logo_heights`).
    """
    heights = logo_heights(probs, scale)
    draw_glyphs(ax, heights, start=start)
    # What logomaker.Logo adds around its glyphs: a baseline behind them and x limits that
    # cover every column (and the columns of any axes sharing x).
    ax.axhline(0.0, color="black", linewidth=0.5, zorder=-1)
    xmin, xmax = start - GLYPH_WIDTH / 2, start + heights.shape[1] - 1 + GLYPH_WIDTH / 2
    for sibling in ax.get_shared_x_axes().get_siblings(ax):
        if sibling is not ax:
            lo, hi = sibling.get_xlim()
            xmin, xmax = min(xmin, lo), max(xmax, hi)
    ax.set_xlim(xmin, xmax)
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


_PLACEHOLDER = "Title"


class LogoWriter:
    """Writes many logo PNGs through reused figures, as :func:`save_png` would write them.

    The figures are those of :func:`motif_logo` and :func:`aligned_logos`.

    A new figure per logo spends most of its time on what every logo of one width shares:
    axes, ticks, tick labels (text layout and rasterisation), and for ``bbox_inches="tight"``
    a second draw to measure them. Here each layout's figure is drawn once without letters,
    spines and titles, and its tight bounding box measured once; each logo restores those
    pixels, draws its letters, the spines above them and its titles (the order of a full draw:
    letters are clipped to their axes, where no tick or label is) and crops the canvas to the
    tight box as savefig does. The images match :func:`save_png`'s to a few pixels of
    anti-aliasing (written as RGB when opaque, as they are by default); a title wider than
    the figure can shift them by under a pixel, and one wider than the canvas falls back to
    :func:`save_png`.

    Parameters
    ----------
    dpi
        Resolution of the PNGs, as :func:`save_png`'s ``dpi``.

    Examples
    --------
    >>> writer = LogoWriter()
    >>> writer.save(probs, "logos/filter0.png", title="filter 0")  # doctest: +SKIP
    """

    def __init__(self, dpi: int = 80) -> None:
        self.dpi = dpi
        self._templates: dict[tuple[str, int], _LogoTemplate] = {}

    def save(self, probs: np.ndarray, path: str | Path, *, title: str | None = None) -> Path:
        """Write ``save_png(motif_logo(probs, title=title), path, dpi)``'s image, atomically.

        Parameters
        ----------
        probs
            ``(4, w)`` probability matrix.
        path
            PNG file to write.
        title
            Title above the logo.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        heights = logo_heights(probs, "information")
        width = heights.shape[1]
        template = self._template(
            ("motif", width), lambda: motif_logo(np.full((4, width), 0.25), title=_PLACEHOLDER)
        )
        written = template.save(Path(path), [(0, heights, 0)], [title])
        if written is None:
            written = save_png(motif_logo(probs, title=title), path, dpi=self.dpi)
        return written

    def save_aligned(
        self,
        query: np.ndarray,
        target: np.ndarray,
        path: str | Path,
        *,
        offset: int,
        strand: str,
        query_title: str,
        target_title: str,
    ) -> Path:
        """Write ``save_png(aligned_logos(...), path, dpi)``'s image, atomically.

        Parameters are those of :func:`aligned_logos`, and ``path`` the PNG file to write;
        returns ``path``.
        """
        flipped = np.asarray(target)[::-1, ::-1] if strand == "-" else np.asarray(target)
        q, t = logo_heights(query, "information"), logo_heights(flipped, "information")
        lo, hi = min(0, offset), max(q.shape[1], offset + t.shape[1])
        span = hi - lo

        def blank() -> Figure:
            uniform = np.full((4, span), 0.25)
            return aligned_logos(
                uniform,
                uniform,
                offset=0,
                strand="+",
                query_title=_PLACEHOLDER,
                target_title=_PLACEHOLDER,
            )

        template = self._template(("aligned", span), blank)
        # The blank's x axis runs from -0.5 to span - 0.5: shift both logos by -lo.
        written = template.save(
            Path(path),
            [(0, q, -lo), (1, t, offset - lo)],
            [query_title, f"{target_title} ({strand})"],
        )
        if written is None:
            fig = aligned_logos(
                query,
                target,
                offset=offset,
                strand=strand,
                query_title=query_title,
                target_title=target_title,
            )
            written = save_png(fig, path, dpi=self.dpi)
        return written

    def _template(self, key: tuple[str, int], blank: Callable[[], Figure]) -> _LogoTemplate:
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = _LogoTemplate(blank(), self.dpi)
        return template


class _LogoTemplate:
    """One layout's reused figure: the pixels every logo shares and their tight box.

    ``fig`` is the layout drawn with uniform matrices (no letters) and a title starting with
    ``_PLACEHOLDER`` on each axes (short: its extent must not widen the tight box).
    """

    # Room around the figure for what savefig's tight box takes beyond it: the title of a
    # 1.6-inch motif_logo ends above the figure's top edge.
    MARGIN_INCHES = 1.0

    def __init__(self, fig: Figure, dpi: int) -> None:
        self.fig = fig
        self.fig.set_dpi(dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.axes = list(self.fig.axes)
        # Axes.get_children holds the three title texts (centre, left, right) of each axes.
        self.titles = [
            next(
                c
                for c in ax.get_children()
                if isinstance(c, Text) and c.get_text().startswith(_PLACEHOLDER)
            )
            for ax in self.axes
        ]
        # The same axes in inches, inside a canvas of whole pixels with margins, placed so that
        # the tight box's lower left corner is on a whole pixel, where savefig puts it: then
        # the crop below is savefig's image, not a sub-pixel shift of it.
        fig_w, fig_h = self.fig.get_size_inches()
        size_w = np.ceil((fig_w + 2 * self.MARGIN_INCHES) * dpi) / dpi
        size_h = np.ceil((fig_h + 2 * self.MARGIN_INCHES) * dpi) / dpi
        inches = [
            (x0 * fig_w, y0 * fig_h, w * fig_w, h * fig_h)
            for x0, y0, w, h in (ax.get_position().bounds for ax in self.axes)
        ]
        self.fig.set_size_inches(size_w, size_h)

        def place(dx: float, dy: float) -> None:
            for ax, (x0, y0, w, h) in zip(self.axes, inches, strict=True):
                left, bottom = x0 + self.MARGIN_INCHES + dx, y0 + self.MARGIN_INCHES + dy
                ax.set_position([left / size_w, bottom / size_h, w / size_w, h / size_h])

        place(0.0, 0.0)
        box = self._tight_box()
        place(-(box.x0 - np.floor(box.x0)) / dpi, -(box.y0 - np.floor(box.y0)) / dpi)
        # A draw puts each title above its axes; a draw or a tight box without it moves it.
        self.canvas.draw()
        positions = [title.get_position() for title in self.titles]
        for title in self.titles:
            title.set_visible(False)
        # In display pixels, padded as savefig pads it; spines and ticks in, the titles not.
        self.static_box = self._tight_box()
        self.spines = [s for ax in self.axes for s in ax.spines.values() if s.get_visible()]
        for spine in self.spines:
            spine.set_visible(False)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        for spine in self.spines:
            spine.set_visible(True)
        for title, position in zip(self.titles, positions, strict=True):
            title.set_visible(True)
            title.set_position(position)

    def _tight_box(self) -> Bbox:
        """savefig's padded tight box of what is visible now, in display pixels."""
        self.canvas.draw()
        inches = self.fig.get_tightbbox(self.canvas.get_renderer())
        return inches.padded(rcParams["savefig.pad_inches"]).transformed(self.fig.dpi_scale_trans)

    def save(
        self,
        path: Path,
        letters: Sequence[tuple[int, np.ndarray, float]],
        titles: Sequence[str | None],
    ) -> Path | None:
        """Write one image: ``(axes index, heights, start)`` letters and one title per axes.

        Returns None, writing nothing, when the image would reach beyond this canvas.
        """
        self.canvas.restore_region(self.background)
        for index, heights, start in letters:
            ax = self.axes[index]
            collection = draw_glyphs(ax, heights, start=start)
            if collection is not None:
                ax.draw_artist(collection)
                collection.remove()
        for spine in self.spines:
            spine.axes.draw_artist(spine)
        box = self.static_box
        pad = rcParams["savefig.pad_inches"] * self.fig.dpi
        for ax, artist, text in zip(self.axes, self.titles, titles, strict=True):
            if text:
                artist.set_text(text)
                ax.draw_artist(artist)
                extent = artist.get_window_extent(self.canvas.get_renderer())
                box = Bbox.union([box, extent.padded(pad)])
        # savefig(bbox_inches="tight") puts the box's lower left corner at the canvas origin
        # and truncates the image size to whole pixels.
        pixels = np.asarray(self.canvas.buffer_rgba())
        bottom, left = pixels.shape[0] - round(box.y0), round(box.x0)
        top, right = bottom - int(box.height), left + int(box.width)
        if top < 0 or left < 0 or bottom > pixels.shape[0] or right > pixels.shape[1]:
            return None
        crop = pixels[top:bottom, left:right]
        if np.all(crop[..., 3] == 255):
            # Opaque (the default white figure): RGB at zlib level 3 encodes in a fifth of the
            # time of savefig's RGBA at level 6 (1.6 against 7.5 ms for a width-19 logo) and
            # the file is smaller.
            crop = crop[..., :3]
        with atomic_path(path) as tmp:
            Image.fromarray(np.ascontiguousarray(crop)).save(
                tmp, format="png", compress_level=3, dpi=(self.fig.dpi, self.fig.dpi)
            )
        return path


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
        writer = LogoWriter()
        for motif in tqdm(report.motifs, desc="filter logos", unit="logo", disable=not verbose):
            f = int(motif.id[len("filter") :])
            title = f"filter {f}" + (f" ~ {names[f]}" if names[f] else "")
            written.append(writer.save(motif.probs, out / "logos" / f"filter{f}.png", title=title))
            match = database.get(table.at[f, "match_id"])
            if match is not None:
                path = writer.save_aligned(
                    motif.probs,
                    match.probs,
                    out / "logos" / f"filter{f}_match.png",
                    offset=int(table.at[f, "match_offset"]),
                    strand=table.at[f, "match_strand"],
                    query_title=f"filter {f}",
                    target_title=f"{match.id} {match.name} (q = {table.at[f, 'match_q']:.2g})",
                )
                written.append(path)
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
    "LogoWriter",
    "aligned_logos",
    "cluster_order",
    "clustered_heatmap",
    "draw_logo",
    "filter_figures",
    "ic_influence_scatter",
    "motif_logo",
    "save_png",
]
