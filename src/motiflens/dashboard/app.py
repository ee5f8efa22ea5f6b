"""The dashboard web app (FastAPI): static page, Plotly.js from the plotly package, JSON API.

Routes
------
``GET /``                       the page (``static/index.html``)
``GET /static/...``             its JS and CSS
``GET /vendor/plotly.min.js``   Plotly.js from the installed ``plotly`` package (no CDN)
``GET /api/overview|filters|insertion|motifs|optimize|variants``  views of the run directory
``GET /api/curves``             ROC/PR curves on the test split (computed once)
``GET /api/model``              what the explorer can do (targets, length, genome)
``GET /api/test_sequences``     the first test sequences, to pick from
``GET /api/variant_ism``        a stored ISM around a variant
``GET /api/results``            every stored per-sequence result (ISM, attributions, ...)
``GET /api/results/<id>``       one stored sequence and target of one result file
``POST /api/predict``           predictions of every target for one sequence
``POST /api/explain``           predictions, ISM, attribution, matches for one target (a
                                genome region's window also gets the variants in it)
``POST /api/locus``             per-base predictions along a genome region longer than the
                                model's input (tiled windows), with the variants in it
``GET /files/<path>``           a figure or table of the run directory (never outside it)

The model is loaded once, when the app is made; a run directory without one still serves
every view, and the explorer says what is missing. The run is read only through
:class:`motiflens.runs.Run`.

Exposure
--------
Every request must name this server in its ``Host`` header and every POST must be JSON
from a page of this server (:mod:`~motiflens.dashboard.guard`: defeats DNS rebinding and
cross-origin form posts). Explain, locus, predict and the curves run in a bounded
:class:`~motiflens.dashboard.pool.WorkPool` (503 with ``Retry-After`` when it is full).
What the API serves names files relative to the run (:mod:`~motiflens.dashboard.share`):
no author's absolute paths or full command lines.
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from motiflens.dashboard import data, stored
from motiflens.dashboard.explorer import MAX_LOCUS, Explorer
from motiflens.dashboard.guard import HostPolicy, parse_json_object
from motiflens.dashboard.pool import DEFAULT_QUEUE, DEFAULT_WORKERS, Busy, WorkPool
from motiflens.dashboard.share import shareable, shareable_text
from motiflens.errors import InputError
from motiflens.runs import Run, as_run

__all__ = [
    "MAX_BODY_BYTES",
    "STATIC_DIR",
    "bind_socket",
    "create_app",
    "plotly_js_path",
    "serve",
]

STATIC_DIR = Path(__file__).parent / "static"
#: Largest request body accepted (a 600 bp sequence is under 1 kB).
MAX_BODY_BYTES = 1_000_000
#: Text files of the run served with their paths made shareable (small, and the ones that
#: hold paths: the manifest, configs, summaries); tables and figures are served as they are.
SHARED_TEXT_SUFFIXES = frozenset({".json", ".yaml", ".txt"})
#: Largest text file rewritten that way; a larger one is served as it is.
SHARED_TEXT_BYTES = 5_000_000
#: Methods whose requests need no JSON body (everything else must send one).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    a body without a Content-Length is cut off too) and deep nesting
    (:func:`~motiflens.dashboard.guard.parse_json_object`)."""
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks))


def _guard_response(request: Request, hosts: HostPolicy, max_body: int) -> JSONResponse | None:
    """The refusal of a request the server must not answer, else ``None``."""
    host = request.headers.get("host")
    if not hosts.allows_header(host):
        return _error(
            400,
            f"this server does not answer to the host name {host!r}"
            if host
            else "the request names no host (no Host header)",
            "open it as http://localhost:PORT/ (or its bound address); to reach it by "
            "another name, restart it with --allow-host NAME. Unknown names are refused "
            "so that no web page can reach the server through DNS rebinding.",
        )
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("origin")
        if origin is not None and not hosts.allows_origin(origin):
            return _error(
                403,
                f"cross-origin request from {origin!r} refused",
                "only the dashboard's own page may send requests; to use another name "
                "for the server, restart it with --allow-host NAME",
            )
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _error(
                415,
                f"the request body must be JSON (Content-Type: application/json), "
                f"not {media or 'untyped'}",
                'send {"sequence": "ACGT..."} with Content-Type: application/json',
            )
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            return _error(400, "bad Content-Length header")
        if int(length) > max_body:
            return _error(413, f"request body over {max_body:,} bytes")
    return None


