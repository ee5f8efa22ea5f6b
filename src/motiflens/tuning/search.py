"""The search: an Optuna study whose trials each train a run directory.

Each trial trains a normal run directory ``OUT/trials/<number>/``; the validation
metric (mean AUROC for binary targets, else validation loss) is reported to the trial
after every epoch so the pruner can stop hopeless trials. A trial whose configuration is
invalid (pools that shrink the sequence below one position, say) is marked FAILED with
the reason in its ``fail_reason`` user attribute, and the study goes on.

The tune directory after a search::

    study.db            Optuna storage (SQLite) unless --storage names another database
    tune.yaml           study name, storage, metric and direction (what resuming checks)
    trials/<n>/         one run directory per trial
    trials.tsv          one row per trial: state, value, parameters, duration, fail reason
    best_config.yaml    the best trial's RunConfig: ``motiflens train --config`` trains it

(:func:`motiflens.steps.tune` adds ``history.png``, drawn by
:mod:`motiflens.plots.tuning`.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import lightning as L
import optuna
import pandas as pd
import torch
import yaml
from lightning.pytorch.callbacks import Callback
from optuna.distributions import (
    CategoricalDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from motiflens.config import RunConfig
from motiflens.errors import InputError
from motiflens.files import atomic_path, write_text_atomic
from motiflens.runs import Run
from motiflens.training import monitor_for, train
from motiflens.tuning.space import SearchSpace, load_search_space, lookup

log = logging.getLogger(__name__)

SAMPLERS: tuple[str, ...] = ("tpe", "gp", "random")
PRUNERS: tuple[str, ...] = ("median", "hyperband", "none")


class TrialFailed(Exception):
    """A trial that cannot give a score (invalid architecture, no finite metric ...)."""


# ----------------------------------------------------------------------- pruning


class PruningCallback(Callback):
    """Report the validation metric to an Optuna trial each epoch; stop when told to prune.

    The run is stopped cleanly (``trainer.should_stop``) rather than by raising inside
    Lightning, so the trial's run directory still gets its weights and metrics table;
    the objective raises :class:`optuna.TrialPruned` afterwards when :attr:`pruned_at`
    is set.

    Parameters
    ----------
    trial
        The running trial.
    monitor
        Logged metric to report (``val_auroc``, ``val_loss`` ...).
    """

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor
        #: The epoch (from 1) after which the trial was pruned, if it was.
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the epoch's validation: the module has logged the epoch metric by now
        # (callbacks' on_validation_epoch_end runs before the module's).
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not math.isfinite(value):
            return
        epoch = trainer.current_epoch  # from 0: Optuna's steps index the epochs
        self.trial.report(value, step=epoch)
        # A trial that has trained all its epochs is complete: pruning it then would
        # only hide its result from the sampler.
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        if not last and self.trial.should_prune():
            self.pruned_at = epoch + 1
            trainer.should_stop = True


# ------------------------------------------------------------------------ tuning


@dataclass
class TuneResult:
    """What :func:`tune` left in the study and the tune directory."""

    out: Path
    study_name: str
    storage: str
    metric: str
    direction: str
    counts: dict[str, int]
    best_number: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {state.lower()}" for state, n in self.counts.items() if n)
        lines = [f"study {self.study_name!r} in {self.storage}: {counts or 'no trials'}"]
        if self.best_number is None:
            lines.append("no trial has completed yet: no best configuration")
        else:
            lines.append(
                f"best trial {self.best_number}: {self.metric} {self.best_value:.4f} "
                f"({self.direction}); run directory {self.out / 'trials' / str(self.best_number)}"
            )
            lines += [f"  {k} = {v}" for k, v in self.best_params.items()]
            lines.append(
                f"train it again: motiflens train DATASET RUN --config "
                f"{self.out / 'best_config.yaml'}"
            )
        return "\n".join(lines)


def default_storage(out: str | Path) -> str:
    """The SQLite URL of ``OUT/study.db`` (absolute, so any working directory works)."""
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def masked(url: str) -> str:
    """A storage URL with its password replaced by ``***`` (for logs and files)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def make_sampler(
    name: str, random_state: int | None = None, startup_trials: int = 10
) -> optuna.samplers.BaseSampler:
    """An Optuna sampler by name: ``tpe`` (default), ``gp`` (Gaussian process) or ``random``.

    Parameters
    ----------
    name
        One of :data:`SAMPLERS`.
    random_state
        Seed of the sampler (give each worker its own, or none).
    startup_trials
        Random trials before the model-based sampler takes over.
    """
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=random_state, multivariate=True, n_startup_trials=startup_trials
        )
    if name == "gp":
        # Basset was tuned with Spearmint: Bayesian optimisation with a Gaussian process.
        return optuna.samplers.GPSampler(seed=random_state, n_startup_trials=startup_trials)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=random_state)
    raise InputError(f"unknown sampler {name!r}", hint=f"choose one of {', '.join(SAMPLERS)}")


