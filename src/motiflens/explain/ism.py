"""In-silico saturation mutagenesis (ISM): every single-base substitution, exact and fast.

For each sequence, each position of a window and each of the three other bases, the
model is run on the mutated sequence; the result is the change of every target's logit,
``delta = logit(mutant) - logit(reference)``, as in Basset's ``basset_sat.py``. Loss and
gain scores per position (:func:`loss_gain`) summarise it: ``loss = reference - min``
over the four bases, ``gain = max - reference``.

Fast path
---------
A substitution at position ``i`` changes only a window of every convolution's and
pooling layer's output, so :func:`saturation_mutagenesis` (``method="fast"``) runs the
unmutated sequences once, keeps every layer's output, and pushes all mutants of a chunk
through their windows together, as a few large matrix products:

* A convolution is linear: the change of its output is the (transposed) convolution of
  the change of its input, which is non-zero on a few columns only. ``w`` changed
  columns and a ``k``-wide kernel give ``w + k - 1`` changed output columns, a full
  linear convolution; it is computed in the basis of a length-``(w + k - 1)`` DFT, where
  it is one channel-mixing product per frequency (three real ones per complex
  frequency) instead of ``w x k`` (25 instead of 77 products of 300 x 200 for Basset's
  second layer). The DFT is orthogonal up to a scale, so the rounding stays that of the
  direct sum (about 1e-6 relative in float32). Where it would save little, a plain
  transposed convolution is used.
* The first layer, its batch norm (folded into the convolution), ReLU and max-pool run
  as one step: the change of the convolution is written straight into the pool's
  windows (a row of a small table per offset, reference base and new base), the
  reference is added (gathered once per position for its three mutants), and the ReLU
  runs after the pool (``max`` and ``ReLU`` commute exactly), on a third of the columns.
* Element-wise layers run on the mutant's values in the window. A max-pool with stride
  = kernel combines the window with two precomputed reference maxima per position (of
  its pool window left and right of it); other max-pools splice the window into the
  reference around it. Ceil mode's partial last window is exact.
* Exact skipping: a mutant whose change becomes all zero after a layer (below every
  ReLU threshold, or below the maximum of every pool window it touches) cannot change
  anything downstream, so its output *is* the reference output and it leaves the chunk;
  window columns that no mutant of a chunk changes are trimmed.
* A flatten followed by a linear layer gets ``h0 + W[:, window] @ change``, one product
  per window start; a global max over positions the maximum of the mutant's window and
  the reference's maxima left and right of it (prefix and suffix maxima); a global mean
  the reference mean plus the change over the length. The layers after that run on the
  batch of mutants.

On CPU the products go through oneDNN (about twice MKL's float32 speed on AMD CPUs, where
MKL runs its AVX2 code). On Basset at 600 bp the fast path does 15 GFLOP per sequence
where the naive computation does 537 (``bench/ism.py``).

The fast path takes the Basset and DeMo CNN models of :mod:`motiflens.models` and any
``nn.Sequential`` of ``Conv1d`` (any dilation, stride 1, zero padding), zero padding,
``BatchNorm1d``, element-wise activations, ``Dropout``, ``MaxPool1d`` (stride at most
the kernel size), then ``Flatten`` + ``Linear`` or ``AdaptiveMaxPool1d(1)`` /
``AdaptiveAvgPool1d(1)`` + ``Flatten``, then ``Linear``/``BatchNorm1d``/activations.
Anything else (the RNNs, residual connections, unknown layers) runs the naive
computation, with a one-line warning. The fast path checks itself before it is used: its
reference outputs, and a few mutants at both ends and the middle of the first sequence,
must equal the model's own outputs, or the naive computation is used instead.

Conventions
-----------
* The model runs in eval mode (batch norm uses its running statistics, dropout is off);
  its mode and device are restored afterwards.
* The reference slot of ``delta`` holds the unmutated prediction, so it is 0 (Basset's
  convention). An unknown base (an ``N``: a column of 0.25, or any column that is not
  one-hot) counts as ``A``, as in Basset: its ``A`` slot is 0 and its ``C``, ``G``, ``T``
  slots replace the column with that base.
* With ``reverse_complement=True`` every prediction (reference and mutants) is the mean
  of the forward and reverse-complement logits. The reverse complement of a mutant is a
  mutant of the reverse-complement sequence (mirrored position, complementary base), so
  both strands use the fast path.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import h5py
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from motiflens.data.hdf5 import to_float_onehot
from motiflens.errors import InputError
from motiflens.files import atomic_path
from motiflens.models.basset import Basset, DenseBlock
from motiflens.models.demo import DeMoCNN
from motiflens.models.layers import ConvBlock
from motiflens.models.registry import pick_device, prepared_model

__all__ = [
    "ISMResult",
    "ism_chunks",
    "ism_output_bytes",
    "ism_table",
    "loss_gain",
    "saturation_mutagenesis",
    "write_ism",
    "write_ism_table",
]

Method = Literal["auto", "fast", "naive"]
METHODS: tuple[str, ...] = ("auto", "fast", "naive")

#: Mutants per chunk of the fast path on CPU (a chunk's windows stay in cache; about
#: 0.1 MB per mutant on Basset at 600 bp) and on GPU.
FAST_BATCH = 384
FAST_BATCH_GPU = 8192
#: Mutated sequences per forward pass of the naive path on CPU (the fastest of 32-256 for
#: Basset at 600 bp; larger batches fall out of cache) and on GPU.
NAIVE_BATCH = 32
NAIVE_BATCH_GPU = 512
#: Memory the fast path may keep per model for slices of the first dense layer's weights.
DENSE_CACHE_BYTES = 512 * 2**20
#: Sequences whose reference pass the fast path holds at a time.
GROUP_SEQUENCES = 32
#: Sequences per chunk of :func:`ism_chunks`.
CHUNK_SEQUENCES = 16


class ISMResult(NamedTuple):
    """What :func:`saturation_mutagenesis` returns (float32 NumPy arrays).

    Attributes
    ----------
    reference
        ``(N, T)`` logits of the unmutated sequences (the forward/reverse-complement
        mean with ``reverse_complement=True``).
    delta
        ``(N, 4, W, T)``: ``logit(mutant) - logit(reference)`` for base A, C, G, T at
        each position of the window and each target; 0 in the reference base's slot.
    positions
        ``(W,)`` int64: the 0-based sequence positions of the window, in order.
    method_used
        ``"fast"`` or ``"naive"``.
    targets
        ``(T,)`` int64: the model outputs the last axis holds, in order.
    """

    reference: np.ndarray
    delta: np.ndarray
    positions: np.ndarray
    method_used: str
    targets: np.ndarray


# =============================================================================== API


def saturation_mutagenesis(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    *,
    window: int | tuple[int, int] | None = None,
    targets: Sequence[int] | None = None,
    reverse_complement: bool = False,
    method: Method = "auto",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> ISMResult:
    """Change of every target's logit for every single-base substitution.

    Parameters
    ----------
    model
        Takes one-hot ``(batch, 4, L)`` float32 and returns ``(batch, T)`` logits.
        Run in eval mode; its mode and device are restored afterwards.
    X
        ``(N, 4, L)`` one-hot sequences (A, C, G, T); a column of 0.25 (N) or any column
        that is not one-hot has reference base A (Basset's convention).
    window
        Positions to mutate: ``None`` for all, an int ``n`` for the central ``n``
        positions (starting at ``(L - n) // 2``, as ``basset_sat.py -n``), or a
        0-based half-open ``(start, end)``.
    targets
        Model outputs to keep (indices), in the order given; ``None`` for all.
    reverse_complement
        Average forward and reverse-complement logits of every sequence and mutant.
    method
        ``"fast"``: the exact windowed computation (module docstring); raises an
        :class:`~motiflens.errors.InputError` for a model it does not support.
        ``"naive"``: every mutant through the whole model. ``"auto"`` (default):
        fast where supported, otherwise naive with a warning.
    batch_size
        Mutants per chunk: by default 384 for the fast path and 32 for the naive one on
        CPU (8192 and 512 on GPU).
    device
        Where to run; default CUDA if available, else CPU.
    verbose
        Show a progress bar over sequences.

    Returns
    -------
    ISMResult
        ``reference (N, T)``, ``delta (N, 4, W, T)``, ``positions (W,)``,
        ``method_used``, ``targets (T,)``.

    Raises
    ------
    InputError
        ``X`` is not ``(N, 4, L)`` or holds NaN; ``L`` is a length the model does not
        take; a window outside the sequence; a target that does not exist (the valid
        ones are listed); ``method="fast"`` for a model the fast path does not support;
        or an output that would not fit in memory (use :func:`ism_chunks` with
        :func:`write_ism` then).

    Examples
    --------
    >>> result = saturation_mutagenesis(model, X, window=200)
    >>> loss, gain = loss_gain(result.delta)
    """
    if not isinstance(X, np.ndarray | torch.Tensor) and hasattr(X, "shape"):
        X = np.asarray(X)
    x = _as_tensor(X)
    n, _, length = x.shape
    positions = _window_positions(window, length)
    t_hint = len(targets) if targets is not None else _n_outputs_hint(model)
    need = ism_output_bytes(n, positions.size, t_hint) if t_hint else 0
    free = _available_memory()
    if free is not None and need > free // 2:
        raise InputError(
            f"the ISM output would take {_human(need)} in memory, more than half of the "
            f"{_human(free)} available",
            hint="stream it to HDF5 with ism_chunks(...) and write_ism(...), "
            "or pick a smaller window or fewer targets",
        )
    chunks = list(
        ism_chunks(
            model,
            x,
            window=window,
            targets=targets,
            reverse_complement=reverse_complement,
            method=method,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
            sequences_per_chunk=max(n, 1),
        )
    )
    return chunks[0]


def ism_chunks(
    model: nn.Module,
    X: Any,
    *,
    window: int | tuple[int, int] | None = None,
    targets: Sequence[int] | None = None,
    reverse_complement: bool = False,
    method: Method = "auto",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    verbose: bool = False,
    sequences_per_chunk: int = CHUNK_SEQUENCES,
) -> Iterator[ISMResult]:
    """:func:`saturation_mutagenesis` over chunks of sequences, one result per chunk.

    For outputs larger than memory: pass the generator to :func:`write_ism`, which
    writes each chunk as it comes. ``X`` may be anything sliceable along its first axis
    into ``(n, 4, L)`` arrays (a NumPy array or memmap, an h5py dataset, a tensor). The
    other parameters are :func:`saturation_mutagenesis`'s; the choice between the fast
    and naive paths (and its warning) is made once, on the first chunk.

    Yields
    ------
    ISMResult
        For ``X[i : i + sequences_per_chunk]``, in order.
    """
    if method not in METHODS:
        raise InputError(f"unknown ISM method {method!r}", hint=f"choose {', '.join(METHODS)}")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if sequences_per_chunk < 1:
        raise InputError(f"sequences_per_chunk must be at least 1, got {sequences_per_chunk}")
    shape = tuple(X.shape)
    if len(shape) != 3 or shape[1] != 4:
        raise InputError(
            f"expected one-hot sequences of shape (N, 4, L), got {shape}",
            hint="one sequence (4, L) needs a batch axis: X[None]",
        )
    n, _, length = shape
    positions = _window_positions(window, length)
    dev = pick_device(device)
    with prepared_model(model, dev), torch.inference_mode():
        n_outputs = _check_length(model, length, dev)
    t_idx = _resolve_targets(targets, n_outputs)
    if n == 0:
        yield ISMResult(
            reference=np.zeros((0, t_idx.size), np.float32),
            delta=np.zeros((0, 4, positions.size, t_idx.size), np.float32),
            positions=positions,
            method_used="naive" if method == "naive" else "fast",
            targets=t_idx,
        )
        return
    engine: tuple[str, _Plan | None] | None = None
    for start in tqdm(range(0, n, sequences_per_chunk), desc="ISM", disable=not verbose):
        x = _as_tensor(X[start : start + sequences_per_chunk])
        # Eval mode and inference mode only while a chunk is computed, not across the yield.
        with prepared_model(model, dev), torch.inference_mode():
            x = x.to(dev)
            if engine is None:
                engine = _choose(model, x, positions, method)
            result = _run(model, x, positions, t_idx, reverse_complement, *engine, batch_size)
        yield result


def loss_gain(delta: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Basset's loss and gain scores per position from an ISM ``delta``.

    Parameters
    ----------
    delta
        ``(N, 4, W, T)`` (or ``(4, W, ...)``: the base axis is the one before the
        position axis, i.e. axis ``-3``) logit changes with 0 at the reference base.

    Returns
    -------
    loss, gain
        ``(N, W, T)`` each: ``loss = -min`` over the four bases (reference minus the
        lowest prediction, >= 0 because the reference slot is 0) and ``gain = max``
        over the bases (highest prediction minus the reference, >= 0).
    """
    d = delta.detach().cpu().numpy() if isinstance(delta, torch.Tensor) else np.asarray(delta)
    if d.ndim < 3 or d.shape[-3] != 4:
        raise InputError(f"expected delta of shape (N, 4, W, T), got {d.shape}")
    return -d.min(axis=-3), d.max(axis=-3)


def ism_output_bytes(n_sequences: int, width: int, n_targets: int) -> int:
    """Bytes of the arrays :func:`write_ism` stores for an ISM of this size.

    ``delta`` (N x 4 x W x T), ``loss`` and ``gain`` (N x W x T each) and ``reference``
    (N x T), float32, plus ``positions`` (W, int64) and ``targets`` (T, int64). Names,
    labels and HDF5 bookkeeping add a few kilobytes more.
    """
    n, w, t = int(n_sequences), int(width), int(n_targets)
    return 4 * (4 * n * w * t + 2 * n * w * t + n * t) + 8 * (w + t)


def write_ism(
    path: str | Path,
    results: ISMResult | Iterable[ISMResult],
    names: Sequence[str] | None = None,
    target_labels: Sequence[str] | None = None,
    *,
    verbose: bool = False,
) -> Path:
    """Write ISM results to HDF5, one chunk at a time, atomically.

    Datasets: ``delta (N, 4, W, T)``, ``reference (N, T)``, ``loss (N, W, T)``,
    ``gain (N, W, T)`` (float32), ``positions (W,)``, ``targets (T,)`` (int64),
    ``names (N,)``, ``target_labels (T,)`` (UTF-8 strings); attribute ``method_used``.
    The file is written under a temporary name and renamed when complete, so an
    interrupted run leaves no partial file.

    Parameters
    ----------
    path
        The ``.h5`` file to write.
    results
        One :class:`ISMResult`, or an iterable of them (:func:`ism_chunks`): chunks of
        sequences with the same window and targets, concatenated along N.
    names
        One name per sequence (default ``seq0``, ``seq1``, ...).
    target_labels
        One label per target of the results (default: the target indices).
    verbose
        Print the size of each chunk as it is written.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        Chunks disagree on window or targets, or ``names``/``target_labels`` have the
        wrong length.
    """
    path = Path(path)
    chunks = [results] if isinstance(results, ISMResult) else results
    strings = h5py.string_dtype(encoding="utf-8")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        n = 0
        first: ISMResult | None = None
        for chunk in chunks:
            k, _, w, t = chunk.delta.shape
            if first is None:
                first = chunk
                _create(h5, w, t)
                h5.attrs["method_used"] = chunk.method_used
                h5["positions"] = np.asarray(chunk.positions, dtype=np.int64)
                h5["targets"] = np.asarray(chunk.targets, dtype=np.int64)
            elif not (
                np.array_equal(chunk.positions, first.positions)
                and np.array_equal(chunk.targets, first.targets)
            ):
                raise InputError("ISM chunks disagree on their window or targets")
            loss, gain = loss_gain(chunk.delta)
            for key, value in (
                ("delta", chunk.delta),
                ("reference", chunk.reference),
                ("loss", loss),
                ("gain", gain),
            ):
                h5[key].resize(n + k, axis=0)
                h5[key][n : n + k] = value
            n += k
            if verbose:
                print(f"ISM: wrote {n} sequences to {path}", file=sys.stderr)
        if first is None:
            raise InputError("no ISM results to write")
        t = first.delta.shape[-1]
        names = [f"seq{i}" for i in range(n)] if names is None else [str(s) for s in names]
        if len(names) != n:
            raise InputError(f"{len(names)} names for {n} sequences")
        labels = (
            [str(int(i)) for i in first.targets]
            if target_labels is None
            else [str(s) for s in target_labels]
        )
        if len(labels) != t:
            raise InputError(f"{len(labels)} target labels for {t} targets")
        h5.create_dataset("names", data=np.array(names, dtype=object), dtype=strings)
        h5.create_dataset("target_labels", data=np.array(labels, dtype=object), dtype=strings)
    return path


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


def _create(h5: h5py.File, w: int, t: int) -> None:
    """Resizable float32 datasets, chunked one sequence (or less) at a time."""
    t_chunk = max(1, min(t, (1 << 20) // max(1, 16 * w)))
    for key, shape, chunks in (
        ("delta", (4, w, t), (1, 4, w, t_chunk)),
        ("loss", (w, t), (1, w, t)),
        ("gain", (w, t), (1, w, t)),
        ("reference", (t,), (min(1024, 65536 // t + 1), t)),
    ):
        h5.create_dataset(
            key, shape=(0, *shape), maxshape=(None, *shape), dtype=np.float32, chunks=chunks
        )


# ========================================================================= plumbing


def _as_tensor(X: Any) -> torch.Tensor:
    """Float32 ``(n, 4, L)``; stored integer/bool one-hot gets 0.25 for its all-zero N."""
    x = X.detach() if isinstance(X, torch.Tensor) else torch.from_numpy(np.asarray(X))
    if x.dim() != 3 or x.shape[1] != 4:
        raise InputError(
            f"expected one-hot sequences of shape (N, 4, L), got {tuple(x.shape)}",
            hint="one sequence (4, L) needs a batch axis: X[None]",
        )
    if not x.is_floating_point():
        x = torch.from_numpy(to_float_onehot(x.cpu().numpy()))
    x = x.to(torch.float32)
    if not torch.isfinite(x).all():
        raise InputError("the input holds NaN or infinite values")
    return x


def _window_positions(window: int | tuple[int, int] | None, length: int) -> np.ndarray:
    if window is None:
        return np.arange(length, dtype=np.int64)
    if isinstance(window, int | np.integer) and not isinstance(window, bool):
        n = int(window)
        if not 1 <= n <= length:
            raise InputError(f"window {n} must be between 1 and the sequence length {length}")
        start = (length - n) // 2
        return np.arange(start, start + n, dtype=np.int64)
    try:
        start, end = (int(v) for v in window)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(
            f"window must be None, an int or a (start, end) pair, got {window!r}"
        ) from None
    if not 0 <= start < end <= length:
        raise InputError(
            f"window ({start}, {end}) is outside the sequence: need 0 <= start < end <= {length}"
        )
    return np.arange(start, end, dtype=np.int64)


def _n_outputs_hint(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    value = getattr(config, "n_targets", None)
    return int(value) if isinstance(value, int) else None


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
        return None


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def _check_length(model: nn.Module, length: int, device: torch.device) -> int:
    """The model's number of outputs; InputError when it does not take length-``L`` inputs."""
    probe = torch.full((1, 4, length), 0.25, device=device)
    check = getattr(model, "check_input", None)
    try:
        if callable(check):
            check(probe)
        out = model(probe)
    except (ValueError, RuntimeError) as err:
        config = getattr(model, "config", None)
        want = getattr(config, "length", None)
        hint = f"this model takes {want} bp sequences" if want else None
        raise InputError(
            f"inputs of length {length} do not fit the model: {err}", hint=hint
        ) from None
    if out.dim() != 2:
        raise InputError(f"the model must return (batch, targets) outputs, got {tuple(out.shape)}")
    return int(out.shape[1])


def _resolve_targets(targets: Sequence[int] | None, n_outputs: int) -> np.ndarray:
    if targets is None:
        return np.arange(n_outputs, dtype=np.int64)
    items = [targets] if isinstance(targets, int | np.integer) else list(targets)
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | np.integer):
            raise InputError(
                f"target {item!r} is not an index",
                hint=f"valid targets are 0-{n_outputs - 1} (resolve names to indices first)",
            )
        if not 0 <= int(item) < n_outputs:
            raise InputError(
                f"target {int(item)} does not exist: the model has {n_outputs} outputs",
                hint=f"valid targets are 0-{n_outputs - 1}",
            )
        out.append(int(item))
    if not out:
        raise InputError("no targets selected", hint="pass targets=None for all targets")
    return np.asarray(out, dtype=np.int64)


def _mutants(
    x: torch.Tensor, positions: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(seq, pos, base, slot)`` of the 3 substitutions per position (reference = argmax).

    ``slot`` is the position's index in the window. The reference base of a column that
    is not one-hot (an N) is its first maximum: A for a column of 0.25.
    """
    pos = torch.as_tensor(positions, device=x.device)
    ref = x[:, :, pos].argmax(1)  # (n, w)
    bases = torch.arange(4, device=x.device)
    alt = bases[None, None, :] != ref[:, :, None]  # (n, w, 4)
    seq, slot, base = alt.nonzero(as_tuple=True)  # 3 per (seq, slot), in order
    return seq, pos[slot], base, slot


def _run(
    model: nn.Module,
    x: torch.Tensor,
    positions: np.ndarray,
    t_idx: np.ndarray,
    reverse_complement: bool,
    engine: str,
    plan: _Plan | None,
    batch_size: int | None,
) -> ISMResult:
    """ISM of one chunk of sequences with the chosen engine (``"fast"`` or ``"naive"``)."""
    n, _, length = x.shape
    w = positions.size
    t_sel = torch.as_tensor(t_idx, device=x.device)
    reference = torch.zeros((n, t_idx.size), dtype=torch.float32, device=x.device)
    full = torch.zeros((n, 4, w, t_idx.size), dtype=torch.float32, device=x.device)
    # The fast path keeps every layer's reference output (~2 MB per 600 bp Basset
    # sequence): a group of sequences at a time.
    for g in range(0, n, GROUP_SEQUENCES):
        xg = x[g : g + GROUP_SEQUENCES]
        seq, pos, base, slot = _mutants(xg, positions)
        strands = [(xg, pos, base)]
        if reverse_complement:
            strands.append((xg.flip(1, 2), length - 1 - pos, 3 - base))
        for xs, p, b in strands:
            ref = model(xs)
            if plan is not None:
                fast = _FastISM(plan, xs)
                default = FAST_BATCH if xs.device.type == "cpu" else FAST_BATCH_GPU
                d = fast.outputs(seq, p, b, batch_size or default) - fast.reference[seq]
            else:
                default = NAIVE_BATCH if xs.device.type == "cpu" else NAIVE_BATCH_GPU
                out = _naive_outputs(model, xs, seq, p, b, batch_size or default)
                d = out - ref[seq]
            if reverse_complement:
                ref, d = ref / 2, d / 2
            reference[g : g + xg.shape[0]] += ref[:, t_sel]
            full[g + seq, base, slot] += d[:, t_sel]
    return ISMResult(
        reference=reference.cpu().numpy(),
        delta=full.cpu().numpy(),
        positions=positions.copy(),
        method_used=engine,
        targets=t_idx,
    )


def _naive_outputs(
    model: nn.Module,
    x: torch.Tensor,
    seq: torch.Tensor,
    pos: torch.Tensor,
    base: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    """Logits of every mutant ``x[seq]`` with column ``pos`` set to base ``base``."""
    outs = []
    for s in range(0, seq.numel(), batch_size):
        sq, p, b = seq[s : s + batch_size], pos[s : s + batch_size], base[s : s + batch_size]
        xm = x[sq].clone()
        rows = torch.arange(sq.numel(), device=x.device)
        xm[rows, :, p] = 0.0
        xm[rows, b, p] = 1.0
        outs.append(model(xm))
    if not outs:
        return torch.zeros((0, model(x[:1]).shape[1]), device=x.device)
    return torch.cat(outs)


def _choose(
    model: nn.Module, x: torch.Tensor, positions: np.ndarray, method: str
) -> tuple[str, _Plan | None]:
    """``("fast", plan)`` or ``("naive", None)``: the plan must pass its self-check."""
    if method == "naive":
        return "naive", None
    plan = _plan(model)
    reason = plan if isinstance(plan, str) else _self_check(model, plan, x, positions)
    if reason is None:
        assert isinstance(plan, _Plan)
        return "fast", plan
    if method == "fast":
        raise InputError(
            f"fast ISM cannot run this model: {reason}",
            hint="use method='auto' or method='naive'",
        )
    warnings.warn(f"ISM: using naive batched ISM: {reason}", stacklevel=3)
    return "naive", None


def _self_check(
    model: nn.Module, plan: _Plan, x: torch.Tensor, positions: np.ndarray
) -> str | None:
    """Compare the fast path with the model on the reference and a few mutants."""
    try:
        x0 = x[:1]
        fast = _FastISM(plan, x0)
        ref = model(x0)
        # Float rounding only (about 1e-6 here); far above it means a wrong plan. cuDNN
        # runs float32 convolutions in TF32 by default, which rounds much more.
        scale = max(1.0, float(ref.abs().max()))
        tf32 = x.device.type == "cuda" and torch.backends.cudnn.allow_tf32
        tol = (1e-2 if tf32 else 1e-4) * scale
        err = float((fast.reference - ref).abs().max())
        if not err <= tol:
            return (
                f"its reference pass differs from the model's output by {err:.3g} "
                "(the model does not compute what its layers suggest)"
            )
        # Both ends of the sequence (padding) and of the window, and the middle.
        length = x.shape[-1]
        ends = [0, length // 2, length - 1, positions[0], positions[-1]]
        seq, pos, base, _ = _mutants(x0, np.unique(np.asarray(ends, dtype=np.int64)))
        want = _naive_outputs(model, x0, seq, pos, base, NAIVE_BATCH)
        got = fast.outputs(seq, pos, base, FAST_BATCH)
        err = float((want - got).abs().max())
        if not err <= tol:
            return f"its mutants differ from the model's outputs by {err:.3g}"
    except Exception as err:  # any failure means: use the naive path
        return f"the fast path failed ({type(err).__name__}: {err})"
    return None


# ===================================================================== the fast path


@dataclass(frozen=True)
class _Conv:
    """A convolution, with a batch norm right after it folded in."""

    weight: torch.Tensor  # (out, in, k)
    bias: torch.Tensor | None
    pad: tuple[int, int]
    dilation: int
    spectral: dict[int, _Spectral | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def reach(self) -> int:
        return (self.weight.shape[-1] - 1) * self.dilation

    @functools.cached_property
    def weight_t(self) -> torch.Tensor:
        """``(in, out, 1, k)``, taps reversed, channels-last: for conv_transpose2d."""
        w = self.weight.flip(-1).transpose(0, 1).unsqueeze(2)
        return w.contiguous(memory_format=torch.channels_last)

    @functools.cached_property
    def table(self) -> torch.Tensor:
        """``(in, k * out)``: output columns ``0 .. k-1`` of a change in one input column."""
        return self.weight.flip(-1).permute(1, 2, 0).reshape(self.weight.shape[1], -1)

    def fold(self, bn: nn.BatchNorm1d) -> _Conv:
        scale, shift = _bn_affine(bn)
        bias = shift if self.bias is None else self.bias * scale + shift
        return _Conv(self.weight * scale[:, None, None], bias, self.pad, self.dilation)


@dataclass(frozen=True)
class _Affine:
    """A batch norm (eval mode) that does not follow a convolution: per-channel affine."""

    scale: torch.Tensor
    shift: torch.Tensor


@dataclass(frozen=True)
class _Pool:
    kernel: int
    stride: int
    ceil_mode: bool


@dataclass(frozen=True)
class _Pointwise:
    fn: nn.Module


_Op = _Conv | _Affine | _Pool | _Pointwise


@dataclass(frozen=True)
class _Head:
    kind: str  # "flatten" (then `linear`), "max" or "mean" (global, over positions)
    linear: nn.Linear | None
    rest: list[nn.Module]


@dataclass(frozen=True)
class _Plan:
    ops: list[_Op]
    head: _Head
    cache: dict[Any, torch.Tensor] = field(default_factory=dict, compare=False)


_POINTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
)
_SKIP: tuple[type[nn.Module], ...] = (nn.Identity, nn.Dropout)


class _Unsupported(Exception):
    pass


def _plan(model: nn.Module) -> _Plan | str:
    """The model as a list of layers the fast path knows, or why it is not one."""
    name = type(model).__name__
    try:
        if type(model) is Basset:
            mods = _blocks(model.conv_blocks)
            head: list[nn.Module] = [nn.Flatten()]
            for block in model.dense:
                if type(block) is not DenseBlock:
                    raise _Unsupported(f"{name} has a dense layer of type {type(block).__name__}")
                head += [block.linear, block.bn, block.act, block.drop]
            head.append(model.output)
            return _parse([*mods, *head], name)
        if type(model) is DeMoCNN:
            mods = _blocks(model.conv_blocks)
            return _parse([*mods, nn.AdaptiveMaxPool1d(1), nn.Flatten(), model.output], name)
        if type(model) is nn.Sequential:
            return _parse(_flat(model), name)
    except _Unsupported as err:
        return str(err)
    return (
        f"{name} is not a stack of convolution, pooling and dense layers that fast ISM "
        "knows (recurrent layers, residual connections and custom modules are not)"
    )


def _blocks(blocks: Iterable[nn.Module]) -> list[nn.Module]:
    mods: list[nn.Module] = []
    for block in blocks:
        if type(block) is not ConvBlock:
            raise _Unsupported(f"a conv block of type {type(block).__name__}")
        mods += [block.pad, block.conv, block.bn, block.act, block.pool, block.drop]
    return mods


def _flat(seq: nn.Sequential) -> list[nn.Module]:
    out: list[nn.Module] = []
    for mod in seq:
        out += _flat(mod) if type(mod) is nn.Sequential else [mod]
    return out


def _parse(mods: list[nn.Module], name: str) -> _Plan:
    ops: list[_Op] = []
    pad = (0, 0)
    after_conv = False  # the last op is a conv with nothing but identities since
    for i, mod in enumerate(mods):
        kind = type(mod)
        if kind in _SKIP:  # dropout is off in eval mode
            continue
        if kind in (nn.ConstantPad1d, nn.ZeroPad1d):
            if float(mod.value) != 0.0:  # type: ignore[attr-defined]
                raise _Unsupported(f"{name}: padding with a non-zero value")
            left, right = mod.padding  # type: ignore[attr-defined]
            pad = (pad[0] + left, pad[1] + right)
            after_conv = False
            continue
        if pad != (0, 0) and kind is not nn.Conv1d:
            raise _Unsupported(f"{name}: zero padding before a {kind.__name__}")
        if kind is nn.Conv1d:
            ops.append(_conv(mod, pad, name))  # type: ignore[arg-type]
            pad = (0, 0)
            after_conv = True
            continue
        if kind is nn.BatchNorm1d:
            _check_bn(mod, name)
            if after_conv:
                ops[-1] = ops[-1].fold(mod)  # type: ignore[union-attr, arg-type]
            else:
                ops.append(_Affine(*_bn_affine(mod)))  # type: ignore[arg-type]
        elif kind is nn.MaxPool1d:
            ops.append(_pool(mod, name))  # type: ignore[arg-type]
        elif kind in _POINTWISE:
            ops.append(_Pointwise(mod))
        elif kind is nn.Flatten:
            return _Plan(ops, _dense_head(mods[i + 1 :], name, mod))  # type: ignore[arg-type]
        elif kind in (nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d):
            if _single(mod.output_size) != 1:  # type: ignore[attr-defined]
                raise _Unsupported(f"{name}: adaptive pooling to more than one position")
            rest = [m for m in mods[i + 1 :] if type(m) not in _SKIP]
            if not rest or type(rest[0]) is not nn.Flatten:
                raise _Unsupported(f"{name}: global pooling not followed by Flatten")
            _check_flatten(rest[0], name)  # type: ignore[arg-type]
            _check_rest(rest[1:], name)
            head_kind = "max" if kind is nn.AdaptiveMaxPool1d else "mean"
            return _Plan(ops, _Head(head_kind, None, rest[1:]))
        else:
            raise _Unsupported(f"{name}: fast ISM does not know the layer {kind.__name__}")
        after_conv = False
    raise _Unsupported(f"{name}: no Flatten or global pooling before the outputs")


def _single(value: Any) -> Any:
    return value[0] if isinstance(value, tuple | list) else value


def _conv(conv: nn.Conv1d, pad: tuple[int, int], name: str) -> _Conv:
    if conv.groups != 1 or _single(conv.stride) != 1 or conv.padding_mode != "zeros":
        raise _Unsupported(f"{name}: a Conv1d with groups, a stride or a non-zero padding mode")
    k, d = conv.kernel_size[0], _single(conv.dilation)
    if conv.padding == "same":
        total = d * (k - 1)
        own = (total // 2, total - total // 2)
    elif conv.padding == "valid":
        own = (0, 0)
    else:
        own = (_single(conv.padding),) * 2  # type: ignore[assignment]
    return _Conv(
        weight=conv.weight.detach(),
        bias=None if conv.bias is None else conv.bias.detach(),
        pad=(pad[0] + own[0], pad[1] + own[1]),
        dilation=d,
    )


def _pool(pool: nn.MaxPool1d, name: str) -> _Pool:
    k = _single(pool.kernel_size)
    s = _single(pool.stride) or k
    if _single(pool.padding) != 0 or _single(pool.dilation) != 1 or pool.return_indices:
        raise _Unsupported(f"{name}: a MaxPool1d with padding, dilation or indices")
    if s > k:
        raise _Unsupported(f"{name}: a MaxPool1d with a stride larger than its kernel")
    return _Pool(int(k), int(s), bool(pool.ceil_mode))


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode batch norm as ``x * scale + shift``."""
    assert bn.running_mean is not None and bn.running_var is not None
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach()
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach()
    return scale, shift


def _check_bn(mod: nn.Module, name: str) -> None:
    if isinstance(mod, nn.BatchNorm1d) and (mod.running_mean is None or mod.running_var is None):
        raise _Unsupported(f"{name}: batch norm without running statistics")


def _check_flatten(mod: nn.Flatten, name: str) -> None:
    if mod.start_dim != 1 or mod.end_dim != -1:
        raise _Unsupported(f"{name}: a Flatten over other dimensions")


def _check_rest(mods: list[nn.Module], name: str) -> None:
    for mod in mods:
        if type(mod) not in (nn.Linear, nn.BatchNorm1d, *_POINTWISE, *_SKIP):
            raise _Unsupported(f"{name}: layer {type(mod).__name__} after the flatten")
        _check_bn(mod, name)


def _dense_head(mods: list[nn.Module], name: str, flatten: nn.Flatten) -> _Head:
    _check_flatten(flatten, name)
    mods = [m for m in mods if type(m) not in _SKIP]
    if not mods or type(mods[0]) is not nn.Linear:
        raise _Unsupported(f"{name}: Flatten not followed by Linear")
    _check_rest(mods[1:], name)
    return _Head("flatten", mods[0], mods[1:])  # type: ignore[arg-type]


def _ceil_div(a: torch.Tensor, b: int) -> torch.Tensor:
    return -torch.div(-a, b, rounding_mode="floor")


def _full(op: _Op, h: torch.Tensor) -> torch.Tensor:
    """One op on whole ``(n, C, L)`` sequences (the reference pass)."""
    if isinstance(op, _Conv):
        return F.conv1d(F.pad(h, op.pad), op.weight, op.bias, dilation=op.dilation)
    if isinstance(op, _Affine):
        return h * op.scale[:, None] + op.shift[:, None]
    if isinstance(op, _Pool):
        return F.max_pool1d(h, op.kernel, op.stride, ceil_mode=op.ceil_mode)
    return op.fn(h)


@dataclass(frozen=True)
class _Spectral:
    """A conv's output change from ``w`` changed input columns, in a DFT basis.

    The change of the output is the full linear convolution of the ``w`` changed columns
    with the kernel: ``n = w + reach`` columns. In the basis of the length-``n`` DFT a
    linear convolution is a product per frequency, so the ``w x k`` channel-mixing
    products of the direct form become one per frequency: ``n // 2 + 1`` of them, real
    for frequency 0 (and ``n / 2``), complex for the others, each done as three real
    products (Gauss: with ``U = Ur + i Ui`` and ``W = Wr + i Wi``, ``k1 = (Ur + Ui) Wr``,
    ``k2 = Ur (Wi - Wr)``, ``k3 = Ui (Wr + Wi)``, ``Re = k1 - k3``, ``Im = k1 + k2``).
    ``forward`` maps the changed columns straight to the inputs of the products and
    ``inverse`` maps the products straight to output columns (the recombination is in
    it), so the products are the only other work. The DFT is unitary up to a scale, so
    the rounding stays that of the direct form (about 1e-6 relative in float32).
    """

    forward: torch.Tensor  # (P, w): input of each product from the changed columns
    inverse: torch.Tensor  # (n, P): output columns from the products
    weights: list[torch.Tensor]  # P x (out, in)


def _spectral(op: _Conv, w: int) -> _Spectral | None:
    """The DFT form for ``w`` changed columns, or None when it saves too little."""
    if w not in op.spectral:
        k = op.weight.shape[-1]
        n = w + op.reach
        bins = n // 2 + 1
        real = [0, *([bins - 1] if n % 2 == 0 else [])]
        complex_ = [f for f in range(bins) if f not in real]
        if len(real) + 3 * len(complex_) > 0.7 * w * k:
            op.spectral[w] = None
        else:
            dev, f64 = op.weight.device, torch.float64
            freq = torch.arange(bins, dtype=f64, device=dev)[:, None]

            def dft(at: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                angle = 2 * math.pi * freq * at[None, :] / n
                return torch.cos(angle), -torch.sin(angle)

            ar, ai = dft(torch.arange(w, dtype=f64, device=dev))
            # Input column c reaches output c + q with q = (k - 1 - t) * dilation for tap t.
            kr, ki = dft((k - 1 - torch.arange(k, dtype=f64, device=dev)) * op.dilation)
            wr = torch.einsum("ft,oit->foi", kr, op.weight.double())
            wi = torch.einsum("ft,oit->foi", ki, op.weight.double())
            # Inverse real DFT: x = sum_f scale_f (Re Y_f cos - Im Y_f sin).
            scale = torch.full((bins, 1), 2.0 / n, dtype=f64, device=dev)
            scale[real] = 1.0 / n
            angle = 2 * math.pi * freq * torch.arange(n, dtype=f64, device=dev)[None, :] / n
            br, bi = scale * torch.cos(angle), -scale * torch.sin(angle)
            c = complex_
            forward = torch.cat([ar[real], ar[c] + ai[c], ar[c], ai[c]])
            inverse = torch.cat([br[real], br[c] + bi[c], bi[c], -br[c]]).t()
            weights = [wr[f] for f in real] + [wr[f] for f in c]
            weights += [wi[f] - wr[f] for f in c] + [wr[f] + wi[f] for f in c]
            op.spectral[w] = _Spectral(
                forward=forward.float().contiguous(),
                inverse=inverse.float().contiguous(),
                weights=[x.float().contiguous() for x in weights],
            )
    return op.spectral[w]


def _nlc(h: torch.Tensor, margin: int, fill: float) -> torch.Tensor:
    """``(n, C, L)`` -> ``(n, L + 2 margin, C)``, contiguous, margins set to ``fill``."""
    return F.pad(h, (margin, margin), value=fill).transpose(1, 2).contiguous()


def _pool_sides(h: torch.Tensor, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position of ``h (n, C, L)``: max of its pool window before it, and from it on.

    ``right`` is -inf at the first position of a window (nothing of the window lies
    before it there, so a change that ends just before it leaves the whole window as is);
    ``left`` is -inf there by definition.
    """
    n, c, length = h.shape
    windows = -(-length // kernel)
    padded = F.pad(h, (0, windows * kernel - length), value=float("-inf"))
    blocks = padded.view(n, c, windows, kernel)
    ninf = torch.full_like(blocks[..., :1], float("-inf"))
    left = torch.cat([ninf, blocks.cummax(-1).values[..., :-1]], -1)
    right = blocks.flip(-1).cummax(-1).values.flip(-1)
    right = torch.cat([ninf, right[..., 1:]], -1)
    return left.reshape(n, c, -1)[..., :length], right.reshape(n, c, -1)[..., :length]


def _conv_change(change: torch.Tensor, op: _Conv) -> tuple[torch.Tensor, int]:
    """Change of a conv's output ``(M, w + reach, out)`` from its input's ``(M, w, in)``.

    A transposed convolution of the changed columns with the reversed kernel: in a DFT
    basis (:class:`_Spectral`) where that needs far fewer products, else as a 2-D
    transposed convolution in channels-last memory (what oneDNN does fastest on CPU).
    One changed column (the input layer) is a plain product with the kernel. Also
    returns the FLOP done.
    """
    m, w, cin = change.shape
    cout, _, k = op.weight.shape
    if w == 1 and op.dilation == 1:
        return (change.view(m, cin) @ op.table).view(m, k, cout), 2 * m * cin * k * cout
    spec = _spectral(op, w)
    if spec is None:
        x = change.permute(0, 2, 1).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        y = F.conv_transpose2d(x, op.weight_t, dilation=(1, op.dilation))
        return y.squeeze(2).permute(0, 2, 1), 2 * m * w * k * cin * cout
    p, n = spec.forward.shape[0], spec.inverse.shape[0]
    u = (spec.forward @ change.transpose(0, 1).reshape(w, m * cin)).view(p, m, cin)
    y = torch.stack([_linear(u[j], weight, None) for j, weight in enumerate(spec.weights)])
    out = (spec.inverse @ y.view(p, m * cout)).view(n, m, cout).transpose(0, 1)
    flops = 2 * m * (p * cin * cout + p * w * cin + n * p * cout)
    return out, flops


_MKLDNN_LINEAR: list[bool] = []  # [usable], decided on first use


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear``, through oneDNN on CPU when this torch build has it.

    On AMD CPUs MKL's float32 GEMM runs its AVX2 code; oneDNN's inner product uses
    AVX-512 and is about twice as fast for the dense layers here. The oneDNN op is
    internal to PyTorch, so it is used only after it has given ``F.linear``'s result
    on a first call; otherwise (and on GPUs) this is ``F.linear``.
    """
    if x.device.type != "cpu" or x.dtype != torch.float32 or _MKLDNN_LINEAR == [False]:
        return F.linear(x, weight, bias)
    try:
        y = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    except (AttributeError, RuntimeError):
        _MKLDNN_LINEAR[:] = [False]
        return F.linear(x, weight, bias)
    if not _MKLDNN_LINEAR:
        want = F.linear(x, weight, bias)
        ok = y.shape == want.shape and bool(((y - want).abs() <= 1e-4 * (1.0 + want.abs())).all())
        _MKLDNN_LINEAR[:] = [ok]
        return y if ok else want
    return y


class _FastISM:
    """The reference pass of a batch of sequences, then mutants through their windows.

    Windows are ``(M, w, C)`` arrays (channels last) holding a mutant's values at
    positions ``start .. start + w - 1`` of a layer's output; positions outside the
    layer (before 0, past its length) are masked wherever they could matter.

    Parameters
    ----------
    plan
        From :func:`_plan`.
    x
        ``(n, 4, L)`` reference sequences, on the device to use.
    skip
        Drop mutants (and trim window columns) that no longer differ from the reference
        after a layer. Off only to measure what it saves.
    """

    def __init__(self, plan: _Plan, x: torch.Tensor, *, skip: bool = True) -> None:
        self.plan = plan
        self.skip = skip
        # What the mutants cost: FLOP of the conv and dense layers, mutants stopped early.
        self.stats = {"mutants": 0, "skipped": 0, "flops": 0}
        self._lock = threading.Lock()
        # The widest window of one mutant, so that no window falls off the margins.
        w, widest = 1, 1
        for op in plan.ops:
            if isinstance(op, _Conv):
                w += op.reach
            elif isinstance(op, _Pool):
                widest = max(widest, w + 2 * op.kernel)
                w = (op.kernel + w - 2) // op.stride + 1
            widest = max(widest, w)
        self.margin = mg = widest + 2
        self.arange = torch.arange(widest + 2 * mg, device=x.device)
        # Reference pass; every op's output (0 = the input) padded and channels-last.
        h, outs = x, [x]
        for op in plan.ops:
            h = _full(op, h)
            outs.append(h)
        self.lengths = [int(o.shape[-1]) for o in outs]
        self.refs = []
        # For a pool with stride = kernel: at each position j of its input, the maximum
        # of j's pool window before j (`left`) and from j on (`right`, -inf where j
        # starts a window), so that a mutant's pooled window needs two reference columns.
        self.left: dict[int, torch.Tensor] = {}
        self.right: dict[int, torch.Tensor] = {}
        for k, out in enumerate(outs):
            op = plan.ops[k] if k < len(plan.ops) else None
            fill = float("-inf") if isinstance(op, _Pool) else 0.0
            self.refs.append(_nlc(out, mg, fill))
        self.first_layer = self._fuse_first_layer()
        fused = self.first_layer[-1] - 1 if self.first_layer is not None else -1
        for k, op in enumerate(plan.ops):
            if isinstance(op, _Pool) and op.stride == op.kernel and k != fused:
                left, right = _pool_sides(outs[k], op.kernel)
                self.left[k] = _nlc(left, mg, float("-inf"))
                self.right[k] = _nlc(right, mg, float("-inf"))
        # Reference base codes (0-3, 4 for an N column of 0.25) when every column is one of
        # those, for the first layer's difference table; else None (a product instead).
        hot = (x == 1).sum(1) == 1
        hot &= ((x == 0) | (x == 1)).all(1)
        n_col = (x == 0.25).all(1)
        self.input_codes = torch.where(n_col, 4, x.argmax(1)) if bool((hot | n_col).all()) else None
        head = plan.head
        c, lf = h.shape[1], h.shape[2]
        if head.kind == "flatten":
            assert head.linear is not None
            self.h0 = head.linear(h.flatten(1))
            key = ("dense", lf, mg)
            if key not in plan.cache:
                # (Lf + 2 margin, C, H): the first dense layer's weights by position.
                wl = head.linear.weight.detach().reshape(-1, c, lf).permute(2, 1, 0)
                plan.cache[key] = F.pad(wl, (0, 0, 0, 0, mg, mg)).contiguous()
            self.dense_t = plan.cache[key]
            self.reference = self._rest(self.h0)
        elif head.kind == "max":
            self.g0 = h.amax(-1)
            ninf = torch.full_like(h[..., :1], float("-inf"))
            # prefix[..., p] = max of h[..., :p]; suffix[..., p] = max of h[..., p:].
            self.prefix = torch.cat([ninf, h.cummax(-1).values], -1)
            self.suffix = torch.cat([h.flip(-1).cummax(-1).values.flip(-1), ninf], -1)
            self.reference = self._rest(self.g0)
        else:
            self.g0 = h.mean(-1)
            self.reference = self._rest(self.g0)
        self.stats["flops"] = 0

    def _fuse_first_layer(self) -> tuple | None:
        """How to run the first layers fused (see :meth:`_first_layer`), or None.

        ``(conv, between, pool, relu_last, table, wp, next op)`` when the plan starts with
        a conv, element-wise layers and a pool of stride = kernel not much wider than the
        conv's change.
        """
        ops = self.plan.ops
        n = next(
            (i for i in range(1, len(ops)) if not isinstance(ops[i], _Affine | _Pointwise)),
            len(ops),
        )
        if not ops or not isinstance(ops[0], _Conv) or n >= len(ops):
            return None
        conv, pool, between = ops[0], ops[n], ops[1:n]
        if not isinstance(pool, _Pool) or pool.stride != pool.kernel:
            return None
        w = conv.reach + 1
        wp = (pool.kernel + w - 2) // pool.kernel + 1
        wr = wp * pool.kernel
        if wr > 2 * w + 2:  # a pool much wider than the change: the general path
            return None
        relu_last = len(between) == 1 and type(getattr(between[0], "fn", None)) is nn.ReLU
        key = ("first", id(conv), wp)
        if key not in self.plan.cache:
            # Rows: (offset of the change in the region, input channel); columns: (region
            # column, output channel). Tap t of a change at offset o reaches column
            # o + (k - 1 - t) * dilation.
            cout, cin, k = conv.weight.shape
            table = conv.weight.new_zeros((pool.kernel, cin, wr, cout))
            for o in range(pool.kernel):
                for t in range(k):
                    table[o, :, o + (k - 1 - t) * conv.dilation] = conv.weight[:, :, t].t()
            self.plan.cache[key] = table.view(pool.kernel * cin, wr * cout)
        between = [] if relu_last else between
        return conv, between, pool, relu_last, self.plan.cache[key], wp, n + 1

    def _rest(self, h: torch.Tensor) -> torch.Tensor:
        for mod in self.plan.head.rest:
            if type(mod) is nn.Linear:
                h = _linear(h, mod.weight, mod.bias)
                self._count("flops", 2 * h.shape[0] * mod.in_features * mod.out_features)
            elif type(mod) is nn.ReLU:
                h = h.relu_()
            else:
                h = mod(h)
        return h

    def _dense_slice(self, s: int, w: int) -> torch.Tensor | None:
        """The first dense layer's ``(H, w * C)`` weights on positions ``s .. s + w - 1``.

        Cached on the plan (up to :data:`DENSE_CACHE_BYTES`), contiguous, so that the
        product goes through :func:`_linear`.
        """
        cache = self.plan.cache
        key = ("slice", id(self.dense_t), s, w)
        if key not in cache:
            used = sum(t.numel() * t.element_size() for t in cache.values())
            view = self.dense_t[s + self.margin : s + self.margin + w]  # (w, C, H)
            if used + view.numel() * view.element_size() > DENSE_CACHE_BYTES:
                return None
            cache[key] = view.permute(2, 0, 1).reshape(view.shape[-1], -1).contiguous()
        return cache[key]

    def _partial(self, op: _Pool, k: int) -> bool:
        """Whether the pool (input: op ``k``'s) reads positions past its input's end.

        Only then must a window's columns outside the layer be set to -inf before it:
        otherwise they fall in pooled positions outside the layer, which are masked where
        they are used.
        """
        length = self.lengths[k]
        return op.stride != op.kernel or (self.lengths[k + 1] - 1) * op.stride + op.kernel > length

    def _outside(self, t: torch.Tensor, k: int, start: torch.Tensor, fill: float) -> torch.Tensor:
        """``t`` (M, w, C) with its columns outside layer ``k`` set to ``fill``, in place.

        Only the few windows at the ends of a sequence have such columns.
        """
        w = t.shape[1]
        bad = (start < 0) | (start + w > self.lengths[k])
        if bool(bad.any()):
            rows = bad.nonzero(as_tuple=True)[0]
            t[rows] = t[rows].masked_fill(~self._valid(k, start[rows], w), fill)
        return t

    def _window(self, k: int, seq: torch.Tensor, start: torch.Tensor, w: int) -> torch.Tensor:
        """Reference output of op ``k`` (0 = the input) at ``start .. start + w - 1``."""
        return self._gather(self.refs[k], seq, start, w)

    def _gather(
        self, ref: torch.Tensor, seq: torch.Tensor, start: torch.Tensor, w: int
    ) -> torch.Tensor:
        """``ref[seq, start + margin : start + margin + w]`` for every mutant: ``(M, w, C)``."""
        n, lpad, c = ref.shape
        rows = (seq * lpad + start + self.margin)[:, None] + self.arange[:w]
        return ref.view(n * lpad, c).index_select(0, rows.view(-1)).view(-1, w, c)

    def _valid(self, k: int, start: torch.Tensor, w: int) -> torch.Tensor:
        cols = start[:, None] + self.arange[:w]
        return ((cols >= 0) & (cols < self.lengths[k]))[:, :, None]

    def outputs(
        self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor, batch_size: int
    ) -> torch.Tensor:
        """Logits ``(M, T)`` of the mutants ``(seq, pos, base)``, in chunks.

        On CPU with more than one torch thread, chunks run concurrently on that many
        worker threads, each with single-threaded operations (torch's thread count is 1
        meanwhile, and restored after): most operations here are too small to split
        well, and threads that wait for each other inside every small operation are what
        make a busy machine slow. The result is that of one thread, bit for bit.
        """
        size = max(3, batch_size // 3 * 3)  # whole positions (3 mutants each) per chunk
        parts = [slice(s, s + size) for s in range(0, seq.numel(), size)]
        if not parts:
            return self.reference[:0]

        def run(part: slice) -> torch.Tensor:
            with torch.inference_mode():
                return self._chunk(seq[part], pos[part], base[part])

        threads = torch.get_num_threads()
        if seq.device.type != "cpu" or threads < 2 or len(parts) < 2:
            return torch.cat([run(part) for part in parts])
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(min(threads, len(parts))) as pool:
                outs = list(pool.map(run, parts))
        finally:
            torch.set_num_threads(threads)
        return torch.cat(outs)

    def _count(self, key: str, value: int) -> None:
        with self._lock:
            self.stats[key] += value

    def _chunk(self, seq: torch.Tensor, pos: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        m = seq.numel()
        self._count("mutants", m)
        out = self.reference[seq]
        keep = torch.arange(m, device=seq.device)
        # The mutant's values at the input: one column, the substituted base.
        values = F.one_hot(base, 4).to(out.dtype)[:, None, :]
        start, w, k = pos, 1, 0
        if self.first_layer is not None:
            values, start, w, k = self._first_layer(seq, pos, values)
        for op in self.plan.ops[k:]:
            if isinstance(op, _Conv):
                change = self._outside(values - self._window(k, seq, start, w), k, start, 0.0)
                change, seq, start, w, keep = self._prune(change, seq, start, w, keep)
                if not keep.numel():
                    return out
                delta, flops = _conv_change(change, op)
                self._count("flops", flops)
                start = start + op.pad[0] - op.reach
                w = w + op.reach
                values = self._window(k + 1, seq, start, w).add_(delta)
            elif isinstance(op, _Pool):
                if self._partial(op, k):
                    values = self._outside(values, k, start, float("-inf"))
                values, start, w = self._pool(op, k, values, seq, start, w)
            elif isinstance(op, _Affine):
                values = values * op.scale + op.shift
            elif type(op.fn) is nn.ReLU:
                values = values.relu_()  # always a fresh array here
            else:
                values = op.fn(values)
            k += 1
        return self._head(out, values, seq, start, w, k, keep)

    def _first_layer(
        self, seq: torch.Tensor, pos: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """The first conv, its element-wise layers and its pool in one go (see __init__).

        The conv's change is computed straight into the pool's region (one product with
        a table per offset), the reference region added (gathered once per position and
        shared by its three mutants), then the max-pool; a ReLU right before the pool is
        applied after it (max and ReLU commute exactly), on fewer columns.
        """
        conv, between, pool, relu_last, table, wp, after = self.first_layer
        m = seq.numel()
        kernel, wr = pool.kernel, wp * pool.kernel
        s = pos + conv.pad[0] - conv.reach  # first conv output column a mutant changes
        first = torch.div(s, kernel, rounding_mode="floor")
        offset = s - first * kernel
        if self.input_codes is not None:
            # One row of the difference table per mutant: (offset, new base, reference).
            code = self.input_codes[seq, pos]
            row = (offset * 4 + values[:, 0].argmax(1)) * 5 + code
            delta = self._first_diff(table).index_select(0, row).view(m, wr, -1)
        else:
            change = values[:, 0] - self._window(0, seq, pos, 1)[:, 0]  # (M, 4)
            inp = change.new_zeros((m, kernel, change.shape[1]))
            inp[torch.arange(m, device=seq.device), offset] = change
            delta = (inp.view(m, -1) @ table).view(m, wr, -1)
            self._count("flops", 2 * m * table.numel())
        start = first * kernel
        if (
            m % 3 == 0
            and bool((seq.view(-1, 3) == seq[::3, None]).all())
            and bool((pos.view(-1, 3) == pos[::3, None]).all())
        ):
            ref = self._window(1, seq[::3], start[::3], wr)
            values = delta.view(m // 3, 3, wr, -1).add_(ref[:, None]).view(m, wr, -1)
        else:
            values = delta.add_(self._window(1, seq, start, wr))
        for op in between:
            values = values * op.scale + op.shift if isinstance(op, _Affine) else op.fn(values)
        if self._partial(pool, after - 1):
            values = self._outside(values, 1, start, float("-inf"))
        values = values.view(m, wp, kernel, -1).amax(2)
        if relu_last:
            values = values.relu_()
        return values, first, wp, after

    def _first_diff(self, table: torch.Tensor) -> torch.Tensor:
        """``table`` as differences: row ``(offset, new base, reference code)``.

        Reference codes 0-3 are the bases, 4 is an N (0.25 each); the row is the change of
        the first conv over the pool region when that reference becomes the new base.
        """
        key = ("diff", id(table))
        if key not in self.plan.cache:
            kernel = table.shape[0] // 4
            t = table.view(kernel, 4, -1)
            refs = torch.cat([t, t.mean(1, keepdim=True)], 1)  # (kernel, 5, R)
            self.plan.cache[key] = (t[:, :, None] - refs[:, None]).reshape(kernel * 20, -1)
        return self.plan.cache[key]

    def _pool(
        self,
        op: _Pool,
        k: int,
        values: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The pooled window of the mutants' values (``-inf`` where outside the layer)."""
        m, _, c = values.shape
        first = _ceil_div(start - op.kernel + 1, op.stride)  # first pool window touched
        wp = (op.kernel + w - 2) // op.stride + 1
        wr = (wp - 1) * op.stride + op.kernel
        rows = torch.arange(m, device=seq.device)[:, None]
        cols = (start - first * op.stride)[:, None] + self.arange[:w]
        if op.stride != op.kernel:
            # Overlapping windows: splice the values into the reference around them.
            region = self._window(k, seq, first * op.stride, wr)
            region[rows, cols] = values
            pooled = F.max_pool2d(
                region.permute(0, 2, 1).unsqueeze(2), (1, op.kernel), (1, op.stride)
            )
            return pooled.squeeze(2).permute(0, 2, 1), first, wp
        if wp * w < wr:
            # Windows wider than the change: a max over each window's part of the change.
            window_of = torch.div(
                start[:, None] + self.arange[:w], op.kernel, rounding_mode="floor"
            )
            window_of = (window_of - first[:, None])[:, :, None]  # (M, w, 1)
            ninf = values.new_tensor(float("-inf"))
            pooled = torch.stack(
                [torch.where(window_of == o, values, ninf).amax(1) for o in range(wp)], 1
            )
        else:
            region = values.new_full((m, wr, c), float("-inf"))
            region[rows, cols] = values
            pooled = region.view(m, wp, op.kernel, c).amax(2)
        # The reference part of the first and of the last window touched.
        pooled[:, 0] = torch.maximum(pooled[:, 0], self._gather(self.left[k], seq, start, 1)[:, 0])
        last = torch.div(start + w - 1, op.kernel, rounding_mode="floor") - first
        after = self._gather(self.right[k], seq, start + w, 1)[:, 0]
        pooled[rows[:, 0], last] = torch.maximum(pooled[rows[:, 0], last], after)
        if bool((last < wp - 1).any()):  # windows past the last one touched: unchanged
            untouched = (self.arange[:wp] > last[:, None])[:, :, None]
            pooled = torch.where(untouched, self._window(k + 1, seq, first, wp), pooled)
        return pooled, first, wp

    def _head(
        self,
        out: torch.Tensor,
        values: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
        k: int,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        head = self.plan.head
        if head.kind == "max":
            inside = self._outside(values, k, start, float("-inf")).amax(1)
            a = start.clamp(0, self.lengths[k])
            b = (start + w).clamp(0, self.lengths[k])
            outside = torch.maximum(self.prefix[seq, :, a], self.suffix[seq, :, b])
            g = torch.maximum(inside, outside)
            if self.skip:
                alive = (g != self.g0[seq]).any(1)
                self._count("skipped", int((~alive).sum()))
                g, keep = g[alive], keep[alive]
            if keep.numel():
                out[keep] = self._rest(g)
            return out
        change = self._outside(values - self._window(k, seq, start, w), k, start, 0.0)
        change, seq, start, w, keep = self._prune(change, seq, start, w, keep)
        if not keep.numel():
            return out
        if head.kind == "mean":
            out[keep] = self._rest(self.g0[seq] + change.sum(1) / self.lengths[k])
            return out
        # Flatten + linear: h0 + W[:, window] @ change, one product per window start.
        flat = change.reshape(change.shape[0], -1)  # (M, w * C), position-major
        order = torch.argsort(start, stable=True)
        starts, counts = torch.unique_consecutive(start[order], return_counts=True)
        hidden = self.h0[seq[order]]
        flat = flat[order]
        self._count("flops", 2 * flat.numel() * hidden.shape[1])
        a = 0
        for s, count in zip(starts.tolist(), counts.tolist(), strict=True):
            rows = slice(a, a + count)
            weight = self._dense_slice(s, w)
            if weight is None:  # the cache is full: an (in, out) view, through MKL
                view = self.dense_t[s + self.margin : s + self.margin + w]
                hidden[rows].addmm_(flat[rows], view.reshape(-1, hidden.shape[1]))
            else:
                hidden[rows] += _linear(flat[rows], weight, None)
            a += count
        result = self._rest(hidden)
        out[keep[order]] = result
        return out

    def _prune(
        self,
        change: torch.Tensor,
        seq: torch.Tensor,
        start: torch.Tensor,
        w: int,
        keep: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Tensor]:
        """Drop mutants whose change is all zero, and columns no mutant changes."""
        if not self.skip:
            return change, seq, start, w, keep
        cols_any = change.abs().amax(2) > 0  # (M, w); faster than (change != 0).any(2)
        rows = cols_any.any(1)
        if not bool(rows.all()):
            self._count("skipped", int((~rows).sum()))
            change, seq, start, keep = change[rows], seq[rows], start[rows], keep[rows]
            cols_any = cols_any[rows]
            if not keep.numel():
                return change, seq, start, w, keep
        cols = cols_any.any(0).nonzero(as_tuple=True)[0]
        lo, hi = int(cols[0]), int(cols[-1]) + 1
        if lo > 0 or hi < w:
            change = change[:, lo:hi]
            start = start + lo
            w = hi - lo
        return change, seq, start, w, keep
