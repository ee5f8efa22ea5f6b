"""Training curves and ROC / precision-recall curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.evaluation import roc_pr_curves
from motiflens.plots.style import plt, save_figure


def plot_training_curves(table: pd.DataFrame, path: str | Path) -> Path:
    """Loss per epoch (train and validation) and the validation metric, side by side.

    ``table`` is the run's metrics table: one row per epoch, ``epoch`` counted from 1.
    """
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = table["epoch"]
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
    """ROC and precision-recall curves per target (the first ``max_targets`` with positives).

    The curves are :func:`motiflens.evaluation.roc_pr_curves`; targets without both
    classes have none and are left out.
    """
    curves = roc_pr_curves(y_true, y_score, target_labels)["targets"]
    drawn = [(name, c) for name, c in curves.items() if c is not None][:max_targets]
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.8))
    for name, curve in drawn:
        ax_roc.plot(curve["fpr"], curve["tpr"], lw=1, label=name)
        ax_pr.plot(curve["recall"], curve["precision"], lw=1, label=name)
    ax_roc.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax_pr.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    if len(drawn) <= 12:
        ax_roc.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)
