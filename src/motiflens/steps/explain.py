"""Run-level explain jobs: ``ism``, ``saliency``, ``temporal`` and ``optimize``.

Each takes a run (or its path) and options, computes through the compute API
(:mod:`motiflens.explain`), writes through :class:`~motiflens.runs.Run` into
``explain/<analysis>/`` (per-sequence arrays in the :mod:`motiflens.results` convention,
tables, figures), records the step in the manifest and returns a small result with the
paths written and the key numbers. A step clears the outputs it owns from an earlier
run before writing, so no stale figure passes for a new one.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import torch

from motiflens.distributed import Launch, env_rank
from motiflens.errors import InputError
from motiflens.explain.inputs import (
    TargetSelection,
    load_sequences,
    model_targets,
    target_names,
)
from motiflens.explain.ism import ISMResult
from motiflens.explain.saliency import HYPOTHETICAL_METHODS, attribute
from motiflens.explain.temporal import temporal_scores
from motiflens.files import atomic_path, safe_name
from motiflens.plots.attribution import plot_attribution_heatmap, plot_attribution_logo
from motiflens.plots.explain import temporal_heatmap
from motiflens.plots.ism import plot_ism
from motiflens.plots.style import save_figure
from motiflens.results import read_result_info, read_sequence, write_result
from motiflens.runs import Run, as_run, holding_run
from motiflens.sequence.onehot import decode
from motiflens.steps.contribution_tracks import genome_windows, ism_tracks, saliency_tracks
from motiflens.steps.ism_files import ism_output_bytes, ism_table, write_ism_sharded

__all__ = [
    "ISMStepResult",
    "SaliencyStepResult",
    "TemporalStepResult",
    "clear_outputs",
    "ism",
    "saliency",
    "temporal",
]

Source = str | Path
#: Sequences per chunk when ism.tsv is streamed from ism.h5.
_TABLE_CHUNK = 256


def clear_outputs(
    folder: Path, patterns: Sequence[str] = ("*",), keep: Collection[Path] = ()
) -> None:
    """Remove what an earlier run of a step left in its folder (files and subfolders).

    Only the paths matching ``patterns`` go, except those in ``keep``.
    """
    kept = {Path(p) for p in keep}
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path in kept:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def _figure_stem(i: int, name: str, target: str) -> str:
    return f"{i:04d}_{safe_name(name)}_{safe_name(target)}"


# ------------------------------------------------------------------------------ ism


@dataclass(frozen=True)
class ISMStepResult:
    """What :func:`ism` wrote.

    Attributes
    ----------
    path
        ``ism.h5``: every sequence's ISM (:mod:`motiflens.steps.ism_files` layout).
    table
        ``ism.tsv``: Basset's table (loss, gain, best and worst base) for every sequence,
        position and target.
    figures
        The PNGs of the first ``figures`` sequences, per target.
    n_sequences, width
        Sequences mutated and positions per sequence.
    target_labels
        The targets of the last axis.
    method_used
        ``"fast"`` or ``"naive"``.
    output_bytes
        Size of the stored arrays.
    tracks
        With a BED + genome input, ``tracks/<target>.mean.bw``, ``.loss.bw`` and
        ``.gain.bw`` (:func:`~motiflens.steps.contribution_tracks.ism_tracks`); else empty.
    """

    path: Path
    table: Path
    figures: list[Path]
    n_sequences: int
    width: int
    target_labels: list[str]
    method_used: str
    output_bytes: int
    tracks: list[Path] = field(default_factory=list)


def _window_width(window: int | tuple[int, int] | None, length: int) -> int:
    if window is None:
        return length
    if isinstance(window, int):
        return min(window, length)
    return int(window[1]) - int(window[0])


@holding_run
def ism(
    run: Run | str | Path,
    source: Source,
    *,
    targets: TargetSelection = None,
    window: int | tuple[int, int] | None = None,
    reverse_complement: bool = False,
    genome: Source | None = None,
    split: str = "test",
    n: int | None = 10,
    figures: int = 10,
    method: Literal["auto", "fast", "naive"] = "auto",
    batch_size: int | None = None,
    launch: Launch | None = None,
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> ISMStepResult | None:
    """In-silico saturation mutagenesis of the first ``n`` sequences of ``source``.

    ISM is computed once, for every sequence (shared among the processes of ``launch``),
    into ``explain/ism/ism.h5``; the table ``ism.tsv`` (all sequences) and the figures
    (the first ``figures`` sequences, per target) are made from that file.

    Parameters
    ----------
    run
        The trained run.
    source
        FASTA, BED (with ``genome``) or dataset file.
    targets
        Target names or indices (None: all).
    window, reverse_complement, method, batch_size
        As in :func:`motiflens.explain.ism.saturation_mutagenesis`.
    genome, split
        The genome of a BED source; the split of a dataset file.
    n
        Sequences to mutate (None: all).
    figures
        Draw Basset's figure for the first this many sequences.
    launch
        Processes (:class:`~motiflens.distributed.Launch`); default one.
    device
        One explicit device for a single process.
    verbose
        Progress bars and the output size on stderr.

    Returns
    -------
    ISMStepResult or None
        None in every process but rank 0 of a multi-process launch.
    """
    run = as_run(run)
    model = run.model()
    config = model.config
    chosen = model_targets(model, targets, config.n_targets)
    labels = [target_names(model, config.n_targets)[t] for t in chosen]
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    width = _window_width(window, config.length)
    size = ism_output_bytes(len(names), width, len(chosen), config.length)
    if verbose and env_rank() == 0:
        print(
            f"ISM of {len(names)} sequence(s) x {width} positions x {len(chosen)} target(s): "
            f"{size / 1e6:,.1f} MB of output",
            file=sys.stderr,
        )
    folder = run.analysis_dir("ism")
    path = folder / "ism.h5"
    params = {
        "window": window,
        "reverse_complement": reverse_complement,
        "source": str(source),
        "split": split,
    }
    written = write_ism_sharded(
        path,
        model,
        X,
        names,
        labels,
        targets=chosen,
        window=window,
        reverse_complement=reverse_complement,
        method=method,
        batch_size=batch_size,
        params=params,
        launch=launch,
        device=device,
        verbose=verbose,
    )
    if written is None:
        return None  # another process of a multi-process run: rank 0 writes the rest
    clear_outputs(folder, keep=[path])
    table = _write_ism_table(path, folder / "ism.tsv")
    drawn = _ism_figures(path, folder, min(figures, len(names)))
    method_used = str(read_result_info(path).params["method_used"])
    windows = genome_windows(source, genome, config.length, len(names))
    tracks = [] if windows is None else ism_tracks(folder / "tracks", path, windows)
    run.record_step(
        "ism",
        [path, table, *([folder / "tracks"] if tracks else [])],
        n=len(names),
        method=method_used,
        window=window,
        targets=labels,
        figures=len(drawn),
        genome=None if windows is None else str(windows.genome),
    )
    return ISMStepResult(path, table, drawn, len(names), width, labels, method_used, size, tracks)


def _write_ism_table(h5_path: Path, tsv: Path) -> Path:
    """``ism.tsv`` for every sequence of ``ism.h5``, streamed a chunk at a time."""
    info = read_result_info(h5_path)
    targets = np.asarray(info.params["targets"], dtype=np.int64)
    with atomic_path(tsv) as tmp, h5py.File(h5_path, "r") as h5, open(tmp, "w") as out:
        positions = h5["positions"][:]
        for lo in range(0, len(info.names), _TABLE_CHUNK):
            hi = min(lo + _TABLE_CHUNK, len(info.names))
            chunk = ISMResult(
                reference=h5["reference"][lo:hi],
                delta=h5["delta"][lo:hi],
                positions=positions,
                method_used=str(info.params["method_used"]),
                targets=targets,
            )
            table = ism_table(chunk, info.names[lo:hi], info.target_labels)
            table.to_csv(out, sep="\t", index=False, header=lo == 0, float_format="%.6g")
    return tsv


def _ism_figures(h5_path: Path, folder: Path, count: int) -> list[Path]:
    """Basset's figure per target for the first ``count`` sequences, read back from the file."""
    info = read_result_info(h5_path)
    drawn = []
    for i in range(count):
        stored = read_sequence(h5_path, i)
        sequence = decode(stored["onehot"])
        region = "".join(sequence[p] for p in stored["positions"])
        for k, label in enumerate(info.target_labels):
            drawn.append(
                plot_ism(
                    stored["delta"][..., k],
                    stored["loss"][..., k],
                    stored["gain"][..., k],
                    region,
                    folder / f"{_figure_stem(i, info.names[i], label)}.png",
                    title=f"{info.names[i]} | {label}",
                    positions=stored["positions"],
                )
            )
    return drawn


