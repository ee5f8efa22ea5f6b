"""ISM results on disk: the HDF5 result file, Basset's table, and the sharded writer.

:func:`write_ism` stores :class:`~motiflens.explain.ism.ISMResult` chunks in the
:mod:`motiflens.results` convention (kind ``"ism"``), so the dashboard and the report read
them as any other per-sequence result:

- ``delta (sequence, base, position, target)``, ``reference (sequence, target)``,
  ``loss`` and ``gain (sequence, position, target)``: float32;
- ``positions (W,)``: the mutated window; ``names``, ``target_labels``;
- ``onehot (N, 4, L)`` uint8 when the sequences are given (the dashboard draws them);
- ``params``: ``method_used`` (``"fast"`` or ``"naive"``), ``targets`` (the model
  outputs of the target axis) and whatever the caller adds.

:func:`write_ism_sharded` computes and writes on several processes
(:mod:`motiflens.distributed`): the sequences are cut into chunks of
``sequences_per_chunk`` (the chunks a single process computes with
:func:`~motiflens.explain.ism.ism_chunks`); chunk ``u`` goes to rank ``u % world_size``.
Each rank writes its chunks to a part file; rank 0 reads the parts back chunk by chunk in
input order and writes the final file, so memory stays at one chunk and the file holds
the same rows, in the same order, as a single process's.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from torch import nn

from motiflens.distributed import Launch, Shard, round_robin, run_sharded
from motiflens.errors import InputError
from motiflens.explain.ism import CHUNK_SEQUENCES, ISMResult, Method, Targets, ism_chunks, loss_gain
from motiflens.files import atomic_path
from motiflens.results import ResultWriter, read_result_info

__all__ = [
    "ism_output_bytes",
    "ism_table",
    "write_ism",
    "write_ism_sharded",
    "write_ism_table",
]

#: The arrays of an ISM result file and their axes (target last).
ISM_AXES: dict[str, tuple[str, ...]] = {
    "delta": ("sequence", "base", "position", "target"),
    "reference": ("sequence", "target"),
    "loss": ("sequence", "position", "target"),
    "gain": ("sequence", "position", "target"),
}


def ism_output_bytes(n_sequences: int, width: int, n_targets: int, length: int = 0) -> int:
    """Bytes of the arrays :func:`write_ism` stores for an ISM of this size.

    ``delta`` (N x 4 x W x T), ``loss`` and ``gain`` (N x W x T each) and ``reference``
    (N x T), float32, plus ``positions`` (W, int64), plus the one-hot sequences (N x 4 x
    ``length``, uint8) when they are stored (``length`` > 0). Names, labels, parameters
    and HDF5 bookkeeping add a few kilobytes more.
    """
    n, w, t = int(n_sequences), int(width), int(n_targets)
    return 4 * (4 * n * w * t + 2 * n * w * t + n * t) + 8 * w + 4 * n * int(length)


def write_ism(
    path: str | Path,
    results: ISMResult | Iterable[ISMResult],
    names: Sequence[str] | None = None,
    target_labels: Sequence[str] | None = None,
    *,
    onehot: Any = None,
    params: Mapping[str, Any] | None = None,
    verbose: bool = False,
) -> Path:
    """Write ISM results to an HDF5 result file, one chunk at a time, atomically.

    The layout is the module docstring's. The file is written under a temporary name
    and renamed when complete, so an interrupted run leaves no partial file.

    Parameters
    ----------
    path
        The ``.h5`` file to write.
    results
        One :class:`~motiflens.explain.ism.ISMResult`, or an iterable of them
        (:func:`~motiflens.explain.ism.ism_chunks`): chunks of sequences with the same
        window and targets, concatenated along N.
    names
        One name per sequence (default ``seq0``, ``seq1``, ...).
    target_labels
        One label per target of the results (default: the target indices).
    onehot
        The sequences, ``(N, 4, L)`` (anything sliceable along N: an array, a tensor,
        an h5py dataset), stored as uint8 so that the dashboard can draw them.
    params
        More parameters to store with ``method_used`` and ``targets`` (the window,
        reverse complement, the source, ...).
    verbose
        Print the number of sequences written after each chunk.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        No results, chunks that disagree on window or targets, or ``names``,
        ``target_labels`` or ``onehot`` of the wrong length.
    """
    path = Path(path)
    chunks = iter([results] if isinstance(results, ISMResult) else results)
    first = next(chunks, None)
    if first is None:
        raise InputError("no ISM results to write")
    t = first.delta.shape[-1]
    labels = (
        [str(int(i)) for i in first.targets]
        if target_labels is None
        else [str(s) for s in target_labels]
    )
    if len(labels) != t:
        raise InputError(f"{len(labels)} target labels for {t} targets")
    stored = {
        "method_used": first.method_used,
        "targets": [int(i) for i in first.targets],
        **dict(params or {}),
    }
    writer = ResultWriter(
        path,
        "ism",
        ISM_AXES,
        target_labels=labels,
        params=stored,
        positions=np.asarray(first.positions, dtype=np.int64),
    )
    with writer as out:
        for chunk in _checked([first], chunks):
            k = chunk.delta.shape[0]
            lo = out.n
            chunk_names = (
                [f"seq{i}" for i in range(lo, lo + k)]
                if names is None
                else [str(s) for s in names[lo : lo + k]]
            )
            if len(chunk_names) != k:
                raise InputError(f"{len(names or [])} names for more sequences")
            seqs = None if onehot is None else _numpy(onehot[lo : lo + k])
            if seqs is not None and seqs.shape[0] != k:
                raise InputError(f"{len(onehot)} one-hot sequences for more sequences")
            loss, gain = loss_gain(chunk.delta)
            arrays = {"delta": chunk.delta, "reference": chunk.reference}
            out.append(chunk_names, {**arrays, "loss": loss, "gain": gain}, onehot=seqs)
            if verbose:
                print(f"ISM: wrote {out.n} sequences to {path}", file=sys.stderr)
        if names is not None and len(names) != out.n:
            raise InputError(f"{len(names)} names for {out.n} sequences")
        if onehot is not None and len(onehot) != out.n:
            raise InputError(f"{len(onehot)} one-hot sequences for {out.n} sequences")
    return path


def _checked(head: list[ISMResult], rest: Iterator[ISMResult]) -> Iterator[ISMResult]:
    """The chunks, each checked against the first for the same window and targets."""
    first = head[0]
    yield first
    for chunk in rest:
        if not (
            np.array_equal(chunk.positions, first.positions)
            and np.array_equal(chunk.targets, first.targets)
        ):
            raise InputError("ISM chunks disagree on their window or targets")
        yield chunk


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def ism_table(
    result: ISMResult,
    names: Sequence[str] | None = None,
    target_labels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Basset's ``table.txt`` as a DataFrame: one row per sequence, position and target.

    Columns ``name``, ``position`` (0-based), ``target``, ``reference`` (logit),
    ``loss``, ``gain``, ``best_base`` (the base with the highest prediction: the
    reference base itself where no substitution raises it) and ``worst_base`` (the base
    with the lowest prediction). Rows are ordered by sequence, position, target.
    """
    loss, gain = loss_gain(result.delta)
    n, _, w, t = result.delta.shape
    names = [f"seq{i}" for i in range(n)] if names is None else [str(v) for v in names]
    labels = (
        [str(int(i)) for i in result.targets]
        if target_labels is None
        else [str(v) for v in target_labels]
    )
    if len(names) != n or len(labels) != t:
        raise InputError(f"{len(names)} names and {len(labels)} labels for {n} x {t} results")
    bases = np.array(list("ACGT"))
    return pd.DataFrame(
        {
            "name": np.repeat(names, w * t),
            "position": np.tile(np.repeat(result.positions, t), n),
            "target": np.tile(labels, n * w),
            "reference": np.repeat(result.reference, w, axis=0).ravel(),
            "loss": loss.ravel(),
            "gain": gain.ravel(),
            "best_base": bases[result.delta.argmax(1)].ravel(),
            "worst_base": bases[result.delta.argmin(1)].ravel(),
        }
    )


