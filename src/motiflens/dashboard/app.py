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

Speed
-----
The page shows its first view before it loads Plotly.js (``static/app.js``), so what
the first view waits for is ``/api/overview``. Every view of the run directory is kept
as its JSON text (:class:`ViewCache`) until a file of the run (or its dataset) changes;
with ``warmup`` the app computes the views, the ROC/PR curves and the compressed
Plotly.js in a background thread at startup, so the first visitor waits for none of
them. Responses over 1 kB are gzip-compressed for clients that accept it; Plotly.js
(4.8 MB, 1.4 MB compressed) is compressed once and kept.

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
import gzip
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

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
    "ViewCache",
    "bind_socket",
    "create_app",
    "plotly_js_path",
    "precompute",
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
#: Smallest response compressed (smaller ones gain less than the header costs).
GZIP_MIN_BYTES = 1000
#: zlib level for responses compressed per request: most of level 9's gain at a fraction
#: of its time (a 1 MB JSON view in ~10 ms).
GZIP_LEVEL = 5
#: The views of the run directory kept by :class:`ViewCache`, by name.
VIEWS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "overview": data.overview,
    "filters": data.filters_view,
    "insertion": data.insertion_view,
    "motifs": data.motif_page,
    "optimize": data.optimize_view,
    "variants": data.variants_view,
    "results": stored.results_list,
}


def plotly_js_path() -> Path:
    """``plotly.min.js`` shipped inside the installed ``plotly`` Python package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise InputError(
            f"plotly.min.js not found at {path}", hint="pip install plotly (for its Plotly.js)"
        )
    return path


def _json_bytes(value: Any) -> bytes:
    """JSON text as FastAPI's JSONResponse writes it (values already JSON-safe)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _json_response(value: Any) -> Response:
    """A JSON-safe value (:func:`~motiflens.dashboard.data.json_safe`) as a response,
    written once: FastAPI's own encoding walks every number of a large answer in Python
    (a locus track has 100,000 a target) with the GIL held, slowing the other workers."""
    return Response(_json_bytes(value), media_type="application/json")


def _run_stamp(run: Run) -> tuple[Any, ...]:
    """What the views read, as ``(path, size, mtime_ns)`` of every file of the run
    directory (hidden files and checkpoints aside) and of its dataset: it changes
    whenever a view could. A few milliseconds for hundreds of files."""
    found: list[tuple[str, int, int]] = []
    skip = {run.checkpoints_dir.name}

    def walk(folder: str, top: bool) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or (top and entry.name in skip):
                continue
            try:
                if entry.is_dir():
                    walk(entry.path, False)
                else:
                    st = entry.stat()
                    found.append((entry.path, st.st_size, st.st_mtime_ns))
            except OSError:
                continue

    walk(str(run.path), True)
    found.sort()
    try:
        dataset = run.dataset_or_none()
        st = dataset.stat() if dataset is not None else None
    except (InputError, OSError):
        st = None
    return (tuple(found), None if st is None else (str(dataset), st.st_size, st.st_mtime_ns))


class ViewCache:
    """The views of a run directory (:data:`VIEWS`), each kept as its JSON text (and that
    text gzip-compressed) until a file of the run or its dataset changes.

    Parameters
    ----------
    run
        The run.
    prepare
        Applied to a view before it is written as JSON (the app makes paths shareable).
    """

    def __init__(self, run: Run, prepare: Callable[[Any], Any] = lambda v: v) -> None:
        self.run = run
        self.prepare = prepare
        self._kept: dict[str, tuple[Any, bytes, bytes | None]] = {}
        self._lock = threading.Lock()

    def json(self, name: str) -> tuple[bytes, bytes | None]:
        """The view's JSON text, and its gzip-compressed form when over
        :data:`GZIP_MIN_BYTES` (else ``None``)."""
        stamp = _run_stamp(self.run)
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and kept[0] == stamp:
            return kept[1], kept[2]
        text = _json_bytes(self.prepare(data.json_safe(VIEWS[name](self.run))))
        packed = gzip.compress(text, GZIP_LEVEL) if len(text) >= GZIP_MIN_BYTES else None
        with self._lock:
            self._kept[name] = (stamp, text, packed)
        return text, packed

    def response(self, name: str, request: Request) -> Response:
        """The view as a response, compressed when the client accepts gzip."""
        text, packed = self.json(name)
        if packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                packed,
                media_type="application/json",
                headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
            )
        return Response(text, media_type="application/json")

    def fill(self) -> None:
        """Compute every view now (a view that fails is left to its request)."""
        for name in VIEWS:
            try:
                self.json(name)
            except Exception:  # its request reports it
                continue


