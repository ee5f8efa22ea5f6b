"""Motif insertion keeps the spread of each motif's change over the backgrounds."""

from __future__ import annotations

import math

import numpy as np
import torch

from motiflens.config import ModelConfig
from motiflens.explain.insertion import insert_motifs
from motiflens.models import build_model
from motiflens.motifs.pwm import Motif


def test_sd_over_backgrounds_of_a_linear_model_by_hand():
    # Logit = the most A's in any 3 bp window (a width-3 filter of A-weights, global max
    # pool). "AAA" at the centre scores 3: a background without A changes by 3, one that
    # already holds "AA" (score 2) by 1. Changes [3, 1, 3, 1]: mean 2, SD sqrt(4/3).
    arch = {"filters": [1], "sizes": [3], "pools": [8], "hidden": [], "batch_norm": False}
    cfg = ModelConfig.from_dict({"name": "basset", "n_targets": 1, "length": 10, "arch": arch})
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.conv1.weight.zero_()
        model.conv1.bias.zero_()
        model.conv1.weight[0, 0, :] = 1.0
        model.output.weight.fill_(1.0)
        model.output.bias.zero_()
    codes = np.full((4, 10), 2)  # all G
    codes[1, :2] = 0  # "AA" at the start, away from the centre (bases 4-6)
    codes[3, :2] = 0
    X = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()
    aaa = Motif("AAA", "AAA", np.array([[1.0] * 3, [0] * 3, [0] * 3, [0] * 3]))
    table = insert_motifs(model, X, [aaa])
    row = table.iloc[0]
    assert math.isclose(row["delta_score"], 2.0, rel_tol=1e-6)
    assert math.isclose(row["delta_score_sd"], math.sqrt(4 / 3), rel_tol=1e-5)
    assert row["n_sequences"] == 4
    # averaged over two centres first: each background's change is the same at both
    two = insert_motifs(model, X, [aaa], centers=[5, 6]).iloc[0]
    assert math.isclose(two["delta_score_sd"], math.sqrt(4 / 3), rel_tol=1e-5)
