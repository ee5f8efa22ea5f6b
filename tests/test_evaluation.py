"""Per-target metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np

from motiflens.evaluation import per_target_metrics, summarize


def test_auroc_and_auprc_by_hand():
    y = np.array([[0], [0], [1], [1]])
    s = np.array([[0.1], [0.4], [0.35], [0.8]])
    m = per_target_metrics(y, s, ["t"])
    # pairs (pos, neg) ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4); wrong: (0.35<0.4)
    assert m.loc[0, "auroc"] == 0.75
    # ranked: 0.8 (pos: P=1, R=.5), 0.4 (neg), 0.35 (pos: P=2/3, R=1) -> AP = .5*1 + .5*2/3
    assert math.isclose(m.loc[0, "auprc"], 0.5 + 0.5 * 2 / 3)
    assert m.loc[0, "positives"] == 2


def test_target_without_positives_is_nan_not_one():
    y = np.array([[0, 1], [0, 0], [0, 1]])
    s = np.array([[0.2, 0.9], [0.1, 0.1], [0.3, 0.8]])
    m = per_target_metrics(y, s, ["empty", "full"])
    assert math.isnan(m.loc[0, "auroc"]) and math.isnan(m.loc[0, "auprc"])
    assert m.loc[1, "auroc"] == 1.0
    text = summarize(m)
    assert "mean 1.0000" in text and "1 target(s) with no positives" in text


def test_continuous_targets_use_correlations():
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    s = np.array([[2.0], [4.0], [6.0], [7.0]])
    m = per_target_metrics(y, s, ["r"], task="continuous")
    assert math.isclose(m.loc[0, "spearman"], 1.0)
    # Pearson by hand: x = y - 2.5, s - 4.75 = (-2.75, -.75, 1.25, 2.25)
    dx = np.array([-1.5, -0.5, 0.5, 1.5])
    ds = np.array([-2.75, -0.75, 1.25, 2.25])
    expected = (dx * ds).sum() / math.sqrt((dx**2).sum() * (ds**2).sum())
    assert math.isclose(m.loc[0, "pearson"], expected)


def test_roc_pr_curves_by_hand():
    from motiflens.evaluation import roc_pr_curves

    y = np.array([[0, 0], [0, 0], [1, 0], [1, 0]])
    s = np.array([[0.1, 0.5], [0.4, 0.5], [0.35, 0.5], [0.8, 0.5]])
    curves = roc_pr_curves(y, s, ["t", "empty"])
    assert curves["n"] == 4 and curves["targets"]["empty"] is None  # one class only
    t = curves["targets"]["t"]
    # thresholds 0.8, 0.4, 0.35, 0.1 -> (FP, TP) = (0, 1), (1, 1), (1, 2), (2, 2) of (2, 2)
    np.testing.assert_allclose(t["fpr"], [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(t["tpr"], [0, 0.5, 0.5, 1, 1])
    # thresholds rising 0.1, 0.35, 0.4, 0.8: P = 2/4, 2/3, 1/2, 1/1 at R = 1, 1, .5, .5,
    # then sklearn's closing point (recall 0, precision 1)
    np.testing.assert_allclose(t["recall"], [1, 1, 0.5, 0.5, 0])
    np.testing.assert_allclose(t["precision"], [0.5, 2 / 3, 0.5, 1, 1])
    # thinned: at most 3 points, the first and the last kept
    thin = roc_pr_curves(y[:, :1], s[:, :1], points=3)["targets"]["0"]
    np.testing.assert_allclose(thin["fpr"], [0, 0.5, 1])
