"""Explain verbs from the command line on a tiny trained run: files written, clear errors."""

from __future__ import annotations

import h5py
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import RunConfig
from motiflens.training import train
from tests.test_training import make_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    data = make_dataset(tmp / "d.h5", n=300)
    cfg = RunConfig.from_dict(
        {
            "model": {"name": "rnn", "arch": {"hidden": 8}},
            "training": {"preset": "demo", "max_epochs": 1},
        }
    )
    train(data, tmp / "run", cfg, progress=False)
    return tmp / "run", data


def test_temporal_writes_scores_and_heat_maps(rnn_run):
    run, data = rnn_run
    out = runner.invoke(app, ["temporal", str(run), str(data), "-n", "3", "--target", "gc"])
    assert out.exit_code == 0, out.output
    with h5py.File(run / "explain" / "temporal" / "temporal.h5") as h5:
        assert h5["forward"].shape == (3, 40, 1) and h5["backward"].shape == (3, 40, 1)
    assert len(list((run / "explain" / "temporal").glob("*.png"))) == 3


def test_optimize_writes_meme_logo_and_fasta(rnn_run):
    run, _ = rnn_run
    out = runner.invoke(app, ["optimize", str(run), "--target", "motif", "--steps", "20"])
    assert out.exit_code == 0, out.output
    folder = run / "explain" / "optimize"
    assert (folder / "motif.meme").read_text().startswith("MEME version 4")
    assert (folder / "motif.png").exists()
    fasta = (folder / "designed.fa").read_text().split()
    assert fasta[0] == ">motif_0" and set(fasta[1]) <= set("ACGT") and len(fasta[1]) == 40


def test_unknown_target_lists_the_valid_ones(rnn_run):
    run, _ = rnn_run
    out = runner.invoke(app, ["optimize", str(run), "--target", "nope", "--steps", "5"])
    assert out.exit_code == 2
    assert "no target named 'nope'" in out.output and "motif, gc, never" in out.output


def test_saliency_writes_attributions_and_logos(rnn_run):
    run, data = rnn_run
    out = runner.invoke(app, ["saliency", str(run), str(data), "-n", "2", "--target", "motif"])
    assert out.exit_code == 0, out.output
    folder = run / "explain" / "saliency"
    with h5py.File(folder / "gradient_x_input.h5") as h5:
        attr, onehot = h5["attributions"][:], h5["onehot"][:]
    assert attr.shape == (2, 1, 4, 40)
    # gradient x input is zero on every base that is not in the sequence
    assert (attr[:, 0][onehot == 0] == 0).all()
    assert len(list(folder.glob("*_logo.png"))) == 2


def test_ism_writes_deltas_table_and_figures(rnn_run):
    run, data = rnn_run
    out = runner.invoke(
        app, ["ism", str(run), str(data), "-n", "2", "--target", "gc", "--window", "10"]
    )
    assert out.exit_code == 0, out.output
    folder = run / "explain" / "ism"
    with h5py.File(folder / "ism.h5") as h5:
        delta = h5["delta"][:]
    assert delta.shape == (2, 4, 10, 1)
    assert ((delta == 0).sum(axis=1) >= 1).all()  # the reference base changes nothing
    assert (folder / "ism.tsv").read_text().startswith("name\tposition\ttarget")
    assert len(list(folder.glob("*.png"))) == 2
