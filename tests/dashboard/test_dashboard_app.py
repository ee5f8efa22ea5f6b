"""The dashboard API on small run directories: views, explorer results against naive
reference computations, bad input as clear 4xx errors, and only run-directory files served."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from motiflens.dashboard.app import create_app, plotly_js_path
from motiflens.dashboard.explorer import MATCH_FRACTION, filter_thresholds
from motiflens.runs import Run
from motiflens.sequence.onehot import one_hot
from tests.dashboard.runfixtures import (
    ANNOTATED,
    FILTER_PROBS,
    LENGTH,
    N_FILTERS,
    SECRET,
    TARGETS,
    TINY_RNN,
    WIDTH,
    make_bare_run,
    make_genome,
    make_run,
)

SEQ = "ACGTTGCAAGGCTTACGATCGATCGGATCCATGCAAGTCA"  # 40 bp


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    genome, genome_seq = make_genome(root / "genome.fa")
    return {
        "full": make_run(root),
        "bare": make_bare_run(root),
        "root": root,
        "genome": genome,
        "genome_seq": genome_seq,
    }


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(runs["full"], genome=runs["genome"]), base_url="http://localhost")


@pytest.fixture(scope="module")
def model(runs):
    m = Run(runs["full"]).model("cpu")
    return m


def _logits(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


# ----------------------------------------------------------------------------- views


def test_overview_lists_targets_curves_and_metrics(client, runs):
    ov = client.get("/api/overview").json()
    assert ov["targets"] == TARGETS
    assert ov["config"]["model"]["name"] == "basset"
    assert ov["training"]["columns"]["val_auroc"] == [0.7, 0.8, 0.85]
    rows = {r["target"]: r for r in ov["test"]["rows"]}
    assert rows["motif"]["auroc"] == 0.91 and rows["never"]["auroc"] is None  # NaN -> null
    assert ov["dataset"]["splits"]["test"]["n"] == 30
    assert {s["step"] for s in ov["steps"]} == {
        "train",
        "test",
        "optimize/sequence",
        "optimize/demo",
    }
    assert all(v["present"] for k, v in ov["status"].items())
    assert ov["status"]["optimize"]["command"] == f"motiflens optimize {runs['full'].name}"


def test_curves_match_a_naive_auroc(client, runs, model):
    import h5py

    curves = client.get("/api/curves").json()
    assert curves["n"] == 30 and curves["targets"]["never"] is None  # no positive: no curve
    with h5py.File(runs["root"] / "data.h5") as h5:
        x = h5["test_in"][:].astype(np.float32)
        y = h5["test_out"][:] > 0.5
    # The run's test step records no rc: motiflens test's default, forward and reverse
    # complement (both axes flipped) averaged as logits.
    assert curves["reverse_complement"] is True
    forward = _logits(model, x)[:, 0]
    score = (forward + _logits(model, x[:, ::-1, ::-1])[:, 0]) / 2
    roc = curves["targets"]["motif"]
    # The curve's points are rounded to 5 decimals: its area is off by at most 1e-5.
    area = np.trapezoid(roc["tpr"], roc["fpr"])
    assert area == pytest.approx(_naive_auroc(score, y[:, 0]), abs=1e-5)
    assert abs(area - _naive_auroc(forward, y[:, 0])) > 0.01  # the forward one is not it


def _naive_auroc(score: np.ndarray, y: np.ndarray) -> float:
    """The share of (positive, negative) pairs ranked right, ties counting half."""
    pos, neg = score[y], score[~y]
    right = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return float(right / (len(pos) * len(neg)))


def test_filters_view_has_pwms_matches_and_clustered_influence(client):
    fv = client.get("/api/filters").json()
    assert len(fv["rows"]) == N_FILTERS
    annotated = [r for r in fv["rows"] if r["match_name"]]
    assert [(r["filter"], r["match_name"], r["match_strand"]) for r in annotated] == [
        (ANNOTATED, "CTCF", "-")
    ]
    assert set(fv["pwms"]) == {f"filter{ANNOTATED}", "filter5"}
    assert np.array(fv["matched"]["MA0139.2"]["probs"]).shape == (4, 5)
    assert np.allclose(np.array(fv["pwms"][f"filter{ANNOTATED}"]["probs"]).sum(axis=0), 1)
    assert fv["matches"][str(ANNOTATED)][0]["target_name"] == "CTCF"
    heat = fv["influence"]
    # The even filters share one pattern, the odd ones another: clustering keeps each
    # group together, so the parity changes exactly once along the rows.
    parity = [int(f) % 2 for f in heat["rows"]]
    assert sorted(heat["rows"], key=int) == [str(f) for f in range(N_FILTERS)]
    assert sum(a != b for a, b in itertools.pairwise(parity)) == 1
    # values follow the reordering
    first = heat["rows"][0]
    col = heat["cols"].index("motif")
    expected = 1.0 + 0.01 * int(first) if int(first) % 2 == 0 else 0.0
    assert heat["values"][0][col] == pytest.approx(expected)


def test_insertion_optimize_and_variants_views(client):
    ins = client.get("/api/insertion").json()
    assert sorted(ins["heatmap"]["rows"]) == ["MA0138.3 REST", "MA0139.2 CTCF"]
    assert sorted(ins["heatmap"]["cols"]) == sorted(TARGETS)
    opt = client.get("/api/optimize").json()
    # both methods' folders, the default (sequence) first
    assert [m["method"] for m in opt["methods"]] == ["sequence", "demo"]
    seq, demo = opt["methods"]
    assert seq["folder"] == "explain/optimize/sequence/"
    assert [(r["target"], r["start"]) for r in seq["rows"]] == [
        ("motif", 0),
        ("motif", 1),
        ("gc", 0),
        ("gc", 1),
    ]
    best = seq["rows"][0]
    assert (best["motif_start"], best["motif_end"], best["motif"]) == (10, 16, "GCGCTG")
    assert (best["match_name"], best["match_id"], best["match_q"]) == ("CTCF", "MA0139.2", 0.004)
    assert seq["rows"][1]["match_id"] is None  # no match: empty cell -> null
    # each row's logo is its own start's motif window: start 0 the filter's matrix,
    # start 1 its reverse complement (as the fixture wrote them)
    logos = [np.array(seq["pwms"][r["logo"]]["probs"]) for r in seq["rows"][:2]]
    assert np.allclose(logos[0], FILTER_PROBS, atol=1e-4)
    assert np.allclose(logos[1], FILTER_PROBS[::-1, ::-1], atol=1e-4)
    assert seq["params"]["db"] == "jaspar:2024:CORE:vertebrates" and seq["params"]["starts"] == 2
    assert "explain/optimize/sequence/motif_motif.png" in seq["figures"]
    assert "explain/optimize/sequence/designed.fa" in seq["files"]
    assert [r["score"] for r in demo["rows"]] == [0.38] and demo["params"]["db"] is None
    assert demo["rows"][0]["logo"] == "motif_0" and set(demo["pwms"]) == {"motif_0"}
    var = client.get("/api/variants").json()
    assert var["n_rows"] == 6
    assert [r["sad"] for r in var["rows"][:2]] == [-0.6, 0.3]  # largest |SAD| first


def test_a_bare_run_shows_what_is_missing_not_a_500(runs):
    bare = TestClient(create_app(runs["bare"]), base_url="http://localhost")
    ov = bare.get("/api/overview")
    assert ov.status_code == 200
    ov = ov.json()
    assert ov["training"]["missing"] and ov["test"]["missing"]
    assert ov["test"]["command"] == f"motiflens test {runs['bare'].name}"
    assert ov["targets"] == ["target_0", "target_1", "target_2"]
    for name, command in (
        ("filters", f"motiflens filters {runs['bare'].name}"),
        ("insertion", f"motiflens insert {runs['bare'].name}"),
        ("optimize", f"motiflens optimize {runs['bare'].name}"),
        ("variants", f"motiflens variants {runs['bare'].name} VCF --genome FASTA"),
    ):
        view = bare.get(f"/api/{name}")
        assert view.status_code == 200 and view.json()["missing"], name
        assert view.json()["command"] == command
    assert bare.get("/api/curves").json()["missing"]
    assert bare.get("/api/test_sequences").json()["missing"]
    # the model is there, so the explorer works
    assert bare.post("/api/explain", json={"sequence": SEQ}).status_code == 200


def test_a_run_without_a_model_says_so(tmp_path):
    Run(tmp_path).metrics_dir.mkdir()
    app = TestClient(create_app(tmp_path), base_url="http://localhost")
    model = app.get("/api/model").json()
    assert model["available"] is False and "missing model.safetensors" in model["message"]
    assert app.get("/api/overview").status_code == 200
    response = app.post("/api/explain", json={"sequence": SEQ})
    assert response.status_code == 400 and "no usable model" in response.json()["error"]


# ----------------------------------------------------------------------------- explorer


def test_explain_matches_naive_predictions_ism_and_gradients(client, model):
    res = client.post("/api/explain", json={"sequence": SEQ.lower(), "target": "gc"}).json()
    x = one_hot([SEQ])
    logits = _logits(model, x)[0]
    preds = [p["prediction"] for p in res["predictions"]]
    assert np.allclose(preds, 1 / (1 + np.exp(-logits)), atol=1e-5)
    assert res["target"] == "gc" and res["sequence"] == SEQ
    # ISM: every single-base change through the whole model
    naive = np.zeros((4, LENGTH))
    for p in range(LENGTH):
        for b in range(4):
            mutant = x.copy()
            mutant[0, :, p] = np.eye(4, dtype=np.float32)[b]
            naive[b, p] = _logits(model, mutant)[0, 1] - logits[1]
    assert np.allclose(res["ism"]["delta"], naive, atol=1e-4)
    assert np.allclose(res["ism"]["loss"], -naive.min(axis=0), atol=1e-4)
    assert np.allclose(res["ism"]["gain"], naive.max(axis=0), atol=1e-4)
    # gradient x input by autograd, the gradient corrected as attribute() does by default:
    # its mean over the four bases at each position removed (Majdandzic et al. 2023)
    xt = torch.from_numpy(x).requires_grad_(True)
    model(xt)[0, 1].backward()
    grad = xt.grad.numpy()[0]
    corrected = (grad - grad.mean(axis=0, keepdims=True)) * x[0]
    assert np.allclose(res["attribution"], corrected, atol=1e-5)


def test_explain_defaults_to_the_best_target_and_reports_filter_matches(client, model):
    res = client.post("/api/explain", json={"sequence": f">my seq\n{SEQ[:20]}\n{SEQ[20:]}\n"})
    assert res.status_code == 200
    res = res.json()
    assert res["name"] == "my seq"
    best = int(np.argmax(_logits(model, one_hot([SEQ]))[0]))
    assert res["target"] == TARGETS[best]
    # every reported filter hit is above half the filter's best possible activation
    x = torch.from_numpy(one_hot([SEQ]))
    with torch.no_grad():
        act = model.first_activation(x)[0].numpy()
    pad = model.conv1_padding[0]
    thr = filter_thresholds(model)
    filters = [m for m in res["matches"] if m["source"] == "filter"]
    for m in filters:
        f = int(m["id"].removeprefix("filter"))
        assert m["end"] - m["start"] == WIDTH
        assert act[f, m["start"] + pad] > thr[f]
    if any(m["id"] == f"filter{ANNOTATED}" for m in filters):
        assert {m["label"] for m in filters if m["id"] == f"filter{ANNOTATED}"} == {"CTCF"}


def test_filter_thresholds_are_half_the_best_kmer(model):
    # The largest activation over all 4^6 one-hot 6-mers, by brute force.
    kmers = np.array(list(itertools.product(range(4), repeat=WIDTH)))
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[kmers].transpose(0, 2, 1).copy())
    block = model.first_block
    with torch.no_grad():
        best = block.bn(block.conv(x)).amax(dim=(0, 2)).clamp(min=0).numpy()
    assert np.allclose(filter_thresholds(model), MATCH_FRACTION * best, rtol=1e-5)


def test_short_sequences_are_centre_padded_and_only_their_bases_shown(client, model):
    short = SEQ[:31]
    res = client.post("/api/explain", json={"sequence": short, "target": 0}).json()
    assert res["sequence"] == short and res["start"] == 4  # (40 - 31) // 2 N on the left
    assert np.array(res["ism"]["delta"]).shape == (4, 31)
    padded = "N" * 4 + short + "N" * 5
    assert res["predictions"][0]["logit"] == pytest.approx(
        float(_logits(model, one_hot([padded]))[0, 0]), abs=1e-5
    )
    assert "centre-padded" in res["note"]


def test_region_from_the_genome(client, runs):
    res = client.post("/api/explain", json={"region": "chr1:31-50", "target": "motif"}).json()
    assert res["sequence"] == runs["genome_seq"][30:50]
    assert res["name"] == "chr1:31-50"
    bad = client.post("/api/explain", json={"region": "chr1:90-130"})
    assert bad.status_code == 400 and "past the end" in bad.json()["error"]
    assert client.post("/api/explain", json={"region": "chr9:1-10"}).status_code == 400


def test_pick_a_test_sequence(client, runs):
    import h5py

    listed = client.get("/api/test_sequences").json()["rows"]
    assert len(listed) == 30 and listed[3]["index"] == 3
    res = client.post("/api/explain", json={"test_index": 3}).json()
    with h5py.File(runs["root"] / "data.h5") as h5:
        codes = h5["test_in"][3].argmax(axis=0)
    assert res["sequence"] == "".join("ACGT"[c] for c in codes)


def test_rnn_runs_get_temporal_scores(tmp_path):
    run = make_bare_run(tmp_path, TINY_RNN)
    app = TestClient(create_app(run), base_url="http://localhost")
    res = app.post("/api/explain", json={"sequence": SEQ, "target": 1}).json()
    forward, backward = res["temporal"]["forward"], res["temporal"]["backward"]
    assert len(forward) == len(backward) == LENGTH
    # the last prefix and the first suffix are the whole sequence
    whole = res["predictions"][1]["prediction"]
    assert forward[-1] == pytest.approx(whole, abs=1e-4)
    assert backward[0] == pytest.approx(whole, abs=1e-4)
    assert res["matches"] == []  # no first conv layer


def test_predict_endpoint(client, model):
    res = client.post("/api/predict", json={"sequence": SEQ}).json()
    logits = _logits(model, one_hot([SEQ]))[0]
    assert [p["logit"] for p in res["predictions"]] == pytest.approx(logits.tolist(), abs=1e-5)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"sequence": "ACGTXACGT"}, "invalid character 'X' at position 5"),
        ({"sequence": "ACGU"}, "invalid character 'U' at position 4"),
        ({"sequence": "A" * 41}, "at most 40 bp"),
        ({"sequence": ">a\nACGT\n>b\nACGT"}, "more than one FASTA record"),
        ({"sequence": ">only a header\n"}, "no sequence given"),
        ({"sequence": "ACGT", "target": "nope"}, "no target named 'nope'"),
        ({"sequence": "ACGT", "target": 7}, "out of range"),
        ({"sequence": "ACGT", "target": [1]}, "target must be"),
        ({"test_index": 999}, "does not exist"),
        ({"test_index": "1; import os"}, "whole number"),
        ({"region": "chr1:abc"}, "not a genome region"),
        ({}, "give a sequence"),
    ],
)
def test_bad_input_is_a_clear_400(client, payload, message):
    response = client.post("/api/explain", json=payload)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_bodies_that_are_not_json_objects(client):
    response = client.post(
        "/api/explain", content=b"ACGT", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    response = client.post("/api/explain", json=["ACGT"])
    assert response.status_code == 400 and "JSON object" in response.json()["error"]


def test_request_bodies_over_the_limit_get_413(client):
    big = json.dumps({"sequence": "A" * 1_100_000}).encode()
    json_type = {"content-type": "application/json"}
    response = client.post("/api/explain", content=big, headers=json_type)
    assert response.status_code == 413 and "over 1,000,000 bytes" in response.json()["error"]

    def chunks():  # no Content-Length: the body is counted as it streams
        for _ in range(12):
            yield b" " * 100_000

    response = client.post("/api/explain", content=chunks(), headers=json_type)
    assert response.status_code == 413


# ----------------------------------------------------------------------------- files


def test_files_inside_the_run_are_served(client):
    response = client.get("/files/explain/filters/ic_influence.png")
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    assert client.get("/files/metrics/test.tsv").text.startswith("target\tn")


@pytest.mark.parametrize(
    "path",
    [
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%2e%2e%2fsecret.txt",
        "/files/..%2fsecret.txt",
        "/files/explain/..%2f..%2fsecret.txt",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/explain/leak.txt",  # a symlink pointing out of the run
        "/files/model.safetensors",  # weights are not a file type the app serves
        "/files/.hidden.txt",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
    ],
)
def test_nothing_outside_the_run_or_unlisted_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert SECRET not in response.text and "root:" not in response.text


def test_safe_file_refuses_absolute_and_outside_paths(runs):
    from motiflens.dashboard.data import safe_file

    run = runs["full"]
    table = Run(run).metrics_path("test.tsv")
    assert safe_file(run, Run(run).relative(table)) == table.resolve()
    for bad in ("/etc/passwd", str(runs["root"] / "secret.txt"), "../secret.txt",
                "explain/leak.txt", "metrics/../../secret.txt", "", "a\x00b"):  # fmt: skip
        assert safe_file(run, bad) is None, bad


def test_page_scripts_and_plotly_are_served_locally(client):
    page = client.get("/").text
    # preloaded, run by app.js after the first view (app.js names the same local path)
    assert 'href="vendor/plotly.min.js"' in page and "http" not in page.split("<body>")[1]
    assert '"vendor/plotly.min.js"' in client.get("/static/app.js").text
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and b"plotly" in js.content[:2000].lower()
    # compressed (once) for a client that accepts it, and the same file unpacked
    assert js.headers["content-encoding"] == "gzip"
    assert js.content == plotly_js_path().read_bytes()
    again = client.get("/vendor/plotly.min.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304
    plain = client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == js.content
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/logo.js").status_code == 200
    assert client.get("/static/results.js").status_code == 200
