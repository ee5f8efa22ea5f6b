"""The dashboard exposed to no one: Host allow-list, Origin and Content-Type checks, JSON
depth, argument types, a bounded worker pool, memory under load, shareable paths, and a
port in use said before any URL."""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from motiflens.cli import app as cli_app
from motiflens.dashboard.app import create_app
from motiflens.dashboard.export import report
from motiflens.dashboard.guard import MAX_JSON_DEPTH, HostPolicy, json_depth, split_host
from motiflens.dashboard.share import shareable_command
from motiflens.errors import InputError
from motiflens.runs import Run
from tests.dashboard.runfixtures import LENGTH, make_bare_run, make_run

SEQ = "ACGTTGCAAGGCTTACGATCGATCGGATCCATGCAAGTCA"  # 40 bp
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("guard"))


@pytest.fixture(scope="module")
def client(run):
    return TestClient(create_app(run), base_url="http://localhost")


# ----------------------------------------------------------------------------- Host


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8000", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:8000", "[::1]:8000",
     "[::1]", "::1"],
)  # fmt: skip
def test_loopback_names_are_answered(client, host):
    response = client.get("/api/overview", headers={"host": host})
    assert response.status_code == 200, host


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io",
     "10.0.0.5", "[::2]", "localhost:80:80", "[zz]:80", ""],
)  # fmt: skip
def test_any_other_host_is_refused_with_a_hint(client, host):
    # What a page on evil.example gets after re-pointing its DNS name at 127.0.0.1.
    response = client.get("/api/overview", headers={"host": host})
    assert response.status_code == 400, host
    body = response.json()
    assert "host" in body["error"] and "--allow-host" in body["hint"]
    assert "targets" not in body  # none of the run


def test_host_policy_names():
    default = HostPolicy()
    assert default.allows("localhost") and not default.allows("myserver.lab")
    bound = HostPolicy("10.1.2.3", ["MyServer.lab:8000", "[fe80::1]"])
    assert bound.allows("10.1.2.3") and bound.allows("myserver.lab") and bound.allows("fe80::1")
    assert not bound.allows("10.1.2.4")
    # Bound to every interface: any IP literal (DNS cannot re-point one), not any name.
    wildcard = HostPolicy("0.0.0.0")
    assert wildcard.allows("192.168.1.7") and wildcard.allows("fe80::1")
    assert not wildcard.allows("evil.example")
    assert HostPolicy(extra=["*"]).allows("anything.example")
    for bad in ("two words", "evil.example/path", "[zz]"):
        with pytest.raises(InputError, match="not a host name"):
            HostPolicy(extra=[bad])
    assert split_host("[::1]:8000") == "::1" and split_host("Host:99") == "host"


def test_allow_host_adds_a_name(run):
    named = TestClient(create_app(run, hosts=HostPolicy(extra=["dash.lab.org"])))
    assert named.get("/api/overview", headers={"host": "dash.lab.org:8000"}).status_code == 200
    assert named.get("/api/overview", headers={"host": "other.lab.org"}).status_code == 400


# ----------------------------------------------------------------------------- POST bodies


