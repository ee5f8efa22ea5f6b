"""One storage convention for an analysis' per-sequence results.

Every analysis that computes arrays per sequence (ISM, attributions, temporal scores, ...)
stores them in one HDF5 file laid out the same way, so that the dashboard and the report
can show any of them for a chosen sequence and target without knowing the analysis:

- file attributes: ``kind`` (what the arrays are: ``ism``, ``attribution``,
  ``temporal``, ...), ``params`` (JSON: the options that made them);
- ``names (N,)``: one name per sequence; ``target_labels (T,)``: one name per target
  (UTF-8 strings);
- ``onehot (N, 4, L)`` uint8 (optional): the sequences themselves;
- every other dataset is a result array whose attribute ``axes`` (JSON list) names its
  axes from :data:`AXES`. The sequence axis is first and the target axis is last
  (``delta (sequence, base, position, target)``, ``attributions (sequence, base,
  position, target)``, ``forward (sequence, position, target)``).
- ``positions (W,)`` (optional): the 0-based sequence positions of a ``position`` axis
  that covers a window rather than the whole sequence.

:class:`ResultWriter` appends chunks of sequences, so outputs larger than memory stream
to disk; the file appears under its final name only when complete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from motiflens.errors import InputError
from motiflens.files import atomic_path

AXES = ("sequence", "base", "position", "target", "step")
NAMES = "names"
TARGET_LABELS = "target_labels"
ONEHOT = "onehot"
POSITIONS = "positions"
_RESERVED = {NAMES, TARGET_LABELS, ONEHOT, POSITIONS}
_STRINGS = h5py.string_dtype(encoding="utf-8")


@dataclass(frozen=True)
class StoredResult:
    """What one result file holds (read by :func:`read_result_info`).

    Attributes
    ----------
    path
        The HDF5 file.
    kind
        What the arrays are (``ism``, ``attribution``, ``temporal``, ...).
    names
        One name per stored sequence.
    target_labels
        One name per target of the target axis.
    arrays
        Array name -> its axes, e.g. ``{"delta": ("sequence", "base", "position", "target")}``.
    params
        The options that made the result.
    has_onehot
        Whether the sequences themselves are stored.
    """

    path: Path
    kind: str
    names: list[str]
    target_labels: list[str]
    arrays: dict[str, tuple[str, ...]]
    params: dict[str, Any] = field(default_factory=dict)
    has_onehot: bool = False

    def index(self, name: str) -> int:
        """The row of sequence ``name`` (``KeyError`` when it is not stored)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(name) from None


def _check_axes(name: str, shape: tuple[int, ...], axes: Sequence[str]) -> tuple[str, ...]:
    axes = tuple(axes)
    if len(axes) != len(shape):
        raise ValueError(f"{name}: {len(axes)} axes {axes} for an array of shape {shape}")
    unknown = [a for a in axes if a not in AXES]
    if unknown:
        raise ValueError(f"{name}: unknown axes {unknown}; use {AXES}")
    if axes[0] != "sequence":
        raise ValueError(f"{name}: the first axis must be 'sequence', got {axes}")
    if "target" in axes and axes[-1] != "target":
        raise ValueError(f"{name}: the target axis must be last, got {axes}")
    return axes


