"""Run-level jobs: a run (or its path) and options in, outputs written through Run.

Each function takes a :class:`motiflens.runs.Run` (or a run directory's path), computes
through the compute API, writes its files through the run (per-sequence arrays in the
:mod:`motiflens.results` convention), records itself in the run's manifest and returns a
result object. The CLI verbs are thin layers over these. (The HTML report is
:func:`motiflens.dashboard.export.report`: it renders the dashboard's page, a layer above.)

:func:`train`, :func:`run_config` and :func:`tune` load on first use: they need Lightning,
which takes over a second to import, and every command line call imports this package.
"""

import importlib
from typing import Any

from motiflens.steps.evaluate import evaluate, run_baseline
from motiflens.steps.explain import ism, saliency, temporal
from motiflens.steps.igv import igv_session
from motiflens.steps.modisco import hits, modisco
from motiflens.steps.motifs import filters, insert
from motiflens.steps.optimize import optimize
from motiflens.steps.predict import predict
from motiflens.steps.scan import scan
from motiflens.steps.track_hub import track_hub
from motiflens.steps.variants import variants

__all__ = [
    "evaluate",
    "filters",
    "hits",
    "igv_session",
    "insert",
    "ism",
    "modisco",
    "optimize",
    "predict",
    "run_baseline",
    "run_config",
    "saliency",
    "scan",
    "temporal",
    "track_hub",
    "train",
    "tune",
    "variants",
]

#: Names loaded on first use, and the module that defines each.
_LAZY = {"train": "train_job", "run_config": "train_job", "tune": "tune_job"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"motiflens.steps.{_LAZY[name]}"), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'motiflens.steps' has no attribute {name!r}")