def create_app(
    run: Run | str | Path,
    *,
    genome: str | Path | None = None,
    max_body: int = MAX_BODY_BYTES,
    warmup: bool = False,
    hosts: HostPolicy | None = None,
    workers: int = DEFAULT_WORKERS,
    queue: int = DEFAULT_QUEUE,
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
    hosts
        The host names the app answers to (default: the loopback names only); any other
        ``Host`` gets 400, a POST from a page of any other origin 403.
    workers, queue
        Explain, predict and curve computations run at once, and requests that may wait
        for one; more get 503 (:class:`~motiflens.dashboard.pool.WorkPool`).

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

    hosts = hosts if hosts is not None else HostPolicy()
    pool = WorkPool(workers, queue)
    app = FastAPI(title="motiflens", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.explorer = explorer
    app.state.run = run
    app.state.pool = pool

    def share(value: Any) -> Any:
        return shareable(value, run)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        refused = _guard_response(request, hosts, max_body)
        return refused if refused is not None else await call_next(request)

    @app.exception_handler(InputError)
    async def input_error(request: Request, err: InputError) -> JSONResponse:
        hint = shareable_text(err.hint, run) if err.hint else None
        return _error(400, shareable_text(err.message, run), hint)

    @app.exception_handler(ValueError)
    async def value_error(request: Request, err: ValueError) -> JSONResponse:
        # The model code raises ValueError for inputs it cannot take (a length, a target).
        return _error(400, shareable_text(str(err), run))

    @app.exception_handler(_TooLarge)
    async def too_large(request: Request, err: _TooLarge) -> JSONResponse:
        return _error(413, f"request body over {max_body:,} bytes")

    @app.exception_handler(Busy)
    async def busy(request: Request, err: Busy) -> JSONResponse:
        response = _error(
            503,
            f"the server is busy ({pool.workers} computations running, {pool.queue} waiting)",
            f"retry in {err.retry_after} s",
        )
        response.headers["Retry-After"] = str(err.retry_after)
        return response

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="text/javascript")

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        return share(data.overview(run))

    @app.get("/api/filters")
    def filters() -> dict[str, Any]:
        return share(data.filters_view(run))

    @app.get("/api/insertion")
    def insertion() -> dict[str, Any]:
        return share(data.insertion_view(run))

    @app.get("/api/motifs")
    def motifs() -> dict[str, Any]:
        return share(data.motif_page(run))

    @app.get("/api/optimize")
    def optimize() -> dict[str, Any]:
        return share(data.optimize_view(run))

    @app.get("/api/variants")
    def variants() -> dict[str, Any]:
        return share(data.variants_view(run))

    @app.get("/api/variant_ism", response_model=None)
    def variant_ism(name: str, target: str) -> dict[str, Any] | JSONResponse:
        found = data.variant_ism(run, name, target)
        if found is None:
            return _error(404, f"no stored ISM for {name!r} and target {target!r}")
        return share(found)

    @app.get("/api/results")
    def results() -> dict[str, Any]:
        return share(stored.results_list(run))

    @app.get("/api/results/{result_id:path}", response_model=None)
    def result(
        result_id: str, sequence: str | None = None, target: str | None = None
    ) -> dict[str, Any] | JSONResponse:
        try:
            return share(data.json_safe(stored.result_sequence(run, result_id, sequence, target)))
        except KeyError:
            return _error(404, f"no stored result {result_id!r} in this run")

    @app.get("/api/model")
    def model() -> dict[str, Any]:
        if explorer is None:
            return share(
                {
                    "available": False,
                    "missing": True,
                    "message": model_error,
                    "command": data.missing(run, "model")["command"],
                }
            )
        return {
            "available": True,
            "name": explorer.config.name,
            "task": explorer.config.task,
            "length": explorer.length,
            "targets": explorer.labels,
            "genome": explorer.genome is not None,
            "max_locus": MAX_LOCUS,
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
    async def curves() -> dict[str, Any]:
        if explorer is None:
            return share({"missing": True, "message": f"no model: {model_error}"})
        return share(await pool.run(explorer.curves))

    @app.get("/api/test_sequences")
    def test_sequences(limit: int = 500) -> dict[str, Any]:
        if explorer is None:
            return share({"missing": True, "message": f"no model: {model_error}"})
        return explorer.test_sequences(max(1, min(limit, 5000)))

    @app.post("/api/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await _read_json(request, max_body)
        ex = need_model()
        ex.check_request(body)

        def work() -> dict[str, Any]:
            seq = ex.resolve(body)
            return {"name": seq.name, "note": seq.note, "predictions": ex.predict(seq)}

        return await pool.run(work)

    @app.post("/api/explain")
    async def explain(request: Request) -> dict[str, Any]:
        body = await _read_json(request, max_body)
        ex = need_model()
        # Checked before the request queues for a worker: a wrong type is answered at once.
        target = ex.check_target(body.get("target"))
        ex.check_request(body)

        def work() -> dict[str, Any]:
            res = ex.explain(ex.resolve(body), target)
            if res.get("chrom") is not None:
                first = res["genome_start"] - 1
                res["variants"] = data.variants_in_region(
                    run, res["chrom"], first, first + len(res["sequence"]), [res["target"]]
                )
            return res

        return await pool.run(work)

    @app.post("/api/locus")
    async def locus(request: Request) -> dict[str, Any]:
        body = await _read_json(request, max_body)
        ex = need_model()
        region = body.get("region")
        if not isinstance(region, str) or not region.strip():
            raise InputError(
                "give a region as chrom:start-end",
                hint='e.g. {"region": "chr1:1,000,001-1,002,000"}',
            )
        targets = body.get("targets")
        # Checked before the request queues for a worker, as for /api/explain.
        if targets is not None and not isinstance(targets, list):
            raise InputError("targets must be a list of target names or indices")
        for t in targets or []:
            ex.check_target(t)

        def work() -> dict[str, Any]:
            res = ex.locus(region, targets)
            res["variants"] = data.variants_in_region(
                run, res["chrom"], res["start"] - 1, res["end"], res["targets"]
            )
            return res

        return await pool.run(work)

    @app.get("/files/{path:path}", include_in_schema=False, response_model=None)
    def files(path: str) -> Response:
        found = data.safe_file(run, path)
        if found is None:
            return _error(404, "no such file in the run directory")
        if found.suffix.lower() in SHARED_TEXT_SUFFIXES:
            shared = _shared_text_file(run, found)
            if shared is not None:
                return shared
        return FileResponse(found)

    return app


def _shared_text_file(run: Run, path: Path) -> Response | None:
    """A small text file of the run with its paths made shareable (the manifest with its
    commands reduced too), or ``None`` to serve the file as it is."""
    try:
        if path.stat().st_size > SHARED_TEXT_BYTES:
            return None
        if path == run.manifest_path.resolve():
            try:
                text = json.dumps(shareable(run.manifest(), run), indent=2) + "\n"
            except InputError:  # unreadable: its text, paths rewritten all the same
                text = shareable_text(path.read_text(encoding="utf-8", errors="replace"), run)
            return Response(text, media_type="application/json")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    media = {".json": "application/json", ".yaml": "application/yaml"}.get(
        path.suffix.lower(), "text/plain"
    )
    return Response(shareable_text(text, run), media_type=media)


def _warm(explorer: Any) -> None:
    """One explain call on a random sequence: JIT-like setup happens before users come."""
    rng = np.random.default_rng(0)
    length = explorer.length or 200
    explorer.explain(explorer.from_text("".join(rng.choice(list("ACGT"), length))))


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: any free one), for the server to listen on.

    Bound before anything is announced, so that a port in use is said as such instead of
    after a URL that leads nowhere.

    Raises
    ------
    InputError
        The port is out of range, in use or not allowed, or ``host`` is not an address of
        this machine.
    """
    if not 0 <= port <= 65535:
        raise InputError(f"port {port} is not a TCP port", hint="pick one from 1024 to 65535")
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as err:
        raise InputError(
            f"cannot resolve the address {host!r}: {err}",
            hint="use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a port left in TIME_WAIT by a stopped server binds again at once
        # (a port some process listens on still refuses).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} is in use", hint="pick another with --port") from None
        if err.errno == errno.EACCES:
            raise InputError(
                f"no permission to listen on port {port}",
                hint="ports below 1024 need root; pick another with --port",
            ) from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise InputError(
                f"{host} is not an address of this machine",
                hint="use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
            ) from None
        raise InputError(f"cannot listen on {host} port {port}: {err.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    run: Run | str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    genome: str | Path | None = None,
    allow_hosts: Iterable[str] = (),
    workers: int = DEFAULT_WORKERS,
    queue: int = DEFAULT_QUEUE,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the dashboard with uvicorn until interrupted; ``announce`` gets the URL.

    The port is bound first: a port in use fails before anything is announced.

    Parameters
    ----------
    run
        The run (or its directory).
    host, port
        Where to listen (``127.0.0.1``: this machine only; port 0: any free one).
    genome
        Genome FASTA for ``chrom:start-end`` requests.
    allow_hosts
        Host names the server answers to besides the loopback names and ``host``
        (``*``: any; see :class:`~motiflens.dashboard.guard.HostPolicy`).
    workers, queue
        See :func:`create_app`.
    announce
        Gets the line with the URL.

    Raises
    ------
    InputError
        The run directory or the genome file does not exist, a name in ``allow_hosts`` is
        not a host name, or the port cannot be bound (:func:`bind_socket`).
    """
    import uvicorn

    hosts = HostPolicy(host, allow_hosts)
    if not as_run(run).path.is_dir():
        raise InputError("run directory not found", path=as_run(run).path)
    if genome is not None and not Path(genome).is_file():
        # before serving: otherwise the dashboard would start without its explorer
        raise InputError("genome FASTA not found", path=genome, hint="check the --genome path")
    sock = bind_socket(host, port)
    try:
        app = create_app(run, genome=genome, warmup=True, hosts=hosts, workers=workers, queue=queue)
        port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        announce(
            f"motiflens dashboard for {as_run(run).path}: http://{shown}:{port}/  (Ctrl-C to stop)"
        )
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
