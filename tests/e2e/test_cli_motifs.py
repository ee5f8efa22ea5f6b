"""`motiflens filters` and `motiflens insert` from the command line: outputs and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import RunConfig
from motiflens.data.hdf5 import read_split
from motiflens.motifs.meme import read_meme, write_meme
from motiflens.motifs.pwm import Motif
from motiflens.training import train
from tests.test_training import TINY, make_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("motifs")
    data = make_dataset(tmp / "d.h5", n=600)
    cfg = RunConfig.from_dict({**TINY, "training": {**TINY["training"], "max_epochs": 2}})
    train(data, tmp / "run", cfg, verbose=False)
    # A small MEME database: the planted ACGTTG and 30 random motifs as the null.
    rng = np.random.default_rng(0)
    planted = np.eye(4)[[0, 1, 2, 3, 3, 2]].T * 0.94 + 0.015
    motifs = [Motif("PLANTED", "acgttg", planted)] + [
        Motif(f"R{i}", f"random{i}", rng.dirichlet(np.ones(4), size=8).T) for i in range(30)
    ]
    db = write_meme(motifs, tmp / "db.meme")
    return tmp / "run", data, db


def test_filters_writes_table_pwms_matches_and_influence(tiny_run):
    run, data, db = tiny_run
    # -n above the test split's 90 sequences: all of them are analysed
    args = ["filters", str(run), str(data), "--db", str(db), "-n", "200"]
    out = runner.invoke(app, [*args, "--logos"])
    assert out.exit_code == 0, out.output
    folder = run / "explain" / "filters"
    table = pd.read_csv(folder / "filters.tsv", sep="\t")
    assert list(table["filter"]) == list(range(16))
    assert {"consensus", "ic", "match_q", "influence", "influence_ss"} <= set(table.columns)
    motifs, background = read_meme(folder / "filters.meme")
    # Basset's MEME background: the base composition of the analysed sequences (+1 each)
    x, _, _ = read_split(data, "test")
    counts = x.sum(axis=(0, 2))
    np.testing.assert_allclose(background, (counts + 1) / (counts.sum() + 4), atol=1e-4)
    assert {m.id for m in motifs} <= {f"filter{f}" for f in range(16)}
    assert len(list((folder / "logos").glob("filter*.png"))) >= len(motifs)
    infl = pd.read_csv(folder / "influence_targets.tsv", sep="\t")
    assert list(infl.columns) == ["filter", "motif", "gc", "never"]
    assert (folder / "influence_heatmap.png").exists() and (folder / "ic_influence.svg").exists()
    assert '"filters"' in (run / "manifest.json").read_text()
    # a run without the optional outputs leaves none of the earlier run's behind
    out = runner.invoke(app, [*args, "--no-logos", "--no-influence"])
    assert out.exit_code == 0, out.output
    assert (folder / "filters.tsv").exists() and (folder / "filters.meme").exists()
    assert not (folder / "logos").exists() and not (folder / "influence_targets.tsv").exists()
    assert not (folder / "influence_heatmap.png").exists()
    assert pd.read_csv(folder / "filters.tsv", sep="\t")["influence_ss"].isna().all()


def test_insert_writes_long_table_and_heat_map(tiny_run):
    run, data, db = tiny_run
    args = ["insert", str(run), str(data), "--db", str(db), "-n", "40"]
    out = runner.invoke(app, [*args, "--motif", "PLANTED", "--motif", "random3"])
    assert out.exit_code == 0, out.output
    table = pd.read_csv(run / "explain" / "insertion" / "insertion.tsv", sep="\t")
    assert sorted(set(table["motif_id"])) == ["PLANTED", "R3"]
    assert len(table) == 2 * 3
    assert (run / "explain" / "insertion" / "insertion_heatmap.png").exists()
    # one target: its rows only, the same numbers (instances are seeded per motif id)
    out = runner.invoke(app, [*args, "--motif", "PLANTED", "--target", "gc"])
    assert out.exit_code == 0, out.output
    one = pd.read_csv(run / "explain" / "insertion" / "insertion.tsv", sep="\t")
    assert list(one["target"]) == ["gc"] and list(one["motif_id"]) == ["PLANTED"]
    want = table[(table["motif_id"] == "PLANTED") & (table["target"] == "gc")]
    np.testing.assert_allclose(one["delta_score"], want["delta_score"], rtol=1e-5)


def test_bad_database_spec_lists_what_exists(tiny_run):
    run, data, _ = tiny_run
    out = runner.invoke(app, ["filters", str(run), str(data), "--db", "jaspar:1999"])
    assert out.exit_code == 2
    assert "JASPAR2024" in out.output


def test_unparsable_meme_file_names_the_line(tiny_run, tmp_path):
    run, data, _ = tiny_run
    bad = tmp_path / "bad.meme"
    bad.write_text(
        "MEME version 4\n\nMOTIF X\nletter-probability matrix: alength= 4 w= 2\n"
        "0.25 0.25 0.5\n0.25 0.25 0.25 0.25\n"
    )
    out = runner.invoke(app, ["insert", str(run), str(data), "--db", str(bad)])
    assert out.exit_code == 2
    assert "bad.meme:5:" in out.output and "found 3 numbers" in out.output


def test_rnn_run_has_no_filters(tmp_path):
    data = make_dataset(tmp_path / "d.h5", n=200)
    cfg = {
        "model": {"name": "rnn", "arch": {"hidden": 4}},
        "training": {"preset": "demo", "max_epochs": 1},
    }
    train(data, tmp_path / "run", RunConfig.from_dict(cfg), verbose=False)
    out = runner.invoke(app, ["filters", str(tmp_path / "run"), str(data)])
    assert out.exit_code == 2
    assert "first layer is not a convolution" in out.output
