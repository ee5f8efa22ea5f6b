"""The page in Debian's headless Chromium: the first view is usable (ready mark) before
Plotly.js has run, then Plotly draws its plots, and every tab opened later still shows
its content. Skipped, with the reason, without Chromium or Playwright."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (`make chromium`) for browser tests",
)

from tests.dashboard.runfixtures import N_FILTERS, TARGETS, make_run  # noqa: E402

#: Records, when the page sets its ready mark, whether Plotly had run by then.
WATCH_READY = """
new MutationObserver((_, observer) => {
  if (document.body && document.body.dataset.ready === "1") {
    window.plotlyAtReady = typeof window.Plotly !== "undefined";
    window.tableAtReady = document.querySelectorAll("#targets-table tbody tr").length;
    observer.disconnect();
  }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-ready"] });
"""


@contextlib.contextmanager
def serving(run_dir: Path) -> Iterator[str]:
    import uvicorn

    from motiflens.dashboard.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(run_dir), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(make_run(tmp_path_factory.mktemp("page"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    errors: list[str] = []
    p.on("console", lambda m: m.type == "error" and errors.append(m.text))
    p.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    p.add_init_script(WATCH_READY)
    yield p
    context.close()
    assert not errors, errors


def _drawn(p, selector: str) -> list[str]:
    p.wait_for_function(f"(document.querySelector('{selector}')?.data || []).length > 0")
    return p.evaluate(f"document.querySelector('{selector}').data.map(t => t.type)")


def test_the_first_view_is_ready_before_plotly_runs_then_plots_follow(server, page):
    page.goto(server)
    page.wait_for_function("document.body.dataset.ready === '1'")
    # usable at the mark: the table of every target drawn, Plotly not run yet
    assert page.evaluate("window.tableAtReady") == len(TARGETS)
    assert page.evaluate("window.plotlyAtReady") is False
    page.wait_for_function("document.body.dataset.plotly === '1'")
    assert "scatter" in _drawn(page, "#training-loss")
    assert "scatter" in _drawn(page, "#roc-plot")  # the curves, fetched after the mark
    assert page.text_content("#n-targets") == str(len(TARGETS))


def test_tabs_opened_later_show_their_content(server, page):
    page.goto(server)
    page.wait_for_function("document.body.dataset.ready === '1'")
    page.click("button[data-tab=filters]")
    page.wait_for_selector("#filters-table tbody tr")
    assert page.locator("#filters-table tbody tr").count() == N_FILTERS
    assert "heatmap" in _drawn(page, "#influence-heatmap")
    page.click("button[data-tab=analyses]")
    page.wait_for_selector("#optimize-table-sequence tbody tr")
    assert "heatmap" in _drawn(page, "#insertion-heatmap")
    page.click("button[data-tab=variants]")
    page.wait_for_selector("#variants-table tbody tr")
    assert page.locator("#variants-table tbody tr").count() == 6
    page.click("button[data-tab=explorer]")
    page.fill("#seq-input", "ACGTTGCAAGGCTTACGATCGATCGGATCCATGCAAGTCA")
    page.click("#explain-btn")
    assert "heatmap" in _drawn(page, "#ism-plot")
    assert "bar" in _drawn(page, "#pred-bar")


def test_a_deep_link_is_ready_with_its_own_tab(server, page):
    page.goto(server + "#filters")
    page.wait_for_function("document.body.dataset.ready === '1'")
    # the filters table is there at the mark; its heat map once Plotly has run
    assert page.locator("#filters-table tbody tr").count() == N_FILTERS
    assert page.evaluate("window.plotlyAtReady") is False
    assert "heatmap" in _drawn(page, "#influence-heatmap")
    assert page.text_content("#run-name")  # the header's run name came with the overview
