"""In-silico saturation mutagenesis (ISM): every single-base substitution, exact and fast.

For each sequence, each position of a window and each of the three other bases, the
model is run on the mutated sequence; the result is the change of every target's logit,
``delta = logit(mutant) - logit(reference)``, as in Basset's ``basset_sat.py``. Loss and
gain scores per position (:func:`loss_gain`) summarise it: ``loss = reference - min``
over the four bases, ``gain = max - reference``.

This module is the public API (arrays in, :class:`ISMResult` out). The exact fast path
(:mod:`motiflens.explain.fast_ism`) pushes the mutants through only the windows of each
layer they change; on Basset at 600 bp it does 14 GFLOP per sequence where the naive
computation does 537 (``bench/ism.py``). It takes any model that lists its layers
(:meth:`~motiflens.models.SequenceModel.ism_layers`: Basset, the DeMo CNN) and any
``nn.Sequential`` of the layers :mod:`motiflens.explain.ism_plan` knows. Recurrent
models (the DeMo RNN and CNN-RNN) take an exact path of their own
(:mod:`motiflens.explain.ism_recurrent`): each LSTM direction reruns only from the first
step a mutant changes, from the reference's cached states. Anything else (residual
connections, unknown layers) runs the naive computation, with a one-line warning. The
fast path checks itself against the model before it is used
(:mod:`motiflens.explain.ism_engine`). Writing results to files is
:mod:`motiflens.steps.ism_files`' job.

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

import os
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from motiflens.data.hdf5 import to_float_onehot
from motiflens.errors import InputError
from motiflens.explain.inputs import TargetSelection, as_onehot, model_targets
from motiflens.explain.ism_engine import choose_engine, run_chunk
from motiflens.explain.ism_plan import Plan
from motiflens.explain.ism_recurrent import RecurrentPlan
from motiflens.models.registry import pick_device, prepared_model
from motiflens.progress import tqdm

__all__ = ["ISMResult", "ism_chunks", "loss_gain", "saturation_mutagenesis"]

Method = Literal["auto", "fast", "naive"]
METHODS: tuple[str, ...] = ("auto", "fast", "naive")
#: Sequences per chunk of :func:`ism_chunks`.
CHUNK_SEQUENCES = 16

#: Target selection: indices or names (``model.target_labels``), one or several.
Targets = TargetSelection


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
    targets: Targets = None,
    window: int | tuple[int, int] | None = None,
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
    targets
        Model outputs to keep, in the order given: indices, names from
        ``model.target_labels``, or a mix; one or a list; ``None`` for all.
    window
        Positions to mutate: ``None`` for all, an int ``n`` for the central ``n``
        positions (starting at ``(L - n) // 2``, as ``basset_sat.py -n``), or a
        0-based half-open ``(start, end)``.
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
        :func:`motiflens.steps.ism_files.write_ism` then).

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
    if targets is None:
        t_hint = _n_outputs_hint(model)
    else:
        t_hint = 1 if isinstance(targets, int | str | np.integer) else len(targets)
    # delta (N, 4, W, T) and reference (N, T), float32
    need = 4 * n * t_hint * (4 * positions.size + 1) if t_hint else 0
    free = _available_memory()
    if free is not None and need > free // 2:
        raise InputError(
            f"the ISM output would take {_human(need)} in memory, more than half of the "
            f"{_human(free)} available",
            hint="stream it to HDF5 with ism_chunks(...) and "
            "motiflens.steps.ism_files.write_ism(...), or pick a smaller window or fewer targets",
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
    targets: Targets = None,
    window: int | tuple[int, int] | None = None,
    reverse_complement: bool = False,
    method: Method = "auto",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    verbose: bool = False,
    sequences_per_chunk: int = CHUNK_SEQUENCES,
) -> Iterator[ISMResult]:
    """:func:`saturation_mutagenesis` over chunks of sequences, one result per chunk.

    For outputs larger than memory: pass the generator to
    :func:`motiflens.steps.ism_files.write_ism`, which writes each chunk as it comes.
    ``X`` may be anything sliceable along its first axis into ``(n, 4, L)`` arrays (a
    NumPy array or memmap, an h5py dataset, a tensor). The other parameters are
    :func:`saturation_mutagenesis`'s; the choice between the fast and naive paths (and
    its warning) is made once, on the first chunk.

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
    t_idx = np.asarray(model_targets(model, targets, n_outputs), dtype=np.int64)
    if n == 0:
        yield ISMResult(
            reference=np.zeros((0, t_idx.size), np.float32),
            delta=np.zeros((0, 4, positions.size, t_idx.size), np.float32),
            positions=positions,
            method_used="naive" if method == "naive" else "fast",
            targets=t_idx,
        )
        return
    engine: tuple[str, Plan | RecurrentPlan | None] | None = None
    for start in tqdm(range(0, n, sequences_per_chunk), desc="ISM", disable=not verbose):
        x = _as_tensor(X[start : start + sequences_per_chunk])
        # Eval mode and inference mode only while a chunk is computed, not across the yield.
        with prepared_model(model, dev), torch.inference_mode():
            x = x.to(dev)
            if engine is None:
                engine = choose_engine(model, x, positions, method)
            used, plan = engine
            reference, delta = run_chunk(
                model, x, positions, t_idx, reverse_complement, plan, batch_size
            )
        yield ISMResult(
            reference=reference,
            delta=delta,
            positions=positions.copy(),
            method_used=used,
            targets=t_idx,
        )


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


# ========================================================================= plumbing


def _as_tensor(X: Any) -> torch.Tensor:
    """Float32 ``(n, 4, L)``; stored integer/bool one-hot gets 0.25 for its all-zero N."""
    if isinstance(X, str) or (isinstance(X, list | tuple) and all(isinstance(s, str) for s in X)):
        X = as_onehot(X)
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
