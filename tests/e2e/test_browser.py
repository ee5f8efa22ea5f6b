"""The dashboard in a real browser: Playwright driving Debian's headless Chromium.

One server (uvicorn in a thread, on a free local port) and one browser serve every test
of the module. Each page records its console errors and uncaught exceptions; a test
fails on any it did not expect. Skipped, with the reason, where Chromium is not installed
(``make chromium`` installs it) or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (`make chromium`) for browser tests",
)

import numpy as np  # noqa: E402

from tests.dashboard.runfixtures import (  # noqa: E402
    ANNOTATED,
    ISM_POSITIONS,
    N_FILTERS,
    RESULT_NAMES,
    RESULT_SEQS,
    RESULT_TARGETS,
    TARGETS,
    make_run,
    write_stored_results,
)

SEQ = "ACGTTGCAAGGCTTACGATCGATCGGATCCATGCAAGTCA"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A complete run with stored ISM, attribution and temporal results of known values."""
    run = make_run(tmp_path_factory.mktemp("browser"))
    return run, write_stored_results(run)


@pytest.fixture(scope="module")
def run(stored):
    return stored[0]


@contextlib.contextmanager
def serving(run_dir: Path, genome: Path | None = None) -> Iterator[str]:
    """The dashboard of ``run_dir`` (regions read from ``genome``) served by uvicorn in a
    thread; yields its URL."""
    import uvicorn

    from motiflens.dashboard.app import create_app

    port = _free_port()
    app = create_app(run_dir, genome=genome)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the dashboard server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(run):
    with serving(run) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


