"""Per-target metrics: AUROC/AUPRC for binary targets, Pearson/Spearman for continuous ones.

A target with no positives (or no negatives) gets NaN and is counted as such; it never
gets Basset's silent 1.0, which inflated mean AUCs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score


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