def make_pruner(name: str, max_epochs: int, warmup: int = 2) -> optuna.pruners.BasePruner:
    """An Optuna pruner by name: ``median``, ``hyperband`` or ``none``.

    Parameters
    ----------
    name
        One of :data:`PRUNERS`.
    max_epochs
        Most epochs of a trial (Hyperband's largest budget).
    warmup
        Median: epochs a trial always trains before it can be pruned.
    """
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise InputError(f"unknown pruner {name!r}", hint=f"choose one of {', '.join(PRUNERS)}")


def _storage(url: str) -> optuna.storages.RDBStorage:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # several local workers on one file: wait for the write lock instead of failing
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            # Heartbeats: a trial whose worker was killed is marked FAILED by the next
            # worker instead of staying RUNNING forever.
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=60, grace_period=180, **kwargs
            )
        except ImportError as err:
            raise InputError(
                f"no database driver for {masked(url)}: {err}",
                hint="install the driver (PostgreSQL: psycopg2-binary, MySQL: pymysql)",
            ) from None
        except Exception as err:
            # SQLAlchemy's errors for a bad URL or an unreachable server
            raise InputError(f"cannot open the study storage {masked(url)}: {err}") from None


def _dataset_shape(path: Path) -> tuple[int, int]:
    """``(n_targets, length)`` of a dataset file that has a validation split."""
    if not path.exists():
        raise InputError("dataset file not found", path=path)
    if not h5py.is_hdf5(path):
        raise InputError("not an HDF5 dataset file", path=path)
    with h5py.File(path, "r") as h5:
        if "valid_in" not in h5 or "train_in" not in h5:
            raise InputError(
                "tuning needs train and valid splits (trials are scored on valid)", path=path
            )
        return int(h5["train_out"].shape[1]), int(h5["train_in"].shape[-1])


def _check_tune_dir(out: Path, info: dict[str, Any]) -> None:
    """Refuse to mix two studies' trial directories in one tune directory."""
    path = out / "tune.yaml"
    if path.exists():
        old = yaml.safe_load(path.read_text()) or {}
        if old.get("study_name") not in (None, info["study_name"]):
            raise InputError(
                f"this directory holds study {old['study_name']!r}, not "
                f"{info['study_name']!r}: their trials/<number> directories would collide",
                path=path,
                hint="use another output directory, or the same --study-name",
            )
    write_text_atomic(path, yaml.safe_dump(info, sort_keys=False))


