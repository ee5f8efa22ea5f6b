"""Per-target metrics: AUROC/AUPRC for binary targets, Pearson/Spearman for continuous ones.

A target with no positives (or no negatives) gets NaN and is counted as such; it never
gets Basset's silent 1.0, which inflated mean AUCs. :func:`evaluate_model` scores a model
(and, when given, the k-mer baseline of :mod:`motiflens.baseline`) on a dataset split or a
labelled sequence file, whose columns are matched to the model's targets by name
(:func:`match_targets`); :func:`roc_pr_curves` gives the curves that the figures and the
dashboard draw. Nothing here writes files (see :mod:`motiflens.steps.evaluate`).
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
from torch import nn

from motiflens.baseline import KmerBaseline
from motiflens.data.hdf5 import SequenceDataset, target_labels
from motiflens.data.labelled import LabelledSequences
from motiflens.data.labelled_readers import detect_format, read_sequences
from motiflens.errors import InputError
from motiflens.prediction import predict_array
from motiflens.progress import tqdm
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
        A target whose scores are not all finite (a baseline without a model for it) gets
        NaN.
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
    # sklearn takes most of a second to import: only where metrics are computed, so that
    # every command line call does not pay it.
    from sklearn.metrics import average_precision_score, roc_auc_score

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
            if 0 < pos < len(yt) and np.isfinite(ys).all():
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
    """One line: mean and median of the main metric, how many targets were undefined and,
    with ``baseline_auroc`` columns, the baseline's mean over the same targets and on how
    many the model is better."""
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
    if "baseline_auroc" in metrics:
        base = metrics["baseline_auroc"].to_numpy(dtype=float)
        both = ~np.isnan(base) & ~np.isnan(values)
        if both.any():
            better = int((values[both] > base[both]).sum())
            text += (
                f"; k-mer baseline AUROC mean {np.mean(base[both]):.4f} (model "
                f"{np.mean(values[both]):.4f}), the model better on {better} of "
                f"{int(both.sum())} targets"
            )
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
    from sklearn.metrics import precision_recall_curve, roc_curve  # see per_target_metrics

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


def match_targets(
    columns: Sequence[str],
    targets: Sequence[str] | None,
    *,
    named: bool = True,
    chosen: bool = False,
    path: str | Path | None = None,
) -> list[int]:
    """Which column of a labelled file holds each of the model's targets.

    Parameters
    ----------
    columns
        The file's target names (a table's label columns, a dataset file's
        ``target_labels``), in file order.
    targets
        The model's target names, in output order (``None``: take the columns as they are).
    named
        Whether the file names its columns itself. A labelled FASTA or DeepBind file names
        its targets after the file, so only their number can be checked and they are taken
        in order.
    chosen
        The columns were chosen by the user (``--label-column``): when their names are not
        the targets' names, they are taken in the order given, one per target.
    path
        The file, for messages.

    Returns
    -------
    list of int
        For each target, the index of its column in ``columns``.

    Raises
    ------
    InputError
        The names do not match (both sets listed), or the numbers differ.

    Examples
    --------
    >>> match_targets(["HepG2", "K562"], ["K562", "HepG2"])
    [1, 0]
    """
    columns = list(columns)
    if targets is None:
        return list(range(len(columns)))
    targets = list(targets)
    if named and set(targets) <= set(columns) and (not chosen or len(columns) == len(targets)):
        return [columns.index(t) for t in targets]
    if (chosen or not named) and len(columns) == len(targets):
        return list(range(len(targets)))
    if not named or chosen:
        raise InputError(
            f"the data has {len(columns)} target(s) ({', '.join(columns)}) but the model "
            f"predicts {len(targets)} ({', '.join(targets)})",
            path=path,
            hint="give a file with one label per model target"
            + (", one --label-column per target" if chosen else ""),
        )
    missing = [t for t in targets if t not in columns]
    raise InputError(
        "the data's target names do not match the model's: the model predicts "
        f"{', '.join(targets)}; the data has {', '.join(columns)} "
        f"(missing: {', '.join(missing)})",
        path=path,
        hint="rename the columns after the model's targets, or choose one column per target, "
        "in the model's order, with --label-column (label_columns=)",
    )


def _read_labelled(
    path: Path, targets: Sequence[str] | None, label_columns: Sequence[str] | None
) -> tuple[LabelledSequences, list[int]]:
    """A labelled file read, and its columns matched to ``targets``."""
    fmt = detect_format(path)
    if fmt != "table":
        seqs = read_sequences(path, label_columns=label_columns)  # refuses label_columns
        return seqs, match_targets(seqs.target_labels, targets, named=False, path=path)
    if label_columns is not None:
        seqs = read_sequences(path, label_columns=list(label_columns))
        return seqs, match_targets(seqs.target_labels, targets, chosen=True, path=path)
    if targets is None:
        seqs = read_sequences(path)
        return seqs, match_targets(seqs.target_labels, None, path=path)
    # The model's target names chosen as label columns: other columns (chromosome, split,
    # annotations) are left alone, and the order is the model's.
    try:
        seqs = read_sequences(path, label_columns=list(targets))
    except InputError as first:
        try:
            # every numeric column as a label: match_targets then names both sets
            seqs = read_sequences(path)
        except InputError:
            if not first.message.startswith("no label column"):
                raise first from None
            raise InputError(
                f"{first.message}; the model's targets are {', '.join(targets)}",
                path=first.path,
                line=first.line,
                hint="choose one label column per target, in the model's order, with "
                "--label-column (label_columns=)",
            ) from None
    return seqs, match_targets(seqs.target_labels, targets, path=path)


class LabelledBatches(NamedTuple):
    """Labelled sequences as batches, their columns in the model's target order.

    Attributes
    ----------
    columns
        The file's name of each column scored (the model's target order when matched).
    batches
        Iterator of ``(x (b, 4, L) float32, y (b, T) float32)``.
    n
        Number of sequences.
    """

    columns: list[str]
    batches: Iterator[tuple[np.ndarray, np.ndarray]]
    n: int


def labelled_batches(
    data: str | Path,
    *,
    split: str = "test",
    length: int,
    batch_size: int = 512,
    targets: Sequence[str] | None = None,
    label_columns: Sequence[str] | None = None,
) -> LabelledBatches:
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
    targets
        The model's target names: the file's columns are matched to them by name and
        put in their order (:func:`match_targets`). A table's label columns default to
        these names, so its other columns need not be numeric.
    label_columns
        The columns (of a table) or targets (of a dataset file) to score, one per target;
        matched by name when they are the targets' names, else taken in the order given.

    Raises
    ------
    InputError
        The names or numbers of targets do not match, or the sequences are of another
        length than the model's (dataset file).
    """
    data = Path(data)
    if h5py.is_hdf5(data):
        ds = SequenceDataset(data, split)
        if ds.length != length:
            raise InputError(
                f"the dataset's sequences are {ds.length} bp but the model takes {length} bp",
                path=data,
            )
        names = target_labels(data)
        if label_columns is not None:
            unknown = [c for c in label_columns if c not in names]
            if unknown:
                raise InputError(
                    f"no target {', '.join(unknown)} in the dataset; it has {', '.join(names)}",
                    path=data,
                )
            chosen = [names.index(c) for c in label_columns]
            matched = match_targets(label_columns, targets, chosen=True, path=data)
            order = [chosen[i] for i in matched]
        else:
            order = match_targets(names, targets, path=data)

        def from_file() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for start in range(0, len(ds), batch_size):
                items = ds.__getitems__(range(start, min(start + batch_size, len(ds))))
                yield (
                    np.stack([x.numpy() for x, _ in items]),
                    np.stack([y.numpy() for _, y in items])[:, order],
                )

        return LabelledBatches([names[i] for i in order], from_file(), len(ds))
    seqs, order = _read_labelled(data, targets, label_columns)
    x = one_hot(seqs.seqs, length=length)
    y = seqs.labels[:, order]
    batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))
    return LabelledBatches([seqs.target_labels[i] for i in order], batches, len(x))


