"""Typed configs and their YAML form.

Every config is a frozen dataclass deriving from :class:`ConfigBase`, which gives it
``to_dict`` / ``from_dict`` / ``load_yaml`` / ``save_yaml``. ``from_dict`` is strict: an
unknown key, a value of the wrong type or a missing required key is an
:class:`~motiflens.errors.InputError` that names the key (``model.arch.filtres``) and, for
unknown keys, lists the allowed ones. A new config (say ``TrainingConfig``) only has to be
a ``@dataclass(frozen=True)`` subclass of :class:`ConfigBase` with typed fields, and a
field of :class:`RunConfig`, to read and write the same way.

The run directory's ``config.yaml`` is a :class:`RunConfig`::

    model:
      name: basset          # basset | cnn | rnn | cnn-rnn
      n_targets: 164        # null: taken from the dataset
      length: 600           # null: taken from the dataset
      task: binary          # binary (BCE) | regression (MSE) | poisson (log-rate output)
      arch:                 # optional; per-architecture fields, paper defaults
        filters: [300, 200, 200]
        sizes: [19, 11, 7]
        pools: [3, 4, 4]
        padding: valid

Per-layer dropout fields accept one number for every layer or a list with one per layer.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from motiflens.errors import InputError
from motiflens.files import write_text_atomic

C = TypeVar("C", bound="ConfigBase")

TASKS: tuple[str, ...] = ("binary", "regression", "poisson")
PADDINGS: tuple[str, ...] = ("valid", "same")


# --------------------------------------------------------------------------- base


class ConfigBase:
    """Dict/YAML conversion shared by every config dataclass."""

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of lists, numbers, strings and ``None`` (YAML/JSON safe)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any] | None, where: str = "") -> C:
        """Build from a mapping, checking keys and value types.

        Parameters
        ----------
        data
            Mapping of field name to value; ``None`` means all defaults.
        where
            Dotted key prefix used in error messages (``"model"``).

        Raises
        ------
        InputError
            Unknown key (the allowed ones are listed), missing required key, wrong type,
            or a value the config itself rejects.
        """
        kwargs = _check_keys(cls, data, where)
        hints = typing.get_type_hints(cls)
        values = {
            name: _coerce(value, hints[name], _join(where, name)) for name, value in kwargs.items()
        }
        return _construct(cls, values, where)

    def save_yaml(self, path: str | Path) -> Path:
        """Write the config as YAML, atomically; return the path."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)
        return write_text_atomic(path, text)

    @classmethod
    def load_yaml(cls: type[C], path: str | Path) -> C:
        """Read a YAML file written by :meth:`save_yaml` (or by hand).

        Raises
        ------
        InputError
            The file is missing, is not UTF-8 YAML (:func:`read_yaml`), or fails
            :meth:`from_dict`; the message names the file.
        """
        path = Path(path)
        data = read_yaml(path)
        try:
            return cls.from_dict(data)
        except InputError as err:
            raise InputError(err.message, path=path, hint=err.hint) from None


# ------------------------------------------------------------------------ YAML text

#: The largest integer a config takes: anything larger (2^63 - 1) fits no tensor size,
#: seed or count, so it is a typo, not a setting.
MAX_INT = 2**63 - 1