def _reason(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


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
    on_finish: Callable[[optuna.Study, str], Sequence[Path]] | None = None,
) -> TuneResult:
    """Search hyperparameters: train one run per trial and keep the best configuration.

    Running it again with the same output directory (or storage and study name)
    continues the study. Many workers, on many machines, can run it at once against
    one database ``storage``.

    Parameters
    ----------
    dataset
        Dataset file with ``train`` and ``valid`` splits.
    out
        Tune directory (created): ``study.db``, ``trials/<n>/``, ``trials.tsv``,
        ``best_config.yaml``.
    space
        A :class:`SearchSpace` or the path of its YAML file.
    n_trials, timeout
        Trials to run in this call, and seconds after which no new trial starts (a
        running trial finishes). Both ``None``: run until interrupted.
    max_total
        Stop once the study (all workers together) has this many finished trials.
    storage
        Optuna storage URL (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``,
        ``sqlite:///path``); default SQLite ``OUT/study.db``.
    study_name
        Study within the storage.
    sampler
        ``"tpe"``, ``"gp"`` or ``"random"`` (see :func:`make_sampler`).
    pruner
        ``"median"``, ``"hyperband"``, ``"none"`` or an Optuna pruner.
    random_state
        Sampler seed (each worker of a shared study needs its own, or none).
    startup_trials
        Random trials before TPE/GP model the results.
    baseline
        Make the first trial of a new study the base config itself (when the search
        space holds its values), so the search starts from a known score.
    accelerator
        Lightning accelerator of each trial's training (``auto``, ``cpu``, ``gpu``).
    verbose
        Show a progress bar over trials.
    echo
        Called with one line per finished trial (default: log at INFO level).
    on_finish
        Called with the study and the metric's name when the search stops (also after
        Ctrl-C), once the study has a trial; the files it returns are added to the
        result's (:func:`motiflens.steps.tune` draws ``history.png`` with it).

    Returns
    -------
    TuneResult

    Raises
    ------
    InputError
        Bad search space, dataset without a validation split, a base config that does
        not fit the dataset, an unusable storage, or a study that disagrees with this one.
    """
    dataset, out = Path(dataset), Path(out)
    if not isinstance(space, SearchSpace):
        space = load_search_space(space)
    n_targets, length = _dataset_shape(dataset)
    base = RunConfig.from_dict(space.base).fitted_to(n_targets, length)
    metric, mode = monitor_for(base.model.task, True, base.training.monitor)
    direction = "maximize" if mode == "max" else "minimize"
    url = storage or default_storage(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "study_name": study_name,
        "storage": masked(url),
        "search_space": str(space.path) if space.path else None,
        "dataset": str(dataset.resolve()),
        "metric": metric,
        "direction": direction,
    }
    chosen = make_sampler(sampler, random_state, startup_trials)
    if isinstance(pruner, str):
        pruner = make_pruner(pruner, base.training.max_epochs)
    _check_tune_dir(out, info)
    # Optuna logs every trial (failures with a traceback); after_trial says it shorter.
    with _optuna_verbosity(optuna.logging.ERROR):
        study = optuna.create_study(
            storage=_storage(url),
            study_name=study_name,
            sampler=chosen,
            pruner=pruner,
            direction=direction,
            load_if_exists=True,
        )
    if study.direction.name.lower() != direction:
        raise InputError(
            f"study {study_name!r} in {masked(url)} {study.direction.name.lower()}s its "
            f"objective but this search {direction}s {metric}",
            hint="use another --study-name",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # trials of killed workers, now, so that tables and --max-total count them
        optuna.storages.fail_stale_trials(study)
    say = echo or log.info
    _remember_space(study, space, say)
    if baseline and not study.get_trials(deepcopy=False):
        values = base_params(space)
        if values is not None:
            # skip_if_exists: several workers starting a new study enqueue it once
            study.enqueue_trial(values, skip_if_exists=True)

    def objective(trial: optuna.Trial) -> float:
        return _run_trial(trial, space, dataset, out, metric, accelerator)

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        say(_trial_line(study, trial, metric))
        write_outputs(study, out, space, metric)

    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = [after_trial]
    if max_total is not None:
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        callbacks.append(optuna.study.MaxTrialsCallback(max_total, states=states))
    try:
        if max_total is None or _finished(study) < max_total:
            with _optuna_verbosity(optuna.logging.ERROR):
                study.optimize(
                    objective,
                    n_trials=n_trials,
                    timeout=timeout,
                    catch=(TrialFailed,),
                    callbacks=callbacks,
                    show_progress_bar=verbose and (n_trials is not None or timeout is not None),
                )
    finally:
        # also after Ctrl-C: the tables then show every trial that finished
        files = write_outputs(study, out, space, metric)
        if on_finish is not None and study.get_trials(deepcopy=False):
            files += list(on_finish(study, metric))
    return _result(study, out, url, metric, direction, space, files)


@contextlib.contextmanager
def _optuna_verbosity(level: int) -> Iterator[None]:
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def base_params(space: SearchSpace) -> dict[str, Any] | None:
    """The base config's own values as trial parameters (as Optuna stores them).

    ``None`` when a value lies outside its distribution, or a list whose entries
    differ is searched with one number.
    """
    full = RunConfig.from_dict(space.base).to_dict()
    values = {}
    for param in space.params:
        value = lookup(full, param.key)
        d = param.distribution
        if isinstance(d, CategoricalDistribution):
            stored = json.dumps(value) if param.encoded else value
            if isinstance(value, list) and not param.encoded:
                stored = value[0] if value and all(v == value[0] for v in value) else None
            if stored not in d.choices:
                return None
        else:
            if isinstance(value, list):
                if not value or any(v != value[0] for v in value):
                    return None
                value = value[0]
            if not isinstance(value, int | float) or not d.low <= value <= d.high:
                return None
            steps = None if d.step is None else (value - d.low) / d.step
            if steps is not None and abs(steps - round(steps)) > 1e-9:
                return None
            stored = int(value) if isinstance(d, IntDistribution) else float(value)
        values[param.key] = stored
    return values


def _run_trial(
    trial: optuna.Trial,
    space: SearchSpace,
    dataset: Path,
    out: Path,
    metric: str,
    accelerator: str,
) -> float:
    """Train one trial's configuration; its best validation score is the objective."""
    values = {p.key: p.suggest(trial) for p in space.params}
    run = Run(out / "trials" / str(trial.number))
    trial.set_user_attr("run_dir", str(run.path))

    def fail(reason: str) -> TrialFailed:
        trial.set_user_attr("fail_reason", reason)
        return TrialFailed(reason)

    try:
        config = space.config_for(values)
    except InputError as err:
        raise fail(f"invalid config: {_reason(err)}") from None
    pruning = PruningCallback(trial, metric)
    try:
        result = train(
            dataset,
            run,
            config,
            devices=1,
            accelerator=accelerator,
            verbose=False,
            log_epochs=False,  # a study's own trial lines say enough
            callbacks=[pruning],
        )
    except (ValueError, torch.OutOfMemoryError) as err:
        # ValueError (and InputError): build_model refuses the architecture (a layer
        # left with no positions, ...). Out of memory: too big for this device.
        raise fail(_reason(err)) from None
    except (KeyboardInterrupt, SystemExit):
        # Lightning answers Ctrl-C with sys.exit(1), which Optuna would not see: the
        # trial would stay RUNNING. As KeyboardInterrupt, Optuna marks it FAILED and stops.
        trial.set_user_attr("fail_reason", "interrupted")
        raise KeyboardInterrupt from None
    # a trial's run directory is a run like any other: its manifest says what trained it
    run.record_step("train", result.outputs, **result.manifest_info())
    if pruning.pruned_at is not None:
        trial.set_user_attr("pruned_at_epoch", pruning.pruned_at)
        raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
    if result.best_score is None:
        raise fail(f"no finite {result.monitor} in any epoch")
    return result.best_score


def _finished(study: optuna.Study) -> int:
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=states))


