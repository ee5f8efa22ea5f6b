"""What every explain verb starts from: a run's model, its target names, some sequences."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from motiflens.data.hdf5 import to_float_onehot
from motiflens.errors import InputError
from motiflens.prediction import iter_batches, source_kind


def resolve_targets(targets: Sequence[str | int] | None, target_labels: Sequence[str]) -> list[int]:
    """Target names or indices -> indices; all targets when ``targets`` is empty or None.

    Raises
    ------
    InputError
        A name that is not a target (the message lists the valid ones) or an index out of
        range.
    """
    labels = list(target_labels)
    if not targets:
        return list(range(len(labels)))
    out = []
    for t in targets:
        if isinstance(t, int | np.integer) or (
            isinstance(t, str) and t.isdigit() and t not in labels
        ):
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


def load_sequences(
    source: str | Path,
    *,
    length: int,
    genome: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    pad: bool = True,
) -> tuple[list[str], np.ndarray]:
    """Read up to ``limit`` sequences (FASTA, BED + genome, or a dataset split) as one-hot.

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
    seed: int = 0,
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
            rows = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
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


def explain_dir(run_dir: str | Path, analysis: str) -> Path:
    """``RUN_DIR/explain/<analysis>/``, created."""
    path = Path(run_dir) / "explain" / analysis
    path.mkdir(parents=True, exist_ok=True)
    return path
