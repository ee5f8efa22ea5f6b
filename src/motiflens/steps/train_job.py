"""The train step: a model trained into a run directory, its curves drawn, the step recorded.

Everything that can be checked before training is, before anything is written: the
dataset (target names, its splits), the model (built on the meta device, so a config
that cannot build one leaves no run behind), and for ``resume`` the checkpoint (readable,
and written by the model the config describes). The run directory is locked for the
whole step (:meth:`motiflens.runs.Run.lock`); a run already there is refused unless the
call resumes or overwrites it.
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import h5py
import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from motiflens.config import RunConfig
from motiflens.data.hdf5 import SequenceDataset
from motiflens.errors import InputError
from motiflens.models import build_model
from motiflens.plots.training import plot_training_curves
from motiflens.runs import CONFIG, Run, as_run, config_changes, helper_process
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
    overwrite: bool = False,
    devices: int | str = "auto",
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
    verbose: bool = True,
    log_epochs: bool = True,
    check_resources: bool = True,
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
        The run directory (created), or a :class:`~motiflens.runs.Run`. It is locked for
        the whole call: another process writing there makes this call fail at once, and
        the other way round.
    config
        Model + training configuration; ``model.n_targets`` and ``model.length`` left at
        0 are taken from the dataset.
    resume
        Continue from the run's last checkpoint.
    overwrite
        Replace a run already in the directory. Its contents are set aside until the new
        training writes its first checkpoint, then deleted; a training that fails before
        that puts them back (:meth:`~motiflens.runs.Run.replacing`).
    devices, num_nodes, strategy, accelerator
        Lightning's (e.g. ``devices=2, strategy="ddp"``).
    verbose, log_epochs, check_resources
        As in :func:`motiflens.training.train` (progress bar; per-epoch lines without
        one; the resource guard).
    callbacks
        Extra Lightning callbacks.

    Returns
    -------
    TrainResult
        Its ``outputs`` include the figure (rank 0 of a multi-process run; the other
        processes draw and record nothing).

    Raises
    ------
    InputError
        The directory holds a run and neither ``resume`` nor ``overwrite`` is given (or
        both are); ``resume`` without a readable checkpoint of this config's model; a
        dataset without target names or with an incomplete split; a config that builds
        no model; another process using the directory
        (:class:`~motiflens.locks.DirectoryInUse`).

    Examples
    --------
    >>> from motiflens.steps import train
    >>> result = train("data.h5", "runs/basset", RunConfig())
    >>> result.best_epoch, result.best_score
    (7, 0.912)
    """
    run = as_run(run)
    if resume and overwrite:
        raise InputError(
            "resume and overwrite exclude each other",
            hint="--resume continues the run's training, --overwrite replaces the run",
        )
    options = {
        "resume": resume,
        "devices": devices,
        "num_nodes": num_nodes,
        "strategy": strategy,
        "accelerator": accelerator,
        "verbose": verbose,
        "log_epochs": log_epochs,
        "check_resources": check_resources,
    }
    if helper_process():
        # Another process of a multi-process training (rank > 0): rank 0 checked, locked
        # and prepared the directory, and writes everything.
        return train_model(dataset, run, config, callbacks=callbacks, **options)
    if resume and not run.last_checkpoint.is_file():
        check_checkpoint(run, config)  # the error, before the lock creates the directory
    if not (resume or overwrite) and run.started():
        _refuse(run)  # before the inputs are read (checked again under the lock)
    fitted = check_inputs(dataset, config)
    created = not run.path.exists()
    with run.lock():
        if resume:
            check_checkpoint(run, fitted)
        elif run.started() and not overwrite:
            _refuse(run)
        with contextlib.nullcontext() if resume else run.replacing(created=created):
            extra = [] if resume else [_DropReplaced(run)]
            result = train_model(
                dataset, run, config, callbacks=[*(callbacks or []), *extra], **options
            )
            if not result.is_global_zero:
                return result
            if run.training_table.exists():
                table = pd.read_csv(run.training_table, sep="\t")
                if len(table):
                    result.outputs.append(plot_training_curves(table, run.training_figure))
            run.record_step("train", result.outputs, **result.manifest_info())
    return result


