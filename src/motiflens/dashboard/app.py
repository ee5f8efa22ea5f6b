"""The dashboard web app (FastAPI): static page, Plotly.js from the plotly package, JSON API.

Routes
------
``GET /``                       the page (``static/index.html``)
``GET /static/...``             its JS and CSS
``GET /vendor/plotly.min.js``   Plotly.js from the installed ``plotly`` package (no CDN)
``GET /api/overview|filters|insertion|optimize|variants``  views of the run directory
``GET /api/curves``             ROC/PR curves on the test split (computed once)
``GET /api/model``              what the explorer can do (targets, length, genome)
``GET /api/test_sequences``     the first test sequences, to pick from
``GET /api/variant_ism``        a stored ISM around a variant
``GET /api/results``            every stored per-sequence result (ISM, attributions, ...)
``GET /api/results/<id>``       one stored sequence and target of one result file
``POST /api/predict``           predictions of every target for one sequence
``POST /api/explain``           predictions, ISM, attribution, matches for one target
``GET /files/<path>``           a figure or table of the run directory (never outside it)

The model is loaded once, when the app is made; a run directory without one still serves
every view, and the explorer says what is missing. The run is read only through
:class:`motiflens.runs.Run`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from motiflens.dashboard import data, stored
from motiflens.dashboard.explorer import Explorer
from motiflens.errors import InputError
from motiflens.runs import Run, as_run

__all__ = ["MAX_BODY_BYTES", "STATIC_DIR", "create_app", "plotly_js_path", "serve"]

STATIC_DIR = Path(__file__).parent / "static"
#: Largest request body accepted (a 600 bp sequence is under 1 kB).
MAX_BODY_BYTES = 1_000_000


def plotly_js_path() -> Path:
    """``plotly.min.js`` shipped inside the installed ``plotly`` Python package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise InputError(
            f"plotly.min.js not found at {path}", hint="pip install plotly (for its Plotly.js)"
        )
    return path


