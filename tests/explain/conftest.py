"""Shared fixtures of the interpretation tests.

``trained_sim`` (session scope) simulates a small dataset with two planted JASPAR motif
tasks and trains a small model on it in the test run, so every ``explain`` test can score
an interpretation method against the planted ground truth:

- dataset: 5,000 sequences of 100 bp, i.i.d. background at 41% GC, tasks
  ``CTCF`` (MA0139.2, 15 bp) and ``REST`` (MA0138.3, 20 bp), each positive with
  probability 0.4 (4,000 / 500 / 500 train / valid / test);
- model: a one-layer "Basset" (64 filters of width 19 over the whole 100 bp, then one
  max-pool over all 82 positions, i.e. DeepBind-like; no batch norm), trained 10 epochs
  with the DeMo preset (Adam, lr 0.01), batch 64, seed 1. Validation AUROC ~0.996;
  about 3 s of training on one CPU thread;
- the model is in eval mode on the CPU. Tests may use it but must leave its weights
  alone (methods that change its mode or device must restore them, as
  :func:`motiflens.explain.saliency.attribute` does).

``sim.motif_mask("CTCF")`` gives the test-split rows positive for a task and a boolean
``(rows, L)`` mask of the positions inside that task's planted sites: the positives to
score and the ground truth to score them against (``sklearn.metrics.roc_auc_score(
mask.ravel(), scores.ravel())``). With gradient x input (sum of |attribution| per position)
the AUROC is ~0.959 (CTCF) and ~0.958 (REST) with the default gradient correction, ~0.935 /
~0.945 without it.

Every test runs with one torch thread (``_one_thread`` in ``tests/conftest.py``): on a loaded
2-core machine, two threads make small forward passes 100x slower (OpenMP threads spin
waiting for each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from motiflens.config import RunConfig
from motiflens.data.hdf5 import read_split, target_labels
from motiflens.data.simulate import TaskSpec, read_ground_truth, simulate
from motiflens.models import SequenceModel
from motiflens.runs import Run
from motiflens.steps import train
from tests.conftest import SIM_LENGTH, one_layer_config

SIM_TASKS = (
    TaskSpec("CTCF", ["MA0139.2"], positive_rate=0.4),
    TaskSpec("REST", ["MA0138.3"], positive_rate=0.4),
)
SIM_CONFIG = one_layer_config(64)


@dataclass(frozen=True)
class TrainedSim:
    """A simulated dataset, a model trained on it, and the planted ground truth.

    Attributes
    ----------
    run_dir
        The training run directory (``config.yaml``, ``model.safetensors``, ...).
    dataset
        The simulated dataset file.
    model
        The trained model, eval mode, CPU.
    target_labels
        Task names in output order (``["CTCF", "REST"]``).
    x_test, y_test
        Test split: one-hot ``(N, 4, L)`` float32 and labels ``(N, T)``.
    ground_truth
        Planted sites of the test split (:func:`motiflens.data.simulate.read_ground_truth`).
    best_val_auroc
        Mean validation AUROC of the saved model.
    """

    run_dir: Path
    dataset: Path
    model: SequenceModel
    target_labels: list[str]
    x_test: np.ndarray
    y_test: np.ndarray
    ground_truth: pd.DataFrame
    best_val_auroc: float

    def motif_mask(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """Test rows positive for ``task`` and a ``(rows, L)`` mask of its planted sites."""
        k = self.target_labels.index(task)
        rows = np.flatnonzero(self.y_test[:, k] == 1)
        where = {int(r): i for i, r in enumerate(rows)}
        mask = np.zeros((len(rows), self.x_test.shape[-1]), dtype=bool)
        sites = self.ground_truth[self.ground_truth["task"] == task]
        for seq, start, end in zip(sites["seq"], sites["start"], sites["end"], strict=True):
            if int(seq) in where:
                mask[where[int(seq)], int(start) : int(end)] = True
        return rows, mask


@pytest.fixture(scope="session")
def trained_sim(tmp_path_factory: pytest.TempPathFactory) -> TrainedSim:
    root = tmp_path_factory.mktemp("trained_sim")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dataset = root / "sim.h5"
        simulate(
            dataset,
            tasks=SIM_TASKS,
            n_sequences=5000,
            length=SIM_LENGTH,
            seed=1,
            progress=False,
        )
        run_dir = root / "run"
        result = train(dataset, run_dir, RunConfig.from_dict(SIM_CONFIG), verbose=False)
    finally:
        torch.set_num_threads(before)
    model = Run(run_dir).model("cpu")
    x_test, y_test, _ = read_split(dataset, "test")
    return TrainedSim(
        run_dir=run_dir,
        dataset=dataset,
        model=model,
        target_labels=target_labels(dataset),
        x_test=x_test,
        y_test=y_test,
        ground_truth=read_ground_truth(dataset, "test"),
        best_val_auroc=float(result.best_score),
    )
