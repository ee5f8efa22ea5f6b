"""ROC and precision-recall curves per target, for the overview's plots.

Kept apart so that it can be replaced by the evaluation module's own curves in one
import (issue 11: ROC/PR belongs to :mod:`motiflens.evaluation`).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

__all__ = ["roc_pr_curves"]


def roc_pr_curves(y: np.ndarray, scores: np.ndarray) -> list[dict[str, np.ndarray] | None]:
    """Per target (last axis) ROC and PR curves: ``fpr``, ``tpr``, ``recall``, ``precision``.

    Parameters
    ----------
    y
        ``(N, T)`` labels; above 0.5 is positive.
    scores
        ``(N, T)`` predictions.

    Returns
    -------
    list
        One dict of arrays per target, or ``None`` for a target without both classes.
    """
    out: list[dict[str, np.ndarray] | None] = []
    for k in range(y.shape[1]):
        yt = y[:, k] > 0.5
        if yt.all() or not yt.any():
            out.append(None)
            continue
        fpr, tpr, _ = roc_curve(yt, scores[:, k])
        precision, recall, _ = precision_recall_curve(yt, scores[:, k])
        out.append({"fpr": fpr, "tpr": tpr, "recall": recall, "precision": precision})
    return out
