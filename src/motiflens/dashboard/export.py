"""The static report: one self-contained HTML file with the dashboard's views inlined.

The page is the dashboard's own ``index.html``, with its stylesheet, Plotly.js, the logo
renderer and the app script inlined and the data the API would have served embedded as
``window.MOTIFLENS_REPORT``: it opens offline, by double-click, with no request to any
server. The explorer shows precomputed sequences instead of a text box: for each target,
the test sequences it predicts highest (ISM + gradient x input + filter matches); the
results page shows the first stored sequences of every stored result file.

:func:`report` is the run-level job (``motiflens report``): it writes the file and
records the step in the run's manifest. It lives here, not in :mod:`motiflens.steps`,
because it renders the dashboard's page and the steps sit below the dashboard.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motiflens.dashboard import data, stored
from motiflens.dashboard.app import STATIC_DIR, plotly_js_path
from motiflens.dashboard.explorer import Explorer
from motiflens.dashboard.share import shareable
from motiflens.errors import InputError
from motiflens.files import write_text_atomic
from motiflens.progress import tqdm
from motiflens.runs import Run, as_run

__all__ = ["build_report_data", "render_report", "report"]

#: Targets that get precomputed explorer views by default, at most.
DEFAULT_MAX_TARGETS = 12
#: Stored sequences per result file in the report by default (the first ones).
DEFAULT_SEQUENCES = 3
#: The report's file name in the run directory when no other is given.
REPORT_NAME = "report.html"


def _inline_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can appear)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _inline_script(code: str) -> str:
    # A "</script" inside the code would end the element early; in JS source it can only
    # sit in a string or regex, where "<\/script" means the same.
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>"


def build_report_data(
    run: Run | str | Path,
    *,
    top: int = 2,
    targets: Sequence[str] | None = None,
    max_targets: int = DEFAULT_MAX_TARGETS,
    sequences: int = DEFAULT_SEQUENCES,
    verbose: bool = False,
) -> dict[str, Any]:
    """Everything the report shows, as one JSON-able dict (the API's views, keyed by name).

    Parameters
    ----------
    run
        The run (or its directory).
    top
        Precomputed explorer views per target: the test sequences it predicts highest.
    targets
        Targets to precompute views for, and to include of the stored results (default:
        the first ``max_targets``).
    max_targets
        Cap on targets when ``targets`` is not given.
    sequences
        Stored sequences included per result file (the first ones).
    verbose
        Show a progress bar over the precomputed views.

    The report is meant to be shared: every path in it is relative to the run (one
    outside it is its file name) and recorded commands keep their verb and options
    (:func:`~motiflens.dashboard.share.shareable`).
    """
    run = as_run(run)
    return shareable(
        _report_data(
            run,
            top=top,
            targets=targets,
            max_targets=max_targets,
            sequences=sequences,
            verbose=verbose,
        ),
        run,
    )


def _report_data(
    run: Run,
    *,
    top: int,
    targets: Sequence[str] | None,
    max_targets: int,
    sequences: int,
    verbose: bool,
) -> dict[str, Any]:
    if not run.path.is_dir():
        raise InputError("run directory not found", path=run.path)
    report: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "overview": data.overview(run),
        "filters": data.filters_view(run),
        "insertion": data.insertion_view(run),
        "motifs": data.motif_page(run),
        "optimize": data.optimize_view(run),
        "variants": data.variants_view(run),
        "views": [],
    }
    chosen = list(targets) if targets else report["overview"]["targets"][:max_targets]
    included = stored.report_results(run, sequences=sequences, targets=chosen)
    report["results"] = {k: v for k, v in included.items() if k != "data"}
    report["result_data"] = included["data"]
    try:
        explorer = Explorer(run)
    except (InputError, ValueError, OSError) as err:
        report["model"] = {
            "available": False,
            "missing": True,
            "message": str(err),
            "command": data.missing(run, "model")["command"],
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
    jobs = []
    for name in chosen:
        t = explorer.target_index(name)
        for i in np.argsort(-preds[:, t], kind="stable")[:top]:
            jobs.append((int(i), t))
    for i, t in tqdm(jobs, desc="report views", disable=not verbose):
        view = explorer.explain(explorer.from_test(i), t)
        view.pop("seconds", None)
        report["views"].append(view)
    return report


def render_report(report: dict[str, Any]) -> str:
    """The report page: ``index.html`` with its scripts, styles and ``report`` inlined.

    The served page preloads Plotly.js and runs it after its first view; the report has
    no server to fetch it from, so Plotly is inlined before the page's own scripts.
    """
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    pieces = {
        '<link rel="preload" href="vendor/plotly.min.js" as="script">': "",
        '<link rel="stylesheet" href="static/style.css">': "<style>\n"
        + (STATIC_DIR / "style.css").read_text(encoding="utf-8")
        + "\n</style>",
        '<script src="static/logo.js"></script>': _inline_script(
            plotly_js_path().read_text(encoding="utf-8")
        )
        + "\n"
        + _inline_script((STATIC_DIR / "logo.js").read_text(encoding="utf-8")),
        '<script src="static/results.js"></script>': _inline_script(
            (STATIC_DIR / "results.js").read_text(encoding="utf-8")
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


def report(
    run: Run | str | Path,
    out: str | Path | None = None,
    *,
    top: int = 2,
    targets: Sequence[str] | None = None,
    max_targets: int = DEFAULT_MAX_TARGETS,
    sequences: int = DEFAULT_SEQUENCES,
    verbose: bool = False,
) -> Path:
    """Write the self-contained HTML report of a run (atomically) and record the step.

    Parameters
    ----------
    run
        The run (or its directory).
    out
        The HTML file (default ``report.html`` in the run directory).
    top, targets, max_targets, sequences, verbose
        What to include; see :func:`build_report_data`.

    Returns
    -------
    Path
        The report file.

    Raises
    ------
    InputError
        The run directory does not exist.

    Examples
    --------
    >>> report("runs/basset", "basset.html", targets=["K562"])
    PosixPath('basset.html')
    """
    run = as_run(run)
    if not run.path.is_dir():  # before the lock, which would create it
        raise InputError("run directory not found", path=run.path)
    with run.lock(create=False):  # the manifest, and a default report inside the run: one writer
        content = build_report_data(
            run,
            top=top,
            targets=targets,
            max_targets=max_targets,
            sequences=sequences,
            verbose=verbose,
        )
        path = write_text_atomic(
            Path(out) if out is not None else run.path / REPORT_NAME, render_report(content)
        )
        run.record_step("report", [path], top=top, targets=targets, sequences=sequences)
    return path
