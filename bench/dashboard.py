"""Benchmark: the dashboard as its users wait for it, on a run directory (CPU).

A real server (``motiflens serve RUN --port 0`` in a subprocess, as a user starts it),
then:

* **first page**: Debian's Chromium (through Playwright) opens the page in a fresh
  browser context, timed from the navigation's start to the page's ready mark
  (``document.body.dataset.ready``, set by ``static/app.js`` once the first view is usable:
  the run's cards and the per-target table drawn, every control working); also reported:
  until Plotly.js has run, until the training plot and the ROC/PR curves are drawn. Once
  right after the server announced itself ("cold": its background precomputation still
  running), then ``--loads`` times once it has settled (the headline: the median).
  Without Playwright or Chromium: the sum of the HTTP round trips the first view needs
  (page, scripts, stylesheet, ``/api/overview``), said as such.
* **explain**: ``POST /api/explain`` on random sequences of the model's length, from
  1, 4 and 16 clients at once (each sends its next request when its answer comes):
  median and 95th percentile latency per level; requests the server refuses as busy
  (503) are counted, not timed.

Prints ``ratio dashboard_first_page_under_1s VALUEx`` (1 s / the first page's time) and
``ratio dashboard_explain_p50_under_1s VALUEx`` (1 s / the median explain latency at 4
concurrent requests): at least 1 means the target (issue 16) is met.

``--overhead`` adds the older measurement (issue 6): ``POST /api/explain`` through
FastAPI's test client against ISM + gradient x input called directly, on a random
600 bp Basset of 164 targets (``bench/ism.py``'s ``basset``).

Usage::

    .venv/bin/python bench/dashboard.py [RUN_DIR] [--loads 3] [--requests 8]
        [--concurrency 1 4 16] [--overhead [--repeats 5]]

``RUN_DIR`` defaults to ``$MOTIFLENS_BENCH_RUN``, else ``demo_run/run`` under the
repository (``make demo DEMO_DIR=demo_run``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/ism.py

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
#: What the page's first view fetches (index.html names them; app.js asks the overview).
FIRST_VIEW = ["", "static/style.css", "static/logo.js", "static/results.js", "static/app.js",
              "api/overview"]  # fmt: skip


def default_run() -> Path:
    """``$MOTIFLENS_BENCH_RUN``, else ``demo_run/run`` under the repository."""
    return Path(os.environ.get("MOTIFLENS_BENCH_RUN") or ROOT / "demo_run" / "run")


# ----------------------------------------------------------------------------- server


@contextlib.contextmanager
def serving(run: Path, workers: int | None = None) -> Iterator[tuple[str, float]]:
    """``motiflens serve RUN`` on a free port; yields its URL and the seconds until it
    announced it (model loaded, warmed up, listening)."""
    cli = "from motiflens.cli import app; app()"  # the `motiflens` script, this Python
    cmd = [sys.executable, "-c", cli, "serve", str(run), "--port", "0"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            found = re.search(r"http://\S+?:\d+/", line)
            if found:
                break
        else:
            raise RuntimeError("the server did not start:\n" + "".join(lines[-20:]))
        started = time.perf_counter() - began
        # keep its output flowing (a full pipe would stall it)
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield found.group(0), started
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=300) as reply:
        return reply.read()


def _post(url: str, body: dict) -> tuple[int, float]:
    """Status and seconds of one JSON POST."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as reply:
            reply.read()
            status = reply.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, time.perf_counter() - began


# ----------------------------------------------------------------------------- first page


def _browser_available() -> str | None:
    """Why the browser measurement cannot run, or ``None``."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found"
    return None


def _page_load(browser, url: str) -> dict[str, float]:
    """One load of the page in a fresh context: seconds from navigation start to the
    ready mark, to Plotly run, and to the training and ROC plots drawn (NaN: none)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        page.wait_for_function("document.body && document.body.dataset.ready === '1'",
                               timeout=120_000)  # fmt: skip
        ready = page.evaluate("performance.now()") / 1000
        page.wait_for_function("document.body.dataset.plotly === '1'", timeout=120_000)
        plotly = page.evaluate("performance.now()") / 1000
        times = {"ready": ready, "plotly": plotly}
        for name, selector in (("training plot", "#training-loss"), ("curves", "#roc-plot")):
            if not page.query_selector(selector):
                times[name] = float("nan")
                continue
            page.wait_for_function(
                f"(document.querySelector('{selector}').data || []).length > 0", timeout=300_000
            )
            times[name] = page.evaluate("performance.now()") / 1000
        return times
    finally:
        context.close()


