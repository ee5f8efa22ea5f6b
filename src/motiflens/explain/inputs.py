"""What every explain function starts from: sequences as one-hot, targets as indices.

- :func:`as_onehot`: the one converter of sequence inputs (a string, a list of strings,
  or a one-hot array ``(N, 4, L)``) into the float32 one-hot every compute function takes;
- :func:`resolve_targets` / :func:`model_targets`: the one resolver of target names and
  indices (names are the model's ``target_labels``);
- :func:`load_sequences` / :func:`sample_sequences`: sequences from a FASTA, BED + genome
  or dataset file, for the run-level steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from motiflens.data.hdf5 import to_float_onehot
from motiflens.data.sources import iter_batches, source_kind
from motiflens.errors import InputError
from motiflens.sequence.onehot import one_hot

__all__ = [
    "SequenceInput",
    "TargetSelection",
    "as_onehot",
    "load_sequences",
    "model_targets",
    "resolve_targets",
    "sample_sequences",
    "target_names",
]

#: What the compute functions accept as sequences.
SequenceInput = str | Sequence[str] | np.ndarray | torch.Tensor
#: Target selection: an index or name, a list of them, or None (all targets).
TargetSelection = int | str | Sequence[int | str] | None


def as_onehot(X: Any, *, length: int | None = None) -> np.ndarray:
    """Sequences as a float32 one-hot array ``(N, 4, L)``.

    Parameters
    ----------
    X
        One DNA string (``N = 1``), a list of strings (of one length, or centre-padded /
        trimmed to ``length``), or a one-hot array or tensor ``(N, 4, L)`` (channels A, C,
        G, T; unknown bases 0.25).
    length
        Strings only: centre-pad (with N) or centre-trim each to this length.

    Returns
    -------
    numpy.ndarray
        ``(N, 4, L)`` float32, C-contiguous (a float32 array is returned as it is).

    Raises
    ------
    InputError
        A string with a character that is not a base (the message names the record and
        position), or an array that is not ``(N, 4, L)``.
    """
    if isinstance(X, str):
        return one_hot([X], length=length)
    if isinstance(X, Sequence) and not isinstance(X, np.ndarray):
        items = list(X)
        if all(isinstance(s, str) for s in items):
            if not items:
                return np.zeros((0, 4, length or 0), dtype=np.float32)
            return one_hot(items, length=length)
    arr = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    if arr.ndim != 3 or arr.shape[1] != 4:
        hint = "one sequence (4, L) needs a batch axis: X[None]" if arr.ndim == 2 else None
        raise InputError(
            f"expected one-hot sequences of shape (N, 4, L) or DNA strings, got an array of "
            f"shape {arr.shape}",
            hint=hint,
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def resolve_targets(targets: TargetSelection, target_labels: Sequence[str]) -> list[int]:
    """Target names and/or indices -> indices; all targets when ``targets`` is empty or None.

    Parameters
    ----------
    targets
        A target label (``"CTCF"``), an index, a list mixing both, or ``None`` (or an
        empty list) for all targets. A string of digits that is not a label is read as an
        index (as typed on a command line).
    target_labels
        The model's target labels, in output order.

    Returns
    -------
    list of int
        Indices into the model's outputs, in the order given.

    Raises
    ------
    InputError
        A name that is not a target (the message lists the valid ones) or an index out of
        range.
    """
    labels = list(target_labels)
    if isinstance(targets, str | int | np.integer):
        targets = [targets]  # type: ignore[list-item]
    if not targets:
        return list(range(len(labels)))
    out = []
    for t in targets:
        if isinstance(t, bool) or not isinstance(t, int | str | np.integer):
            raise InputError(f"target {t!r} is neither an index nor a name")
        if isinstance(t, int | np.integer) or (t.isdigit() and t not in labels):
            i = int(t)
            if not 0 <= i < len(labels):
                raise InputError(f"target index {i} is out of range (0..{len(labels) - 1})")
            out.append(i)
        elif t in labels:
            out.append(labels.index(t))
        else:
            shown = ", ".join(labels[:30]) + (" ..." if len(labels) > 30 else "")
            raise InputError(f"no target named {t!r}", hint=f"the targets are: {shown}")
    return out


def target_names(model: Any, n_outputs: int) -> list[str]:
    """``model.target_labels`` when it names ``n_outputs`` outputs, else ``target_<i>``."""
    labels = [str(v) for v in (getattr(model, "target_labels", None) or [])]
    return labels if len(labels) == n_outputs else [f"target_{i}" for i in range(n_outputs)]


def model_targets(model: Any, targets: TargetSelection, n_outputs: int) -> list[int]:
    """:func:`resolve_targets` against a model's own target names.

    Names are looked up in ``model.target_labels``; a model without (matching) names takes
    indices and ``target_<i>``.
    """
    if targets is not None and not isinstance(targets, str | int | np.integer):
        if len(list(targets)) == 0:
            raise InputError("no targets selected", hint="pass targets=None for all targets")
    return resolve_targets(targets, target_names(model, n_outputs))


def load_sequences(
    source: str | Path,
    *,
    length: int,
    genome: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    pad: bool = True,
) -> tuple[list[str], np.ndarray]:
    """Read the first ``limit`` sequences (FASTA, BED + genome, or a dataset split) as one-hot.

    Returns
    -------
    names : list of str
    X : numpy.ndarray
        ``(n, 4, length)`` float32 one-hot (0.25 for unknown bases).
    """
    names: list[str] = []
    chunks: list[np.ndarray] = []
    batch = 256 if limit is None else max(1, min(limit, 256))
    for batch_names, x in iter_batches(
        source, length=length, genome=genome, split=split, batch_size=batch, pad=pad
    ):
        names.extend(batch_names)
        chunks.append(x)
        if limit is not None and len(names) >= limit:
            break
    if not names:
        raise InputError("no sequences found", path=source)
    X = np.concatenate(chunks)
    if limit is not None:
        names, X = names[:limit], X[:limit]
    return names, X


def sample_sequences(
    source: str | Path,
    *,
    length: int,
    n: int | None = 1000,
    random_state: int | None = 0,
    genome: str | Path | None = None,
    split: str = "test",
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """A seeded random sample of ``n`` sequences, with labels when the source has them.

    From a dataset file the rows are drawn at random from the split (a split's first rows
    can all come from one chromosome); FASTA and BED give their first ``n`` records.

    Returns
    -------
    names : list of str
    X : numpy.ndarray
        ``(n, 4, length)`` float32 one-hot.
    y : numpy.ndarray or None
        ``(n, T)`` float32 labels (dataset files only).
    """
    if source_kind(source) != "dataset":
        names, X = load_sequences(source, length=length, genome=genome, limit=n)
        return names, X, None
    with h5py.File(source, "r") as h5:
        if f"{split}_in" not in h5:
            raise InputError(f"the file has no {split!r} split", path=source)
        total = len(h5[f"{split}_in"])
        if total == 0:
            raise InputError(f"the {split!r} split is empty", path=source)
        if n is None or n >= total:
            rows = np.arange(total)
        else:
            rng = np.random.default_rng(random_state)
            rows = np.sort(rng.choice(total, size=n, replace=False))
        X = to_float_onehot(h5[f"{split}_in"][rows])
        y = h5[f"{split}_out"][rows].astype(np.float32)
        key = f"{split}_headers"
        if key in h5:
            names = [v.decode() if isinstance(v, bytes) else str(v) for v in h5[key][rows]]
        else:
            names = [f"{split}_{i}" for i in rows]
    if X.shape[-1] != length:
        raise InputError(
            f"sequences are {X.shape[-1]} bp but the model takes {length} bp", path=source
        )
    return names, X, y
