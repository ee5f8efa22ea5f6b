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