# ------------------------------------------------------------------------- saliency


@dataclass(frozen=True)
class SaliencyStepResult:
    """What :func:`saliency` wrote.

    Attributes
    ----------
    path
        ``explain/saliency/<method>.h5`` (kind ``"attribution"``): ``attributions
        (sequence, base, position, target)`` (the projection on the observed bases, for
        ``gradient``: the gradient of every base), ``hypothetical`` (same axes; the
        methods of :data:`~motiflens.explain.saliency.HYPOTHETICAL_METHODS`) and, for the
        reference methods, ``convergence_delta (sequence, target)``.
    figures
        Logos and heat maps of the first ``figures`` sequences, per target.
    method, n_sequences, target_labels
        What was attributed.
    max_delta
        The largest relative completeness error (reference methods), else None.
    hypothetical
        Whether the figures show the hypothetical contributions (else the projection).
    tracks
        With a BED + genome input, ``<method>/tracks/<target>.bw``: the observed-base
        attribution at each genomic base
        (:func:`~motiflens.steps.contribution_tracks.saliency_tracks`); else empty.
    """

    path: Path
    figures: list[Path]
    method: str
    n_sequences: int
    target_labels: list[str]
    max_delta: float | None
    hypothetical: bool = False
    tracks: list[Path] = field(default_factory=list)


