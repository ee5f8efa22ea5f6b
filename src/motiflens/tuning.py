"""Bayesian hyperparameter search with Optuna over a YAML search space.

A search-space file is a run config (what ``motiflens train --config`` reads) with a
``search:`` mapping of dotted config keys to distributions::

    model:
      name: basset
      arch: {filters: [128, 64, 64], sizes: [19, 11, 7], pools: [3, 4, 4], hidden: [128]}
    training: {preset: basset, max_epochs: 8, patience: 3}
    search:
      model.arch.filters: {type: int, low: 32, high: 300, log: true}   # every layer
      model.arch.filters[0]: {type: int, low: 32, high: 300}           # the first only
      model.arch.sizes: {type: categorical, choices: [[19, 11, 7], [21, 11, 7]]}
      model.arch.hidden_dropout: {type: float, low: 0.1, high: 0.7}
      training.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      model.arch.padding: [valid, same]                                 # = categorical

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
    history.png/.svg    objective per trial, best so far, and per-epoch curves
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
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
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from motiflens.config import RunConfig
from motiflens.errors import InputError
from motiflens.files import atomic_path, write_text_atomic
from motiflens.training import monitor_for, train

log = logging.getLogger(__name__)

SAMPLERS: tuple[str, ...] = ("tpe", "gp", "random")
PRUNERS: tuple[str, ...] = ("median", "hyperband", "none")
#: Keys a search may not change: they come from the dataset or define the objective.
FIXED_KEYS: dict[str, str] = {
    "model.n_targets": "it is read from the dataset",
    "model.length": "it is read from the dataset",
    "model.task": "it decides what the objective is",
    "training.monitor": "it decides what the objective is",
}
_SPEC_KEYS = {
    "int": ("type", "low", "high", "step", "log"),
    "float": ("type", "low", "high", "step", "log"),
    "categorical": ("type", "choices"),
}
_PART = re.compile(r"^([A-Za-z_]\w*)((?:\[\d+\])*)$")


class TrialFailed(Exception):
    """A trial that cannot give a score (invalid architecture, no finite metric ...)."""


# ------------------------------------------------------------------ search space


@dataclass(frozen=True)
class Param:
    """One searched config key and its distribution.

    Attributes
    ----------
    key
        Dotted config key, with ``[i]`` for one entry of a list (``model.arch.pools[1]``).
    distribution
        The Optuna distribution. Categorical choices that are lists or mappings are
        stored as their JSON text (Optuna keeps only scalars); :meth:`decode` undoes it.
    """

    key: str
    distribution: BaseDistribution
    encoded: bool = False

    def suggest(self, trial: optuna.Trial) -> Any:
        """Draw this parameter for a trial; returns the config value (decoded)."""
        d = self.distribution
        if isinstance(d, IntDistribution):
            value = trial.suggest_int(self.key, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, FloatDistribution):
            value = trial.suggest_float(self.key, d.low, d.high, step=d.step, log=d.log)
        else:
            value = trial.suggest_categorical(self.key, d.choices)
        return self.decode(value)

    def decode(self, value: Any) -> Any:
        """The config value for a value as Optuna stores it."""
        return json.loads(value) if self.encoded else value


@dataclass(frozen=True)
class SearchSpace:
    """A base run config plus the distributions of the keys to search.

    Attributes
    ----------
    base
        The run config as written in the file (``model`` and ``training`` mappings);
        searched values are set into a copy of it, so a training preset still fills
        what the file leaves out.
    params
        The searched keys, in file order.
    path
        The file it was read from (for error messages).
    """

    base: dict[str, Any]
    params: tuple[Param, ...]
    path: Path | None = None

    def config_for(self, values: Mapping[str, Any]) -> RunConfig:
        """The run config with ``values`` (config key -> value) set into the base.

        A single whole number for a list of them (``filters: 64``) sets every entry, and
        the list keeps its length from the base config; a single number for a list of
        dropouts is kept as one number (the config applies it to every layer).

        Raises
        ------
        InputError
            The resulting config is invalid (the message names the key).
        """
        data = copy.deepcopy(self.base)
        full = RunConfig.from_dict(self.base).to_dict()
        for key, value in values.items():
            _set_key(data, full, _parse_key(key), value)
        return RunConfig.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The space as plain data (stored with the study to notice edits on resume)."""
        return {
            "base": self.base,
            "search": {p.key: _describe(p) for p in self.params},
        }


