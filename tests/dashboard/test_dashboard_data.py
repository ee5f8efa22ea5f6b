"""Reading a run directory for the dashboard: MEME files, clustering, JSON safety."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np

from motiflens.dashboard.data import cluster_order, json_safe, motifs_json, outputs
from motiflens.runs import Run
from tests.dashboard.runfixtures import CTCF_PROBS, FILTER_PROBS, _meme


def test_meme_files_read_as_written(tmp_path):
    path = tmp_path / "m.meme"
    path.write_text(_meme([("filter2", "CTCF", FILTER_PROBS), ("MA0139.2", "", CTCF_PROBS)]))
    motifs = motifs_json(path)
    assert [(m["id"], m["name"]) for m in motifs] == [("filter2", "CTCF"), ("MA0139.2", "MA0139.2")]
    assert np.allclose(motifs[0]["probs"], FILTER_PROBS, atol=1e-4)
    assert np.allclose(motifs[1]["probs"], CTCF_PROBS, atol=1e-4)


def test_every_analysis_output_lies_inside_the_run(tmp_path):
    run = Run(tmp_path / "run")
    for name, path in outputs(run).items():
        assert path.is_relative_to(run.path), name
    assert not (tmp_path / "run").exists()  # looking never creates folders


def test_cluster_order_groups_similar_rows_and_columns():
    # rows 0, 2, 4 are alike and so are 1, 3; columns 0 and 2 are alike
    m = np.array([[5.0, 0, 5.1], [0, 3, 0], [5.2, 0, 4.9], [0, 3.1, 0.1], [4.8, 0.2, 5.0]])
    rows, cols = cluster_order(m)
    assert sorted(rows) == [0, 1, 2, 3, 4] and sorted(cols) == [0, 1, 2]
    groups = [0 if r in (0, 2, 4) else 1 for r in rows]
    assert sum(a != b for a, b in itertools.pairwise(groups)) == 1
    assert abs(cols.index(0) - cols.index(2)) == 1
    assert cluster_order(np.ones((2, 2))) == ([0, 1], [0, 1])  # too small to cluster


def test_json_safe_turns_nan_and_numpy_into_plain_json():
    value = {"a": np.float32(1.5), "b": [np.nan, math.inf], "c": np.arange(2), 3: np.bool_(True)}
    assert json.loads(json.dumps(json_safe(value), allow_nan=False)) == {
        "a": 1.5, "b": [None, None], "c": [0, 1], "3": True,
    }  # fmt: skip


def test_insertion_rows_are_motifs_not_names(tmp_path):
    """JASPAR has several matrices per TF name: each keeps its own row, none is averaged."""
    from motiflens.dashboard.data import insertion_view

    folder = Run(tmp_path).analysis_dir("insertion")
    rows = ["motif_id\tmotif_name\ttarget\tdelta_score\tdelta_pred"]
    for mid, score in (("MA0139.2", 1.0), ("MA1929.2", 3.0), ("MA0138.3", -1.0)):
        name = "REST" if mid == "MA0138.3" else "CTCF"
        rows += [f"{mid}\t{name}\tt{k}\t{score + k}\t0.1" for k in range(3)]
    (folder / "insertion.tsv").write_text("\n".join(rows) + "\n")
    heat = insertion_view(tmp_path)["heatmap"]
    assert sorted(heat["rows"]) == ["MA0138.3 REST", "MA0139.2 CTCF", "MA1929.2 CTCF"]
    values = dict(zip(heat["rows"], heat["values"], strict=True))
    assert values["MA1929.2 CTCF"][heat["cols"].index("t0")] == 3.0


def test_variants_view_keeps_the_largest_sad_across_chunks(tmp_path, monkeypatch):
    import motiflens.dashboard.data as data

    folder = Run(tmp_path).analysis_dir("variants")
    sads = [0.1, -0.9, 0.3, 0.9, -0.05, 0.5, 0.0]
    lines = ["chrom\tpos\tid\tref\talt\ttarget\tref_pred\talt_pred\tsad\tlog_odds_diff\tinfo"]
    lines += [f"1\t{i + 1}\tv{i}\tA\tC\tt\t0.5\t0.5\t{s}\t0\t." for i, s in enumerate(sads)]
    (folder / "sad.tsv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(data, "MAX_ROWS", 3)
    original = data._top_sad
    monkeypatch.setattr(data, "_top_sad", lambda path, n: original(path, n, chunk=2))
    view = data.variants_view(tmp_path)
    # |SAD| descending, file order among ties: v1 (-0.9) before v3 (0.9), then v5 (0.5)
    assert [r["id"] for r in view["rows"]] == ["v1", "v3", "v5"] and view["n_rows"] == 7


def test_variant_ism_reads_the_results_convention(tmp_path):
    from motiflens.dashboard.data import variant_ism
    from motiflens.results import write_result

    folder = Run(tmp_path).analysis_dir("variants") / "ism"
    folder.mkdir()
    delta = np.arange(2 * 4 * 3 * 2, dtype=np.float32).reshape(2, 4, 3, 2) / 10
    write_result(
        folder / "0001_chr1_20_A_G.h5",
        "ism",
        {"delta": (delta, ("sequence", "base", "position", "target"))},
        names=["chr1:20 A>G ref", "chr1:20 A>G alt"],
        target_labels=["motif", "gc"],
        positions=np.array([5, 6, 7]),
    )
    got = variant_ism(tmp_path, "chr1:20 A>G alt", "gc")
    np.testing.assert_allclose(got["delta"], delta[1, :, :, 1], atol=1e-6)
    assert got["positions"] == [5, 6, 7]
    np.testing.assert_allclose(got["gain"], delta[1, :, :, 1].max(axis=0), atol=1e-6)
    assert variant_ism(tmp_path, "chr1:20 A>G alt", "never") is None


def test_overview_sets_the_model_against_the_kmer_baseline(tmp_path):
    from motiflens.dashboard.data import overview

    run = Run(tmp_path / "run")
    run.metrics_dir.mkdir(parents=True)
    run.metrics_path("test.tsv").write_text(
        "target\tn\tpositives\tauroc\tauprc\tbaseline_auroc\tbaseline_auprc\n"
        "K562\t100\t40\t0.95\t0.90\t0.96\t0.92\n"
        "HepG2\t100\t60\t0.90\t0.80\t0.85\t0.70\n"
        "never\t100\t0\t\t\t\t\n"
    )
    test = overview(run)["test"]
    assert "baseline_auroc" in test["columns"]
    b = test["baseline"]
    # over the two targets with figures: model (0.95 + 0.90) / 2, baseline (0.96 + 0.85) / 2
    assert b["n"] == 2 and b["model_better"] == 1 and b["baseline_not_beaten"] == ["K562"]
    assert math.isclose(b["model_auroc_mean"], 0.925)
    assert math.isclose(b["baseline_auroc_mean"], 0.905)
    assert math.isclose(b["model_auprc_mean"], 0.85)
    assert math.isclose(b["baseline_auprc_mean"], 0.81)
    # a table from before the baseline has none
    run.metrics_path("test.tsv").write_text(
        "target\tn\tpositives\tauroc\tauprc\nK562\t9\t4\t0.9\t0.8\n"
    )
    assert overview(run)["test"]["baseline"] is None
