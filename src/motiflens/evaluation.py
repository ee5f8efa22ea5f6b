"""Per-target metrics: AUROC/AUPRC for binary targets, Pearson/Spearman for continuous ones.

A target with no positives (or no negatives) gets NaN and is counted as such; it never
gets Basset's silent 1.0, which inflated mean AUCs. :func:`evaluate_model` scores a model
on a dataset split or a labelled sequence file; :func:`roc_pr_curves` gives the curves
that the figures and the dashboard draw. Nothing here writes files (see
:mod:`motiflens.steps.evaluate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from torch import nn
from tqdm.auto import tqdm

from motiflens.data.hdf5 import SequenceDataset, target_labels
from motiflens.data.labelled_readers import read_sequences
from motiflens.errors import InputError
from motiflens.prediction import predict_array
from motiflens.sequence.onehot import one_hot


def per_target_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    target_labels: Sequence[str] | None = None,
    task: str = "binary",
) -> pd.DataFrame:
    """Score predictions target by target.

    Parameters
    ----------
    y_true
        ``(n, T)`` observed values (0/1 for binary targets).
    y_score
        ``(n, T)`` predictions (logits or probabilities: ranks are what count for AUROC).
    target_labels
        Names of the T targets.
    task
        ``"binary"`` for AUROC/AUPRC, anything else for Pearson/Spearman.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target, n, positives`` and ``auroc, auprc`` (binary) or
        ``pearson, spearman`` (continuous); NaN where undefined.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_score = np.asarray(y_score, dtype=np.float64).reshape(len(y_score), -1)
    n_targets = y_true.shape[1]
    labels = (
        list(target_labels) if target_labels is not None else [str(i) for i in range(n_targets)]
    )
    rows = []
    for t in range(n_targets):
        yt, ys = y_true[:, t], y_score[:, t]
        row: dict[str, object] = {"target": labels[t], "n": len(yt)}
        if task == "binary":
            pos = int((yt > 0.5).sum())
            row["positives"] = pos
            if 0 < pos < len(yt):
                row["auroc"] = float(roc_auc_score(yt > 0.5, ys))
                row["auprc"] = float(average_precision_score(yt > 0.5, ys))
            else:
                row["auroc"] = row["auprc"] = float("nan")
        else:
            row["mean"] = float(yt.mean()) if len(yt) else float("nan")
            if len(yt) > 2 and yt.std() > 0 and ys.std() > 0:
                row["pearson"] = float(stats.pearsonr(yt, ys)[0])
                row["spearman"] = float(stats.spearmanr(yt, ys)[0])
            else:
                row["pearson"] = row["spearman"] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(metrics: pd.DataFrame) -> str:
    """One line: mean and median of the main metric, and how many targets were undefined."""
    key = "auroc" if "auroc" in metrics else "pearson"
    values = metrics[key].to_numpy(dtype=float)
    defined = values[~np.isnan(values)]
    text = (
        f"{key.upper() if key == 'auroc' else key}: mean {np.mean(defined):.4f}, median "
        f"{np.median(defined):.4f} over {len(defined)} targets"
        if len(defined)
        else f"{key}: undefined for every target"
    )
    if "auprc" in metrics:
        auprc = metrics["auprc"].to_numpy(dtype=float)
        if (~np.isnan(auprc)).any():
            text += f"; AUPRC mean {np.nanmean(auprc):.4f}"
    missing = int(np.isnan(values).sum())
    if missing:
        text += f" ({missing} target(s) with no positives or no negatives: NaN)"
    return text


def roc_pr_curves(
    y_true: np.ndarray,
    y_score: np.ndarray,
    target_labels: Sequence[str] | None = None,
    *,
    points: int | None = None,
) -> dict[str, Any]:
    """ROC and precision-recall curves per target.

    Parameters
    ----------
    y_true
        ``(n, T)`` observed 0/1 values (above 0.5 counts as positive).
    y_score
        ``(n, T)`` predictions (logits or probabilities).
    target_labels
        Names of the T targets (default ``"0" .. "T-1"``).
    points
        Thin each curve to at most this many evenly spaced points (first and last
        kept); ``None`` keeps every threshold.

    Returns
    -------
    dict
        ``{"n": n, "targets": {name: curve or None}}`` in target order; ``curve`` is
        ``{"fpr", "tpr", "recall", "precision"}``, float64 arrays (ROC: ``fpr``/``tpr``
        from sklearn's ``roc_curve``; PR: ``recall``/``precision`` from
        ``precision_recall_curve``). A target without both classes gets ``None``.
    """
    y_true = np.asarray(y_true).reshape(len(y_true), -1)
    y_score = np.asarray(y_score).reshape(len(y_score), -1)
    n_targets = y_true.shape[1]
    names = list(target_labels) if target_labels is not None else list(map(str, range(n_targets)))
    curves: dict[str, dict[str, np.ndarray] | None] = {}
    for t, name in enumerate(names):
        positive = y_true[:, t] > 0.5
        if positive.all() or not positive.any():
            curves[name] = None
            continue
        fpr, tpr, _ = roc_curve(positive, y_score[:, t])
        precision, recall, _ = precision_recall_curve(positive, y_score[:, t])
        curves[name] = {
            "fpr": _thin(fpr, points),
            "tpr": _thin(tpr, points),
            "recall": _thin(recall, points),
            "precision": _thin(precision, points),
        }
    return {"n": len(y_true), "targets": curves}