class _HugeInt:
    """An integer too long to convert: YAML gives this instead of Python's int-digits
    ValueError (a 5,000-digit number), which names neither the file nor the key."""

    def __init__(self, text: str) -> None:
        self.digits = sum(c.isdigit() for c in text)
        self.negative = text.lstrip().startswith("-")

    def __repr__(self) -> str:
        return f"{'a negative' if self.negative else 'an'} integer of {self.digits:,} digits"


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose integers past :data:`MAX_INT`'s length stay unconverted."""


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | _HugeInt:
    text = str(loader.construct_scalar(node))
    if sum(c.isdigit() for c in text) > len(str(MAX_INT)) + 1:
        return _HugeInt(text)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def read_yaml(path: str | Path) -> Any:
    """The data of a UTF-8 YAML file, with errors that name the file and line.

    Integers longer than any config value (:data:`MAX_INT`) are kept as a marker that
    :meth:`ConfigBase.from_dict` reports with the key's name, instead of Python's
    int-digits error.

    Raises
    ------
    InputError
        The file is missing or a directory, is not UTF-8 (the byte, its offset and line
        named), or is not valid YAML.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("config file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("expected a YAML file but found a directory", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # offsets are in the file's bytes; a BOM, if any, is counted
        at = err.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw[:at].count(b"\n") + 1
        column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
        raise InputError(
            f"not UTF-8 text: byte 0x{raw[at]:02x} at offset {at} (column {column} of "
            "this line) cannot be decoded",
            path=path,
            line=line,
            hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no Python objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise InputError(f"not valid YAML: {err}", path=path, line=line) from None


def _out_of_range(value: Any) -> bool:
    if isinstance(value, _HugeInt):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT


def _digits_of(value: int) -> str:
    """A stand-in text with the sign and digit count of a big int, without ``str()``
    (refused past 4,300 digits)."""
    digits = len(str(abs(value))) if value.bit_length() < 10_000 else None
    if digits is None:  # log10(2) digits per bit, exact enough for a message
        digits = int(value.bit_length() * 0.30103) + 1
    return ("-" if value < 0 else "") + "9" * digits


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigBase):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _check_keys(cls: type, data: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InputError(
            f"{where or 'config'}: expected a mapping of keys to values, "
            f"got {type(data).__name__} {data!r}"
        )
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise InputError(
                f"{_join(where, str(key))}: unknown key {key!r}",
                hint=f"allowed keys{' under ' + where if where else ''}: {', '.join(names)}",
            )
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in data:
            raise InputError(f"{_join(where, f.name)}: required key is missing")
    return dict(data)


def _construct(cls: type[C], values: dict[str, Any], where: str) -> C:
    try:
        return cls(**values)
    except InputError:
        raise
    except (ValueError, TypeError) as err:
        raise InputError(f"{where or 'config'}: {err}") from None


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against the type ``hint``; convert lists to tuples, ints to floats."""
    if _out_of_range(value):
        shown = value if isinstance(value, _HugeInt) else _HugeInt(_digits_of(value))
        bound = f"-{MAX_INT:,} or more" if shown.negative else f"{MAX_INT:,} (2^63 - 1) or less"
        raise InputError(f"{where}: {shown!r} is out of range: an integer setting is {bound}")
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, ConfigBase):
        return hint.from_dict(value, where)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option, where)
            except InputError:
                continue
    elif origin is Literal:
        if value in typing.get_args(hint):
            return value
    elif origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if isinstance(value, list | tuple):
            return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    elif hint is type(None):
        if value is None:
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        # bool is an int in Python, but `filters: true` is a mistake, not 1.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is Any:
        return value
    else:  # pragma: no cover - a config field with a type this reader does not know
        raise TypeError(f"{where}: unsupported config field type {hint!r}")
    raise InputError(f"{where}: expected {_type_name(hint)}, got {value!r}")


# ----------------------------------------------------------------- validation helpers


def _per_layer(name: str, value: Any, n: int) -> tuple[Any, ...]:
    """Broadcast one value to ``n`` layers, or check that a list has ``n`` entries."""
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries but there are {n} layers")
        return tuple(value)
    return (value,) * n


def _check_positive(name: str, values: tuple[int, ...]) -> None:
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}[{i}] must be a positive integer, got {v!r}")


def _check_dropout(name: str, values: tuple[float, ...]) -> None:
    for i, p in enumerate(values):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name}[{i}] must be in [0, 1), got {p!r}")


def _set(obj: object, name: str, value: Any) -> None:
    # Frozen dataclasses normalise their own fields in __post_init__.
    object.__setattr__(obj, name, value)


# --------------------------------------------------------------- architectures


