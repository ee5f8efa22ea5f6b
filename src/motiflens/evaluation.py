"""Per-target metrics: AUROC/AUPRC for binary targets, Pearson/Spearman for continuous ones.

A target with no positives (or no negatives) gets NaN and is counted as such; it never
gets Basset's silent 1.0, which inflated mean AUCs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from motiflens.errors import InputError


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


def _labelled_batches(
    data: Path, split: str, length: int, batch_size: int
) -> tuple[list[str], Iterator[tuple[np.ndarray, np.ndarray]], int]:
    """Target names, batches of (one-hot, targets) and their count, from a dataset file
    (one split, streamed) or a labelled FASTA / table / DeepBind file (read whole)."""
    import h5py

    from motiflens.data.hdf5 import SequenceDataset, target_labels

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

    from motiflens.data.labelled import read_sequences
    from motiflens.sequence.onehot import one_hot

    seqs = read_sequences(data)
    x = one_hot(seqs.seqs, length=length)
    y = seqs.labels
    batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))
    return list(seqs.target_labels), batches, len(x)


def evaluate_run(
    run_dir: str | Path,
    data: str | Path | None = None,
    *,
    split: str = "test",
    reverse_complement: bool = False,
    batch_size: int = 512,
    device: str | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, str]:
    """Score a trained model per target and write ``metrics/test.tsv`` and curve figures.

    Parameters
    ----------
    run_dir
        A trained run directory.
    data
        Dataset file (its ``split`` is used) or a labelled FASTA / TSV / DeepBind file.
        Default: the dataset the run was trained on.
    split
        Split of a dataset file.
    reverse_complement
        Average forward and reverse-complement predictions (Basset's ``-rc``).
    batch_size, device, progress
        Prediction settings.

    Returns
    -------
    (metrics table, one-line summary)
    """
    from tqdm.auto import tqdm

    from motiflens.files import atomic_path, write_text_atomic
    from motiflens.plots.training import plot_roc_pr
    from motiflens.prediction import predict_array
    from motiflens.runs import Run

    run_dir = Path(run_dir)
    model = Run(run_dir).model(device)
    config = model.config
    data = Run(run_dir).dataset() if data is None else Path(data)
    labels, batches, n = _labelled_batches(data, split, config.length, batch_size)
    if len(labels) != config.n_targets:
        raise InputError(
            f"the data has {len(labels)} targets but the model predicts {config.n_targets}",
            path=data,
        )
    ys, ps = [], []
    with tqdm(total=n, desc="predicting", unit="seq", disable=not progress) as bar:
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
    metrics = per_target_metrics(y_true, y_pred, labels, task=task)
    out = run_dir / "metrics"
    with atomic_path(out / "test.tsv") as tmp:
        metrics.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    summary = summarize(metrics)
    write_text_atomic(out / "test_summary.txt", f"{data} [{split}]: {summary}\n")
    outputs = ["metrics/test.tsv", "metrics/test_summary.txt"]
    if task == "binary":
        plot_roc_pr(y_true, y_pred, labels, out / "test_curves.png")
        outputs.append("metrics/test_curves.png")
    Run(run_dir).record_step("test", outputs, data=str(data), split=split, rc=reverse_complement)
    return metrics, summary
