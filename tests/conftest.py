"""Fixtures shared by several test folders.

``trained_motifs`` (session scope) simulates five single-motif tasks (CTCF, REST, SPI1,
AP-1 (FOSL2), SOX2; 8,000 x 100 bp) and trains a one-layer Basset (48 filters of width 19,
global max pool) on them for 10 epochs: about 15 s on one thread. The motif checks
(filters recover the planted motifs, insertion ranks them first) and the dashboard's
browser test of the filters page use it.
"""

from __future__ import annotations

import os

# The fault tests fork the test process. After torch has used GNU OpenMP here, numba's
# default "omp" layer hangs in a forked child at its first parallel loop (memelite's
# TomTom), or numba ends the child ("fork() called from a process already using GNU
# OpenMP"). Its "workqueue" layer is safe across fork; set before numba is imported.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from motiflens.config import RunConfig
from motiflens.data.hdf5 import target_labels
from motiflens.data.simulate import TaskSpec, simulate
from motiflens.models import SequenceModel
from motiflens.runs import Run
from motiflens.steps import train

SIM_LENGTH = 100


# Model-facing tests take a ``device`` argument and run on each device present.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """``"cpu"``, and ``"cuda"`` too where a GPU is present."""
    return request.param


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test runs with one torch thread.

    The test models are tiny: thread hand-offs cost more than the arithmetic, and on a
    loaded 2-core machine two threads made small forward passes 10-100x slower (OpenMP
    threads spin waiting for each other).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Five single-motif tasks for the motif-discovery checks (filters, insertion): enough
# planted motifs that "at least 80% recovered" means something.
MOTIF_TASKS = (
    TaskSpec("CTCF", ["MA0139.2"], positive_rate=0.3),
    TaskSpec("REST", ["MA0138.3"], positive_rate=0.3),
    TaskSpec("SPI1", ["MA0080.7"], positive_rate=0.3),
    TaskSpec("AP-1", ["MA0478.2"], positive_rate=0.3),
    TaskSpec("SOX2", ["MA0143.5"], positive_rate=0.3),
)


def one_layer_config(filters: int, length: int = SIM_LENGTH) -> dict:
    """A DeepBind-like one-layer "Basset": ``filters`` of width 19, one max-pool over all
    positions, no hidden layer, no batch norm; 10 epochs of the DeMo preset (lr 0.01)."""
    return {
        "model": {
            "name": "basset",
            "arch": {
                "filters": [filters],
                "sizes": [19],
                "pools": [length - 19 + 1],
                "hidden": [],
                "batch_norm": False,
            },
        },
        "training": {
            "preset": "demo",
            "lr": 0.01,
            "batch_size": 64,
            "max_epochs": 10,
            "patience": 50,
            "seed": 1,
        },
    }


MOTIF_CONFIG = one_layer_config(48)


@dataclass(frozen=True)
class TrainedMotifs:
    """Dataset, run directory and model of the five-motif simulation (see MOTIF_TASKS)."""

    run_dir: Path
    dataset: Path
    model: SequenceModel
    target_labels: list[str]
    planted: dict[str, str]  # task -> JASPAR id


@pytest.fixture(scope="session")
def trained_motifs(tmp_path_factory: pytest.TempPathFactory) -> TrainedMotifs:
    root = tmp_path_factory.mktemp("trained_motifs")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dataset = root / "sim.h5"
        simulate(dataset, tasks=MOTIF_TASKS, n_sequences=8000, length=SIM_LENGTH, seed=2,
                 progress=False)  # fmt: skip
        run_dir = root / "run"
        train(dataset, run_dir, RunConfig.from_dict(MOTIF_CONFIG), verbose=False)
    finally:
        torch.set_num_threads(before)
    model = Run(run_dir).model("cpu")
    return TrainedMotifs(
        run_dir=run_dir,
        dataset=dataset,
        model=model,
        target_labels=target_labels(dataset),
        planted={t.name: t.motifs[0] for t in MOTIF_TASKS},
    )