@dataclass(frozen=True)
class BassetConfig(ConfigBase):
    """Basset (Kelley et al. 2016); defaults are the published model.

    Each conv layer is conv -> batch norm -> ReLU -> max-pool (ceil mode, as in Torch)
    -> dropout; each hidden layer is linear -> batch norm -> ReLU -> dropout.

    Attributes
    ----------
    filters, sizes, pools
        Per conv layer: number of filters, filter width, max-pool width (= stride;
        1 means no pooling).
    conv_dropout
        Dropout after each conv layer (one number or one per layer).
    hidden
        Units per dense hidden layer (may be empty).
    hidden_dropout
        Dropout after each hidden layer (one number or one per layer).
    batch_norm
        Batch normalisation after every conv and hidden layer.
    padding
        ``"valid"`` (the paper and the pretrained model: flatten 2000 at 600 bp) or
        ``"same"`` (Basset after Oct 2016: flatten 2600). Even widths pad one more on
        the right so the length is kept (Basset issue #30).
    """

    filters: tuple[int, ...] = (300, 200, 200)
    sizes: tuple[int, ...] = (19, 11, 7)
    pools: tuple[int, ...] = (3, 4, 4)
    conv_dropout: float | tuple[float, ...] = 0.0
    hidden: tuple[int, ...] = (1000, 1000)
    hidden_dropout: float | tuple[float, ...] = 0.3
    batch_norm: bool = True
    padding: Literal["valid", "same"] = "valid"

    def __post_init__(self) -> None:
        n = len(self.filters)
        if n == 0:
            raise ValueError("filters: at least one conv layer is needed")
        for name in ("filters", "sizes", "pools", "hidden"):
            _set(self, name, tuple(getattr(self, name)))
        for name in ("sizes", "pools"):
            _per_layer(name, getattr(self, name), n)
        _check_positive("filters", self.filters)
        _check_positive("sizes", self.sizes)
        _check_positive("pools", self.pools)
        _check_positive("hidden", self.hidden)
        _set(self, "conv_dropout", _per_layer("conv_dropout", self.conv_dropout, n))
        _set(
            self,
            "hidden_dropout",
            _per_layer("hidden_dropout", self.hidden_dropout, len(self.hidden)),
        )
        _check_dropout("conv_dropout", self.conv_dropout)
        _check_dropout("hidden_dropout", self.hidden_dropout)
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {self.padding!r}")


@dataclass(frozen=True)
class CNNConfig(ConfigBase):
    """DeMo Dashboard CNN (Lanchantin et al. 2017); defaults are the paper's.

    Each conv layer is conv -> ReLU -> max-pool (floor mode, as Torch's
    TemporalMaxPooling) -> dropout; then a max over all positions and one linear layer.

    Attributes
    ----------
    filters, sizes, pools
        Per conv layer: number of filters, width, pool width (= stride; 1 = none).
        DeMo pools every layer but the last.
    dropout
        Dropout after each conv layer (one number or one per layer).
    padding
        ``"valid"`` (DeMo) or ``"same"``.
    """

    filters: tuple[int, ...] = (128, 128, 128)
    sizes: tuple[int, ...] = (9, 5, 3)
    pools: tuple[int, ...] = (2, 2, 1)
    dropout: float | tuple[float, ...] = 0.5
    padding: Literal["valid", "same"] = "valid"

    def __post_init__(self) -> None:
        n = len(self.filters)
        if n == 0:
            raise ValueError("filters: at least one conv layer is needed")
        for name in ("filters", "sizes", "pools"):
            _set(self, name, tuple(getattr(self, name)))
        for name in ("sizes", "pools"):
            _per_layer(name, getattr(self, name), n)
        _check_positive("filters", self.filters)
        _check_positive("sizes", self.sizes)
        _check_positive("pools", self.pools)
        _set(self, "dropout", _per_layer("dropout", self.dropout, n))
        _check_dropout("dropout", self.dropout)
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {self.padding!r}")