class Page:
    """A fresh page that records console errors, page errors and every request."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def close(self, allowed: tuple[str, ...] = ()) -> None:
        self.page.close()
        unexpected = [e for e in self.errors if not any(a in e for a in allowed)]
        assert not unexpected, unexpected


@pytest.fixture
def page(browser):
    p = Page(browser)
    yield p
    if not p.page.is_closed():
        p.page.close()


def _plot_types(pw_page, selector: str) -> list[str]:
    """The trace types Plotly drew into a div (its ``data`` property)."""
    pw_page.wait_for_function(
        f"document.querySelector('{selector}') && "
        f"(document.querySelector('{selector}').data || []).length > 0"
    )
    return pw_page.evaluate(f"document.querySelector('{selector}').data.map(t => t.type)")


def test_overview_shows_every_target(server, page, tmp_path):
    p = page.page
    p.goto(server)
    p.wait_for_selector("#targets-table tbody tr")
    assert p.text_content("#n-targets") == str(len(TARGETS))
    assert p.text_content("#target-count") == f"{len(TARGETS)} targets"
    assert p.locator("#targets-table tbody tr").count() == len(TARGETS)
    assert "scatter" in _plot_types(p, "#training-loss")
    assert "scatter" in _plot_types(p, "#roc-plot")
    # sort by AUROC (descending on the first click): "never" (no AUROC) goes last
    p.click("#targets-table th:has-text('auroc')")
    first = p.text_content("#targets-table tbody tr:first-child td:nth-child(2)")
    last = p.text_content("#targets-table tbody tr:last-child td:nth-child(2)")
    assert (first, last) == ("motif", "never")
    p.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    page.close()


def test_filters_page_lists_filters_and_their_motif(server, page, tmp_path):
    p = page.page
    p.goto(server + "#filters")
    p.wait_for_selector("#filters-table tbody tr")
    assert p.locator("#filters-table tbody tr").count() == N_FILTERS
    assert "CTCF" in p.text_content("#filters-table")
    assert p.locator("#filters-table svg.logo").count() >= 3  # 2 filter logos + aligned pair
    assert "heatmap" in _plot_types(p, "#influence-heatmap")
    p.check("#annotated-only")
    rows = p.locator("#filters-table tbody tr")
    assert rows.count() == 1 and rows.first.locator("td").first.text_content() == str(ANNOTATED)
    p.uncheck("#annotated-only")
    p.fill("#filter-search", "filter5")
    assert p.locator("#filters-table tbody tr").count() == 1
    p.screenshot(path=str(tmp_path / "filters.png"), full_page=True)
    page.close()


def test_explorer_draws_the_ism_heat_map(server, page, tmp_path):
    p = page.page
    p.goto(server + "#explorer")
    p.fill("#seq-input", f">pasted\n{SEQ}")
    p.select_option("#target-select", "gc")
    p.click("#explain-btn")
    types = _plot_types(p, "#ism-plot")
    assert "heatmap" in types and "bar" in _plot_types(p, "#pred-bar")
    assert p.locator("#ism-plot .heatmaplayer").count() == 1
    assert "ISM (fast)" in p.text_content("#explain-status")
    # the attribution logo's letters are drawn as shapes on the same x axis
    assert p.evaluate("document.querySelector('#ism-plot').layout.shapes.length") > 0
    p.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    page.close()


def test_explorer_shows_bad_input_as_a_message(server, page):
    p = page.page
    p.goto(server + "#explorer")
    p.fill("#seq-input", "ACGTZZ")
    p.click("#explain-btn")
    p.wait_for_selector("#explorer-error .error")
    assert "invalid character 'Z' at position 5" in p.text_content("#explorer-error")
    # the browser logs the 400 response itself; nothing else may go wrong
    page.close(allowed=("status of 400",))


def test_class_optimization_shows_each_method_default_first(server, page, tmp_path):
    p = page.page
    p.goto(server + "#analyses")
    p.wait_for_selector("#optimize-table-sequence tbody tr")
    order = p.eval_on_selector_all(".optimize-method", "nodes => nodes.map(n => n.id)")
    assert order == ["optimize-sequence", "optimize-demo"]
    # the best start per target (motif, gc), each with its motif-window logo
    seq = p.locator("#optimize-table-sequence tbody tr")
    assert seq.count() == 2 and p.locator("#optimize-table-sequence svg.logo").count() == 2
    first = p.text_content("#optimize-table-sequence tbody tr:first-child")
    # CTCF matched; the 0-based window 10..16 shows 1-based as 11-16, in bold in the sequence
    assert "CTCF" in first and "MA0139.2" in first and "11\u201316" in first
    assert p.text_content("#optimize-table-sequence tbody tr:first-child b") == "GCGCTG"
    p.check("#optimize-all-sequence")
    assert seq.count() == 4  # every start
    assert p.locator("#optimize-table-demo tbody tr").count() == 1
    assert not p.locator("#optimize-all-demo").count()  # one start: nothing to toggle
    p.screenshot(path=str(tmp_path / "analyses.png"), full_page=True)
    page.close()


def test_missing_analyses_print_their_command(tmp_path, browser):
    """A model-only run in its own server: the pages say what to run."""
    from tests.dashboard.runfixtures import make_bare_run

    run = make_bare_run(tmp_path)
    p = Page(browser)
    with serving(run) as url:
        p.page.goto(url + "#filters")
        p.page.wait_for_selector("#filters .missing")
        # The run is named by its folder, not the author's absolute path (shareable).
        assert f"motiflens filters {run.name}" in p.page.text_content("#filters pre.cmd")
        p.page.click("button[data-tab=variants]")
        p.page.wait_for_selector("#variants .missing")
        assert "motiflens variants" in p.page.text_content("#variants pre.cmd")
    p.close()


def test_report_opens_from_disk_without_network(run, tmp_path, browser):
    from motiflens.dashboard.export import report

    path = report(run, tmp_path / "report.html", top=1)
    p = Page(browser)
    pw = p.page
    pw.goto(path.as_uri())
    pw.wait_for_selector("#targets-table tbody tr")
    assert pw.text_content("#n-targets") == str(len(TARGETS))
    assert "scatter" in _plot_types(pw, "#roc-plot")
    pw.click("button[data-tab=filters]")
    assert "heatmap" in _plot_types(pw, "#influence-heatmap")
    assert "CTCF" in pw.text_content("#filters-table")
    pw.click("button[data-tab=explorer]")
    assert "heatmap" in _plot_types(pw, "#ism-plot")
    pw.click("button[data-tab=analyses]")
    assert "heatmap" in _plot_types(pw, "#insertion-heatmap")
    assert "CTCF" in pw.text_content("#optimize-table-sequence")
    assert pw.locator("#optimize-table-demo tbody tr").count() == 1
    pw.click("button[data-tab=variants]")
    pw.wait_for_selector("#variants-table tbody tr")
    pw.click("button[data-tab=results]")
    pw.wait_for_selector("#result-info")
    pw.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    network = [u for u in p.requests if u.startswith(("http:", "https:"))]
    assert not network, network
    assert all(u.startswith(("file:", "data:", "blob:")) for u in p.requests), p.requests
    p.close()


def test_variants_table_and_a_variant_without_stored_ism(server, page):
    p = page.page
    p.goto(server + "#variants")
    p.wait_for_selector("#variants-table tbody tr")
    assert p.locator("#variants-table tbody tr").count() == 6
    assert p.text_content("#variants-table tbody tr:first-child").count("rs2") == 1  # |SAD| 0.6
    p.click("#variants-table tbody tr:first-child")
    p.wait_for_selector("#variant-detail .missing")
    assert "--genome FASTA" in p.text_content("#variant-detail")
    page.close()


def test_filters_page_names_the_planted_motifs_of_a_trained_run(trained_motifs, browser, tmp_path):
    """A model trained on planted JASPAR motifs, `motiflens filters` on it, then the page."""
    from typer.testing import CliRunner

    from motiflens.cli import app

    run = trained_motifs.run_dir
    out = CliRunner().invoke(app, ["filters", str(run), "--no-logos", "-n", "400"])
    assert out.exit_code == 0, out.output
    p = Page(browser)
    with serving(run) as url:
        p.page.goto(url + "#filters")
        p.page.wait_for_selector("#filters-table tbody tr")
        assert p.page.locator("#filters-table tbody tr").count() == 48
        text = p.page.text_content("#filters-table")
        assert "CTCF" in text and "REST" in text
        p.page.screenshot(path=str(tmp_path / "planted_filters.png"), full_page=True)
    p.close()


# ------------------------------------------------------------------ stored results


def _choose(pw_page, result: str, sequence: int, target: str) -> None:
    """Pick a result file (by its label's start), a sequence and a target; wait for the plots."""
    label = pw_page.evaluate(
        "(start) => [...document.querySelectorAll('#result-file option')]"
        ".find(o => o.textContent.startsWith(start)).value",
        result,
    )
    pw_page.select_option("#result-file", label)
    pw_page.select_option("#result-sequence", str(sequence))
    pw_page.select_option("#result-target", target)
    expected = f"{RESULT_NAMES[sequence]} ({sequence + 1} of {len(RESULT_NAMES)})"
    pw_page.wait_for_function(
        "([seq, target]) => { const t = document.querySelector('#result-info');"
        " return t && t.textContent.includes(seq) && t.textContent.includes('target' + target); }",
        arg=[expected, target],
    )


def _trace(pw_page, selector: str, name: str | None = None) -> dict:
    """One Plotly trace (the first, or the one called ``name``) of a div, as drawn."""
    pw_page.wait_for_function(
        f"document.querySelector('{selector}') && "
        f"(document.querySelector('{selector}').data || []).length > 0"
    )
    traces = pw_page.evaluate(f"document.querySelector('{selector}').data")
    return traces[0] if name is None else next(t for t in traces if t.get("name") == name)


def _check_stored_results(pw_page, expected: dict, sequence: int, target: str) -> None:
    """The ISM, attribution and temporal plots of one sequence and target, value by value."""
    k = RESULT_TARGETS.index(target)
    _choose(pw_page, "ism/ism.h5", sequence, target)
    heat = _trace(pw_page, "#result-delta")
    assert heat["type"] == "heatmap" and heat["y"] == ["A", "C", "G", "T"]
    assert heat["x"] == (ISM_POSITIONS + 1).tolist()  # 1-based positions of the window
    np.testing.assert_allclose(heat["z"], expected["ism"]["delta"][sequence, :, :, k], atol=1e-5)
    gain = _trace(pw_page, "#result-position-lines", "gain")
    np.testing.assert_allclose(gain["y"], expected["ism"]["gain"][sequence, :, k], atol=1e-5)
    assert "reference" in pw_page.text_content("#result-info")

    _choose(pw_page, "saliency/attributions.h5", sequence, target)
    bars = _trace(pw_page, "#result-attributions")
    assert bars["type"] == "bar" and bars["text"] == list(RESULT_SEQS[sequence])
    # the observed base's value: (k + 1) * position / 10 (1-based position)
    np.testing.assert_allclose(bars["y"], (k + 1) * np.arange(1, 41) / 10, rtol=1e-5)

    _choose(pw_page, "temporal/temporal.h5", sequence, target)
    for name in ("forward", "backward"):
        line = _trace(pw_page, "#result-position-lines", name)
        assert line["x"] == list(range(1, 41))
        np.testing.assert_allclose(line["y"], expected["temporal"][name][sequence, :, k], atol=1e-6)


def test_stored_results_are_drawn_per_sequence_and_target(stored, server, page, tmp_path):
    _, expected = stored
    p = page.page
    p.goto(server + "#results")
    p.wait_for_selector("#result-info")
    assert p.locator("#result-file option").count() == 3
    _check_stored_results(p, expected, sequence=2, target="gc")
    _check_stored_results(p, expected, sequence=0, target="motif")
    p.screenshot(path=str(tmp_path / "results.png"), full_page=True)
    page.close()


def test_the_report_draws_the_same_stored_results(stored, tmp_path, browser):
    from motiflens.dashboard.export import report

    run, expected = stored
    path = report(run, tmp_path / "report.html", top=0, sequences=3)
    html = path.read_text()
    assert all(name in html for name in RESULT_NAMES)
    p = Page(browser)
    p.page.goto(path.as_uri() + "#results")
    p.page.wait_for_selector("#result-info")
    _check_stored_results(p.page, expected, sequence=1, target="gc")
    assert not [u for u in p.requests if u.startswith(("http:", "https:"))]
    p.close()


def test_a_locus_is_drawn_at_genome_positions_and_a_click_explains_its_window(
    browser, tmp_path_factory, tmp_path
):
    """A 2 kb region of a synthetic genome: the prediction track across it on a genome x
    axis with its variant marked, then the window around a click explained."""
    from motiflens.runs import Run
    from tests.dashboard.runfixtures import LENGTH, make_genome

    root = tmp_path_factory.mktemp("locus")
    genome, _ = make_genome(root / "genome.fa", length=4000, seed=11)
    run = make_run(root)
    (Run(run).analysis_dir("variants") / "sad.tsv").write_text(
        "chrom\tpos\tid\tref\talt\ttarget\tref_pred\talt_pred\tsad\tlog_odds_diff\tinfo\n"
        "chr1\t1500\trsLocus\tA\tG\tmotif\t0.5\t0.8\t0.3\t1.2\t.\n"
    )
    p = Page(browser)
    pw = p.page
    with serving(run, genome) as url:
        pw.goto(url + "#explorer")
        pw.fill("#region-input", "chr1:1,001-3,000")
        pw.select_option("#target-select", "motif")
        pw.click("#explain-btn")
        assert "scatter" in _plot_types(pw, "#locus-plot")
        gd = "document.querySelector('#locus-plot')"
        track = pw.evaluate(f"{gd}.data[0]")
        assert track["name"] == "motif" and len(track["y"]) == 2000
        assert (track["x"][0], track["x"][-1]) == (1001, 3000)
        assert pw.evaluate(f"{gd}._fullLayout.xaxis.range") == [1000.5, 3000.5]
        ticks = pw.evaluate(
            "[...document.querySelectorAll('#locus-plot .xtick text')].map(t => t.textContent)"
        )
        values = [int(t.replace(",", "")) for t in ticks]
        assert values and all(1000 <= v <= 3000 for v in values), ticks
        assert any("," in t for t in ticks), ticks  # genome positions, thousands separated
        marks = pw.evaluate(f"{gd}.data.filter(t => t.name === 'variants')")
        assert marks and marks[0]["x"] == [1500]
        assert "rsLocus" in marks[0]["customdata"][0][0]
        assert "windows of 40 bp" in pw.text_content("#locus-status")
        # click the middle of the track: the window around ~2,000 is explained
        box = pw.locator("#locus-plot .nsewdrag").bounding_box()
        pw.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert "heatmap" in _plot_types(pw, "#ism-plot")
        ism = "document.querySelector('#ism-plot')"
        lo, hi = pw.evaluate(f"{ism}._fullLayout.xaxis.range")
        assert hi - lo == LENGTH and lo < 2000 < hi, (lo, hi)
        heat = pw.evaluate(f"{ism}.data.find(t => t.type === 'heatmap').x")
        assert heat == list(range(int(lo + 0.5), int(hi + 0.5)))
        assert f"chr1:{int(lo + 0.5):,}-{int(hi - 0.5):,}" in pw.text_content("#explain-status")
        shaded = pw.evaluate(f"{gd}.layout.shapes.filter(s => s.name === 'window')")
        assert [(s["x0"], s["x1"]) for s in shaded] == [(lo, hi)]
        pw.screenshot(path=str(tmp_path / "locus.png"), full_page=True)
        # the Variants tab explains around a variant at its genome position, marked
        pw.click("button[data-tab=variants]")
        pw.click("#variants-table tbody tr:first-child")
        assert "heatmap" in _plot_types(pw, "#variant-detail #ism-plot")
        detail = "document.querySelector('#variant-detail #ism-plot')"
        lo, hi = pw.evaluate(f"{detail}._fullLayout.xaxis.range")
        assert lo < 1500 < hi
        marked = pw.evaluate(f"{detail}.data.filter(t => t.name === 'variants').map(t => t.x)")
        assert marked == [[1500]]
    p.close()


@pytest.fixture(scope="module")
def motif_run(tmp_path_factory):
    """A complete run with hand-written modisco patterns, filters matched to CTCF and REST
    and a 26-motif insertion table (:mod:`tests.dashboard.motiffixtures`)."""
    from tests.dashboard.motiffixtures import write_motif_analyses

    run = make_run(tmp_path_factory.mktemp("motifpage"))
    write_motif_analyses(run)
    return run


@pytest.fixture(scope="module")
def motif_server(motif_run):
    with serving(motif_run) as url:
        yield url


def test_motifs_tab_joins_pattern_logo_match_and_filters(motif_server, page, tmp_path):
    p = page.page
    p.goto(motif_server + "#motifs")
    p.wait_for_selector("#motif-table tbody tr")
    rows = p.locator("#motif-table tbody tr")
    assert rows.count() == 2  # target "motif": the CTCF and REST patterns
    ctcf = rows.nth(0)
    assert "pattern_0" in ctcf.text_content()
    assert ctcf.locator("svg.logo").count() == 1  # pattern over its match, aligned
    assert "CTCF" in ctcf.text_content() and "MA0139.2" in ctcf.text_content()
    assert "120" in ctcf.text_content()  # seqlets
    assert "filter2 1.020" in ctcf.text_content()  # the filter matched to CTCF, influence
    assert "2 ± 0.693" in ctcf.text_content()  # insertion mean ± SD
    p.select_option("#motif-target", "never")
    rows = p.locator("#motif-table tbody tr")
    assert rows.count() == 1
    text = rows.first.text_content()
    assert "REST" in text and "Mus_musculus" not in text  # the CIS-BP name cleaned
    assert "filter5 2.050" in text
    p.screenshot(path=str(tmp_path / "motifs.png"), full_page=True)
    page.close()


def test_insertion_view_is_a_table_and_a_legible_heat_map(motif_server, page, tmp_path):
    p = page.page
    p.goto(motif_server + "#analyses")
    p.wait_for_selector("#insertion-table tbody tr")
    cells = p.evaluate(
        "[...document.querySelectorAll('#insertion-table tbody tr')]"
        ".map(r => [...r.querySelectorAll('td')].map(td => td.textContent))"
    )
    assert len(cells) == 3 * 10  # top 10 of each of 3 targets
    first = {}
    for row in cells:
        first.setdefault(row[0], row)
    assert first["motif"][2].startswith("CTCF") and first["motif"][3] == "2"
    assert first["motif"][4] == "0.693" and first["motif"][5] == "4"  # SD, backgrounds
    assert first["gc"][2].startswith("GATA1::TAL1")
    assert first["never"][2].startswith("REST") and first["never"][3] == "-3"
    # sortable: mean Δ descending on the first click
    p.click("#insertion-table th:has-text('mean Δ')")
    assert p.text_content("#insertion-table tbody tr:first-child td:nth-child(4)") == "2"
    p.select_option("#insertion-target", "never")
    assert p.locator("#insertion-table tbody tr").count() == 10

    assert "heatmap" in _plot_types(p, "#insertion-heatmap")
    rows = p.evaluate("document.querySelector('#insertion-heatmap').data[0].y")
    assert len(rows) == 20  # the union of each target's top 20
    labels = p.evaluate(
        "[...document.querySelectorAll('#insertion-heatmap .ytick text')].map(t => {"
        "const b = t.getBoundingClientRect();"
        "return [t.textContent, b.left, b.top, b.bottom]; })"
    )
    assert len(labels) == 20
    assert sorted(t for t, *_ in labels) == sorted(rows)
    assert "M0085_1.02 TFAP2E" in rows  # clean CIS-BP name
    assert all(left >= 0 for _, left, _, _ in labels)  # no name cut at the left edge
    tops = sorted((top, bottom) for _, _, top, bottom in labels)
    assert all(b[0] - a[0] >= 12 for a, b in itertools.pairwise(tops))  # rows >= 12 px
    assert all(a[1] <= b[0] + 1 for a, b in itertools.pairwise(tops))  # no overlap
    # symmetric colour scale clipped below the largest |Δ| (REST on "never": 3)
    zmin, zmax = p.evaluate(
        "(() => { const t = document.querySelector('#insertion-heatmap').data[0];"
        " return [t.zmin, t.zmax]; })()"
    )
    assert zmin == -zmax and 1.5 <= zmax < 3.0
    p.screenshot(path=str(tmp_path / "insertion.png"), full_page=True)
    page.close()


def test_motifs_tab_without_modisco_prints_its_command(tmp_path, browser):
    from tests.dashboard.runfixtures import make_bare_run

    run = make_bare_run(tmp_path)
    p = Page(browser)
    with serving(run) as url:
        p.page.goto(url + "#motifs")
        p.page.wait_for_selector("#motifs .missing")
        assert f"motiflens modisco {run.name}" in p.page.text_content("#motifs pre.cmd")
    p.close()


def test_explorer_draws_each_kind_of_match_on_its_own_labelled_track(motif_server, page, tmp_path):
    from tests.dashboard.test_dashboard_motifs import TRACK_SEQ

    p = page.page
    p.goto(motif_server + "#explorer")
    p.fill("#seq-input", f">tracks\n{TRACK_SEQ}")
    p.select_option("#target-select", "motif")
    p.click("#explain-btn")
    _plot_types(p, "#ism-plot")
    gd = "document.querySelector('#ism-plot')"
    bars = p.evaluate(
        f"{gd}.data.filter(t => t.type === 'bar').map(t => [t.name, t.yaxis, t.text])"
    )
    names = [name for name, _, _ in bars]
    assert {"JASPAR hits", "modisco hits"} <= set(names)
    assert set(names) <= {"annotated filters", "unannotated filters", "JASPAR hits", "modisco hits"}
    assert len({axis for _, axis, _ in bars}) == len(bars)  # one track (y axis) each
    modisco = next(text for name, _, text in bars if name == "modisco hits")
    assert any(t.startswith("CTCF") for t in modisco)  # the pattern's clean name, drawn
    # each track is titled with its kind, and appears in the legend
    titles = p.evaluate(
        "[...document.querySelectorAll('#ism-plot .infolayer text')].map(t => t.textContent)"
    )
    joined = " ".join(titles)
    assert "JASPAR" in joined and "modisco" in joined
    legend = p.evaluate(
        "[...document.querySelectorAll('#ism-plot .legendtext')].map(t => t.textContent)"
    )
    assert {"JASPAR hits", "modisco hits"} <= set(legend)
    # no two drawn labels overlap
    boxes = p.evaluate(
        "[...document.querySelectorAll('#ism-plot .bars text')].filter(t => t.textContent)"
        ".map(t => { const b = t.getBoundingClientRect();"
        " return [b.left, b.right, b.top, b.bottom]; })"
    )
    assert boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2]
            assert apart, (a, b)
    p.screenshot(path=str(tmp_path / "tracks.png"), full_page=True)
    page.close()


def test_report_has_the_motifs_tab_and_the_insertion_table(motif_run, tmp_path, browser):
    from motiflens.dashboard.export import report

    path = report(motif_run, tmp_path / "report.html", top=0)
    p = Page(browser)
    pw = p.page
    pw.goto(path.as_uri() + "#motifs")
    pw.wait_for_selector("#motif-table tbody tr")
    assert "CTCF" in pw.text_content("#motif-table tbody tr:first-child")
    assert pw.locator("#motif-table svg.logo").count() == 2
    pw.click("button[data-tab=analyses]")
    pw.wait_for_selector("#insertion-table tbody tr")
    assert "heatmap" in _plot_types(pw, "#insertion-heatmap")
    assert not [u for u in p.requests if u.startswith(("http:", "https:"))]
    p.close()