def _error(status: int, message: str, hint: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    body.update(extra)
    return JSONResponse(body, status_code=status)


class _TooLarge(Exception):
    pass


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, refusing more than ``limit`` bytes (streamed, so
    a body without a Content-Length is cut off too)."""
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"the request body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise InputError(
            "the request body must be a JSON object",
            hint='{"sequence": "ACGT...", "target": "name"}',
        )
    return body


def create_app(
    run: Run | str | Path,
    *,
    genome: str | Path | None = None,
    max_body: int = MAX_BODY_BYTES,
    warmup: bool = False,
) -> FastAPI:
    """The dashboard app over one run directory.

    Parameters
    ----------
    run
        The run (or its directory) to show. It must exist; missing pieces (no model, no metrics,
        analyses not run) are shown as such, not as errors.
    genome
        Genome FASTA for ``chrom:start-end`` requests in the explorer.
    max_body
        Largest request body in bytes; larger requests get 413.
    warmup
        Run the explorer once on a random sequence at startup, so the first real request
        does not pay for one-time setup (a second or so on Basset).

    Raises
    ------
    InputError
        The run directory does not exist.
    """
    run = as_run(run)
    if not run.path.is_dir():
        raise InputError("run directory not found", path=run.path)
    explorer: Explorer | None = None
    model_error: str | None = None
    try:
        explorer = Explorer(run, genome=genome)
    except (InputError, ValueError, OSError) as err:
        model_error = str(err)
    if explorer is not None and warmup:
        _warm(explorer)

    app = FastAPI(title="motiflens", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.explorer = explorer
    app.state.run = run

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable) -> Response:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return _error(400, "bad Content-Length header")
            if int(length) > max_body:
                return _error(413, f"request body over {max_body:,} bytes")
        return await call_next(request)

    @app.exception_handler(InputError)
    async def input_error(request: Request, err: InputError) -> JSONResponse:
        return _error(400, err.message, err.hint)

    @app.exception_handler(ValueError)
    async def value_error(request: Request, err: ValueError) -> JSONResponse:
        # The model code raises ValueError for inputs it cannot take (a length, a target).
        return _error(400, str(err))

    @app.exception_handler(_TooLarge)
    async def too_large(request: Request, err: _TooLarge) -> JSONResponse:
        return _error(413, f"request body over {max_body:,} bytes")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="text/javascript")

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        return data.overview(run)

    @app.get("/api/filters")
    def filters() -> dict[str, Any]:
        return data.filters_view(run)

    @app.get("/api/insertion")
    def insertion() -> dict[str, Any]:
        return data.insertion_view(run)

    @app.get("/api/optimize")
    def optimize() -> dict[str, Any]:
        return data.optimize_view(run)

    @app.get("/api/variants")
    def variants() -> dict[str, Any]:
        return data.variants_view(run)

    @app.get("/api/variant_ism", response_model=None)
    def variant_ism(name: str, target: str) -> dict[str, Any] | JSONResponse:
        found = data.variant_ism(run, name, target)
        if found is None:
            return _error(404, f"no stored ISM for {name!r} and target {target!r}")
        return found

    @app.get("/api/results")
    def results() -> dict[str, Any]:
        return stored.results_list(run)

    @app.get("/api/results/{result_id:path}", response_model=None)
    def result(
        result_id: str, sequence: str | None = None, target: str | None = None
    ) -> dict[str, Any] | JSONResponse:
        try:
            return data.json_safe(stored.result_sequence(run, result_id, sequence, target))
        except KeyError:
            return _error(404, f"no stored result {result_id!r} in this run")

    @app.get("/api/model")
    def model() -> dict[str, Any]:
        if explorer is None:
            return {
                "available": False,
                "missing": True,
                "message": model_error,
                "command": data.missing(run, "model")["command"],
            }
        return {
            "available": True,
            "name": explorer.config.name,
            "task": explorer.config.task,
            "length": explorer.length,
            "targets": explorer.labels,
            "genome": explorer.genome is not None,
            "temporal": explorer.is_rnn,
        }

    def need_model() -> Explorer:
        if explorer is None:
            raise InputError(
                f"the run has no usable model: {model_error}",
                hint=data.missing(run, "model")["command"],
            )
        return explorer

    @app.get("/api/curves")
    def curves() -> dict[str, Any]:
        if explorer is None:
            return {"missing": True, "message": f"no model: {model_error}"}
        return explorer.curves()

    @app.get("/api/test_sequences")
    def test_sequences(limit: int = 500) -> dict[str, Any]:
        if explorer is None:
            return {"missing": True, "message": f"no model: {model_error}"}
        return explorer.test_sequences(max(1, min(limit, 5000)))

    @app.post("/api/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await _read_json(request, max_body)
        ex = need_model()

        def work() -> dict[str, Any]:
            seq = ex.resolve(body)
            return {"name": seq.name, "note": seq.note, "predictions": ex.predict(seq)}

        return await run_in_threadpool(work)

    @app.post("/api/explain")
    async def explain(request: Request) -> dict[str, Any]:
        body = await _read_json(request, max_body)
        ex = need_model()
        target = body.get("target")
        if target is not None and not isinstance(target, str | int):
            raise InputError("target must be a target name or index")

        def work() -> dict[str, Any]:
            return ex.explain(ex.resolve(body), target)

        return await run_in_threadpool(work)

    @app.get("/files/{path:path}", include_in_schema=False, response_model=None)
    def files(path: str) -> FileResponse | JSONResponse:
        found = data.safe_file(run, path)
        if found is None:
            return _error(404, "no such file in the run directory")
        return FileResponse(found)

    return app


def _warm(explorer: Any) -> None:
    """One explain call on a random sequence: JIT-like setup happens before users come."""
    rng = np.random.default_rng(0)
    length = explorer.length or 200
    explorer.explain(explorer.from_text("".join(rng.choice(list("ACGT"), length))))


def serve(
    run: Run | str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    genome: str | Path | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the dashboard with uvicorn until interrupted; ``announce`` gets the URL."""
    import uvicorn

    app = create_app(run, genome=genome, warmup=True)
    shown = f"[{host}]" if ":" in host else host
    announce(
        f"motiflens dashboard for {as_run(run).path}: http://{shown}:{port}/  (Ctrl-C to stop)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