def _check_rnn(hidden: int, layers: int, dropout: float, pool: str) -> None:
    _check_positive("hidden", (hidden,))
    _check_positive("layers", (layers,))
    _check_dropout("dropout", (dropout,))
    if pool not in ("mean", "max"):
        raise ValueError(f"pool must be 'mean' or 'max', got {pool!r}")


@dataclass(frozen=True)
class RNNConfig(ConfigBase):
    """DeMo Dashboard RNN: LSTM over the sequence, outputs pooled over time.

    DeMo averaged the outputs over time; on real ChIP-seq sets that model stays at chance
    (a 10 bp motif is diluted ten-fold by a mean over 101 steps; docs/benchmarks.md), so
    the default takes the max over time. ``rnn-demo`` (:class:`DeMoRNNConfig`) is DeMo's
    exact model.

    Attributes
    ----------
    hidden
        LSTM units per direction.
    layers
        Stacked LSTM layers per direction.
    bidirectional
        Add a backward LSTM (DeMo's default; ``-unidirectional`` turned it off).
    dropout
        Dropout after each LSTM layer.
    pool
        How the LSTM outputs become one vector: ``"mean"`` over time (DeMo) or ``"max"``.
    forget_bias
        Initial forget-gate bias (DeMo's torch-rnn LSTM: 1; PyTorch's own: 0).
    """

    hidden: int = 32
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    pool: Literal["mean", "max"] = "max"
    forget_bias: float = 1.0

    def __post_init__(self) -> None:
        _check_rnn(self.hidden, self.layers, self.dropout, self.pool)


@dataclass(frozen=True)
class DeMoRNNConfig(RNNConfig):
    """DeMo's RNN exactly (model name ``rnn-demo``): outputs averaged over time."""

    pool: Literal["mean", "max"] = "mean"


@dataclass(frozen=True)
class CNNRNNConfig(ConfigBase):
    """DeMo Dashboard CNN-RNN: one length-keeping conv layer feeding the RNN.

    Pooled over time by a max by default, as :class:`RNNConfig`; ``cnn-rnn-demo``
    (:class:`DeMoCNNRNNConfig`) is DeMo's exact model (time-mean).

    Attributes
    ----------
    filters, size
        The conv layer: number of filters and width (zero-padded so the length is kept).
    conv_dropout
        Dropout after the conv layer (DeMo has none).
    hidden, layers, bidirectional, dropout, pool, forget_bias
        As in :class:`RNNConfig`.
    """

    filters: int = 128
    size: int = 9
    conv_dropout: float = 0.0
    hidden: int = 32
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    pool: Literal["mean", "max"] = "max"
    forget_bias: float = 1.0

    def __post_init__(self) -> None:
        _check_positive("filters", (self.filters,))
        _check_positive("size", (self.size,))
        _check_dropout("conv_dropout", (self.conv_dropout,))
        _check_rnn(self.hidden, self.layers, self.dropout, self.pool)


@dataclass(frozen=True)
class DeMoCNNRNNConfig(CNNRNNConfig):
    """DeMo's CNN-RNN exactly (model name ``cnn-rnn-demo``): outputs averaged over time."""

    pool: Literal["mean", "max"] = "mean"


ArchConfig = BassetConfig | CNNConfig | RNNConfig | CNNRNNConfig

ARCH_CONFIGS: dict[str, type[ConfigBase]] = {
    "basset": BassetConfig,
    "cnn": CNNConfig,
    "rnn": RNNConfig,
    "cnn-rnn": CNNRNNConfig,
    "rnn-demo": DeMoRNNConfig,
    "cnn-rnn-demo": DeMoCNNRNNConfig,
}


def register_arch(name: str, arch: type[ConfigBase]) -> None:
    """Make ``name`` a model name whose ``arch:`` section is read as ``arch``.

    Called by :func:`motiflens.models.register_model`; a new architecture's config is a
    frozen :class:`ConfigBase` dataclass whose fields all have defaults.
    """
    if not (isinstance(arch, type) and issubclass(arch, ConfigBase)):
        raise TypeError(f"{name}: the arch config must be a ConfigBase dataclass, got {arch!r}")
    ARCH_CONFIGS[name] = arch


