"""Search spaces: a run config plus the distributions of the config keys to search.

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
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from motiflens.config import RunConfig
from motiflens.errors import InputError

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


def lookup(full: dict[str, Any], key: str) -> Any:
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
    current = lookup(full, key)
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
