"""The dataset file: HDF5 with Basset's keys, stored compactly, read in chunks.

Layout (Basset-compatible names)::

    target_labels        (T,)        str
    {split}_in           (N, 4, L)   uint8 one-hot; an all-zero column is an unknown base
    {split}_out          (N, T)      int8 for 0/1 targets, float32 for continuous ones
    {split}_headers      (N,)        str

for split in train / valid / test (empty splits are left out, as Basset does). Basset's own
files, ``(N, 4, 1, L)`` float16 or bool with N as 0.25, read the same way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from motiflens.data.splits import SPLITS
from motiflens.errors import InputError
from motiflens.files import GuardedFile, atomic_path, disk_full_error
from motiflens.sequence.onehot import codes_to_onehot

FORMAT_VERSION = 1
_STR = h5py.string_dtype(encoding="utf-8")


class DatasetWriter:
    """Write a dataset file split by split, chunk by chunk, and atomically.

    Parameters
    ----------
    path
        Destination ``.h5``. Nothing appears there until :meth:`close` succeeds.
    target_labels
        One name per target.
    length
        Sequence length L.
    split_sizes
        Number of sequences per split; splits of size 0 are not written.
    continuous
        Store targets as float32 (regression) instead of int8 (0/1).
    attrs
        Extra file attributes (provenance: command, source files, parameters).
    compression
        h5py compression filter for the sequences (``"gzip"``, ``"lzf"`` or ``None``).

    Notes
    -----
    Use as a context manager; an exception inside the block discards the partial file.
    A full disk (however HDF5 reports it) is raised as ``OSError(ENOSPC, ..., path)``
    and leaves nothing behind. The open file is available as :attr:`h5` for extra groups
    (e.g. simulation ground truth).
    """

    def __init__(
        self,
        path: str | Path,
        target_labels: Sequence[str],
        length: int,
        split_sizes: Mapping[str, int],
        *,
        continuous: bool = False,
        attrs: Mapping[str, Any] | None = None,
        compression: str | None = "gzip",
    ) -> None:
        unknown = set(split_sizes) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown splits {sorted(unknown)}; use {SPLITS}")
        self.path = Path(path)
        self.length = int(length)
        self.n_targets = len(target_labels)
        self.continuous = continuous
        self.sizes = {s: int(n) for s, n in split_sizes.items() if n > 0}
        self._cursor = dict.fromkeys(self.sizes, 0)
        # Handles kept open for the whole write: a handle dropped after each write closes
        # its dataset, and on a full disk the failed flush of that close was only printed
        # ("Exception ignored in ... __dealloc__") while the loop went on.
        self._dsets: dict[str, h5py.Dataset] = {}
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            # HDF5 writes through a GuardedFile: a write failing inside HDF5 (a full disk)
            # broke its state and the process crashed on closing the file (exit 139).
            self._file = GuardedFile(tmp)
            self.h5 = h5py.File(self._file, "w")
            self._layout(target_labels, continuous, attrs, compression)
            self._file.check(self.path)
        except BaseException as err:
            # The constructor never returned, so no `with` block will discard the temporary
            # file; without this it would linger until the generator is garbage-collected.
            self.abort()
            full = disk_full_error(err, self.path)
            if full is not None:
                raise full from err
            raise

    def _layout(
        self,
        target_labels: Sequence[str],
        continuous: bool,
        attrs: Mapping[str, Any] | None,
        compression: str | None,
    ) -> None:
        """Create the file attributes and the empty datasets of every split."""
        self.h5.attrs["motiflens_format"] = FORMAT_VERSION
        self.h5.attrs["unknown_base"] = "all-zero column in *_in, read as 0.25 per channel"
        for key, value in (attrs or {}).items():
            self.h5.attrs[key] = value
        self.h5.create_dataset("target_labels", data=np.asarray(list(target_labels), dtype=_STR))
        out_dtype = np.float32 if continuous else np.int8
        opts = {"compression": compression}
        if compression == "gzip":
            opts["compression_opts"] = 1
        for split, n in self.sizes.items():
            rows = max(1, min(n, 256))
            self._dsets[f"{split}_in"] = self.h5.create_dataset(
                f"{split}_in",
                shape=(n, 4, self.length),
                dtype=np.uint8,
                chunks=(rows, 4, self.length),
                **opts,
            )
            self._dsets[f"{split}_out"] = self.h5.create_dataset(
                f"{split}_out",
                shape=(n, self.n_targets),
                dtype=out_dtype,
                chunks=(max(1, min(n, 4096)), max(1, self.n_targets)),
            )
            self._dsets[f"{split}_headers"] = self.h5.create_dataset(
                f"{split}_headers", shape=(n,), dtype=_STR
            )

    def write(
        self,
        split: str,
        codes: np.ndarray,
        targets: np.ndarray,
        headers: Sequence[str],
    ) -> None:
        """Append sequences to a split.

        Parameters
        ----------
        split
            ``"train"``, ``"valid"`` or ``"test"``.
        codes
            ``(n, L)`` uint8 base codes (see :mod:`motiflens.sequence.onehot`).
        targets
            ``(n, T)`` target values.
        headers
            ``n`` sequence names.
        """
        codes = np.asarray(codes)
        n = codes.shape[0]
        if n == 0:
            return
        if codes.ndim != 2 or codes.shape[1] != self.length:
            raise ValueError(f"codes have shape {codes.shape}, expected (n, {self.length})")
        start = self._cursor[split]
        end = start + n
        if end > self.sizes[split]:
            raise ValueError(f"{split}: writing past the declared size {self.sizes[split]}")
        targets = np.asarray(targets)
        if targets.ndim == 1 and targets.size == n * self.n_targets and 1 in (n, self.n_targets):
            targets = targets.reshape(n, self.n_targets)
        if targets.shape != (n, self.n_targets):
            # a general reshape would silently scramble a transposed (T, n) array
            raise ValueError(
                f"{split}: targets have shape {targets.shape}, expected ({n}, {self.n_targets})"
            )
        if not self.continuous and not np.isin(targets, (0, 1)).all():
            # int8 storage would silently truncate 0.7 to 0 and turn NaN into 0
            raise ValueError(
                f"{split}: binary targets must be 0 or 1; use continuous=True for real values"
            )
        headers = list(headers)
        if len(headers) != n:
            # h5py would broadcast a single header over all n rows
            raise ValueError(f"{split}: {len(headers)} headers for {n} sequences")
        self._dsets[f"{split}_in"][start:end] = codes_to_onehot(codes, np.uint8)
        self._dsets[f"{split}_out"][start:end] = targets
        self._dsets[f"{split}_headers"][start:end] = np.asarray(headers, dtype=object)
        self._cursor[split] = end
        self._file.check(self.path)  # stop at the first failed write, not at the end

    def close(self) -> Path:
        """Check every split is complete, close the file and move it into place."""
        missing = {s: (self._cursor[s], n) for s, n in self.sizes.items() if self._cursor[s] != n}
        if missing:
            self.abort()
            raise ValueError(f"splits not completely written (written, declared): {missing}")
        self._dsets.clear()
        try:
            self.h5.close()  # the last flush: where a full disk usually shows
            self._file.close()
            self._file.check(self.path)
        except BaseException:
            self.abort()
            raise
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Discard the partial file."""
        self._dsets.clear()
        h5 = getattr(self, "h5", None)  # absent if opening the file failed
        if h5 is not None and h5.id.valid:
            with contextlib.suppress(Exception):  # the file is thrown away
                h5.close()
        file = getattr(self, "_file", None)
        if file is not None and not file.closed:
            file.close()
        try:
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.close()
            return
        self.abort()
        full = disk_full_error(exc, self.path)
        if full is not None:
            raise full from exc