# ----------------------------------------------------------------------- model


@dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """Which architecture, for how many targets, at what input length, for what task.

    Attributes
    ----------
    name
        ``"basset"``, ``"cnn"``, ``"rnn"`` or ``"cnn-rnn"``.
    n_targets
        Outputs (one logit each). ``None`` until the dataset fills it in.
    length
        Input length in bp. ``None`` until the dataset fills it in. Basset is built for
        exactly this length; the others take any length they allow, and this one is
        checked at build time.
    task
        ``"binary"`` (multi-label, BCE on logits), ``"regression"`` (MSE) or
        ``"poisson"`` (outputs are log-rates, Poisson NLL).
    arch
        The architecture's own config; ``None`` means the paper's defaults for ``name``.
    """

    name: str = "basset"
    n_targets: int | None = None
    length: int | None = None
    task: Literal["binary", "regression", "poisson"] = "binary"
    arch: BassetConfig | CNNConfig | RNNConfig | CNNRNNConfig | None = None

    def __post_init__(self) -> None:
        if self.name not in ARCH_CONFIGS:
            raise InputError(
                f"unknown model {self.name!r}", hint=f"choose one of {', '.join(ARCH_CONFIGS)}"
            )
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        for key in ("n_targets", "length"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        expected = ARCH_CONFIGS[self.name]
        if self.arch is None:
            _set(self, "arch", expected())
        elif type(self.arch) is not expected:
            raise ValueError(
                f"model {self.name!r} needs arch of type {expected.__name__}, "
                f"got {type(self.arch).__name__}"
            )

    def fitted_to(self, n_targets: int, length: int) -> ModelConfig:
        """Fill ``n_targets`` and ``length`` from a dataset; refuse values that disagree.

        Raises
        ------
        InputError
            The config sets ``n_targets`` or ``length`` to something other than the
            dataset's.
        """
        for key, have in (("n_targets", n_targets), ("length", length)):
            want = getattr(self, key)
            if want is not None and want != have:
                raise InputError(
                    f"model.{key} is {want} but the dataset has {have}",
                    hint=f"remove model.{key} from the config (it is read from the dataset)",
                )
        return dataclasses.replace(self, n_targets=n_targets, length=length)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "") -> ModelConfig:
        """Build from a mapping; ``arch`` is read with the schema that ``name`` selects.

        See :meth:`ConfigBase.from_dict`.
        """
        data = _check_keys(cls, data, where)
        name = data.get("name", "basset")
        if name not in ARCH_CONFIGS:
            raise InputError(
                f"{_join(where, 'name')}: unknown model {name!r}",
                hint=f"choose one of {', '.join(ARCH_CONFIGS)}",
            )
        arch = ARCH_CONFIGS[name].from_dict(data.get("arch"), _join(where, "arch"))
        hints = typing.get_type_hints(cls)
        values = {
            key: _coerce(value, hints[key], _join(where, key))
            for key, value in data.items()
            if key != "arch"
        }
        return _construct(cls, {**values, "arch": arch}, where)


# ------------------------------------------------------------------------- run


# -------------------------------------------------------------------- training

#: The published optimizers. Basset: RMSprop lr 0.002, alpha 0.98, max-norm 7 on weights,
#: batch 128 (basset_train.lua). DeMo: Adam lr 0.01, gradients clamped to +-5, learning
#: rate halved every 10 epochs, batch 256, 50 epochs (main.lua).
OPTIMIZER_PRESETS: dict[str, dict[str, Any]] = {
    "basset": {
        "optimizer": "rmsprop",
        "lr": 0.002,
        "alpha": 0.98,
        "max_norm": 7.0,
        "grad_clip": 0.0,
        "lr_halve_every": 0,
        "batch_size": 128,
        "max_epochs": 100,
    },
    "demo": {
        "optimizer": "adam",
        "lr": 0.01,
        "alpha": 0.99,
        "max_norm": 0.0,
        "grad_clip": 5.0,
        "lr_halve_every": 10,
        "batch_size": 256,
        "max_epochs": 50,
    },
}

