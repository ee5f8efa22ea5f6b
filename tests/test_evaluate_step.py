"""The evaluate step and `motiflens test`: where results go, the k-mer baseline beside the
model (fitted once, kept in the run), columns chosen by name, defaults."""

from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.cli.training import Preset
from motiflens.config import OPTIMIZER_PRESETS
from motiflens.data.hdf5 import write_dataset
from motiflens.runs import Run
from motiflens.steps.evaluate import evaluate, run_baseline
from tests.toy_models import toy_model

# the module (motiflens.steps.evaluate is also the name of its function in motiflens.steps)
evaluate_module = importlib.import_module("motiflens.steps.evaluate")

LENGTH = 50
MOTIF = "ACGTTG"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Target ``motif``: ACGTTG planted in half the sequences (1,200 x 50 bp)."""
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 4, (1200, LENGTH), dtype=np.uint8)
    y = (rng.random(1200) < 0.5).astype(np.int8)[:, None]
    for i in np.flatnonzero(y[:, 0]):
        p = rng.integers(0, LENGTH - len(MOTIF))
        codes[i, p : p + len(MOTIF)] = ["ACGT".index(b) for b in MOTIF]
    splits = {
        name: (codes[a:b], y[a:b], [f"{name}{i}" for i in range(b - a)])
        for name, a, b in (("train", 0, 800), ("valid", 800, 1000), ("test", 1000, 1200))
    }
    return write_dataset(tmp_path_factory.mktemp("data") / "planted.h5", splits, ["motif"])


def make_run(path, dataset) -> Run:
    """An untrained toy CNN recorded as trained on ``dataset``: the baseline, not the
    model, is what these tests look at."""
    model = toy_model("cnn", length=LENGTH, n_targets=1)
    run = Run(path)
    run.save_model(model, model.config)
    run.write_target_labels(["motif"])
    run.record_step("train", [run.weights_path], dataset=str(dataset))
    return run


def test_baseline_beside_the_model_fitted_once(dataset, tmp_path, monkeypatch):
    copy = Path(shutil.copy(dataset, tmp_path / "planted.h5"))
    run = make_run(tmp_path / "run", copy)
    result = evaluate(run, verbose=False)
    table = pd.read_csv(run.metrics_path("test.tsv"), sep="\t")
    model_columns = ["target", "n", "positives", "auroc", "auprc"]
    assert list(table.columns) == [*model_columns, "baseline_auroc", "baseline_auprc"]
    # the baseline sees the planted 6-mer; the untrained model does not
    assert table.loc[0, "baseline_auroc"] > 0.9 and table.loc[0, "baseline_auprc"] > 0.9
    assert "k-mer baseline AUROC mean" in run.metrics_path("test_summary.txt").read_text()
    assert result.baseline is None and "baseline" in str(result)
    steps = run.steps()
    assert steps["test"]["rc"] is True and steps["test"]["baseline"] is True
    assert steps["baseline"]["outputs"] == ["metrics/kmer_baseline.npz"]
    assert run.baseline_path.is_file()

    # a second test reads the kept baseline: fitting again would fail here
    def no_refit(*args, **kwargs):
        raise AssertionError("the baseline was fitted again")

    monkeypatch.setattr(evaluate_module, "kmer_baseline", no_refit)
    again = evaluate(run, verbose=False)
    assert again.metrics["baseline_auroc"].iloc[0] == result.metrics["baseline_auroc"].iloc[0]
    # other options, or a dataset file changed since, are fitted again
    with pytest.raises(AssertionError, match="fitted again"):
        run_baseline(run, k=5)
    os.utime(copy, ns=(0, 0))
    with pytest.raises(AssertionError, match="fitted again"):
        run_baseline(run)


def test_other_files_and_splits_never_overwrite_the_runs_metrics(dataset, tmp_path):
    run = make_run(tmp_path / "run", dataset)
    evaluate(run, verbose=False, baseline=False)
    own = run.metrics_path("test.tsv").read_text()
    assert "baseline_auroc" not in own  # --no-baseline
    valid = evaluate(run, dataset, split="valid", verbose=False, baseline=False)
    assert valid.paths[0] == run.evaluation_dir(dataset) / "test.tsv"
    assert valid.step == "test:planted.h5"
    table = tmp_path / "seqs.tsv"
    table.write_text("sequence\tmotif\n" + f"{'A' * 44}{MOTIF}\t1\n" + f"{'C' * 50}\t0\n")
    other = evaluate(run, table, verbose=False, baseline=False)
    assert other.paths[0].parent == run.metrics_dir / "evaluations" / "seqs.tsv"
    assert run.metrics_path("test.tsv").read_text() == own


def test_cli_test_chooses_label_columns_and_refuses_other_names(dataset, tmp_path):
    run = make_run(tmp_path / "run", dataset)
    table = tmp_path / "peaks.tsv"
    rows = ["sequence\tchrom_name\tbound"]
    rows += [f"{'A' * 44}{MOTIF}\tchr1\t1", f"{'C' * 50}\tchr2\t0", f"{'G' * 50}\tchr3\t0"]
    table.write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    out = runner.invoke(app, ["test", str(run.path), str(table), "--no-progress"])
    assert out.exit_code == 2
    assert "the model's targets are motif" in out.output and "--label-column" in out.output
    out = runner.invoke(
        app, ["test", str(run.path), str(table), "--label-column", "bound", "--no-progress"]
    )
    assert out.exit_code == 0, out.output
    assert "bound as motif" in out.output and "k-mer baseline AUROC" in out.output
    written = pd.read_csv(run.evaluation_dir(table) / "test.tsv", sep="\t")
    assert list(written["target"]) == ["motif"] and written.loc[0, "positives"] == 1
    assert Run(run.path).steps()["test:peaks.tsv"]["columns"] == ["bound"]


def test_continuous_targets_get_no_baseline_and_say_so(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (60, LENGTH), dtype=np.uint8)
    signal = rng.random((60, 1)).astype(np.float32)
    splits = {
        s: (codes[i::3], signal[i::3], [f"{s}{j}" for j in range(20)])
        for i, s in enumerate(("train", "valid", "test"))
    }
    data = write_dataset(tmp_path / "signal.h5", splits, ["signal"], continuous=True)
    model = toy_model("cnn", length=LENGTH, n_targets=1)
    model.config = dataclasses.replace(model.config, task="regression")
    run = Run(tmp_path / "run")
    run.save_model(model, model.config)
    run.record_step("train", [run.weights_path], dataset=str(data))
    result = evaluate(run, verbose=False)
    assert "pearson" in result.metrics and "baseline_auroc" not in result.metrics
    assert "continuous" in result.baseline and "no k-mer baseline" in str(result)
    assert not run.baseline_path.exists()


def test_preset_choices_are_the_configs():
    assert [p.value for p in Preset] == list(OPTIMIZER_PRESETS)
