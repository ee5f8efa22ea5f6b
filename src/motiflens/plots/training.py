"""Training curves and ROC / precision-recall curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from motiflens.plots.style import plt, save_figure


def plot_training_curves(table: pd.DataFrame, path: str | Path) -> Path:
    """Loss per epoch (train and validation) and the validation metric, side by side."""
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = table["epoch"] + 1
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        if key in table:
            ax_loss.plot(epochs, table[key], marker="o", ms=3, label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_loss.legend()
    metrics = [k for k in ("val_auroc", "val_auprc", "val_pearson") if k in table]
    for key in metrics:
        ax_metric.plot(epochs, table[key], marker="o", ms=3, label=key.removeprefix("val_"))
        best = int(np.nanargmax(table[key].to_numpy()))
        ax_metric.axvline(epochs.iloc[best], color="grey", ls=":", lw=1)
    ax_metric.set(xlabel="epoch", ylabel="mean over targets", title="Validation")
    if metrics:
        ax_metric.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_roc_pr(
    y_true: np.ndarray,
    y_score: np.ndarray,
    target_labels: Sequence[str],
    path: str | Path,
    max_targets: int = 20,
) -> Path:
    """ROC and precision-recall curves per target (the first ``max_targets`` with positives)."""
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.8))
    shown = 0
    for t, name in enumerate(target_labels):
        yt = np.asarray(y_true[:, t]) > 0.5
        if yt.all() or not yt.any():
            continue
        fpr, tpr, _ = roc_curve(yt, y_score[:, t])
        prec, rec, _ = precision_recall_curve(yt, y_score[:, t])
        ax_roc.plot(fpr, tpr, lw=1, label=name)
        ax_pr.plot(rec, prec, lw=1, label=name)
        shown += 1
        if shown >= max_targets:
            break
    ax_roc.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax_pr.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    if shown <= 12:
        ax_roc.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)