#: The preset a model trains with when none is chosen (``preset: auto``): each
#: architecture's own paper's. Models registered later default to ``basset``.
MODEL_PRESETS: dict[str, str] = {
    "basset": "basset",
    "cnn": "demo",
    "rnn": "demo",
    "cnn-rnn": "demo",
    "rnn-demo": "demo",
    "cnn-rnn-demo": "demo",
}


@dataclass(frozen=True)
class TrainingConfig(ConfigBase):
    """How to train: a named optimizer preset, with any of its settings overridden.

    Attributes
    ----------
    preset
        ``"basset"`` or ``"demo"`` (see :data:`OPTIMIZER_PRESETS`); fields left ``None``
        take the preset's value. ``"auto"`` (the default) is the model's own paper's
        (:data:`MODEL_PRESETS`), resolved when the :class:`RunConfig` is built.
    optimizer
        ``"rmsprop"`` or ``"adam"``.
    lr, alpha
        Learning rate; RMSprop's smoothing constant.
    max_norm
        Cap on each unit's incoming weight norm after every step (0 = off).
    grad_clip
        Clamp every gradient element to +-this (0 = off).
    lr_halve_every
        Halve the learning rate every this many epochs (0 = never).
    batch_size, max_epochs
        Batch size and the most epochs to run.
    patience
        Early stopping: epochs without improvement of ``monitor`` (Basset: 10).
    monitor
        ``"auto"`` (mean validation AUROC for binary targets, validation loss otherwise)
        or a logged metric name such as ``val_loss``.
    reverse_complement
        Augment: each training sequence is reverse-complemented with probability 0.5.
    seed
        Seed of initialisation, shuffling, dropout and augmentation.
    num_workers
        DataLoader worker processes.
    """

    preset: Literal["auto", "basset", "demo"] = "auto"
    optimizer: Literal["rmsprop", "adam"] | None = None
    lr: float | None = None
    alpha: float | None = None
    max_norm: float | None = None
    grad_clip: float | None = None
    lr_halve_every: int | None = None
    batch_size: int | None = None
    max_epochs: int | None = None
    patience: int = 10
    monitor: str = "auto"
    reverse_complement: bool = False
    seed: int = 1
    num_workers: int = 0

    def __post_init__(self) -> None:
        if self.preset == "auto":
            return  # RunConfig resolves it once the model is known
        if self.preset not in OPTIMIZER_PRESETS:
            raise InputError(
                f"unknown training preset {self.preset!r}",
                hint=f"choose one of auto, {', '.join(OPTIMIZER_PRESETS)}",
            )
        for key, value in OPTIMIZER_PRESETS[self.preset].items():
            if getattr(self, key) is None:
                _set(self, key, value)
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"optimizer must be rmsprop or adam, got {self.optimizer!r}")
        for key in ("lr", "batch_size", "max_epochs", "patience"):
            if getattr(self, key) <= 0:
                raise ValueError(f"training.{key} must be positive, got {getattr(self, key)}")


@dataclass(frozen=True)
class RunConfig(ConfigBase):
    """Everything a run directory's ``config.yaml`` holds.

    Attributes
    ----------
    model
        The model; see :class:`ModelConfig`.
    training
        How to train it; see :class:`TrainingConfig`.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        if self.training.preset == "auto":
            preset = MODEL_PRESETS.get(self.model.name, "basset")
            _set(self, "training", dataclasses.replace(self.training, preset=preset))

    def fitted_to(self, n_targets: int, length: int) -> RunConfig:
        """This config with the model fitted to a dataset (see :meth:`ModelConfig.fitted_to`)."""
        return dataclasses.replace(self, model=self.model.fitted_to(n_targets, length))
