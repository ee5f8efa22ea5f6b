"""Run-level jobs: a run (or its path) and options in, outputs written through Run.

Each function takes a :class:`motiflens.runs.Run` (or a run directory's path), computes
through the compute API, writes its files through the run (per-sequence arrays in the
:mod:`motiflens.results` convention), records itself in the run's manifest and returns a
result object. The CLI verbs are thin layers over these. (The HTML report is
:func:`motiflens.dashboard.export.report`: it renders the dashboard's page, a layer above.)
"""

from motiflens.steps.evaluate import evaluate, run_baseline
from motiflens.steps.explain import ism, saliency, temporal
from motiflens.steps.igv import igv_session
from motiflens.steps.modisco import hits, modisco
from motiflens.steps.motifs import filters, insert
from motiflens.steps.optimize import optimize
from motiflens.steps.predict import predict
from motiflens.steps.scan import scan
from motiflens.steps.track_hub import track_hub
from motiflens.steps.train import run_config, train
from motiflens.steps.tune import tune
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