def load_search_space(path: str | Path) -> SearchSpace:
    """Read a search-space YAML file (a run config plus ``search:``).

    Raises
    ------
    InputError
        Missing file, bad YAML, an invalid base config, an unknown or unsearchable key,
        or a malformed distribution; the message names the file, line and key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("search-space file not found", path=path) from None
    try:
        data = yaml.safe_load(text)
        lines = _key_lines(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(
            f"not valid YAML: {err}", path=path, line=None if mark is None else mark.line + 1
        ) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping with model, training and search", path=path)
    unknown = set(data) - {"model", "training", "search"}
    if unknown:
        raise InputError(
            f"unknown top-level key {sorted(unknown)[0]!r}",
            path=path,
            hint="a search space has model and training (a run config) and search",
        )
    search = data.get("search")
    if not isinstance(search, dict) or not search:
        raise InputError(
            "no search: mapping of config keys to distributions",
            path=path,
            hint="add e.g. `search: {training.lr: {type: float, low: 1.0e-4, high: 1.0e-2, "
            "log: true}}`",
        )
    base = {k: data[k] for k in ("model", "training") if data.get(k) is not None}
    try:
        full = RunConfig.from_dict(base).to_dict()
    except InputError as err:
        raise InputError(err.message, path=path, hint=err.hint) from None
    params = []
    for key, spec in search.items():
        line = lines.get(str(key))
        try:
            params.append(_param(str(key), spec, full))
        except InputError as err:
            raise InputError(
                f"search: {err.message}", path=path, line=line, hint=err.hint
            ) from None
    return SearchSpace(base=base, params=tuple(params), path=path)


def _key_lines(text: str) -> dict[str, int]:
    """Line (1-based) of each key under ``search:``, for error messages."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == "search" and isinstance(value, yaml.MappingNode):
            return {k.value: k.start_mark.line + 1 for k, _ in value.value}
    return {}


def _parse_key(key: str) -> list[str | int]:
    """``model.arch.pools[1]`` -> ``["model", "arch", "pools", 1]``."""
    tokens: list[str | int] = []
    for part in key.split("."):
        match = _PART.match(part)
        if not match:
            raise InputError(
                f"{key}: not a dotted config key",
                hint="write keys like model.arch.filters or model.arch.pools[0]",
            )
        tokens.append(match.group(1))
        tokens.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tokens


def _lookup(full: dict[str, Any], key: str) -> Any:
    """The value at ``key`` in the complete config, or an InputError naming the bad part."""
    node: Any = full
    done = ""
    for token in _parse_key(key):
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                size = f"{len(node)} entries" if isinstance(node, list) else "no entries"
                raise InputError(f"{key}: {done} has {size}; there is no [{token}]")
            node, done = node[token], f"{done}[{token}]"
            continue
        if not isinstance(node, dict) or token not in node:
            where = done or "the config"
            allowed = ", ".join(node) if isinstance(node, dict) else "none (not a section)"
            raise InputError(
                f"{key}: unknown config key {token!r} in {where}",
                hint=f"keys under {where}: {allowed}",
            )
        node, done = node[token], f"{done}.{token}" if done else token
    if isinstance(node, dict):
        raise InputError(
            f"{key}: is a section, not a value", hint=f"search one of {', '.join(node)}"
        )
    return node


def _set_key(
    data: dict[str, Any], full: dict[str, Any], tokens: list[str | int], value: Any
) -> None:
    """Set ``value`` at ``tokens`` in the raw config ``data``, copying lists from ``full``."""
    node, ref = data, full
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        ref = ref[token]
        if last:
            per_layer = isinstance(ref, list) and not isinstance(value, list | tuple | dict)
            # Lists of floats are per-layer dropouts, which take one number as it is (so
            # the count follows the layers); lists of ints (filters, pools ...) need a list.
            if per_layer and not (ref and all(isinstance(v, float) for v in ref)):
                current = node.get(token, ref) if isinstance(node, dict) else ref
                length = len(current) if isinstance(current, list | tuple) else len(ref)
                value = [value] * length
            node[token] = value
            return
        nxt = tokens[i + 1]
        have = node[token] if isinstance(node, list) else node.get(token)
        if isinstance(nxt, int):
            fresh = list(have) if isinstance(have, list | tuple) else copy.deepcopy(ref)
        else:
            fresh = have if isinstance(have, dict) else {}
        node[token] = fresh
        node = fresh