@pytest.fixture
def counted(run, monkeypatch):
    """A client whose explorer counts explain calls."""
    app = create_app(run)
    calls = []
    original = app.state.explorer.explain
    monkeypatch.setattr(
        app.state.explorer, "explain", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    return TestClient(app, base_url="http://localhost"), calls


def test_a_cross_origin_text_plain_post_runs_nothing(counted):
    client, calls = counted
    # What a form or fetch() on any web page can send without a CORS preflight.
    response = client.post(
        "/api/explain",
        content=json.dumps({"sequence": SEQ}),
        headers={"content-type": "text/plain", "origin": "http://evil.example"},
    )
    assert response.status_code == 403 and "cross-origin" in response.json()["error"]
    response = client.post(
        "/api/explain",
        content=json.dumps({"sequence": SEQ}),
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415 and "application/json" in response.json()["error"]
    for origin in ("http://evil.example", "null", "http://localhost.evil.example:8000"):
        response = client.post("/api/explain", json={"sequence": SEQ}, headers={"origin": origin})
        assert response.status_code == 403, origin
    assert calls == []
    # The dashboard's own page (any port of an allowed name), and charset parameters, pass.
    for origin in ("http://localhost:8000", "http://127.0.0.1:5555", "http://[::1]:8000"):
        response = client.post("/api/explain", json={"sequence": SEQ}, headers={"origin": origin})
        assert response.status_code == 200, origin
    response = client.post(
        "/api/predict",
        content=json.dumps({"sequence": SEQ}),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert len(calls) == 3


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"sequence": ' + _nested(100_000) + "}", "nested 100001 levels deep"),
        ('{"a": ' + _nested(MAX_JSON_DEPTH) + "}", f"nested {MAX_JSON_DEPTH + 1} levels"),
        ('{"sequence": "ACGT', "not JSON"),
        ('{"sequence": "ACGT"} trailing', "not JSON"),
        ('{"sequence": 1' + "0" * 5000 + "}", "not JSON"),
    ],
)
def test_malformed_or_deep_json_is_a_400_not_a_500(counted, body, message):
    client, calls = counted
    response = client.post("/api/explain", content=body.encode(), headers=JSON)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert calls == []


def test_json_depth_against_a_recursive_count():
    def depth(v):
        if isinstance(v, dict):
            v = list(v.values())
        return 1 + max(map(depth, v), default=0) if isinstance(v, list) else 0

    # Brackets, quotes and backslashes inside strings must not count.
    words = ["a[b", '\\"]{', "x\\", '"', "}}", "[[[", 1, None, 2.5]
    rng = random.Random(0)

    def make(level):
        r = rng.random()
        if level > 6 or r < 0.3:
            return rng.choice(words)
        if r < 0.65:
            return [make(level + 1) for _ in range(rng.randint(0, 3))]
        return {f"{rng.choice(words)}{i}": make(level + 1) for i in range(rng.randint(0, 3))}

    for _ in range(500):
        value = make(0)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        assert json_depth(text.encode()) == depth(value), text
    assert json_depth(b'{"k": "[[[\\\\"}') == 1  # the string ends after the escaped backslash


def test_a_quadratic_body_is_scanned_in_linear_time():
    began = time.perf_counter()
    json_depth(b'"' + b'\\"' * 400_000)  # a backtracking string regex takes minutes here
    assert time.perf_counter() - began < 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"sequence": SEQ, "target": True}, "not a boolean (true)"),
        ({"sequence": SEQ, "target": False}, "not a boolean (false)"),
        ({"sequence": SEQ, "target": 1.5}, "not a number (1.5)"),
        ({"sequence": SEQ, "target": {"a": 1}}, "not an object"),
        ({"sequence": 12345}, "sequence must be a string"),
        ({"sequence": ["ACGT"]}, "sequence must be a string"),
        ({"region": True}, "region must be a string"),
        ({"test_index": True}, "test_index must be a whole number, not a boolean"),
        ({"test_index": 1.0}, "test_index must be a whole number"),
    ],
)
def test_wrong_types_are_refused_not_coerced(counted, payload, message):
    client, calls = counted
    response = client.post("/api/explain", json=payload)
    assert response.status_code == 400 and message in response.json()["error"]
    if "target" not in payload:
        assert client.post("/api/predict", json=payload).status_code == 400
    assert calls == []


# ----------------------------------------------------------------------------- load


def _blocking_app(run, monkeypatch, workers, queue):
    """An app whose explain waits for ``release`` and records how many run at once."""
    app = create_app(run, workers=workers, queue=queue)
    release, state = threading.Event(), {"now": 0, "peak": 0}
    lock = threading.Lock()

    def explain(seq, target=None):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        release.wait(30)
        with lock:
            state["now"] -= 1
        return {"name": seq.name}

    monkeypatch.setattr(app.state.explorer, "explain", explain)
    return app, release, state


