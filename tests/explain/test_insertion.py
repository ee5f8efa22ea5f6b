"""Motif insertion: sampled instances, the mean change per target, planted motifs first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiflens.config import ModelConfig
from motiflens.data.hdf5 import read_split
from motiflens.explain.filters import same_family
from motiflens.explain.insertion import (
    insert_motifs,
    insertion_backgrounds,
    sample_instances,
    top_motifs,
)
from motiflens.models import build_model
from motiflens.motifs.databases import jaspar_motif, load_database
from motiflens.motifs.pwm import Motif
from motiflens.sequence.onehot import decode


def test_sampled_instances_follow_the_pwm():
    probs = np.array([[1, 0, 0.5], [0, 0, 0.5], [0, 0, 0], [0, 1, 0]], dtype=float)
    inst = sample_instances(probs, 4000, np.random.default_rng(0))
    assert inst.shape == (4000, 4, 3)
    np.testing.assert_array_equal(inst.sum(axis=1), 1)
    assert inst[:, 0, 0].all() and inst[:, 3, 1].all()  # fixed columns
    assert abs(inst[:, 0, 2].mean() - 0.5) < 0.03 and not inst[:, 2:, 2].any()


def test_insertion_change_of_a_linear_model_by_hand():
    # Logit = the most A's in any 3 bp window (a width-3 filter of A-weights, global max
    # pool): backgrounds without A score 0, and "AAA" written at the centre scores 3.
    arch = {"filters": [1], "sizes": [3], "pools": [8], "hidden": [], "batch_norm": False}
    cfg = ModelConfig.from_dict({"name": "basset", "n_targets": 1, "length": 10, "arch": arch})
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.conv1.weight.zero_()
        model.conv1.bias.zero_()
        model.conv1.weight[0, 0, :] = 1.0
        model.output.weight.fill_(1.0)
        model.output.bias.zero_()
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(1, 4, (20, 10))].transpose(0, 2, 1).copy()
    aaa = Motif("AAA", "AAA", np.array([[1.0] * 3, [0] * 3, [0] * 3, [0] * 3]))
    table = insert_motifs(model, X, [aaa])
    assert list(table["target"]) == ["target_0"]  # the model's target label
    np.testing.assert_allclose(table["delta_score"], [3.0], rtol=1e-6)
    p0, p1 = 0.5, 1 / (1 + np.exp(-3.0))
    np.testing.assert_allclose(table["delta_pred"], [p1 - p0], rtol=1e-5)


def test_shuffled_backgrounds_keep_composition():
    X = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (5, 50))]
    X = X.transpose(0, 2, 1).copy()
    bg = insertion_backgrounds(X, "shuffle", random_state=0)
    np.testing.assert_array_equal(bg.sum(axis=2), X.sum(axis=2))
    assert not np.array_equal(bg, X)


@pytest.mark.slow
def test_insertion_ranks_each_planted_motif_first(trained_motifs):
    x, _, _ = read_split(trained_motifs.dataset, "test")
    planted = {task: jaspar_motif(i) for task, i in trained_motifs.planted.items()}
    # the planted motifs among 25 other JASPAR motifs
    others = load_database("jaspar:2024:CORE:vertebrates")[::35][:25]
    motifs = list(planted.values()) + [
        m for m in others if m.id not in {p.id for p in planted.values()}
    ]
    bg = insertion_backgrounds(x[:96], "shuffle", random_state=0)
    table = insert_motifs(trained_motifs.model, bg, motifs, random_state=0)
    best = top_motifs(table, 1).set_index("target")
    by_id = {m.id: m for m in motifs}
    for task, motif in planted.items():
        winner = by_id[best.at[task, "motif_id"]]
        assert same_family(winner, motif), (task, winner.id, winner.name)


def _random_basset():
    torch.manual_seed(0)
    arch = {"filters": [6], "sizes": [5], "pools": [26], "hidden": [], "batch_norm": False}
    cfg = ModelConfig.from_dict({"name": "basset", "n_targets": 2, "length": 30, "arch": arch})
    model = build_model(cfg).eval()
    model.target_labels = ["t0", "t1"]
    return model


def test_a_motifs_result_does_not_depend_on_the_others():
    model = _random_basset()
    rng = np.random.default_rng(3)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (16, 30))].transpose(0, 2, 1).copy()
    a = Motif("A1", "a", rng.dirichlet(np.ones(4), size=6).T)
    b = Motif("B1", "b", rng.dirichlet(np.ones(4), size=6).T)
    both = insert_motifs(model, X, [a, b], random_state=0)
    alone = insert_motifs(model, X, [b], random_state=0)
    np.testing.assert_allclose(
        both[both["motif_id"] == "B1"]["delta_score"].to_numpy(), alone["delta_score"].to_numpy()
    )
    # one target by name: that target's rows of the full table; DNA strings as input
    one = insert_motifs(model, decode(X), [a, b], targets="t1", random_state=0)
    assert list(one["target"]) == ["t1", "t1"]
    want = both[both["target"] == "t1"][["motif_id", "delta_score", "delta_pred"]]
    np.testing.assert_allclose(one["delta_score"], want["delta_score"], rtol=1e-6)
    assert list(one["motif_id"]) == list(want["motif_id"])


def test_centre_outside_the_sequence_is_refused():
    from motiflens.errors import InputError

    X = np.full((2, 4, 30), 0.25, dtype=np.float32)
    m = Motif("A1", "a", np.full((4, 3), 0.25))
    with pytest.raises(InputError, match="outside the 30 bp"):
        insert_motifs(_random_basset(), X, [m], centers=[30])
