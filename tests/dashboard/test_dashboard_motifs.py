"""The motif page (modisco patterns, filters and insertion joined per target), the readable
insertion view (top-N table with the spread, top-N heat map) and clean motif names."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from motiflens.dashboard.app import create_app
from motiflens.dashboard.data import clean_motif_name, insertion_view, motif_page
from motiflens.motifs.meme import read_meme
from motiflens.runs import Run
from tests.dashboard.motiffixtures import write_motif_analyses
from tests.dashboard.runfixtures import CTCF_PROBS, make_bare_run, make_run

CISBP = "/work/shared/data/motifs_cisbp_human_basset/Homo_sapiens.meme"
SD = math.sqrt(4 / 3)  # SD (ddof=1) of s * [-1, 1, -1, 1] is s * sqrt(4/3)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = make_run(tmp_path_factory.mktemp("motifs"))
    write_motif_analyses(path)
    return path


def _by_id(page):
    return {p["id"]: p for t in page["targets"] for p in t["patterns"]}


def test_motif_page_joins_patterns_filters_and_insertion(run):
    page = motif_page(run)
    assert page["missing"] is False and not page["warnings"]
    assert [t["target"] for t in page["targets"]] == ["motif", "never"]
    got = _by_id(page)
    assert list(got) == ["motif/pattern_0", "motif/pattern_1", "never/pattern_0"]
    ctcf = got["motif/pattern_0"]
    assert (ctcf["n_seqlets"], ctcf["match_id"], ctcf["match_name"]) == (120, "MA0139.2", "CTCF")
    assert (ctcf["offset"], ctcf["strand"], ctcf["q_value"]) == (0, "+", 1e-6)
    # filter 2 matched MA0139.2; its influence on "motif" is 1.0 + 0.01 * 2 (runfixtures)
    assert [(f["filter"], f["influence"]) for f in ctcf["filters"]] == [(2, pytest.approx(1.02))]
    (ins,) = ctcf["insertion"]
    assert ins["motif_id"] == "MA0139.2"
    assert ins["delta_score"] == pytest.approx(2.0)
    assert ins["sd"] == pytest.approx(0.6 * SD, abs=1e-5)
    assert ins["n"] == 4
    # REST on "motif": the CIS-BP REST filter 5 joins by name (influence 0 on "motif")
    rest = got["motif/pattern_1"]
    assert [(f["filter"], f["match_name"], f["influence"]) for f in rest["filters"]] == [
        (5, "REST", 0.0)
    ]
    assert [(i["motif_id"], i["delta_score"]) for i in rest["insertion"]] == [
        ("MA0138.3", pytest.approx(-0.5))
    ]
    # a CIS-BP match: clean name, filter 5 by id (influence 2.0 + 0.01 * 5 on "never"),
    # the JASPAR REST insertion by name
    never = got["never/pattern_0"]
    assert never["match_name"] == "REST"
    assert [(f["filter"], f["influence"]) for f in never["filters"]] == [(5, pytest.approx(2.05))]
    (ins,) = never["insertion"]
    assert (ins["motif_id"], ins["delta_score"]) == ("MA0138.3", pytest.approx(-3.0))
    assert ins["sd"] == pytest.approx(0.3 * SD, abs=1e-5)


def test_motif_page_has_every_logo_and_the_jaspar_matches(run):
    page = motif_page(run)
    motifs, _ = read_meme(Run(run).analysis_dir("modisco") / "patterns.meme")
    for m in motifs:
        assert np.allclose(page["pwms"][m.id]["probs"], m.probs, atol=1e-4)
    got = _by_id(page)
    assert got["motif/pattern_0"]["match_key"] == "MA0139.2"
    # a match's PWM stored in the run wins (the filters' matched.meme: the fixture's 5 bp
    # CTCF); one not stored comes from pyjaspar's JASPAR 2024 (REST: 20 bp)
    assert np.allclose(page["pwms"]["MA0139.2"]["probs"], CTCF_PROBS, atol=1e-4)
    assert got["motif/pattern_1"]["match_key"] == "MA0138.3"
    assert np.asarray(page["pwms"]["MA0138.3"]["probs"]).shape == (4, 20)
    assert got["never/pattern_0"]["match_key"] is None  # a CIS-BP id: no PWM stored


def test_motif_page_without_modisco_names_the_command(tmp_path):
    run = make_bare_run(tmp_path)
    page = motif_page(run)
    assert page["missing"] is True
    assert page["command"] == f"motiflens modisco {run}"
    assert "explain/modisco/patterns.tsv" in page["message"]


def test_insertion_table_top_n_per_target_with_spread(run):
    view = insertion_view(run, top=3, heatmap_top=20)
    table = view["table"]
    assert [r["target"] for r in table] == ["motif"] * 3 + ["gc"] * 3 + ["never"] * 3
    # ranked by |mean change|: hand-ordered from the fixture's NAMED effects
    assert [r["motif_id"] for r in table if r["target"] == "motif"] == [
        "MA0139.2", "MA0138.3", "MA0140.3",
    ]  # fmt: skip
    assert [r["motif_id"] for r in table if r["target"] == "gc"] == [
        "MA0140.3", "MA0139.2", "MA0138.3",
    ]  # fmt: skip
    assert [r["motif_name"] for r in table if r["target"] == "never"] == [
        "REST", "CTCF", "GATA1::TAL1",
    ]  # fmt: skip
    first = table[0]
    assert (first["delta_score"], first["n"], first["rank"]) == (2.0, 4, 1)
    assert first["sd"] == pytest.approx(0.6 * SD, abs=1e-5)
    gata_gc = next(r for r in table if r["target"] == "gc" and r["rank"] == 1)
    assert gata_gc["sd"] == pytest.approx(0.9 * SD, abs=1e-5)


def test_insertion_heat_map_is_the_union_of_top_n_with_a_clipped_scale(run):
    view = insertion_view(run, heatmap_top=20)
    heat = view["heatmap"]
    # every target's top 20 is the 4 named motifs and fillers F07..F22 (26 motifs in all)
    assert view["n_motifs"] == 26
    assert len(heat["rows"]) == 20
    assert {r.split()[0] for r in heat["rows"]} == {
        "MA0139.2", "MA0138.3", "MA0140.3", "M0085_1.02", *(f"F{i:02d}" for i in range(7, 23)),
    }  # fmt: skip
    assert "M0085_1.02 TFAP2E" in heat["rows"]  # clean name
    # 60 cells; the 98th percentile of |value| lies below the one largest (|REST| = 3)
    cells = np.abs(np.asarray(heat["values"], dtype=float)).ravel()
    assert heat["zmax"] == pytest.approx(np.percentile(cells, 98))
    assert 1.5 <= heat["zmax"] < 3.0


def test_old_insertion_tables_without_spread_still_show(tmp_path):
    folder = Run(tmp_path).analysis_dir("insertion")
    (folder / "insertion.tsv").write_text(
        "motif_id\tmotif_name\ttarget\tdelta_score\tdelta_pred\n"
        "MA0139.2\tCTCF\tt0\t1.0\t0.1\nMA0138.3\tREST\tt0\t-2.0\t0.1\n"
    )
    view = insertion_view(tmp_path)
    assert [(r["motif_name"], r["sd"], r["n"]) for r in view["table"]] == [
        ("REST", None, None),
        ("CTCF", None, None),
    ]


def test_clean_names_of_real_cisbp_motifs():
    motifs, _ = read_meme(CISBP)
    names = {m.id: m.name for m in motifs}
    assert names["M0085_1.02"] == "(TFAP2E)_(Mus_musculus)_(DBD_0.99)"
    assert clean_motif_name(names["M0085_1.02"]) == "TFAP2E"
    assert clean_motif_name(names["M5998_1.02"]) == "CREB5"
    assert clean_motif_name(names["M1841_1.02"]) == "AR"  # a plain name stays
    cleaned = [clean_motif_name(n) for n in names.values()]
    assert not [c for c in cleaned if "(" in c or ")" in c or "Mus_musculus" in c]
    assert all(cleaned)


def test_clean_names_by_hand():
    assert clean_motif_name("(CREB5)_(Mus_musculus)_(DB") == "CREB5"  # cut short
    assert clean_motif_name("GATA1::TAL1") == "GATA1::TAL1"
    assert clean_motif_name("Ahr::Arnt") == "Ahr::Arnt"
    assert clean_motif_name(None) == ""
    assert clean_motif_name(float("nan")) == ""


def test_motif_api_route_and_report_data(run):
    from motiflens.dashboard.export import build_report_data

    client = TestClient(create_app(run), base_url="http://localhost")
    body = client.get("/api/motifs").json()
    assert [t["target"] for t in body["targets"]] == ["motif", "never"]
    ins = client.get("/api/insertion").json()
    assert ins["table"][0]["motif_name"] == "CTCF"
    report = build_report_data(run, top=0, sequences=0)
    assert report["motifs"]["targets"] == body["targets"]


# The JASPAR CTCF consensus (MA0139.2, 15 bp) at 4 and the fixture's 5 bp CTCF of the
# filters' matched.meme (CAGTG) at 22, in 40 bp of T.
TRACK_SEQ = "TTTT" + "GCCACCAGGGGGCGC" + "TTT" + "CAGTG" + "T" * 13


def test_explorer_splits_matches_into_labelled_tracks(run):
    client = TestClient(create_app(run), base_url="http://localhost")
    res = client.post("/api/explain", json={"sequence": TRACK_SEQ, "target": "motif"}).json()
    hits = res["matches"]
    modisco = [(m["id"], m["start"], m["end"]) for m in hits if m["track"] == "modisco hits"]
    assert ("motif/pattern_0", 4, 19) in modisco
    assert all(m["source"] == "modisco" for m in hits if m["track"] == "modisco hits")
    jaspar = [(m["id"], m["start"], m["end"]) for m in hits if m["track"] == "JASPAR hits"]
    assert ("MA0139.2", 22, 27) in jaspar
    for m in hits:
        if m["source"] == "filter":
            want = "annotated filters" if m["label"] else "unannotated filters"
            assert m["track"] == want
        assert "Mus_musculus" not in m["label"]


def test_match_offset_counts_from_the_trimmed_pattern(tmp_path):
    # two uniform columns (0 bits) then A, C, G (2 bits each): TomTom saw columns 2..4
    from tests.dashboard.motiffixtures import PATTERN_COLUMNS
    from tests.dashboard.runfixtures import _meme, _tsv

    folder = Run(tmp_path).analysis_dir("modisco")
    probs = np.array([[0.25, 0.25, 1, 0, 0], [0.25, 0.25, 0, 1, 0], [0.25, 0.25, 0, 0, 1],
                      [0.25, 0.25, 0, 0, 0]])  # fmt: skip
    (folder / "patterns.meme").write_text(_meme([("t0/pattern_0", "t0/pattern_0", probs)]))
    _tsv(
        folder / "patterns.tsv",
        PATTERN_COLUMNS,
        [["t0", "pattern_0", "pos", 10, "NNACG", 5, "", "", None, None, ""]],
    )
    (pattern,) = motif_page(tmp_path)["targets"][0]["patterns"]
    assert pattern["trim_start"] == 2
    assert pattern["match_name"] is None and pattern["filters"] == [] == pattern["insertion"]
