"""The explorer's locus mode and genome coordinates (``POST /api/locus``, ``/api/explain``
with a ``position``), checked against the model called directly on hand-cut windows."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from motiflens.dashboard.app import create_app
from motiflens.dashboard.data import variants_in_region
from motiflens.dashboard.explorer import MAX_LOCUS
from motiflens.runs import Run
from motiflens.scanning import per_base
from motiflens.sequence.onehot import one_hot
from tests.dashboard.runfixtures import LENGTH, TARGETS, make_bare_run, make_genome, make_run

CHROM_LENGTH = MAX_LOCUS + 1000  # room for a region just over the bound
LOCUS = "chr1:1,001-3,000"  # 2 kb: 0-based [1000, 3000)
L0, L1 = 1000, 3000
#: Scored variants: two inside the locus (one with two targets), one past it, one on
#: another chromosome.
SAD_ROWS = [
    ["chr1", 1500, "rsIn", "A", "G", "motif", 0.5, 0.8, 0.3, 1.2, "."],
    ["chr1", 1500, "rsIn", "A", "G", "gc", 0.5, 0.4, -0.1, -0.4, "."],
    ["chr1", 2990, ".", "C", "T", "gc", 0.4, 0.6, 0.2, 0.8, "."],
    ["chr1", 5000, "rsOut", "C", "T", "motif", 0.4, 0.9, 0.5, 2.0, "."],
    ["chr2", 1500, "rsOther", "C", "T", "motif", 0.4, 0.9, 0.5, 2.0, "."],
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("locus")
    genome, seq = make_genome(root / "genome.fa", length=CHROM_LENGTH, seed=11)
    run = make_run(root)
    header = "chrom\tpos\tid\tref\talt\ttarget\tref_pred\talt_pred\tsad\tlog_odds_diff\tinfo\n"
    table = Run(run).analysis_dir("variants") / "sad.tsv"
    table.write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in SAD_ROWS))
    client = TestClient(create_app(run, genome=genome), base_url="http://localhost")
    return client, seq, Run(run).model("cpu").eval()


def _logits(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def test_a_2kb_locus_is_the_mean_of_its_windows(setup):
    client, seq, model = setup
    res = client.post("/api/locus", json={"region": LOCUS}).json()
    # stride half the input; 1,960 = 2,000 - 40 is a multiple of 20, so the last window
    # of the plain tiling is already flush with the end
    starts = np.arange(0, L1 - L0 - LENGTH + 1, LENGTH // 2)
    assert res["window"] == LENGTH and res["stride"] == LENGTH // 2
    assert res["window_starts"] == (starts + L0 + 1).tolist()
    assert (res["chrom"], res["start"], res["end"], res["length"]) == ("chr1", 1001, 3000, 2000)
    # the model called directly on each window, sigmoid as `predict` gives them
    windows = one_hot([seq[L0 + s : L0 + s + LENGTH] for s in starts])
    preds = 1 / (1 + np.exp(-_logits(model, windows).astype(np.float64)))
    expected = per_base(starts, LENGTH, preds, L1 - L0)
    assert sorted(res["targets"]) == sorted(TARGETS)  # 3 targets: all of them by default
    for name in res["targets"]:
        k = TARGETS.index(name)
        track = np.array(res["per_base"][name])
        assert track.shape == (L1 - L0,)
        np.testing.assert_allclose(track, expected[:, k], atol=2e-5)
        np.testing.assert_allclose(res["windows"][name], preds[:, k], atol=2e-5)
        # and by hand at the first and last base (one window each) and one covered by two
        assert track[0] == pytest.approx(preds[0, k], abs=2e-5)
        assert track[-1] == pytest.approx(preds[-1, k], abs=2e-5)
        assert track[30] == pytest.approx((preds[0, k] + preds[1, k]) / 2, abs=2e-5)
    # the default order: highest per-base peak first
    peaks = [expected[:, TARGETS.index(t)].max() for t in res["targets"]]
    assert peaks == sorted(peaks, reverse=True)


def test_a_locus_marks_the_variants_inside_it(setup):
    client, _, _ = setup
    res = client.post("/api/locus", json={"region": LOCUS, "targets": ["gc"]}).json()
    assert res["targets"] == ["gc"] and list(res["per_base"]) == ["gc"]
    assert [(v["pos"], v["id"], v["ref"], v["alt"]) for v in res["variants"]] == [
        (1500, "rsIn", "A", "G"),
        (2990, ".", "C", "T"),
    ]
    assert res["variants"][0]["sad"] == {"gc": pytest.approx(-0.1)}
    both = client.post("/api/locus", json={"region": LOCUS, "targets": ["motif", 1]}).json()
    assert both["variants"][0]["sad"] == {"motif": pytest.approx(0.3), "gc": pytest.approx(-0.1)}
    assert [v["pos"] for v in both["variants"]] == [1500, 2990]


@pytest.mark.parametrize(
    ("position", "first"),
    [
        (1500, 1500 - LENGTH // 2),  # centred: 0-based start 1499 - 20
        (1003, L0 + 1),  # near the start: shifted to stay inside the locus
        (2999, L1 - LENGTH + 1),  # near the end: likewise
    ],
)
def test_a_click_explains_the_window_around_it(setup, position, first):
    client, seq, model = setup
    res = client.post(
        "/api/explain", json={"region": LOCUS, "position": position, "target": "motif"}
    ).json()
    w0 = first - 1
    window = seq[w0 : w0 + LENGTH]
    assert res["sequence"] == window and res["chrom"] == "chr1"
    assert res["genome_start"] == first  # the x axis starts at this genome position
    assert res["name"] == f"chr1:{first}-{first + LENGTH - 1}"
    assert first <= position <= first + LENGTH - 1
    x = one_hot([window])
    ref = _logits(model, x)[0]
    assert [p["logit"] for p in res["predictions"]] == pytest.approx(ref.tolist(), abs=1e-5)
    # naive ISM of target "motif" at every position and base
    mutants = np.repeat(x, 4 * LENGTH, axis=0)
    for j in range(LENGTH):
        for b in range(4):
            mutants[4 * j + b, :, j] = 0
            mutants[4 * j + b, b, j] = 1
    naive = (_logits(model, mutants)[:, 0] - ref[0]).reshape(LENGTH, 4).T
    np.testing.assert_allclose(res["ism"]["delta"], naive, atol=1e-4)
    # the variants in the window scored for the target ("motif": not the one at 2,990)
    assert [(v["pos"], v["sad"]) for v in res["variants"]] == (
        [(1500, {"motif": 0.3})] if first <= 1500 < first + LENGTH else []
    )


def test_a_short_region_is_shown_at_genome_positions(setup):
    client, seq, _ = setup
    res = client.post("/api/explain", json={"region": "chr1:1,491-1,510", "target": "motif"}).json()
    assert res["sequence"] == seq[1490:1510]
    assert res["genome_start"] == 1491 and res["chrom"] == "chr1"
    assert [(v["pos"], v["sad"]) for v in res["variants"]] == [(1500, {"motif": 0.3})]
    pasted = client.post("/api/explain", json={"sequence": seq[1490:1530]}).json()
    assert pasted["genome_start"] is None and "variants" not in pasted


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ("locus", {"region": f"chr1:1-{MAX_LOCUS + 1}"}, f"at most {MAX_LOCUS:,} bp"),
        ("locus", {"region": "chr1:1001-1020"}, "shorter than the model"),
        ("locus", {"region": "chr1:1001-xyz"}, "not a genome region"),
        ("locus", {"region": "chr9:1001-3000"}, "not in the genome"),
        ("locus", {"region": f"chr1:1-{CHROM_LENGTH + 1}"}, "past the end"),
        ("locus", {}, "give a region"),
        ("locus", {"region": LOCUS, "targets": "gc"}, "must be a list"),
        ("locus", {"region": LOCUS, "targets": [True]}, "target must be"),
        ("locus", {"region": LOCUS, "targets": ["nope"]}, "nope"),
        ("explain", {"region": LOCUS}, "reads at most"),
        ("explain", {"region": LOCUS, "position": 3001}, "outside"),
        ("explain", {"region": LOCUS, "position": "1500"}, "whole number"),
    ],
)
def test_bad_locus_requests_are_a_clear_400(setup, path, payload, message):
    client, _, _ = setup
    res = client.post(f"/api/{path}", json=payload)
    assert res.status_code == 400, res.text
    assert message in res.json()["error"]


def test_the_model_endpoint_states_the_locus_bound(setup):
    client, _, _ = setup
    assert client.get("/api/model").json()["max_locus"] == MAX_LOCUS


def test_a_locus_runs_in_the_work_pool_behind_the_guards(setup):
    client, _, _ = setup
    app = client.app
    before = app.state.pool.peak
    app.state.pool.peak = 0
    assert client.post("/api/locus", json={"region": LOCUS}).status_code == 200
    assert app.state.pool.peak == 1  # the computation ran in the bounded pool
    app.state.pool.peak = max(before, 1)
    foreign = client.post(
        "/api/locus", json={"region": LOCUS}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    as_form = client.post(
        "/api/locus",
        content=f"region={LOCUS}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert as_form.status_code == 415


def test_variants_in_region_reads_a_rewritten_table_again(tmp_path):
    run = make_bare_run(tmp_path)
    table = Run(run).analysis_dir("variants") / "sad.tsv"
    header = "chrom\tpos\tid\tref\talt\ttarget\tref_pred\talt_pred\tsad\tlog_odds_diff\tinfo\n"
    table.write_text(header + "\t".join(map(str, SAD_ROWS[0])) + "\n")
    assert [v["id"] for v in variants_in_region(run, "chr1", 1000, 3000)] == ["rsIn"]
    # a window inside the region (answered from the region's variants), target filtered
    assert variants_in_region(run, "chr1", 1490, 1530, ["gc"]) == []
    assert variants_in_region(run, "chr1", 1499, 1500) != []  # pos 1500 is base 1499
    assert variants_in_region(run, "chr1", 1500, 1530) == []
    table.write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in SAD_ROWS))
    os.utime(table, ns=(0, 10**18))  # a new modification time, however fast the rewrite
    found = variants_in_region(run, "chr1", 1000, 3000)
    assert [(v["pos"], sorted(v["sad"])) for v in found] == [
        (1500, ["gc", "motif"]),
        (2990, ["gc"]),
    ]
    assert variants_in_region(run, "chr2", 1000, 3000)[0]["id"] == "rsOther"
    table.unlink()
    assert variants_in_region(run, "chr1", 1000, 3000) == []
