"""Training end to end on a tiny dataset: learning, resume, run directory, DDP, CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import RunConfig
from motiflens.data.hdf5 import write_dataset
from motiflens.errors import InputError
from motiflens.runs import Run
from motiflens.steps import train

MOTIF = np.array([0, 1, 2, 3, 3, 2], dtype=np.uint8)  # ACGTTG


def make_dataset(path: Path, n: int = 1500, length: int = 40, seed: int = 0) -> Path:
    """Target 0: the motif ACGTTG is planted; target 1: GC-rich; target 2 (test): never."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length), dtype=np.uint8)
    y = np.zeros((n, 3), dtype=np.int8)
    y[:, 0] = rng.random(n) < 0.5
    for i in np.flatnonzero(y[:, 0]):
        p = rng.integers(0, length - len(MOTIF))
        codes[i, p : p + len(MOTIF)] = MOTIF
    y[:, 1] = rng.random(n) < 0.5
    gc = rng.random((n, length)) < 0.35
    codes[(y[:, 1] == 1)[:, None] & gc] = 2
    cut = [int(n * 0.7), int(n * 0.85)]
    splits = {}
    for name, sl in (
        ("train", slice(0, cut[0])),
        ("valid", slice(cut[0], cut[1])),
        ("test", slice(cut[1], n)),
    ):
        target = y[sl].copy()
        if name != "test":
            target[:, 2] = rng.random(len(target)) < 0.5
        splits[name] = (codes[sl], target, [f"s{i}" for i in range(len(target))])
    return write_dataset(path, splits, ["motif", "gc", "never"])


TINY = {
    "model": {
        "name": "basset",
        "arch": {"filters": [16, 8], "sizes": [6, 3], "pools": [2, 2], "hidden": [16]},
    },
    "training": {"preset": "demo", "lr": 0.01, "batch_size": 32, "patience": 50},
}


def tiny(max_epochs: int) -> RunConfig:
    cfg = {**TINY, "training": {**TINY["training"], "max_epochs": max_epochs}}
    return RunConfig.from_dict(cfg)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny.h5")


def test_training_learns_and_writes_run_directory(dataset, tmp_path):
    run = tmp_path / "run"
    result = train(dataset, run, tiny(12), verbose=False)
    expected = [
        "config.yaml",
        "model.safetensors",
        "target_labels.txt",
        "manifest.json",
        "metrics/training.tsv",
        "metrics/training.png",
        "checkpoints/last.ckpt",
    ]
    for name in expected:
        assert (run / name).exists(), name
    table = pd.read_csv(run / "metrics" / "training.tsv", sep="\t")
    assert list(table["epoch"]) == list(range(1, 13))  # epochs count from 1
    assert table["train_loss"].iloc[-1] < table["train_loss"].iloc[0]
    # mean over targets; "never" has random labels in valid (AUROC ~0.5)
    assert result.monitor == "val_auroc" and result.best_score > 0.7
    config = Run(run).model_config
    assert (config.n_targets, config.length) == (3, 40)
    assert (run / "target_labels.txt").read_text().split() == ["motif", "gc", "never"]
    # the saved weights are those of the best epoch, not the last; row i is epoch i + 1
    assert result.best_epoch == int(table["val_auroc"].idxmax()) + 1
    step = Run(run).steps()["train"]
    assert step["best_epoch"] == result.best_epoch
    assert "metrics/training.png" in step["outputs"] and step["dataset"] == str(dataset.resolve())