def _remember_space(study: optuna.Study, space: SearchSpace, say: Callable[[str], None]) -> None:
    """Store the space with a new study; on resume, say when the file has changed."""
    stored = study.user_attrs.get("search_space")
    now = json.loads(json.dumps(space.to_dict()))
    if stored is None:
        study.set_user_attr("search_space", now)
    elif stored != now:
        say(
            "note: the search space differs from the one this study started with; "
            "earlier trials stay in the study (use a new --study-name to start afresh)"
        )


def _best(study: optuna.Study) -> FrozenTrial | None:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return None
    pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(done, key=lambda t: t.value)


def _trial_line(study: optuna.Study, trial: FrozenTrial, metric: str) -> str:
    state = trial.state.name
    if trial.state == TrialState.FAIL:
        reason = trial.user_attrs.get("fail_reason", "see the log above")
        return f"trial {trial.number} FAILED: {reason}"
    params = "  ".join(f"{k}={v}" for k, v in trial.params.items())
    if trial.state == TrialState.PRUNED:
        epoch = trial.user_attrs.get("pruned_at_epoch")
        when = "" if epoch is None else f" after epoch {epoch}"
        return f"trial {trial.number} PRUNED{when}  {params}"
    best = _best(study)
    best_text = "" if best is None else f"  (best: trial {best.number}, {best.value:.4f})"
    return f"trial {trial.number} {state} {metric} {trial.value:.4f}{best_text}  {params}"


