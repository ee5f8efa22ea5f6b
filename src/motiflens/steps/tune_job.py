"""The tune step: a hyperparameter search, its tables and its history figure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna

from motiflens.plots.tuning import plot_history
from motiflens.tuning import SearchSpace, TuneResult
from motiflens.tuning import tune as search

#: The history figure, in the tune directory.
HISTORY = "history.png"


def tune(
    dataset: str | Path,
    out: str | Path,
    space: SearchSpace | str | Path,
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    max_total: int | None = None,
    storage: str | None = None,
    study_name: str = "motiflens",
    sampler: str = "tpe",
    pruner: str | optuna.pruners.BasePruner = "median",
    random_state: int | None = None,
    startup_trials: int = 10,
    baseline: bool = True,
    accelerator: str = "auto",
    verbose: bool = True,
    echo: Callable[[str], None] | None = None,
) -> TuneResult:
    """Search hyperparameters (:func:`motiflens.tuning.tune`) and draw the history.

    Each trial trains a run directory ``OUT/trials/<n>/`` (with its ``train`` step
    recorded); the tune directory gets ``trials.tsv``, ``best_config.yaml`` and
    ``history.png`` (objective per trial, best so far, per-epoch curves), the figure also
    after an interrupted search. The parameters are those of
    :func:`motiflens.tuning.tune`.

    Returns
    -------
    TuneResult
        Its ``files`` include the figure.

    Examples
    --------
    >>> result = tune("data.h5", "tune", "space.yaml", n_trials=20)
    >>> result.best_params
    {'training.lr': 0.0021}
    """
    out = Path(out)

    def draw(study: optuna.Study, metric: str) -> list[Path]:
        return [plot_history(study, out / HISTORY, metric)]

    return search(
        dataset,
        out,
        space,
        n_trials=n_trials,
        timeout=timeout,
        max_total=max_total,
        storage=storage,
        study_name=study_name,
        sampler=sampler,
        pruner=pruner,
        random_state=random_state,
        startup_trials=startup_trials,
        baseline=baseline,
        accelerator=accelerator,
        verbose=verbose,
        echo=echo,
        on_finish=draw,
    )
