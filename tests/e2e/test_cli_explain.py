"""Explain verbs from the command line on a tiny trained run: files written, clear errors."""

from __future__ import annotations

import h5py
import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import RunConfig
from motiflens.results import read_result_info
from motiflens.runs import Run
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
    train(data, tmp / "run", cfg, verbose=False)
    return tmp / "run", data


def test_temporal_writes_scores_and_heat_maps(rnn_run):
    run, data = rnn_run
    out = runner.invoke(app, ["temporal", str(run), str(data), "-n", "3", "--target", "gc"])
    assert out.exit_code == 0, out.output
    path = run / "explain" / "temporal" / "temporal.h5"
    with h5py.File(path) as h5:
        assert h5["forward"].shape == (3, 40, 1) and h5["backward"].shape == (3, 40, 1)
        assert h5["onehot"].shape == (3, 4, 40)
    info = read_result_info(path)
    assert info.kind == "temporal" and info.target_labels == ["gc"] and len(info.names) == 3
    assert info.arrays["forward"] == ("sequence", "position", "target")
    assert len(list((run / "explain" / "temporal").glob("*.png"))) == 3


def test_optimize_writes_meme_logo_and_fasta(rnn_run):
    run, _ = rnn_run
    args = ["optimize", str(run), "--target", "motif", "--steps", "20", "--no-match"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    folder = run / "explain" / "optimize" / "sequence"  # the default method
    assert (folder / "motif.meme").read_text().startswith("MEME version 4")
    assert (folder / "motif.png").exists() and (folder / "motif_motif.png").exists()
    fasta = (folder / "designed.fa").read_text().split()
    assert fasta[0] == ">motif_0" and set(fasta[1]) <= set("ACGT") and len(fasta[1]) == 40
    # the other method writes beside it, not over it
    args = ["optimize", str(run), "--target", "gc", "--method", "demo", "--steps", "5"]
    out = runner.invoke(app, [*args, "-n", "2", "--no-match"])
    assert out.exit_code == 0, out.output
    table = pd.read_csv(folder.parent / "demo" / "optimize.tsv", sep="\t")
    assert list(table["target"]) == ["gc", "gc"] and list(table["start"]) == [0, 1]
    assert (folder / "motif.meme").exists() and not (folder.parent / "demo" / "motif.meme").exists()
    steps = Run(run).steps()
    assert steps["optimize/sequence"]["targets"] == ["motif"]
    assert steps["optimize/demo"]["targets"] == ["gc"] and steps["optimize/demo"]["db"] is None


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
    assert attr.shape == (2, 4, 40, 1)  # target axis last
    # gradient x input is zero on every base that is not in the sequence
    assert (attr[..., 0][onehot == 0] == 0).all() and (attr[..., 0][onehot == 1] != 0).any()
    info = read_result_info(folder / "gradient_x_input.h5")
    assert info.kind == "attribution" and info.target_labels == ["motif"]
    assert info.arrays["attributions"] == ("sequence", "base", "position", "target")
    assert len(list(folder.glob("*_logo.png"))) == 2
    # another method writes its own file and figures and leaves these alone
    args = ["saliency", str(run), str(data), "-n", "1", "--method", "gradient"]
    out = runner.invoke(app, [*args, "--target", "motif"])
    assert out.exit_code == 0, out.output
    assert read_result_info(folder / "gradient.h5").names == info.names[:1]
    assert len(list(folder.glob("gradient_x_input_*_logo.png"))) == 2
    assert len(list(folder.glob("gradient_0*_logo.png"))) == 1


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
    table = pd.read_csv(folder / "ism.tsv", sep="\t")
    assert list(table.columns[:3]) == ["name", "position", "target"]
    assert len(table) == 2 * 10 and set(table["target"]) == {"gc"}
    assert len(list(folder.glob("*.png"))) == 2
    # computed once; the table holds every sequence, the figures the first --figures,
    # and the figures of the earlier run are gone
    args = ["ism", str(run), str(data), "-n", "3", "--figures", "1", "--window", "4"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "ism.tsv: all sequences; figures: the first 1" in out.output
    table = pd.read_csv(folder / "ism.tsv", sep="\t")
    assert table["name"].nunique() == 3 and len(table) == 3 * 4 * 3
    assert len(list(folder.glob("*.png"))) == 3  # one sequence x three targets
