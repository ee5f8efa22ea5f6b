"""The train step: a model trained into a run directory, its curves drawn, the step recorded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from lightning.pytorch.callbacks import Callback

from motiflens.config import RunConfig
from motiflens.plots.training import plot_training_curves
from motiflens.runs import Run, as_run
from motiflens.training import TrainResult
from motiflens.training import train as train_model


def run_config(
    config: RunConfig | str | Path | None = None,
    *,
    model: str | None = None,
    preset: str | None = None,
    **training: object,
) -> RunConfig:
    """A run config from a YAML file (or config) with command-line style overrides.

    Parameters
    ----------
    config
        A :class:`RunConfig`, the path of its YAML, or None for the defaults.
    model
        An architecture name; another one than the config's replaces the model section
        (keeping the task).
    preset
        An optimizer preset (``basset``, ``demo``, or ``auto``: the model's own); it brings
        its own optimizer settings (only ``patience``, ``monitor`` and ``seed`` are kept
        from the config). Without a config or preset, each model gets its own paper's.
    **training
        Training settings to set (``max_epochs``, ``lr``, ``seed`` ...); None is ignored.
    """
    if isinstance(config, RunConfig):
        base = config.to_dict()
    elif config:
        base = RunConfig.load_yaml(config).to_dict()
    else:  # the defaults: the training preset follows the model (preset: auto)
        base = {"model": RunConfig().to_dict()["model"], "training": {}}
    if model is not None and model != base["model"]["name"]:
        base["model"] = {"name": model, "task": base["model"]["task"]}
    settings = base["training"]
    if preset is not None:
        kept = ("patience", "monitor", "seed")
        settings = {k: v for k, v in settings.items() if k in kept}
        settings["preset"] = preset
    settings.update({k: v for k, v in training.items() if v is not None})
    return RunConfig.from_dict({"model": base["model"], "training": settings})


def train(
    dataset: str | Path,
    run: Run | str | Path,
    config: RunConfig,
    *,
    resume: bool = False,
    devices: int | str = "auto",
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
    verbose: bool = True,
    callbacks: list[Callback] | None = None,
) -> TrainResult:
    """Train a model on a dataset file into a run directory.

    Runs :func:`motiflens.training.train` (config, best weights, target names,
    checkpoints, per-epoch metrics table), then draws the training curves
    (``Run.training_figure``) and records the ``train`` step in the manifest.

    Parameters
    ----------
    dataset
        Dataset file with ``train`` (and ideally ``valid``) splits.
    run
        The run directory (created), or a :class:`~motiflens.runs.Run`.
    config
        Model + training configuration; ``model.n_targets`` and ``model.length`` left at
        0 are taken from the dataset.
    resume
        Continue from the run's last checkpoint.
    devices, num_nodes, strategy, accelerator
        Lightning's (e.g. ``devices=2, strategy="ddp"``).
    verbose
        Show the progress bar.
    callbacks
        Extra Lightning callbacks.

    Returns
    -------
    TrainResult
        Its ``outputs`` include the figure (rank 0 of a multi-process run; the other
        processes draw and record nothing).

    Examples
    --------
    >>> from motiflens.steps.train import train
    >>> result = train("data.h5", "runs/basset", RunConfig())
    >>> result.best_epoch, result.best_score
    (7, 0.912)
    """
    run = as_run(run)
    result = train_model(
        dataset,
        run,
        config,
        resume=resume,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        accelerator=accelerator,
        verbose=verbose,
        callbacks=callbacks,
    )
    if not result.is_global_zero:
        return result
    if run.training_table.exists():
        table = pd.read_csv(run.training_table, sep="\t")
        if len(table):
            result.outputs.append(plot_training_curves(table, run.training_figure))
    run.record_step("train", result.outputs, **result.manifest_info())
    return result
