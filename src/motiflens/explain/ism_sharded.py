"""Saturation mutagenesis on several processes (GPUs, nodes), one ``ism.h5`` at the end.

The sequences are cut into chunks of ``sequences_per_chunk`` (the chunks a single process
computes with :func:`~motiflens.explain.ism.ism_chunks`); chunk ``u`` goes to rank
``u % world_size`` (see :mod:`motiflens.distributed`). Each rank writes its chunks with
:func:`~motiflens.explain.ism.write_ism` to a part file; rank 0 reads the parts back
chunk by chunk in input order and writes the final file, so memory stays at one chunk
and the file holds the same rows, in the same order, as a single process's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from motiflens.distributed import Launch, Shard, round_robin, run_sharded
from motiflens.errors import InputError
from motiflens.explain.ism import (
    CHUNK_SEQUENCES,
    ISMResult,
    Method,
    ism_chunks,
    write_ism,
)


def write_ism_sharded(
    path: str | Path,
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    names: Sequence[str],
    target_labels: Sequence[str],
    *,
    window: int | tuple[int, int] | None = None,
    targets: Sequence[int] | None = None,
    reverse_complement: bool = False,
    method: Method = "auto",
    batch_size: int | None = None,
    sequences_per_chunk: int = CHUNK_SEQUENCES,
    launch: Launch | None = None,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> Path | None:
    """ISM of every sequence of ``X``, shared among processes, written to one HDF5 file.

    Parameters
    ----------
    path
        The ``ism.h5`` to write (layout of :func:`~motiflens.explain.ism.write_ism`),
        atomically, by rank 0.
    model, X
        As in :func:`~motiflens.explain.ism.saturation_mutagenesis`; every process has
        the same ``X`` and takes its chunks of it.
    names
        One per sequence of ``X``.
    target_labels
        One per selected target (``targets``, or all outputs).
    window, targets, reverse_complement, method, batch_size
        As in :func:`~motiflens.explain.ism.ism_chunks`.
    sequences_per_chunk
        Sequences per chunk, the unit of work a process takes.
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
        "window": window,
        "targets": targets,
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
    **options: object,
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
        **options,  # type: ignore[arg-type]
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
) -> Path:
    """Rank 0: the parts' chunks back in input order, into ``path``."""
    files = [None if p is None else h5py.File(p[0], "r") for p in parts]
    try:
        used = sorted({str(f.attrs["method_used"]) for f in files if f is not None})
        method_used = used[0] if len(used) == 1 else "+".join(used)

        def chunks() -> Iterator[ISMResult]:
            for rank, k in round_robin([0 if p is None else p[1] for p in parts]):
                h5 = files[rank]
                assert h5 is not None
                lo = k * sequences_per_chunk
                hi = min(lo + sequences_per_chunk, h5["delta"].shape[0])
                yield ISMResult(
                    reference=h5["reference"][lo:hi],
                    delta=h5["delta"][lo:hi],
                    positions=h5["positions"][:],
                    method_used=method_used,
                    targets=h5["targets"][:],
                )

        return write_ism(path, chunks(), names, target_labels)
    finally:
        for h5 in files:
            if h5 is not None:
                h5.close()