def test_resume_equals_uninterrupted(dataset, tmp_path):
    train(dataset, tmp_path / "full", tiny(4), verbose=False)
    train(dataset, tmp_path / "part", tiny(2), verbose=False)  # "killed" after epoch 2
    train(dataset, tmp_path / "part", tiny(4), resume=True, verbose=False)
    full = load_file(tmp_path / "full" / "model.safetensors")
    part = load_file(tmp_path / "part" / "model.safetensors")
    assert full.keys() == part.keys()
    for key in full:
        torch.testing.assert_close(part[key], full[key], rtol=0, atol=1e-6)
    a = pd.read_csv(tmp_path / "full" / "metrics" / "training.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "part" / "metrics" / "training.tsv", sep="\t")
    np.testing.assert_allclose(a["val_loss"], b["val_loss"], rtol=1e-6)


def test_resume_without_checkpoint_is_an_error(dataset, tmp_path):
    with pytest.raises(InputError, match=r"last\.ckpt: cannot resume"):
        train(dataset, tmp_path / "none", tiny(1), resume=True, verbose=False)


def test_cli_train_then_test_reports_nan_for_a_target_without_positives(dataset, tmp_path):
    runner = CliRunner()
    cfg = tmp_path / "tiny.yaml"
    tiny(12).save_yaml(cfg)
    run = tmp_path / "run"
    out = runner.invoke(
        app, ["train", str(dataset), str(run), "--config", str(cfg), "--no-progress"]
    )
    assert out.exit_code == 0, out.output
    assert "best val_auroc" in out.output
    out = runner.invoke(app, ["test", str(run), "--no-progress"])
    assert out.exit_code == 0, out.output
    metrics = pd.read_csv(run / "metrics" / "test.tsv", sep="\t")
    assert list(metrics["target"]) == ["motif", "gc", "never"]
    assert np.isnan(metrics.loc[2, "auroc"])  # never positive in the test split
    assert metrics.loc[0, "auroc"] > 0.7
    assert "1 target(s) with no positives" in out.output
    assert (run / "metrics" / "test_curves.png").exists()
    assert "test" in Run(run).steps()

    # Another file is scored beside the run's own metrics, never over them.
    own = (run / "metrics" / "test.tsv").read_text()
    other = tmp_path / "other.h5"
    shutil.copy(dataset, other)
    out = runner.invoke(app, ["test", str(run), str(other), "--split", "valid", "--no-progress"])
    assert out.exit_code == 0, out.output
    assert (run / "metrics" / "test.tsv").read_text() == own
    folder = Run(run).evaluation_dir(other)
    assert folder == run / "metrics" / "evaluations" / "other.h5"
    theirs = pd.read_csv(folder / "test.tsv", sep="\t")
    assert list(theirs["target"]) == ["motif", "gc", "never"]  # the run's names
    assert not np.isnan(theirs.loc[2, "auroc"])  # "never" has random labels in valid
    assert (folder / "test_curves.png").exists()
    step = Run(run).steps()["test:other.h5"]
    assert step["split"] == "valid" and "metrics/evaluations/other.h5/test.tsv" in step["outputs"]


def test_training_module_imports_no_plots():
    code = "import sys, motiflens.training; print(any('motiflens.plots' in m for m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_cli_bad_config_is_a_message(dataset, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model:\n  name: transformer\n")
    out = CliRunner().invoke(
        app, ["train", str(dataset), str(tmp_path / "r"), "--config", str(cfg)]
    )
    assert out.exit_code == 2
    assert "unknown model 'transformer'" in out.output


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(dataset, tmp_path):
    exe = shutil.which("motiflens", path=str(Path(sys.executable).parent))
    assert exe is not None
    cfg = tmp_path / "tiny.yaml"
    tiny(2).save_yaml(cfg)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [
            exe,
            "train",
            str(dataset),
            str(tmp_path / "ddp"),
            "--config",
            str(cfg),
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--accelerator",
            "cpu",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    run = tmp_path / "ddp"
    assert sorted(p.name for p in run.glob("*.safetensors")) == ["model.safetensors"]
    config = Run(run).model_config
    assert config.n_targets == 3
    assert len(pd.read_csv(run / "metrics" / "training.tsv", sep="\t")) == 2


def test_training_streams_from_disk_when_the_data_is_large(dataset, tmp_path, monkeypatch):
    import motiflens.training as training

    monkeypatch.setattr(training, "IN_MEMORY_BYTES", 0)  # pretend nothing fits in memory
    seen = []
    original = training.SequenceDataset.__getitems__

    def spy(self, indices):
        seen.append(self.in_memory)
        return original(self, indices)

    monkeypatch.setattr(training.SequenceDataset, "__getitems__", spy)
    train(dataset, tmp_path / "disk", tiny(2), verbose=False)
    assert seen and not any(seen)  # every batch was read from the HDF5 file
    assert (tmp_path / "disk" / "model.safetensors").exists()