class _Compressed:
    """A static file's gzip-compressed bytes, made once (per file version) and kept."""

    def __init__(self) -> None:
        self._kept: dict[Path, tuple[tuple[int, int], bytes, str]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> tuple[bytes, str]:
        """``(compressed bytes, ETag)`` of ``path``."""
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            kept = self._kept.get(path)
            if kept is None or kept[0] != stamp:
                body = gzip.compress(path.read_bytes(), 6)
                kept = (stamp, body, f'"{st.st_size:x}-{st.st_mtime_ns:x}-gz"')
                self._kept[path] = kept
        return kept[1], kept[2]

    def response(self, path: Path, request: Request, media_type: str) -> Response:
        if "gzip" not in request.headers.get("accept-encoding", ""):
            return FileResponse(path, media_type=media_type)
        body, etag = self.get(path)
        headers = {"ETag": etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=media_type, headers=headers)


_COMPRESSED = _Compressed()


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
        Run the explorer once on a random sequence per model copy at startup, so the
        first real request does not pay for one-time setup (a second or so on Basset),
        and start a background thread that computes the views, the ROC/PR curves and the
        compressed Plotly.js (:func:`precompute`).
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
    pool = WorkPool(workers, queue)
    explorer: Explorer | None = None
    model_error: str | None = None
    try:
        # One copy of the model per worker: they compute side by side (pool.py).
        explorer = Explorer(run, genome=genome, replicas=workers)
    except (InputError, ValueError, OSError) as err:
        model_error = str(err)
    if explorer is not None and warmup:
        _warm(explorer, pool.threads)

    hosts = hosts if hosts is not None else HostPolicy()
    app = FastAPI(title="motiflens", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.explorer = explorer
    app.state.run = run
    app.state.pool = pool

    def share(value: Any) -> Any:
        return shareable(value, run)

    views = ViewCache(run, share)
    app.state.views = views
    app.state.precomputed = threading.Event()
    if warmup:
        threading.Thread(
            target=precompute, args=(app,), name="motiflens-precompute", daemon=True
        ).start()
    else:
        app.state.precomputed.set()

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        refused = _guard_response(request, hosts, max_body)
        return refused if refused is not None else await call_next(request)

    # Outside the guard; leaves the responses that are compressed already as they are.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)

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
    def plotly_js(request: Request) -> Response:
        return _COMPRESSED.response(plotly_js_path(), request, "text/javascript")

    @app.get("/api/overview")
    def overview(request: Request) -> Response:
        return views.response("overview", request)

    @app.get("/api/filters")
    def filters(request: Request) -> Response:
        return views.response("filters", request)

    @app.get("/api/insertion")
    def insertion(request: Request) -> Response:
        return views.response("insertion", request)

    @app.get("/api/motifs")
    def motifs(request: Request) -> Response:
        return views.response("motifs", request)

    @app.get("/api/optimize")
    def optimize(request: Request) -> Response:
        return views.response("optimize", request)

    @app.get("/api/variants")
    def variants(request: Request) -> Response:
        return views.response("variants", request)

    @app.get("/api/variant_ism", response_model=None)
    def variant_ism(name: str, target: str) -> dict[str, Any] | JSONResponse:
        found = data.variant_ism(run, name, target)
        if found is None:
            return _error(404, f"no stored ISM for {name!r} and target {target!r}")
        return share(found)

    @app.get("/api/results")
    def results(request: Request) -> Response:
        return views.response("results", request)

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
    async def curves() -> Any:
        if explorer is None:
            return share({"missing": True, "message": f"no model: {model_error}"})
        return _json_response(share(await pool.run(explorer.curves)))

    @app.get("/api/test_sequences")
    def test_sequences(limit: int = 500) -> dict[str, Any]:
        if explorer is None:
            return share({"missing": True, "message": f"no model: {model_error}"})
        return explorer.test_sequences(max(1, min(limit, 5000)))

    @app.post("/api/predict")
    async def predict(request: Request) -> Response:
        body = await _read_json(request, max_body)
        ex = need_model()
        ex.check_request(body)

        def work() -> dict[str, Any]:
            seq = ex.resolve(body)
            # NaN (a broken model) as null, as everywhere else
            return data.json_safe(
                {"name": seq.name, "note": seq.note, "predictions": ex.predict(seq)}
            )

        return _json_response(await pool.run(work))

    @app.post("/api/explain")
    async def explain(request: Request) -> Response:
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

        return _json_response(await pool.run(work))

    @app.post("/api/locus")
    async def locus(request: Request) -> Response:
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

        return _json_response(await pool.run(work))

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


def _warm(explorer: Any, threads: int) -> None:
    """One explain call on a random sequence per model copy, with the torch threads of a
    worker: first-call setup happens before users come."""
    rng = np.random.default_rng(0)
    length = explorer.length or 200
    seq = explorer.from_text("".join(rng.choice(list("ACGT"), length)))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # The copies are taken in turn (first in, first out), so each is warmed once.
        for _ in range(getattr(explorer, "replicas", 1)):
            explorer.explain(seq)
    finally:
        torch.set_num_threads(before)


def precompute(app: FastAPI) -> None:
    """What the first visitors would otherwise wait for: the run's views, the compressed
    Plotly.js and the ROC/PR curves, in that order (the curves take longest: about 2 s a
    5,000 test sequences of the demo model). Run in a background thread by
    :func:`create_app` with ``warmup``; sets ``app.state.precomputed`` when done. Errors
    are left to the requests that would meet them."""
    began = time.perf_counter()
    torch.set_num_threads(app.state.pool.threads)
    try:
        app.state.views.fill()
        try:
            _COMPRESSED.get(plotly_js_path())
        except (InputError, OSError):
            pass
        explorer = app.state.explorer
        if explorer is not None:
            try:
                explorer.curves()
            except Exception:  # /api/curves reports it
                pass
    finally:
        app.state.precompute_seconds = time.perf_counter() - began
        app.state.precomputed.set()


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: any free one) and listening.

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
    # Listening already: a browser opened on the announced URL before the server loop
    # runs waits in the backlog instead of being refused (uvicorn's backlog).
    sock.listen(2048)
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
