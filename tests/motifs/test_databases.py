"""Motif databases: JASPAR specs from pyjaspar's bundled SQLite, MEME files, errors."""

from pathlib import Path

import numpy as np
import pytest

from motiflens.errors import InputError
from motiflens.motifs.databases import (
    available_jaspar_releases,
    jaspar_motif,
    load_database,
    parse_jaspar_spec,
)
from motiflens.motifs.meme import read_meme, write_meme
from motiflens.motifs.pwm import Motif

JASPAR_MEME = Path(
    "/work/shared/data/motifs_jaspar2024_core_vertebrates/JASPAR2024_CORE_vertebrates_latest.meme"
)


def test_releases():
    releases = available_jaspar_releases()
    assert {"JASPAR2014", "JASPAR2020", "JASPAR2024"} <= set(releases)
    assert releases == sorted(releases)


def test_spec_defaults_and_spelling():
    assert parse_jaspar_spec("jaspar:2024") == ("JASPAR2024", "CORE", "vertebrates")
    assert parse_jaspar_spec("JASPAR:jaspar2024:core:Vertebrates") == (
        "JASPAR2024",
        "CORE",
        "vertebrates",
    )
    assert parse_jaspar_spec("jaspar:2022:CORE:all") == ("JASPAR2022", "CORE", None)


def test_jaspar_2024_core_vertebrates():
    db = load_database("jaspar:2024:CORE:vertebrates")
    # JASPAR 2024's non-redundant CORE vertebrates set has 879 profiles (shared README).
    assert len(db) == 879
    ids = [m.id for m in db]
    assert len(set(ids)) == 879
    assert all(m.probs.shape[0] == 4 for m in db)
    np.testing.assert_allclose([m.probs.sum(axis=0).max() for m in db], 1.0)
    by_id = {m.id: m for m in db}
    assert by_id["MA0139.2"].name == "CTCF"
    assert by_id["MA0139.2"].url == "https://jaspar.elixir.no/matrix/MA0139.2/"
    assert [m.id for m in load_database("jaspar:2024")] == ids
    # a new list each call, read-only shared arrays
    again = load_database("jaspar:2024")
    again.clear()
    assert len(load_database("jaspar:2024")) == 879
    with pytest.raises(ValueError, match="read-only"):
        db[0].probs[0, 0] = 1.0
    # "all" keeps every taxonomic group (2014 is the smallest release: fast)
    vertebrates = {m.id for m in load_database("jaspar:2014:CORE:vertebrates")}
    everything = {m.id for m in load_database("jaspar:2014:CORE:all")}
    assert len(everything) > len(vertebrates) and vertebrates <= everything


@pytest.mark.skipif(not JASPAR_MEME.exists(), reason="shared JASPAR export absent")
def test_jaspar_agrees_with_the_independent_export():
    exported, _ = read_meme(JASPAR_MEME)
    ours = {m.id: m for m in load_database("jaspar:2024")}
    assert set(ours) == {m.id for m in exported}
    for m in exported:
        assert ours[m.id].name == m.name
        assert ours[m.id].nsites == m.nsites
        np.testing.assert_allclose(ours[m.id].probs, m.probs, atol=2e-6)


def test_jaspar_motif():
    ctcf = jaspar_motif("MA0139.2")
    assert (ctcf.id, ctcf.name, ctcf.width, ctcf.nsites) == ("MA0139.2", "CTCF", 15, 913)
    # First column from the JASPAR 2024 CTCF counts: A 281, C 49, G 449, T 134 (913 sites).
    np.testing.assert_allclose(ctcf.probs[:, 0], np.array([281, 49, 449, 134]) / 913, atol=1e-6)
    assert jaspar_motif("MA0139", release="JASPAR2024").id == "MA0139.2"
    assert jaspar_motif("MA0139.1", release=2014).width == 19
    with pytest.raises(InputError, match=r"no matrix 'MA9999\.9'"):
        jaspar_motif("MA9999.9")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("jaspar:1999", "JASPAR2024"),
        ("jaspar:2024:NOPE", "CORE"),
        ("jaspar:2024:CORE:martians", "vertebrates"),
        ("jaspar:", "jaspar:<release>"),
        ("jaspar:2024:CORE:vertebrates:extra", "jaspar:<release>"),
    ],
)
def test_bad_specs_list_what_exists(spec, words):
    with pytest.raises(InputError) as info:
        load_database(spec)
    assert words in str(info.value)


def test_meme_file_database(tmp_path):
    motifs = [Motif(f"m{i}", f"TF{i}", np.full((4, 3), 0.25)) for i in range(3)]
    path = write_meme(motifs, tmp_path / "db.meme")
    assert [m.name for m in load_database(path)] == ["TF0", "TF1", "TF2"]
    assert [m.id for m in load_database(str(path))] == ["m0", "m1", "m2"]
    # an edited file is read again despite the cache
    write_meme(motifs[:1], path)
    assert len(load_database(path)) == 1
    with pytest.raises(InputError, match="not found") as info:
        load_database(tmp_path / "absent.meme")
    assert "jaspar:2024:CORE:vertebrates" in str(info.value)
    bad = tmp_path / "bad.meme"
    bad.write_text("MEME version 4\nMOTIF a\nletter-probability matrix: w= 1\n1 0 0\n")
    with pytest.raises(InputError, match=r"bad.meme:4"):
        load_database(bad)
