"""What makes the dashboard fast, checked for being right: views kept until a file of the
run changes, compressed answers that unpack to the same JSON, one model copy per worker
(concurrent explains each equal to the naive ISM), torch threads shared out among the
workers, and the background precomputation at startup."""

from __future__ import annotations

import json
import threading

import anyio
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from motiflens.dashboard.app import create_app
from motiflens.dashboard.pool import WorkPool, cpu_cores, threads_per_worker
from motiflens.runs import Run
from motiflens.sequence.onehot import one_hot
from tests.dashboard.runfixtures import LENGTH, make_run

SAD_HEADER = "chrom\tpos\tid\tref\talt\ttarget\tref_pred\talt_pred\tsad\tlog_odds_diff\tinfo\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("speed"))


def _logits(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def test_a_view_is_kept_until_a_file_of_the_run_changes(tmp_path):
    run = make_run(tmp_path)
    client = TestClient(create_app(run), base_url="http://localhost")
    sad = Run(run).analysis_dir("variants") / "sad.tsv"
    first = client.get("/api/variants").json()
    assert first["n_rows"] == 6
    assert client.get("/api/variants").json() == first  # kept: the same answer
    sad.write_text(SAD_HEADER + "chr1\t7\trsNew\tA\tG\tmotif\t0.1\t0.9\t0.8\t3.6\t.\n")
    changed = client.get("/api/variants").json()
    assert changed["n_rows"] == 1 and changed["rows"][0]["id"] == "rsNew"
    sad.unlink()  # removed: the view says what to run
    assert client.get("/api/variants").json()["missing"] is True


def test_views_are_compressed_for_clients_that_accept_it(run):
    client = TestClient(create_app(run), base_url="http://localhost")
    raw = client.get("/api/filters", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    packed = client.get("/api/filters", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    # httpx unpacks it: the same JSON either way, fewer bytes sent
    assert packed.json() == raw.json() and json.loads(raw.content)["rows"]
    assert packed.num_bytes_downloaded < len(raw.content) / 2


def test_concurrent_explains_on_two_model_copies_each_equal_the_naive_ism(run):
    app = create_app(run, workers=2)
    explorer = app.state.explorer
    assert explorer.replicas == 2
    copies = [explorer._free.get() for _ in range(2)]
    assert copies[0] is not copies[1]
    for m in copies:
        explorer._free.put(m)
    model = Run(run).model("cpu")
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), LENGTH)) for _ in range(6)]
    answers: dict[int, dict] = {}
    with TestClient(app, base_url="http://localhost") as client:

        def post(i: int) -> None:
            body = {"sequence": seqs[i], "target": "motif"}
            answers[i] = client.post("/api/explain", json=body).json()

        threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert app.state.pool.peak == 2  # the two workers did compute at once
    for i, seq in enumerate(seqs):
        x = one_hot([seq])
        ref = _logits(model, x)[0, 0]
        naive = np.zeros((4, LENGTH))
        for p in range(LENGTH):
            for b in range(4):
                mutant = x.copy()
                mutant[0, :, p] = np.eye(4, dtype=np.float32)[b]
                naive[b, p] = _logits(model, mutant)[0, 0] - ref
        assert answers[i]["sequence"] == seq
        assert np.allclose(answers[i]["ism"]["delta"], naive, atol=1e-4), i


def test_each_worker_runs_torch_with_its_share_of_the_cores():
    assert threads_per_worker(1) == cpu_cores()
    assert threads_per_worker(2 * cpu_cores()) == 1  # at least one each
    pool = WorkPool(workers=2, queue=0, threads=1)

    async def ask() -> int:
        return await pool.run(torch.get_num_threads)

    before = torch.get_num_threads()
    assert anyio.run(ask) == 1
    assert torch.get_num_threads() == before  # the caller's threads are its own
    with pytest.raises(ValueError, match="threads"):
        WorkPool(threads=0)


def test_warmup_precomputes_views_and_curves_in_the_background(run):
    app = create_app(run, warmup=True)
    assert app.state.precomputed.wait(120)
    explorer = app.state.explorer
    assert explorer._curves is not None  # kept: /api/curves answers at once
    kept = app.state.views._kept
    assert {"overview", "filters", "variants", "results"} <= set(kept)
    client = TestClient(app, base_url="http://localhost")
    assert client.get("/api/curves").json() == explorer._curves[1]