def write_dataset(
    path: str | Path,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray, Sequence[str]]],
    target_labels: Sequence[str],
    *,
    continuous: bool = False,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write in-memory splits to a dataset file.

    Parameters
    ----------
    path
        Destination ``.h5``.
    splits
        ``{split: (codes (n, L) uint8, targets (n, T), headers)}``.
    target_labels
        One name per target.
    continuous
        Targets are continuous (float32) rather than 0/1.
    attrs
        Extra file attributes.
    """
    lengths = {codes.shape[1] for codes, _, _ in splits.values() if len(codes)}
    if len(lengths) != 1:
        raise ValueError(f"all splits must share one sequence length, got {sorted(lengths)}")
    sizes = {s: len(codes) for s, (codes, _, _) in splits.items()}
    with DatasetWriter(
        path, target_labels, lengths.pop(), sizes, continuous=continuous, attrs=attrs
    ) as writer:
        for split, (codes, targets, headers) in splits.items():
            writer.write(split, codes, targets, headers)
    return Path(path)


def to_float_onehot(raw: np.ndarray) -> np.ndarray:
    """Stored sequences -> float32 one-hot ``(n, 4, L)`` with 0.25 for unknown bases.

    Accepts Basset's ``(n, 4, 1, L)`` layout and float16 / bool / uint8 storage.
    """
    x = np.asarray(raw)
    if x.ndim == 4:
        x = x[:, :, 0, :]
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32, copy=False)
    x = x.astype(np.float32)
    unknown = x.sum(axis=1, keepdims=True) == 0
    return np.where(unknown, np.float32(0.25), x)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("dataset file not found", path=path)
    if not h5py.is_hdf5(path):
        raise InputError(
            "not an HDF5 file",
            path=path,
            hint="build one with `motiflens dataset peaks|sequences` or `motiflens simulate`",
        )


_DAMAGED_HINT = (
    "the file is truncated or damaged (an interrupted copy, download or write?); "
    "copy it again or rebuild it with `motiflens dataset` or `motiflens simulate`"
)


@contextlib.contextmanager
def reading_errors(path: str | Path) -> Iterator[None]:
    """Turn HDF5's errors about a damaged file, inside the block, into an InputError.

    HDF5 reports a truncated or corrupt file as an OSError without an errno ("truncated
    file: eof = ...", "wrong B-tree signature"), and a damaged header or attribute as a
    RuntimeError ("Error iterating over attributes (invalid datatype size)"); a flipped
    byte in an object header can also turn a dataset into another kind of object, which
    fails as a TypeError, AttributeError or KeyError where it is read. Errors with an
    errno (permission denied) are the system's and pass through.
    """
    try:
        yield
    except (OSError, RuntimeError, TypeError, AttributeError, KeyError) as err:
        if isinstance(err, OSError) and err.errno is not None:
            raise
        if isinstance(err, RecursionError):  # a RuntimeError, but not HDF5's
            raise
        reason = str(err).split("(", 1)[-1].rstrip(")") if "(" in str(err) else str(err)
        raise InputError(
            f"cannot read it as HDF5 ({reason})", path=path, hint=_DAMAGED_HINT
        ) from err


def _open(path: Path) -> h5py.File:
    """Open a dataset file to read; a damaged file is an InputError."""
    with reading_errors(path):
        return h5py.File(path, "r")


def _split_problem(h5: h5py.File, split: str, labels: int | None) -> str | None:
    """What makes ``split`` of an open dataset file unusable, or None."""
    keys = [f"{split}_in", f"{split}_out"]
    missing = [k for k in keys if k not in h5]
    if missing:
        return f"the {split!r} split lacks {', '.join(missing)}"
    xin, yout = h5[keys[0]], h5[keys[1]]
    if xin.ndim not in (3, 4) or xin.shape[1] != 4:
        return f"{split}_in has shape {xin.shape}; expected (N, 4, L) or (N, 4, 1, L)"
    if yout.ndim != 2:
        return f"{split}_out has shape {yout.shape}; expected (N, targets)"
    if xin.shape[0] != yout.shape[0]:
        return f"{split}_in has {xin.shape[0]} rows but {split}_out {yout.shape[0]}"
    if labels is not None and yout.shape[1] != labels:
        return f"{split}_out has {yout.shape[1]} targets but target_labels names {labels}"
    return None


def _plain(value: Any) -> Any:
    """An HDF5 attribute as plain Python: scalars unwrapped, arrays as lists, bytes as str."""
    # `.item()` alone fails on array attributes (a list of chromosomes, say)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):  # before np.generic: np.bytes_ is both
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_split(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load one whole split into memory: ``(x float32 (n,4,L), y float32 (n,T), headers)``."""
    path = Path(path)
    _check_file(path)
    with _open(path) as h5, reading_errors(path):
        if f"{split}_in" not in h5:
            raise InputError(f"the file has no {split!r} split", path=path)
        problem = _split_problem(h5, split, None)
        if problem:
            raise InputError(problem, path=path, hint=_DAMAGED_HINT)
        x = to_float_onehot(h5[f"{split}_in"][:])
        y = h5[f"{split}_out"][:].astype(np.float32)
        key = f"{split}_headers"
        headers = _decode(h5[key][:]) if key in h5 else [f"{split}_{i}" for i in range(len(x))]
    return x, y, headers


def target_labels(path: str | Path) -> list[str]:
    """Target names stored in a dataset file."""
    path = Path(path)
    _check_file(path)
    with _open(path) as h5, reading_errors(path):
        if "target_labels" not in h5:
            raise InputError(
                "the file has no target_labels (one name per target)",
                path=path,
                hint="rebuild it with `motiflens dataset` or add a target_labels string dataset",
            )
        return _decode(h5["target_labels"][:])


def _read_rows(dset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted, unique) of a dataset, read as runs of consecutive rows.

    h5py's point selection goes through HDF5's chunk cache (1 MiB): with long sequences a
    selection of scattered rows was 100x slower than reading them run by run (64 rows of
    20 kb: 507 ms vs 4 ms, bench/large_dataset.py).
    """
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(rows)]])
    return np.concatenate(
        [dset[rows[a] : rows[b - 1] + 1] for a, b in zip(starts, ends, strict=True)]
    )


class SequenceDataset(Dataset):
    """A torch Dataset over one split of a dataset file, read lazily from disk.

    Parameters
    ----------
    path
        Dataset file.
    split
        ``"train"``, ``"valid"`` or ``"test"``.
    in_memory
        Load the whole split at once (fast random access when it fits in memory).

    Notes
    -----
    Items are ``(x, y)``: float32 ``(4, L)`` one-hot and float32 ``(T,)`` targets. The file
    is opened on first access in each process, so the dataset works with DataLoader
    workers. Batched fetches (``__getitems__``) read one sorted slice per batch; pair it
    with :class:`ChunkedShuffleSampler` so a batch touches few HDF5 chunks.
    """

    def __init__(self, path: str | Path, split: str = "train", *, in_memory: bool = False) -> None:
        self.path = Path(path)
        self.split = split
        _check_file(self.path)
        # Everything a reader needs is checked here, before a caller writes anything: a
        # file without target_labels used to fail only after training had saved a model.
        with _open(self.path) as h5, reading_errors(self.path):
            if f"{split}_in" not in h5:
                present = [s for s in SPLITS if f"{s}_in" in h5]
                raise InputError(
                    f"the file has no {split!r} split (it has {present})", path=self.path
                )
            if "target_labels" not in h5:
                raise InputError(
                    "the file has no target_labels (one name per target)",
                    path=self.path,
                    hint="rebuild it with `motiflens dataset` or add a target_labels dataset",
                )
            problem = _split_problem(h5, split, len(h5["target_labels"]))
            if problem:
                raise InputError(problem, path=self.path, hint=_DAMAGED_HINT)
            shape = h5[f"{split}_in"].shape
            self.n_targets = h5[f"{split}_out"].shape[1]
            self.chunk_rows = (h5[f"{split}_in"].chunks or (1024,))[0]
        self.length = shape[-1]
        self._n = shape[0]
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self._memory: tuple[np.ndarray, np.ndarray] | None = None
        if in_memory:
            x, y, _ = read_split(self.path, split)
            self._memory = (x, y)

    def __len__(self) -> int:
        return self._n

    @property
    def in_memory(self) -> bool:
        """Whether the split was loaded whole."""
        return self._memory is not None

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def _read(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._memory is not None:
            return self._memory[0][idx], self._memory[1][idx]
        with reading_errors(self.path):  # a damaged chunk is found only when read
            return self._read_file(idx)

    def _read_file(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h5 = self._file()
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        lo, hi = int(sorted_idx[0]), int(sorted_idx[-1]) + 1
        if hi - lo <= 4 * len(idx):
            # one contiguous read is far cheaper than h5py's point selection
            x = h5[f"{self.split}_in"][lo:hi][sorted_idx - lo]
            y = h5[f"{self.split}_out"][lo:hi][sorted_idx - lo]
        else:
            uniq, inverse = np.unique(sorted_idx, return_inverse=True)
            x = _read_rows(h5[f"{self.split}_in"], uniq)[inverse]
            y = _read_rows(h5[f"{self.split}_out"], uniq)[inverse]
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return to_float_onehot(x)[back], y.astype(np.float32)[back]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        x, y = self._read(np.asarray([i]))
        return torch.from_numpy(x[0]), torch.from_numpy(y[0])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        # negative indices count from the end, as in __getitem__; the sorted-slice read
        # below needs them in range (a slice from -1 would silently read nothing)
        idx = np.where(idx < 0, idx + self._n, idx)
        if idx.size == 0:
            return []
        if idx.min() < 0 or idx.max() >= self._n:
            bad = indices[int(np.flatnonzero((idx < 0) | (idx >= self._n))[0])]
            raise IndexError(f"index {bad} is out of range for {self._n} items")
        x, y = self._read(idx)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        return list(zip(xt, yt, strict=True))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"] = None  # h5py handles do not pickle; reopened in the worker
        return state


class ChunkedShuffleSampler(Sampler[int]):
    """Shuffle at two levels so a batch reads few HDF5 chunks: block order, then inside.

    Blocks of ``block`` consecutive rows are visited in random order, and rows are shuffled
    within a window of ``window`` blocks. Different each epoch (call :meth:`set_epoch`).
    """

    def __init__(self, n: int, block: int = 256, window: int = 8, seed: int = 0) -> None:
        self.n, self.block, self.window, self.seed = n, block, window, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the shuffle for a new epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch))
        if self.block == 1:  # rows in memory: a plain full permutation
            yield from rng.permutation(self.n).tolist()
            return
        starts = np.arange(0, self.n, self.block)
        rng.shuffle(starts)
        for w in range(0, len(starts), self.window):
            idx = np.concatenate(
                [np.arange(s, min(s + self.block, self.n)) for s in starts[w : w + self.window]]
            )
            rng.shuffle(idx)
            yield from idx.tolist()


def dataset_info(path: str | Path) -> dict[str, Any]:
    """Summarise a dataset file: splits, shapes, targets and positive rates.

    Returns
    -------
    dict
        ``{"path", "targets", "length", "layout", "splits": {split: {"n", "shape",
        "positive_rate" or "mean"}}, "attrs", "problems"}``. Rates are computed chunk by
        chunk; ``problems`` lists what would stop or weaken training (no target_labels,
        an inconsistent split, no validation split).

    Raises
    ------
    InputError
        The file is missing, not HDF5, truncated or damaged.
    """
    path = Path(path)
    _check_file(path)
    info: dict[str, Any] = {"path": str(path), "splits": {}}
    with _open(path) as h5, reading_errors(path):
        info["targets"] = _decode(h5["target_labels"][:]) if "target_labels" in h5 else []
        labels = len(info["targets"]) if "target_labels" in h5 else None
        problems = [] if "target_labels" in h5 else ["no target_labels"]
        info["attrs"] = {k: _plain(v) for k, v in h5.attrs.items()}
        for split in SPLITS:
            if f"{split}_in" not in h5:
                continue
            problem = _split_problem(h5, split, labels)
            if problem:
                problems.append(problem)
                continue
            xin, yout = h5[f"{split}_in"], h5[f"{split}_out"]
            info["length"] = xin.shape[-1]
            info["layout"] = "(N, 4, 1, L)" if xin.ndim == 4 else "(N, 4, L)"
            total = np.zeros(yout.shape[1], dtype=np.float64)
            step = 65536
            for i in range(0, yout.shape[0], step):
                total += yout[i : i + step].astype(np.float64).sum(axis=0)
            n = yout.shape[0]
            entry: dict[str, Any] = {"n": n, "shape": tuple(xin.shape), "dtype": str(xin.dtype)}
            rate = (total / max(n, 1)).tolist()
            if np.issubdtype(yout.dtype, np.integer) or yout.dtype == bool:
                entry["positive_rate"] = rate
            else:
                entry["mean"] = rate
            info["splits"][split] = entry
    if "valid" not in info["splits"]:
        problems.append("no validation split: training stops early on the training loss")
    info["problems"] = problems
    return info