def write_ism_table(
    path: str | Path,
    result: ISMResult,
    names: Sequence[str] | None = None,
    target_labels: Sequence[str] | None = None,
) -> Path:
    """Write :func:`ism_table` as TSV (with a header), atomically; return the path."""
    table = ism_table(result, names, target_labels)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return Path(path)


# ------------------------------------------------------------------------ sharded


def write_ism_sharded(
    path: str | Path,
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    names: Sequence[str],
    target_labels: Sequence[str],
    *,
    targets: Targets = None,
    window: int | tuple[int, int] | None = None,
    reverse_complement: bool = False,
    method: Method = "auto",
    batch_size: int | None = None,
    sequences_per_chunk: int = CHUNK_SEQUENCES,
    store_onehot: bool = True,
    params: Mapping[str, Any] | None = None,
    launch: Launch | None = None,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> Path | None:
    """ISM of every sequence of ``X``, shared among processes, written to one HDF5 file.

    Parameters
    ----------
    path
        The ``ism.h5`` to write (layout of :func:`write_ism`), atomically, by rank 0.
    model, X
        As in :func:`~motiflens.explain.ism.saturation_mutagenesis`; every process has
        the same ``X`` and takes its chunks of it.
    names
        One per sequence of ``X``.
    target_labels
        One per selected target (``targets``, or all outputs).
    targets, window, reverse_complement, method, batch_size
        As in :func:`~motiflens.explain.ism.ism_chunks`.
    sequences_per_chunk
        Sequences per chunk, the unit of work a process takes.
    store_onehot
        Store the sequences in the file too (``onehot``), for the dashboard.
    params
        More parameters to store (see :func:`write_ism`).
    launch
        Processes (:class:`~motiflens.distributed.Launch`); default one.
    device
        One explicit device for a single process.
    verbose
        Progress bar (rank 0's chunks).

    Returns
    -------
    Path or None
        ``path`` in the process holding rank 0, None in the others.

    Raises
    ------
    InputError
        As :func:`~motiflens.explain.ism.ism_chunks` (checked before any process starts),
        no sequences, or ``names`` of the wrong length.
    """
    n = int(X.shape[0])
    if n == 0:
        raise InputError("no sequences to mutate")
    if len(names) != n:
        raise InputError(f"{len(names)} names for {n} sequences")
    options = {
        "targets": targets,
        "window": window,
        "reverse_complement": reverse_complement,
        "method": method,
        "batch_size": batch_size,
    }
    # window, targets, length and method are checked on no sequences: once, here
    next(ism_chunks(model, X[:0], device=device, **options))
    work = partial(
        _ism_shard,
        model=model,
        X=X,
        names=list(names),
        target_labels=list(target_labels),
        sequences_per_chunk=sequences_per_chunk,
        verbose=verbose,
        **options,
    )
    merge = partial(
        _merge_ism,
        path=Path(path),
        names=list(names),
        target_labels=list(target_labels),
        sequences_per_chunk=sequences_per_chunk,
        onehot=X if store_onehot else None,
        params=dict(params or {}),
    )
    return run_sharded(work, merge, near=path, launch=launch, device=device)


def _ism_shard(
    shard: Shard,
    *,
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    names: list[str],
    target_labels: list[str],
    sequences_per_chunk: int,
    verbose: bool,
    **options: Any,
) -> tuple[Path, int] | None:
    """This rank's chunks, in order, into its part file; (part, chunks) or None if none."""
    n = int(X.shape[0])
    own = list(shard.units(math.ceil(n / sequences_per_chunk)))
    if not own:
        return None
    rows = np.concatenate(
        [np.arange(u * sequences_per_chunk, min((u + 1) * sequences_per_chunk, n)) for u in own]
    )
    # Every own chunk but the input's last is full, so ism_chunks cuts X[rows] into the
    # same chunks (hence the same batches) as a single process does.
    x = X[torch.from_numpy(rows)] if isinstance(X, torch.Tensor) else X[rows]
    chunks = ism_chunks(
        model,
        x,
        device=shard.device,
        sequences_per_chunk=sequences_per_chunk,
        verbose=verbose and shard.is_zero,
        **options,
    )
    part = shard.part(".h5")
    write_ism(part, chunks, [names[i] for i in rows], target_labels)
    return part, len(own)


def _merge_ism(
    parts: list[tuple[Path, int] | None],
    *,
    path: Path,
    names: list[str],
    target_labels: list[str],
    sequences_per_chunk: int,
    onehot: Any,
    params: dict[str, Any],
) -> Path:
    """Rank 0: the parts' chunks back in input order, into ``path``."""
    infos = [None if p is None else read_result_info(p[0]) for p in parts]
    used = sorted({str(i.params["method_used"]) for i in infos if i is not None})
    method_used = used[0] if len(used) == 1 else "+".join(used)
    files = [None if p is None else h5py.File(p[0], "r") for p in parts]
    try:

        def chunks() -> Iterator[ISMResult]:
            for rank, k in round_robin([0 if p is None else p[1] for p in parts]):
                h5, info = files[rank], infos[rank]
                assert h5 is not None and info is not None
                lo = k * sequences_per_chunk
                hi = min(lo + sequences_per_chunk, h5["delta"].shape[0])
                yield ISMResult(
                    reference=h5["reference"][lo:hi],
                    delta=h5["delta"][lo:hi],
                    positions=h5["positions"][:],
                    method_used=method_used,
                    targets=np.asarray(info.params["targets"], dtype=np.int64),
                )

        return write_ism(path, chunks(), names, target_labels, onehot=onehot, params=params)
    finally:
        for h5 in files:
            if h5 is not None:
                h5.close()