def test_at_most_workers_compute_and_a_full_queue_gets_503(run, monkeypatch):
    app, release, state = _blocking_app(run, monkeypatch, workers=2, queue=3)
    pool = app.state.pool
    codes: list[int] = []
    retry: list[str | None] = []
    with TestClient(app, base_url="http://localhost") as client:

        def post():
            response = client.post("/api/explain", json={"sequence": SEQ})
            codes.append(response.status_code)
            retry.append(response.headers.get("retry-after"))

        threads = [threading.Thread(target=post) for _ in range(8)]
        for t in threads:
            t.start()
        # 2 running + 3 waiting are admitted; the other 3 are refused at once.
        deadline = time.monotonic() + 20
        while (len(codes) < 3 or pool.pending < 5) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(codes) == [503, 503, 503] and pool.pending == 5
        assert all(r is not None and int(r) >= 1 for r in retry)
        assert state["now"] == 2
        release.set()
        for t in threads:
            t.join(30)
    assert sorted(codes) == [200] * 5 + [503] * 3
    assert state["peak"] == 2 and pool.pending == 0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_memory_and_threads_stay_bounded_under_concurrent_load(tmp_path, monkeypatch):
    # Before the pool, 16 concurrent explain requests ran in up to 16 threads (FastAPI's
    # pool has 40), each parked on the model lock with its own request, malloc arena and
    # OpenMP team: 421 -> 805 MB over 500 requests on a small Basset, against 450 MB
    # flat when the same requests came one at a time.
    app = create_app(make_bare_run(tmp_path))
    explorer = app.state.explorer
    original, seen = explorer.explain, set()
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def explain(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            seen.add(threading.get_ident())
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(explorer, "explain", explain)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(16)]
    with TestClient(app, base_url="http://localhost") as client:

        def burst(n: int) -> list[int]:
            codes: list[int] = []

            def post(i: int) -> None:
                r = client.post("/api/explain", json={"sequence": seqs[i % 16], "target": i % 3})
                codes.append(r.status_code)

            threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            return codes

        burst(10)  # warm up: first-call setup, the workers' arenas
        before = _rss_mb()
        codes = [c for _ in range(6) for c in burst(10)]
        grown = _rss_mb() - before
    assert codes.count(200) == 60
    assert state["peak"] <= app.state.pool.workers == 2
    assert len(seen) <= 4  # the pool's threads, not one per request
    print(f"RSS {before:.0f} MB, grew {grown:.1f} MB over 60 requests")
    assert grown < 40, f"RSS grew {grown:.0f} MB over 60 requests"


# ----------------------------------------------------------------------------- sharing


@pytest.fixture(scope="module")
def authored(tmp_path_factory):
    """A run whose manifest holds an author's absolute paths and command line."""
    root = tmp_path_factory.mktemp("authored")
    run = make_run(root)
    r = Run(run)
    argv = sys.argv
    sys.argv = [
        "/home/alice/venv/bin/motiflens", "filters", str(run.resolve()), "--data",
        "/home/alice/data/k562.h5", f"--out={run.resolve()}/explain/filters/", "--top", "3",
    ]  # fmt: skip
    try:
        r.record_step("filters", ["explain/filters/"], data="/home/alice/data/k562.h5")
    finally:
        sys.argv = argv
    return run


def test_served_manifest_and_views_carry_no_absolute_path(authored):
    client = TestClient(create_app(authored), base_url="http://localhost")
    root = str(authored.parent.resolve())
    manifest = client.get("/files/manifest.json")
    assert manifest.status_code == 200
    text = manifest.text
    assert root not in text and "/home/alice" not in text
    step = manifest.json()["steps"]["filters"]
    name = authored.name
    assert step["command"] == (
        f"motiflens filters {name} --data k562.h5 --out=explain/filters/ --top 3"
    )
    assert step["data"] == "k562.h5"
    assert manifest.json()["steps"]["train"]["dataset"] == "data.h5"  # beside the run
    ov = client.get("/api/overview")
    assert root not in ov.text and "/home/alice" not in ov.text
    assert ov.json()["run_dir"] == name
    assert ov.json()["dataset"]["path"] == "data.h5"
    # The manifest on disk keeps what it recorded (motiflens reads the dataset path back).
    assert "/home/alice/data/k562.h5" in Run(authored).manifest_path.read_text()


def test_the_report_carries_no_absolute_path(authored, tmp_path):
    html = report(authored, tmp_path / "r.html", top=0).read_text()
    assert str(authored.parent.resolve()) not in html and "/home/alice" not in html
    assert f"motiflens filters {authored.name} --data k562.h5" in html


def test_shareable_command_keeps_urls_and_relative_paths():
    command = "/usr/bin/motiflens scan runs/x --db https://jaspar.org/api/x --out ~/o/p.tsv"
    assert shareable_command(command, "/somewhere/runs/x") == (
        "motiflens scan runs/x --db https://jaspar.org/api/x --out p.tsv"
    )


# ----------------------------------------------------------------------------- port


def test_a_port_in_use_is_said_before_any_url(tmp_path):
    run = make_bare_run(tmp_path)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(cli_app, ["serve", str(run), "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 2
    assert f"port {port} is in use" in result.output and "--port" in result.output
    assert "http://" not in result.output and "Traceback" not in result.output