@holding_run
def saliency(
    run: Run | str | Path,
    source: Source,
    *,
    method: str = "gradient_x_input",
    targets: TargetSelection = None,
    genome: Source | None = None,
    split: str = "test",
    n: int | None = 10,
    n_shuffles: int = 20,
    n_steps: int = 50,
    correct_gradient: bool = True,
    figures: int = 10,
    hypothetical: bool = False,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    verbose: bool = True,
    random_state: int | None = 1,
) -> SaliencyStepResult:
    """Attributions of the first ``n`` sequences of ``source``, with logos and heat maps.

    Both the projection on the observed bases (``attributions``) and, where the method
    has them, the hypothetical contributions of every base (``hypothetical``) are stored;
    the figures show the projection, as tfmodisco users expect, or with ``hypothetical``
    the hypothetical contributions (file names ``<method>_hypothetical_...``).

    Parameters
    ----------
    method, n_shuffles, n_steps, correct_gradient, batch_size, random_state
        As in :func:`motiflens.explain.saliency.attribute`.
    targets, genome, split, n, device, verbose
        As in :func:`ism`.
    figures
        Draw a logo and a heat map for the first this many sequences, per target.
    hypothetical
        Draw the hypothetical contributions instead of their projection. Default is
        False.

    Raises
    ------
    InputError
        ``hypothetical`` with a method that has no hypothetical contributions
        (``gradient``: its map covers every base already; ``demo``).
    """
    if hypothetical and method not in HYPOTHETICAL_METHODS:
        raise InputError(
            f"{method} has no hypothetical contributions",
            hint=f"use one of {', '.join(HYPOTHETICAL_METHODS)}, or leave out hypothetical"
            + (" (the gradient map shows every base already)" if method == "gradient" else ""),
        )
    run = as_run(run)
    model = run.model()
    config = model.config
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    result = attribute(
        model,
        X,
        targets=targets,
        method=method,  # type: ignore[arg-type]
        n_shuffles=n_shuffles,
        n_steps=n_steps,
        correct_gradient=correct_gradient,
        batch_size=batch_size,
        device=device,
        verbose=verbose,
        random_state=random_state,
    )
    labels = [target_names(model, config.n_targets)[t] for t in result.targets]
    axes = ("sequence", "base", "position", "target")
    arrays: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {
        "attributions": (result.attributions, axes)
    }
    if result.hypothetical is not None:
        arrays["hypothetical"] = (result.hypothetical, axes)
    if result.convergence_delta is not None:
        arrays["convergence_delta"] = (result.convergence_delta, ("sequence", "target"))
    folder = run.analysis_dir("saliency")
    path = run.result_path("saliency", method)
    # this method's figures only ("gradient_*" would also match gradient_x_input's)
    stem = safe_name(method)
    # and its tracks folder, <method>/ (rewritten below for a BED + genome input only)
    clear_outputs(folder, [f"{stem}_[0-9][0-9][0-9][0-9]_*", f"{stem}_hypothetical_[0-9]*", stem])
    params = {"method": method, "source": str(source), "split": split, "n_shuffles": n_shuffles}
    params.update(n_steps=n_steps, random_state=random_state, drawn=_drawn(hypothetical))
    params["correct_gradient"] = correct_gradient
    write_result(
        path, "attribution", arrays, names=names, target_labels=labels, onehot=X, params=params
    )
    shown = result.hypothetical if hypothetical else result.attributions
    prefix = f"{stem}_hypothetical" if hypothetical else stem
    ylabel = "hypothetical contribution" if hypothetical else "attribution"
    drawn = []
    for i in range(min(figures, len(names))):
        for k, label in enumerate(labels):
            base = folder / f"{prefix}_{_figure_stem(i, names[i], label)}"
            attr, title = shown[i, :, :, k], f"{names[i]} | {label}"  # type: ignore[index]
            if hypothetical:
                title += " (hypothetical)"
            drawn.append(
                plot_attribution_logo(attr, f"{base}_logo.png", title=title, ylabel=ylabel)
            )
            drawn.append(
                plot_attribution_heatmap(attr, f"{base}_heat.png", title=title, label=ylabel)
            )
    windows = genome_windows(source, genome, config.length, len(names))
    tracks = []
    if windows is not None:
        tracks = saliency_tracks(
            folder / stem / "tracks", result.attributions, X, method, labels, windows
        )
    outputs = [path, *([folder / stem / "tracks"] if tracks else [])]
    run.record_step(
        "saliency",
        outputs,
        method=method,
        n=len(names),
        targets=labels,
        drawn=_drawn(hypothetical),
        genome=None if windows is None else str(windows.genome),
    )
    return SaliencyStepResult(
        path, drawn, method, len(names), labels, result.max_delta, hypothetical, tracks
    )