def first_page(run: Path, loads: int = 3) -> dict[str, object]:
    """The first page's times (see the module docstring)."""
    out: dict[str, object] = {}
    why = _browser_available()
    if why is not None:
        with serving(run) as (url, started):
            out["server start"] = started
            out["method"] = f"HTTP requests of the first view ({why})"
            _get(url + "api/curves")  # settled, as for the browser's loads
            sums = []
            for _ in range(loads):
                began = time.perf_counter()
                for part in FIRST_VIEW:
                    _get(url + part)
                sums.append(time.perf_counter() - began)
        out["loads"] = [{"ready": s} for s in sums]
        out["first page"] = statistics.median(sums)
        return out
    from playwright.sync_api import sync_playwright

    out["method"] = "Chromium: navigation start -> body[data-ready]"
    with sync_playwright() as pw:
        # The browser first, with a page opened: its own start is not the dashboard's.
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)  # fmt: skip
        try:
            blank = browser.new_page()
            blank.goto("about:blank")
            with serving(run) as (url, started):
                out["server start"] = started
                out["cold"] = _page_load(browser, url)
                began = time.perf_counter()
                _get(url + "api/curves")  # waits for the background computation
                out["settled after"] = time.perf_counter() - began
                out["loads"] = [_page_load(browser, url) for _ in range(loads)]
        finally:
            browser.close()
    out["first page"] = statistics.median(x["ready"] for x in out["loads"])
    return out


# ----------------------------------------------------------------------------- explain


def explain_latency(
    run: Path, concurrency: tuple[int, ...] = (1, 4, 16), requests: int = 8, seed: int = 1
) -> dict[int, dict[str, float]]:
    """Per level: p50, p95 (s) and requests refused (503), ``requests`` per client."""
    rng = np.random.default_rng(seed)
    out: dict[int, dict[str, float]] = {}
    with serving(run) as (url, _):
        model = json.loads(_get(url + "api/model"))
        if not model.get("available"):
            raise SystemExit(f"the run has no model: {model.get('message')}")
        length = model.get("length") or 200
        targets = model["targets"]
        _get(url + "api/curves")  # settled: no background work left

        def client(n: int, k: int) -> list[tuple[int, float]]:
            local = np.random.default_rng([seed, n, k])
            got = []
            for i in range(n):
                seq = "".join(local.choice(list("ACGT"), length))
                body = {"sequence": seq, "target": targets[i % len(targets)]}
                got.append(_post(url + "api/explain", body))
            return got

        seq = "".join(rng.choice(list("ACGT"), length))
        for _ in range(2):  # first requests of the worker threads
            _post(url + "api/explain", {"sequence": seq})
        for level in concurrency:
            with ThreadPoolExecutor(level) as ex:
                done = [r for f in [ex.submit(client, requests, k) for k in range(level)]
                        for r in f.result()]  # fmt: skip
            ok = np.array([s for code, s in done if code == 200])
            out[level] = {
                "p50": float(np.median(ok)) if ok.size else float("nan"),
                "p95": float(np.percentile(ok, 95)) if ok.size else float("nan"),
                "n": float(ok.size),
                "refused": float(sum(code == 503 for code, _ in done)),
                "other": float(sum(code not in (200, 503) for code, _ in done)),
            }
    return out


# ----------------------------------------------------------------------------- report


