"""Bayesian hyperparameter search with Optuna over a YAML search space.

:mod:`motiflens.tuning.space` reads a search-space file (a run config plus ``search:``);
:mod:`motiflens.tuning.search` runs the study, one trained run directory per trial. The
run-level job, with the history figure, is :func:`motiflens.steps.tune`.
"""

from motiflens.tuning.search import (
    PRUNERS,
    SAMPLERS,
    PruningCallback,
    TrialFailed,
    TuneResult,
    base_params,
    default_storage,
    make_pruner,
    make_sampler,
    masked,
    trials_table,
    tune,
    write_outputs,
)
from motiflens.tuning.space import FIXED_KEYS, Param, SearchSpace, load_search_space

__all__ = [
    "FIXED_KEYS",
    "PRUNERS",
    "SAMPLERS",
    "Param",
    "PruningCallback",
    "SearchSpace",
    "TrialFailed",
    "TuneResult",
    "base_params",
    "default_storage",
    "load_search_space",
    "make_pruner",
    "make_sampler",
    "masked",
    "trials_table",
    "tune",
    "write_outputs",
]