def _thin(values: np.ndarray, points: int | None) -> np.ndarray:
    """At most ``points`` evenly spaced entries, first and last kept."""
    values = np.asarray(values, dtype=np.float64)
    if points is not None and len(values) > points:
        keep = np.unique(np.linspace(0, len(values) - 1, points).round().astype(int))
        values = values[keep]
    return values


def labelled_batches(
    data: str | Path, *, split: str = "test", length: int, batch_size: int = 512
) -> tuple[list[str], Iterator[tuple[np.ndarray, np.ndarray]], int]:
    """Batches of (one-hot, targets) from a dataset file or a labelled sequence file.

    Parameters
    ----------
    data
        A dataset file (its ``split`` is streamed) or a labelled FASTA / table /
        DeepBind file (read whole; sequences centre-padded or trimmed to ``length``).
    split
        Split of a dataset file.
    length
        Sequence length the model takes.
    batch_size
        Sequences per batch.

    Returns
    -------
    (target names of the file, batches, number of sequences)
    """
    data = Path(data)
    if h5py.is_hdf5(data):
        ds = SequenceDataset(data, split)
        if ds.length != length:
            raise InputError(
                f"the dataset's sequences are {ds.length} bp but the model takes {length} bp",
                path=data,
            )

        def from_file() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for start in range(0, len(ds), batch_size):
                items = ds.__getitems__(range(start, min(start + batch_size, len(ds))))
                yield (
                    np.stack([x.numpy() for x, _ in items]),
                    np.stack([y.numpy() for _, y in items]),
                )

        return target_labels(data), from_file(), len(ds)
    seqs = read_sequences(data)
    x = one_hot(seqs.seqs, length=length)
    y = seqs.labels
    batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))
    return list(seqs.target_labels), batches, len(x)


class Evaluation(NamedTuple):
    """A model scored on labelled sequences.

    Attributes
    ----------
    metrics
        One row per target (:func:`per_target_metrics`), named by the model's targets.
    summary
        One line (:func:`summarize`).
    y_true
        ``(N, T)`` observed values.
    y_pred
        ``(N, T)`` predictions (probabilities for a binary task).
    target_labels
        The model's ``T`` target names.
    """

    metrics: pd.DataFrame
    summary: str
    y_true: np.ndarray
    y_pred: np.ndarray
    target_labels: list[str]


def evaluate_model(
    model: nn.Module,
    data: str | Path,
    *,
    split: str = "test",
    reverse_complement: bool = False,
    batch_size: int = 512,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> Evaluation:
    """Score a model per target on a dataset split or a labelled sequence file.

    Parameters
    ----------
    model
        A model with ``.config`` (its ``length``, ``n_targets`` and ``task``), as
        :meth:`motiflens.runs.Run.model` gives; its ``.target_labels`` name the rows
        (the file's own target names are not used: a labelled FASTA names its one
        target after the file).
    data
        Dataset file or labelled FASTA / TSV / DeepBind file (:func:`labelled_batches`).
    split
        Split of a dataset file.
    reverse_complement
        Average forward and reverse-complement predictions (Basset's ``-rc``).
    batch_size, device, verbose
        Prediction settings (``verbose``: a progress bar).

    Raises
    ------
    InputError
        The data has another number of targets or another length than the model.
    """
    config = model.config
    data = Path(data)
    labels, batches, n = labelled_batches(
        data, split=split, length=config.length, batch_size=batch_size
    )
    if len(labels) != config.n_targets:
        raise InputError(
            f"the data has {len(labels)} targets but the model predicts {config.n_targets}",
            path=data,
        )
    names = list(getattr(model, "target_labels", None) or labels)
    ys, ps = [], []
    with tqdm(total=n, desc="predicting", unit="seq", disable=not verbose) as bar:
        for x, y in batches:
            ps.append(
                predict_array(
                    model,
                    x,
                    batch_size=batch_size,
                    device=device,
                    reverse_complement=reverse_complement,
                    transform=config.task,
                )
            )
            ys.append(y)
            bar.update(len(x))
    y_true, y_pred = np.concatenate(ys), np.concatenate(ps)
    task = "binary" if config.task == "binary" else "continuous"
    metrics = per_target_metrics(y_true, y_pred, names, task=task)
    return Evaluation(metrics, summarize(metrics), y_true, y_pred, names)