def _drawn(hypothetical: bool) -> str:
    """The stored array the figures show."""
    return "hypothetical" if hypothetical else "attributions"


# ------------------------------------------------------------------------- temporal


@dataclass(frozen=True)
class TemporalStepResult:
    """What :func:`temporal` wrote.

    Attributes
    ----------
    path
        ``explain/temporal/temporal.h5`` (kind ``"temporal"``): ``forward`` and
        ``backward (sequence, position, target)``.
    figures
        Heat maps of the first ``figures`` sequences, per target.
    n_sequences, target_labels
        What was scored.
    """

    path: Path
    figures: list[Path]
    n_sequences: int
    target_labels: list[str]


@holding_run
def temporal(
    run: Run | str | Path,
    source: Source,
    *,
    targets: TargetSelection = None,
    genome: Source | None = None,
    split: str = "test",
    n: int | None = 10,
    figures: int = 10,
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> TemporalStepResult:
    """Temporal output scores (DeMo) of the first ``n`` sequences, with heat maps.

    The run must hold a recurrent model (rnn, cnn-rnn). Options as in :func:`ism`.
    """
    run = as_run(run)
    model = run.model()
    config = model.config
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    scores = temporal_scores(model, X, targets=targets, device=device, verbose=verbose)
    labels = [target_names(model, config.n_targets)[t] for t in scores.targets]
    folder = run.analysis_dir("temporal")
    path = run.result_path("temporal", "temporal")
    clear_outputs(folder)
    axes = ("sequence", "position", "target")
    write_result(
        path,
        "temporal",
        {"forward": (scores.forward, axes), "backward": (scores.backward, axes)},
        names=names,
        target_labels=labels,
        onehot=X,
        params={"source": str(source), "split": split},
    )
    seqs = decode(X)
    drawn = []
    for i in range(min(figures, len(names))):
        for k, label in enumerate(labels):
            fig = temporal_heatmap(
                scores.forward[i, :, k],
                scores.backward[i, :, k],
                sequence=seqs[i],
                target_name=label,
                title=names[i],
            )
            drawn.append(save_figure(fig, folder / f"{_figure_stem(i, names[i], label)}.png"))
    run.record_step("temporal", [path], source=str(source), n=len(names), targets=labels)
    return TemporalStepResult(path, drawn, len(names), labels)