class Evaluation(NamedTuple):
    """A model scored on labelled sequences.

    Attributes
    ----------
    metrics
        One row per target (:func:`per_target_metrics`), named by the model's targets;
        with a baseline, also ``baseline_auroc`` and ``baseline_auprc``.
    summary
        One line (:func:`summarize`).
    y_true
        ``(N, T)`` observed values, columns in the model's target order.
    y_pred
        ``(N, T)`` predictions (probabilities for a binary task).
    target_labels
        The model's ``T`` target names.
    columns
        The data's name of the column scored as each target (a table's label column, a
        dataset file's target; a FASTA or DeepBind file's name for its target).
    baseline_pred
        ``(N, T)`` probabilities of the k-mer baseline (NaN for a target it has no model
        for), or ``None``.
    """

    metrics: pd.DataFrame
    summary: str
    y_true: np.ndarray
    y_pred: np.ndarray
    target_labels: list[str]
    columns: list[str]
    baseline_pred: np.ndarray | None = None


def evaluate_model(
    model: nn.Module,
    data: str | Path,
    *,
    split: str = "test",
    label_columns: Sequence[str] | None = None,
    match_names: bool = True,
    reverse_complement: bool = True,
    baseline: KmerBaseline | None = None,
    batch_size: int = 512,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> Evaluation:
    """Score a model per target on a dataset split or a labelled sequence file.

    The data's columns are matched to the model's targets by name and reordered
    (:func:`match_targets`): a table whose label columns come in another order gives the
    same metrics, and one whose names differ from the model's is refused.

    Parameters
    ----------
    model
        A model with ``.config`` (its ``length``, ``n_targets`` and ``task``), as
        :meth:`motiflens.runs.Run.model` gives; its ``.target_labels`` name the targets
        the data's columns are matched to, and the rows.
    data
        Dataset file or labelled FASTA / TSV / DeepBind file (:func:`labelled_batches`).
        A labelled FASTA or DeepBind file names its target after the file, so its
        label(s) are taken in order.
    split
        Split of a dataset file.
    label_columns
        Columns of a table (targets of a dataset file) to score, one per target: matched
        by name when they are the model's target names, else taken in the order given.
        By default a table's label columns are the model's target names.
    match_names
        Match by name; ``False`` takes the data's columns in order (for a model whose
        target names are placeholders, such as a run without ``target_labels.txt``).
    reverse_complement
        Average forward and reverse-complement predictions (Basset's ``-rc``). On by
        default: it raised test AUROC for every model that learned on the ENCODE sets
        (+0.002 on easy ones, +0.010 to +0.019 on hard ones).
    baseline
        A k-mer baseline (:func:`motiflens.baseline.kmer_baseline`) with the model's
        targets, in its order, scored on the same sequences.
    batch_size, device, verbose
        Prediction settings (``verbose``: a progress bar).

    Raises
    ------
    InputError
        The data's target names or number do not match the model's (both listed), or
        its sequences have another length than the model takes (dataset file).
    """
    config = model.config
    data = Path(data)
    names = list(getattr(model, "target_labels", None) or [])
    columns, batches, n = labelled_batches(
        data,
        split=split,
        length=config.length,
        batch_size=batch_size,
        targets=names if names and match_names else None,
        label_columns=label_columns,
    )
    if len(columns) != config.n_targets:
        raise InputError(
            f"the data has {len(columns)} targets ({', '.join(columns)}) but the model "
            f"predicts {config.n_targets}" + (f" ({', '.join(names)})" if names else ""),
            path=data,
        )
    names = names or list(columns)
    if baseline is not None and len(baseline.target_labels) != len(names):
        raise ValueError(
            f"the baseline has {len(baseline.target_labels)} targets, the model {len(names)}"
        )
    ys, ps, bs = [], [], []
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
            if baseline is not None:
                bs.append(baseline.predict(x))
            ys.append(y)
            bar.update(len(x))
    y_true, y_pred = np.concatenate(ys), np.concatenate(ps)
    task = "binary" if config.task == "binary" else "continuous"
    metrics = per_target_metrics(y_true, y_pred, names, task=task)
    baseline_pred = np.concatenate(bs) if bs else None
    if baseline_pred is not None and task == "binary":
        base = per_target_metrics(y_true, baseline_pred, names)
        metrics["baseline_auroc"] = base["auroc"]
        metrics["baseline_auprc"] = base["auprc"]
    return Evaluation(
        metrics, summarize(metrics), y_true, y_pred, names, list(columns), baseline_pred
    )