def check_inputs(dataset: str | Path, config: RunConfig) -> RunConfig:
    """The config fitted to the dataset, once both are known to make a model; writes nothing.

    Checks the dataset's target names and every split it has (a validation split without
    its targets used to be skipped silently) and builds the model on the meta device (no
    memory), so that a config that cannot become a model fails before a run is written.

    Raises
    ------
    InputError
        What is wrong, naming the file.
    """
    dataset = Path(dataset)
    train_split = SequenceDataset(dataset, "train")  # the file, target_labels, the split
    with h5py.File(dataset, "r") as h5:
        others = [s for s in ("valid", "test") if f"{s}_in" in h5 or f"{s}_out" in h5]
    for split in others:
        SequenceDataset(dataset, split)  # an incomplete split is an InputError
    fitted = config.fitted_to(n_targets=train_split.n_targets, length=train_split.length)
    with torch.device("meta"):
        build_model(fitted.model, check_resources=False)  # the guard runs in training
    return fitted


def check_checkpoint(run: Run, config: RunConfig) -> None:
    """Refuse to resume from a missing, unreadable or foreign ``checkpoints/last.ckpt``.

    Foreign: written by another model than ``config`` describes (the message names the
    first config field that differs, else the first weight whose shape does).
    """
    path = run.last_checkpoint
    if not path.is_file():
        raise InputError(
            "cannot resume: the run has no checkpoint",
            path=path,
            hint="train without --resume"
            + (" (add --overwrite to replace the run there)" if run.started() else ""),
        )
    damaged = "not a readable checkpoint (truncated or damaged?)"
    hint = "train the run again with --overwrite"
    if not zipfile.is_zipfile(path):  # what torch.save writes; mmap below needs it too
        raise InputError(damaged, path=path, hint=hint)
    try:
        # mmap: the tensors are checked by shape, not read
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # torch reports a damaged file in several ways
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise InputError(f"{damaged}: {first}", path=path, hint=hint) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise InputError(
            "not a checkpoint written by motiflens train (no state_dict)",
            path=path,
            hint=hint,
        )
    hparams = ckpt.get("hyper_parameters")
    saved = hparams.get("model") if isinstance(hparams, dict) else None
    if isinstance(saved, dict):
        changed = config_changes(saved, config.model.to_dict())
        if changed:
            field, was, now = changed[0]
            raise InputError(
                f"the checkpoint was trained with {field} {was!r}, the config says {now!r}",
                path=path,
                hint=f"resume with the run's own {CONFIG} (drop --config, undo the edit) "
                "or train anew with --overwrite",
            )
    with torch.device("meta"):
        reference = build_model(config.model, check_resources=False)
    want = {f"model.{k}": tuple(v.shape) for k, v in reference.state_dict().items()}
    have = {
        k: tuple(v.shape)
        for k, v in ckpt["state_dict"].items()
        if k.startswith("model.") and isinstance(v, torch.Tensor)
    }
    if want != have:
        name = sorted(set(want) ^ set(have) or {k for k in want if want[k] != have[k]})[0]
        raise InputError(
            f"the checkpoint's weights do not fit the config's model (first: {name} "
            f"{have.get(name)} in the checkpoint, {want.get(name)} for the config)",
            path=path,
            hint=f"resume with the run's own {CONFIG} or train anew with --overwrite",
        )


def _refuse(run: Run) -> None:
    paths = (run.config_path, run.weights_path, run.manifest_path, run.checkpoints_dir)
    found = ", ".join(run.relative(p) for p in paths if p.exists())
    raise InputError(
        f"{run.path} already holds a run ({found})",
        hint="continue its training with --resume, replace it with --overwrite, "
        "or train into another directory",
    )


class _DropReplaced(Callback):
    """Delete the contents an overwrite set aside once the new run has a checkpoint."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def _check(self, trainer: L.Trainer) -> None:
        if trainer.is_global_zero and self.run.last_checkpoint.is_file():
            self.run.drop_replaced()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)