class ResultWriter:
    """Append chunks of per-sequence arrays to a result file; rename it into place at the end.

    Parameters
    ----------
    path
        The ``.h5`` file to write.
    kind
        What the arrays are.
    axes
        Array name -> axes; every chunk passed to :meth:`append` has these arrays.
    target_labels
        One name per target.
    params
        The options that made the result (stored as JSON).
    positions
        0-based positions of a windowed ``position`` axis.
    attrs
        Further file attributes (strings or numbers).

    Examples
    --------
    >>> with ResultWriter(path, "temporal", {"forward": ("sequence", "position", "target")},
    ...                   target_labels=["CTCF"]) as out:
    ...     out.append(names, {"forward": forward}, onehot=X)
    """

    def __init__(
        self,
        path: str | Path,
        kind: str,
        axes: Mapping[str, Sequence[str]],
        *,
        target_labels: Sequence[str],
        params: Mapping[str, Any] | None = None,
        positions: np.ndarray | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        reserved = _RESERVED & set(axes)
        if reserved:
            raise ValueError(f"array names {sorted(reserved)} are reserved")
        self.path = Path(path)
        self.kind = kind
        self.axes = {k: tuple(v) for k, v in axes.items()}
        self.target_labels = [str(t) for t in target_labels]
        self.params = dict(params or {})
        self.positions = positions
        self.attrs = dict(attrs or {})
        self.n = 0
        self._context: Any = None
        self._h5: h5py.File | None = None
        self._names: list[str] = []
        self._onehot: bool | None = None

    def __enter__(self) -> ResultWriter:
        self._context = atomic_path(self.path)
        tmp = self._context.__enter__()
        self._h5 = h5py.File(tmp, "w")
        h5 = self._h5
        h5.attrs["kind"] = self.kind
        h5.attrs["params"] = json.dumps(self.params, default=str)
        for key, value in self.attrs.items():
            h5.attrs[key] = value
        h5.create_dataset(
            TARGET_LABELS, data=np.array(self.target_labels, dtype=object), dtype=_STRINGS
        )
        if self.positions is not None:
            h5[POSITIONS] = np.asarray(self.positions, dtype=np.int64)
        return self

    def append(
        self,
        names: Sequence[str],
        arrays: Mapping[str, np.ndarray],
        *,
        onehot: np.ndarray | None = None,
    ) -> None:
        """Add a chunk of ``len(names)`` sequences (every array's first axis)."""
        h5 = self._h5
        if h5 is None:
            raise RuntimeError("ResultWriter.append outside its with-block")
        k = len(names)
        if set(arrays) != set(self.axes):
            raise ValueError(f"expected arrays {sorted(self.axes)}, got {sorted(arrays)}")
        for key, value in arrays.items():
            value = np.asarray(value)
            if value.shape[0] != k:
                raise ValueError(f"{key}: {value.shape[0]} rows for {k} names")
            if key not in h5:
                axes = _check_axes(key, value.shape, self.axes[key])
                if value.shape[-1] != len(self.target_labels) and axes[-1] == "target":
                    raise ValueError(
                        f"{key}: {value.shape[-1]} targets for {len(self.target_labels)} labels"
                    )
                row = int(np.prod(value.shape[1:])) * value.dtype.itemsize
                h5.create_dataset(
                    key,
                    shape=(0, *value.shape[1:]),
                    maxshape=(None, *value.shape[1:]),
                    dtype=np.float32 if value.dtype.kind == "f" else value.dtype,
                    chunks=(max(1, min(1024, (1 << 20) // max(1, row))), *value.shape[1:]),
                )
                h5[key].attrs["axes"] = json.dumps(list(axes))
            h5[key].resize(self.n + k, axis=0)
            h5[key][self.n : self.n + k] = value
        if self._onehot is None:
            self._onehot = onehot is not None
        if (onehot is not None) != self._onehot:
            raise ValueError("give onehot with every chunk or with none")
        if onehot is not None:
            onehot = np.asarray(onehot)
            if ONEHOT not in h5:
                h5.create_dataset(
                    ONEHOT,
                    shape=(0, *onehot.shape[1:]),
                    maxshape=(None, *onehot.shape[1:]),
                    dtype=np.uint8,
                    chunks=(max(1, min(1024, (1 << 20) // onehot[0].size)), *onehot.shape[1:]),
                )
            h5[ONEHOT].resize(self.n + k, axis=0)
            # Unknown bases (0.25 everywhere) are stored as all-zero, as in dataset files.
            h5[ONEHOT][self.n : self.n + k] = (onehot > 0.5).astype(np.uint8)
        self._names.extend(str(n) for n in names)
        self.n += k

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        h5, self._h5 = self._h5, None
        try:
            if h5 is not None and exc is None:
                h5.create_dataset(NAMES, data=np.array(self._names, dtype=object), dtype=_STRINGS)
        finally:
            if h5 is not None:
                h5.close()
        self._context.__exit__(exc_type, exc, tb)
        return False


def write_result(
    path: str | Path,
    kind: str,
    arrays: Mapping[str, tuple[np.ndarray, Sequence[str]]],
    *,
    names: Sequence[str],
    target_labels: Sequence[str],
    onehot: np.ndarray | None = None,
    params: Mapping[str, Any] | None = None,
    positions: np.ndarray | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write one result file at once (see :class:`ResultWriter` for the layout).

    Parameters
    ----------
    arrays
        Array name -> ``(array, axes)``; the first axis of every array is the sequence.
    """
    axes = {k: v[1] for k, v in arrays.items()}
    with ResultWriter(
        path,
        kind,
        axes,
        target_labels=target_labels,
        params=params,
        positions=positions,
        attrs=attrs,
    ) as out:
        out.append(names, {k: v[0] for k, v in arrays.items()}, onehot=onehot)
    return Path(path)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def is_result_file(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file in this convention."""
    path = Path(path)
    if not path.is_file() or not h5py.is_hdf5(path):
        return False
    try:
        with h5py.File(path, "r") as h5:
            return "kind" in h5.attrs and NAMES in h5
    except OSError:
        return False


def read_result_info(path: str | Path) -> StoredResult:
    """What a result file holds: kind, sequence and target names, arrays and their axes.

    Raises
    ------
    InputError
        ``path`` is not a result file of this convention.
    """
    path = Path(path)
    if not is_result_file(path):
        raise InputError("not a motiflens result file (no 'kind' and 'names')", path=path)
    with h5py.File(path, "r") as h5:
        arrays = {
            key: tuple(json.loads(h5[key].attrs["axes"]))
            for key in h5
            if isinstance(h5[key], h5py.Dataset) and "axes" in h5[key].attrs
        }
        params = json.loads(_text(h5.attrs.get("params", "{}")))
        return StoredResult(
            path=path,
            kind=_text(h5.attrs["kind"]),
            names=[_text(v) for v in h5[NAMES][:]],
            target_labels=[_text(v) for v in h5[TARGET_LABELS][:]] if TARGET_LABELS in h5 else [],
            arrays=arrays,
            params=params,
            has_onehot=ONEHOT in h5,
        )


def read_sequence(
    path: str | Path, sequence: int, target: int | None = None
) -> dict[str, np.ndarray]:
    """Every array of one stored sequence (and one target, when given).

    Returns
    -------
    dict
        Array name -> the slice with the sequence axis (and the target axis, when
        ``target`` is given) removed; plus ``onehot (4, L)`` float32 and ``positions``
        when stored.
    """
    info = read_result_info(path)
    if not 0 <= sequence < len(info.names):
        raise IndexError(f"sequence {sequence} of {len(info.names)} in {path}")
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        for key, axes in info.arrays.items():
            value = np.asarray(h5[key][sequence])
            if target is not None and axes[-1] == "target":
                value = value[..., target]
            out[key] = value
        if ONEHOT in h5:
            onehot = np.asarray(h5[ONEHOT][sequence], dtype=np.float32)
            onehot[:, onehot.sum(axis=0) == 0] = 0.25  # unknown bases, as stored in datasets
            out[ONEHOT] = onehot
        if POSITIONS in h5:
            out[POSITIONS] = np.asarray(h5[POSITIONS][:])
    return out