def measure(
    run: Path, loads: int = 3, requests: int = 8, concurrency: tuple[int, ...] = (1, 4, 16)
) -> list[tuple[str, float]]:
    """Both measurements, printed; returns the ratio lines' (NAME, value)."""
    import torch

    print(f"run {run}; {os.cpu_count()} CPUs, torch {torch.__version__}")
    page = first_page(run, loads)
    print(f"server start (load, warm-up, listening): {page['server start']:.1f} s; "
          f"first page measured by {page['method']}")  # fmt: skip
    if "cold" in page:
        cold = page["cold"]
        print("  right after start: " + ", ".join(f"{k} {v:.2f} s" for k, v in cold.items()))
        print(f"  server settled (views, curves precomputed) {page['settled after']:.1f} s later")
    for i, load in enumerate(page["loads"]):
        print(f"  load {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in load.items()))
    first = float(page["first page"])
    print(f"first page interactive (median): {first:.3f} s")

    lat = explain_latency(run, concurrency, requests)
    for level, r in lat.items():
        print(f"explain at {level:2d} concurrent: p50 {r['p50']:.3f} s, p95 {r['p95']:.3f} s "
              f"({r['n']:.0f} answered, {r['refused']:.0f} refused busy, "
              f"{r['other']:.0f} other errors)")  # fmt: skip
    at4 = lat.get(4, lat[max(lat)])["p50"]
    ratios = [
        ("dashboard_first_page_under_1s", 1.0 / first),
        ("dashboard_explain_p50_under_1s", 1.0 / at4),
    ]
    for name, value in ratios:
        print(f"ratio {name} {value:.2f}x")
    return ratios


def quick() -> list[tuple[str, float]]:
    """The two ratios at a small size (3 page loads, 6 requests per client at 1 and 4
    clients; about a minute); ``[]`` with the reason printed when no run is found."""
    run = default_run()
    if not (run / "config.yaml").is_file():
        print(f"dashboard bench skipped: no run directory at {run} "
              "(set MOTIFLENS_BENCH_RUN or `make demo DEMO_DIR=demo_run`)")  # fmt: skip
        return []
    return measure(run, loads=3, requests=6, concurrency=(1, 4))


# ----------------------------------------------------------------------------- issue 6


def overhead(repeats: int = 5, threads: int | None = None) -> None:
    """POST /api/explain through the test client against the computations called
    directly, on a random 600 bp Basset with 164 targets (issue 6: under 2 s)."""
    import tempfile

    import torch
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ism import basset

    from motiflens.config import RunConfig
    from motiflens.dashboard.app import create_app
    from motiflens.explain.ism import saturation_mutagenesis
    from motiflens.explain.saliency import attribute
    from motiflens.runs import Run
    from motiflens.sequence.onehot import one_hot

    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    model = basset()
    target = 17
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig.from_dict({"model": {"name": "basset", "n_targets": 164, "length": 600}})
        Run(tmp).save_model(model, cfg)
        t0 = time.perf_counter()
        client = TestClient(create_app(tmp, warmup=True), base_url="http://localhost")
        startup = time.perf_counter() - t0
        rng = np.random.default_rng(1)
        served, direct = [], []
        for _ in range(repeats):
            seq = "".join(rng.choice(list("ACGT"), 600))
            t0 = time.perf_counter()
            reply = client.post("/api/explain", json={"sequence": seq, "target": target})
            served.append(time.perf_counter() - t0)
            assert reply.status_code == 200, reply.text
            x = one_hot(seq)[None]
            t0 = time.perf_counter()
            saturation_mutagenesis(model, x, targets=[target])
            attribute(model, x, targets=[target], method="gradient_x_input")
            direct.append(time.perf_counter() - t0)
    a, b = statistics.median(served), statistics.median(direct)
    print(f"threads {threads}; Basset 600 bp, 164 targets; app start (load + warm-up) "
          f"{startup:.1f} s")  # fmt: skip
    print(f"  (a) POST /api/explain, round trip   median {a:6.3f} s  "
          f"({', '.join(f'{t:.2f}' for t in served)})")  # fmt: skip
    print(f"  (b) ISM + gradient x input directly  median {b:6.3f} s")
    print(f"  dashboard overhead (a)/(b)           {a / b:6.2f}x; ISM method "
          f"{reply.json()['ism']['method']}; reply {len(reply.content) / 1e3:.0f} kB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", type=Path, default=None)
    parser.add_argument("--loads", type=int, default=3, help="settled page loads")
    parser.add_argument("--requests", type=int, default=8, help="explain requests per client")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--overhead", action="store_true", help="also issue 6's measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    run = args.run or default_run()
    if not (run / "config.yaml").is_file():
        print(f"dashboard bench skipped: no run directory at {run}")
    else:
        measure(run, args.loads, args.requests, tuple(args.concurrency))
    if args.overhead:
        overhead(args.repeats, args.threads)


if __name__ == "__main__":
    main()