def _number(value: Any, key: str, name: str, integer: bool) -> int | float:
    # PyYAML reads 1e-4 (no dot) as a string; accept it as the number it means.
    if isinstance(value, str) and not integer:
        try:
            value = float(value)
        except ValueError:
            pass
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if not ok or isinstance(value, bool):
        kind = "a whole number" if integer else "a number"
        raise InputError(f"{key}: {name} must be {kind}, got {value!r}")
    return value


def _param(key: str, spec: Any, full: dict[str, Any]) -> Param:
    """Check one ``search:`` entry against the config and build its distribution."""
    for fixed, why in FIXED_KEYS.items():
        if key == fixed:
            raise InputError(f"{key}: cannot be searched: {why}")
    current = _lookup(full, key)
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict) or "type" not in spec:
        raise InputError(
            f"{key}: expected a distribution such as {{type: float, low: 0.1, high: 0.5}} "
            f"or a list of choices, got {spec!r}"
        )
    kind = spec["type"]
    if kind not in _SPEC_KEYS:
        raise InputError(
            f"{key}: unknown distribution type {kind!r}", hint="use int, float or categorical"
        )
    extra = set(spec) - set(_SPEC_KEYS[kind])
    if extra:
        raise InputError(
            f"{key}: unknown setting {sorted(extra)[0]!r} for type {kind}",
            hint=f"allowed: {', '.join(_SPEC_KEYS[kind])}",
        )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise InputError(f"{key}: categorical needs a non-empty list of choices")
        encoded = any(isinstance(c, list | dict) for c in choices)
        stored = [json.dumps(c) for c in choices] if encoded else choices
        if len(set(map(repr, stored))) != len(stored):
            raise InputError(f"{key}: choices repeat a value: {choices!r}")
        return Param(key, CategoricalDistribution(stored), encoded)
    integer = kind == "int"
    for name in ("low", "high"):
        if name not in spec:
            raise InputError(f"{key}: {kind} needs low and high")
    low = _number(spec["low"], key, "low", integer)
    high = _number(spec["high"], key, "high", integer)
    log_scale = spec.get("log", False)
    if not isinstance(log_scale, bool):
        raise InputError(f"{key}: log must be true or false, got {log_scale!r}")
    step = spec.get("step")
    if step is not None:
        step = _number(step, key, "step", integer)
        if step <= 0:
            raise InputError(f"{key}: step must be positive, got {step!r}")
        if log_scale and not (integer and step == 1):
            raise InputError(f"{key}: step and log cannot be combined")
    if low > high:
        raise InputError(f"{key}: low ({low}) is above high ({high})")
    if log_scale and low <= 0:
        raise InputError(f"{key}: a log scale needs low > 0, got {low}")
    _check_kind(key, kind, current)
    if integer:
        return Param(key, IntDistribution(low, high, log=log_scale, step=step or 1))
    return Param(key, FloatDistribution(float(low), float(high), log=log_scale, step=step))


def _check_kind(key: str, kind: str, current: Any) -> None:
    """Refuse a numeric distribution for a key that holds something else."""
    values = current if isinstance(current, list) else [current]
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or isinstance(v, str):
            raise InputError(
                f"{key}: holds {v!r}, not a number", hint="use type: categorical with choices"
            )
        if kind == "float" and isinstance(v, int):
            raise InputError(
                f"{key}: holds whole numbers ({current!r})", hint="use type: int (or categorical)"
            )


def _describe(param: Param) -> dict[str, Any]:
    d = param.distribution
    if isinstance(d, CategoricalDistribution):
        return {"type": "categorical", "choices": [param.decode(c) for c in d.choices]}
    kind = "int" if isinstance(d, IntDistribution) else "float"
    out = {"type": kind, "low": d.low, "high": d.high, "log": d.log}
    if d.step not in (None, 1):
        out["step"] = d.step
    return out


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
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the epoch's validation: the module has logged the epoch metric by now
        # (callbacks' on_validation_epoch_end runs before the module's).
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not math.isfinite(value):
            return
        epoch = trainer.current_epoch
        self.trial.report(value, step=epoch)
        # A trial that has trained all its epochs is complete: pruning it then would
        # only hide its result from the sampler.
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        if not last and self.trial.should_prune():
            self.pruned_at = epoch
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


