"""The static report: one self-contained HTML file with the dashboard's views inlined.

The page is the dashboard's own ``index.html``, with its stylesheet, Plotly.js, the logo
renderer and the app script inlined and the data the API would have served embedded as
``window.MOTIFLENS_REPORT``: it opens offline, by double-click, with no request to any
server. The explorer shows precomputed sequences instead of a text box: for each target,
the test sequences it predicts highest (ISM + gradient x input + filter matches).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from motiflens.dashboard import data
from motiflens.dashboard.app import STATIC_DIR, plotly_js_path
from motiflens.errors import InputError
from motiflens.files import write_text_atomic

__all__ = ["build_report_data", "render_report", "write_report"]

#: Targets that get precomputed explorer views by default, at most.
DEFAULT_MAX_TARGETS = 12


def _inline_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can appear)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _inline_script(code: str) -> str:
    # A "</script" inside the code would end the element early; in JS source it can only
    # sit in a string or regex, where "<\/script" means the same.
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>"


def build_report_data(
    run_dir: str | Path,
    *,
    top: int = 2,
    targets: Sequence[str] | None = None,
    max_targets: int = DEFAULT_MAX_TARGETS,
    progress: bool = True,
) -> dict[str, Any]:
    """Everything the report shows, as one JSON-able dict (the API's views, keyed by name).

    Parameters
    ----------
    run_dir
        The run directory.
    top
        Precomputed explorer views per target: the test sequences it predicts highest.
    targets
        Targets to precompute views for (default: the first ``max_targets``).
    max_targets
        Cap on targets when ``targets`` is not given.
    progress
        Show a progress bar over the precomputed views.
    """
    from motiflens.dashboard.explorer import Explorer

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("run directory not found", path=run_dir)
    report: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "overview": data.overview(run_dir),
        "filters": data.filters_view(run_dir),
        "insertion": data.insertion_view(run_dir),
        "optimize": data.optimize_view(run_dir),
        "variants": data.variants_view(run_dir),
        "views": [],
    }
    try:
        explorer = Explorer(run_dir)
    except (InputError, ValueError, OSError) as err:
        report["model"] = {
            "available": False,
            "missing": True,
            "message": str(err),
            "command": data.missing(run_dir, "model")["command"],
        }
        report["curves"] = {"missing": True, "message": "no model"}
        return report
    report["model"] = {
        "available": True,
        "name": explorer.config.name,
        "length": explorer.length,
        "targets": explorer.labels,
        "genome": False,
    }
    report["curves"] = explorer.curves()
    if explorer.dataset is None or top < 1:
        return report
    try:
        preds, _ = explorer.test_predictions()
    except InputError:  # no test split: the report goes without precomputed views
        return report
    chosen = list(targets) if targets else explorer.labels[:max_targets]
    jobs = []
    for name in chosen:
        t = explorer.target_index(name)
        for i in np.argsort(-preds[:, t], kind="stable")[:top]:
            jobs.append((int(i), t))
    for i, t in tqdm(jobs, desc="report views", disable=not progress):
        view = explorer.explain(explorer.from_test(i), t)
        view.pop("seconds", None)
        report["views"].append(view)
    return report


def render_report(report: dict[str, Any]) -> str:
    """The report page: ``index.html`` with its scripts, styles and ``report`` inlined."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    pieces = {
        '<link rel="stylesheet" href="static/style.css">': "<style>\n"
        + (STATIC_DIR / "style.css").read_text(encoding="utf-8")
        + "\n</style>",
        '<script src="vendor/plotly.min.js"></script>': _inline_script(
            plotly_js_path().read_text(encoding="utf-8")
        ),
        '<script src="static/logo.js"></script>': _inline_script(
            (STATIC_DIR / "logo.js").read_text(encoding="utf-8")
        ),
        '<script src="static/app.js"></script>': "<script>window.MOTIFLENS_REPORT = "
        + _inline_json(data.json_safe(report))
        + ";</script>\n"
        + _inline_script((STATIC_DIR / "app.js").read_text(encoding="utf-8")),
    }
    for tag, inline in pieces.items():
        if tag not in page:
            raise RuntimeError(f"index.html lost the tag the report replaces: {tag}")
        # str.replace with a function-free literal: the inlined code may hold "\1" etc.
        head, tail = page.split(tag, 1)
        page = head + inline + tail
    return page.replace("<title>motiflens</title>", "<title>motiflens report</title>", 1)


def write_report(
    run_dir: str | Path,
    out: str | Path,
    *,
    top: int = 2,
    targets: Sequence[str] | None = None,
    max_targets: int = DEFAULT_MAX_TARGETS,
    progress: bool = True,
) -> Path:
    """Write the self-contained HTML report of a run (atomically) and return its path.

    See :func:`build_report_data` for the parameters.
    """
    report = build_report_data(
        run_dir, top=top, targets=targets, max_targets=max_targets, progress=progress
    )
    return write_text_atomic(out, render_report(report))