def trials_table(study: optuna.Study, space: SearchSpace) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs, seconds, parameters, fail reason."""
    keys = [p.key for p in space.params]
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = t.duration.total_seconds() if t.duration is not None else None
        reason = t.user_attrs.get("fail_reason", "")
        if t.state == TrialState.FAIL and not reason:
            reason = "no result recorded: the worker stopped (killed, timed out or lost)"
        row = {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "epochs": len(t.intermediate_values),
            "seconds": None if seconds is None else round(seconds, 2),
        }
        by_key = {p.key: p for p in space.params}
        for k, v in t.params.items():  # keys of an older space too, after the current ones
            row[k] = json.dumps(by_key[k].decode(v) if k in by_key else v)
        row["fail_reason"] = reason
        rows.append(row)
    table = pd.DataFrame(rows)
    older = [c for c in table.columns if c not in keys and "." in c]
    return table.reindex(
        columns=["number", "state", "value", "epochs", "seconds", *keys, *older, "fail_reason"]
    )


def write_outputs(
    study: optuna.Study,
    out: str | Path,
    space: SearchSpace,
    metric: str,
) -> list[Path]:
    """Write ``trials.tsv`` and ``best_config.yaml`` (once a trial completed).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    files = []
    path = out / "trials.tsv"
    with atomic_path(path) as tmp:
        trials_table(study, space).to_csv(tmp, sep="\t", index=False, na_rep="")
    files.append(path)
    best = _best(study)
    if best is not None:
        values = _decoded(best, space)
        # a key the search space no longer has (edited between runs) cannot be set
        dropped = [k for k in best.params if k not in values]
        config = space.config_for(values)
        header = (
            f"# best trial {best.number} of study {study.study_name!r}: {metric} "
            f"{best.value:.6g}\n# its run directory: {out / 'trials' / str(best.number)}\n"
        )
        if dropped:
            header += f"# not set (no longer in the search space): {', '.join(dropped)}\n"
        text = header + yaml.dump(config.to_dict(), Dumper=_ConfigDumper, sort_keys=False)
        files.append(write_text_atomic(out / "best_config.yaml", text))
    return files


class _ConfigDumper(yaml.SafeDumper):
    """Block-style mappings with one-line lists: ``filters: [128, 64, 64]``."""

    def represent_list(self, data: list) -> yaml.Node:
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_ConfigDumper.add_representer(list, _ConfigDumper.represent_list)


def _result(
    study: optuna.Study,
    out: Path,
    url: str,
    metric: str,
    direction: str,
    space: SearchSpace,
    files: list[Path],
) -> TuneResult:
    counts = {
        s.name: 0
        for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    }
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    result = TuneResult(out, study.study_name, masked(url), metric, direction, counts, files=files)
    best = _best(study)
    if best is not None:
        result.best_number = best.number
        result.best_value = best.value
        result.best_params = _decoded(best, space)
    return result


def _decoded(trial: FrozenTrial, space: SearchSpace) -> dict[str, Any]:
    """A trial's parameters as config values, for the keys the search space has."""
    by_key = {p.key: p for p in space.params}
    return {k: by_key[k].decode(v) for k, v in trial.params.items() if k in by_key}