def make_sampler(name: str, seed: int | None = None, startup_trials: int = 10):
    """An Optuna sampler by name: ``tpe`` (default), ``gp`` (Gaussian process) or ``random``.

    Parameters
    ----------
    name
        One of :data:`SAMPLERS`.
    seed
        Seed of the sampler (give each worker its own, or none).
    startup_trials
        Random trials before the model-based sampler takes over.
    """
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=startup_trials
        )
    if name == "gp":
        # Basset was tuned with Spearmint: Bayesian optimisation with a Gaussian process.
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
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
    seed: int | None = None,
    startup_trials: int = 10,
    baseline: bool = True,
    accelerator: str = "auto",
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
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
        ``best_config.yaml``, ``history.png``.
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
    seed
        Sampler seed (each worker of a shared study needs its own, or none).
    startup_trials
        Random trials before TPE/GP model the results.
    baseline
        Make the first trial of a new study the base config itself (when the search
        space holds its values), so the search starts from a known score.
    accelerator
        Lightning accelerator of each trial's training (``auto``, ``cpu``, ``gpu``).
    progress
        Show a progress bar over trials.
    echo
        Called with one line per finished trial (default: log at INFO level).

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
    chosen = make_sampler(sampler, seed, startup_trials)
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
        write_outputs(study, out, space, metric, figure=False)

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
                    show_progress_bar=progress and (n_trials is not None or timeout is not None),
                )
    finally:
        # also after Ctrl-C: the tables then show every trial that finished
        files = write_outputs(study, out, space, metric)
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
        value = _lookup(full, param.key)
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
    run_dir = out / "trials" / str(trial.number)
    trial.set_user_attr("run_dir", str(run_dir))

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
            run_dir,
            config,
            devices=1,
            accelerator=accelerator,
            progress=False,
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
    if pruning.pruned_at is not None:
        trial.set_user_attr("pruned_at_epoch", pruning.pruned_at)
        raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at + 1}")
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
        when = "" if epoch is None else f" after epoch {epoch + 1}"
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
    figure: bool = True,
) -> list[Path]:
    """Write ``trials.tsv``, ``best_config.yaml`` (once a trial completed) and the figure.

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
    if figure and study.get_trials(deepcopy=False):
        files.append(plot_history(study, out / "history.png", metric))
    return files


class _ConfigDumper(yaml.SafeDumper):
    """Block-style mappings with one-line lists: ``filters: [128, 64, 64]``."""

    def represent_list(self, data: list) -> yaml.Node:
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_ConfigDumper.add_representer(list, _ConfigDumper.represent_list)


def plot_history(study: optuna.Study, path: str | Path, metric: str) -> Path:
    """Objective per trial with the best so far, and each trial's per-epoch metric."""
    # plots sit above training in the import order; imported when drawing, as training does
    from matplotlib.ticker import MaxNLocator

    from motiflens.plots.style import plt, save_figure

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    colors = {TrialState.COMPLETE: "C0", TrialState.PRUNED: "C1", TrialState.FAIL: "C3"}
    fig, (ax, ax_epochs) = plt.subplots(1, 2, figsize=(11, 4))
    for state, color in colors.items():
        if state == TrialState.FAIL:
            continue
        xs = [t.number for t in trials if t.state == state and t.value is not None]
        ys = [t.value for t in trials if t.state == state and t.value is not None]
        if xs:
            ax.scatter(xs, ys, s=18, color=color, label=state.name.lower(), zorder=3)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best, xs, ys = None, [], []
        for t in done:
            if best is None or (t.value > best if maximize else t.value < best):
                best = t.value
            xs.append(t.number)
            ys.append(best)
        xs.append(trials[-1].number)  # carry the line to the latest trial
        ys.append(best)
        ax.step(xs, ys, where="post", color="C2", label="best so far")
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    for n in failed:
        ax.axvline(n, color=colors[TrialState.FAIL], lw=0.8, ls=":", alpha=0.6)
    if failed:
        ax.plot([], [], color=colors[TrialState.FAIL], ls=":", label="failed")
    ax.set(xlabel="trial", ylabel=metric, title=f"Optimisation history ({study.study_name})")
    ax.legend(fontsize=8)
    for t in trials:
        if t.intermediate_values:
            steps = sorted(t.intermediate_values)
            ax_epochs.plot(
                [s + 1 for s in steps],
                [t.intermediate_values[s] for s in steps],
                color=colors.get(t.state, "grey"),
                lw=1,
                alpha=0.7,
            )
    ax_epochs.set(xlabel="epoch", ylabel=metric, title="Per epoch (orange: pruned)")
    for axis in (ax.xaxis, ax_epochs.xaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return save_figure(fig, path)


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
