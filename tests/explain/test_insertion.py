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


# ----------------------------------------------------- the fast path against forward passes


def _fixed_motif(codes: np.ndarray, motif_id: str) -> Motif:
    """A motif with one base per column: every sampled instance is that sequence."""
    return Motif(motif_id, motif_id.lower(), np.eye(4)[codes].T.copy())


def _by_hand(model, x: np.ndarray, motifs: list[Motif], centers: list[int]) -> dict:
    """Per motif that fits: mean and SD of each background's logit change, mean pred change.

    The instance (the motif's only sequence) is written into the one-hot by hand at each
    centre and the model run on it; the changes are averaged over the centres first.
    """
    with torch.no_grad():
        base = model(torch.from_numpy(x)).numpy().astype(np.float64)
        want = {}
        for motif in motifs:
            w = motif.probs.shape[1]
            starts = [c - w // 2 for c in centers]
            if any(s < 0 or s + w > x.shape[2] for s in starts):
                continue
            changes, preds = [], []
            for s in starts:
                edited = x.copy()
                edited[:, :, s : s + w] = motif.probs
                logits = model(torch.from_numpy(edited)).numpy().astype(np.float64)
                changes.append(logits - base)
                preds.append((1 / (1 + np.exp(-logits)) - 1 / (1 + np.exp(-base))).mean(0))
            per_bg = np.mean(changes, axis=0)
            want[motif.id] = (per_bg.mean(0), per_bg.std(0, ddof=1), np.mean(preds, axis=0))
    return want


def _demo_model():
    # configs/demo.yaml's architecture at the demo simulation's 200 bp, 4 targets.
    arch = {"filters": [128, 64, 64], "sizes": [19, 11, 7], "pools": [3, 4, 4]}
    arch |= {"hidden": [128], "padding": "same", "conv_dropout": 0.1, "hidden_dropout": 0.5}
    cfg = {"name": "basset", "n_targets": 4, "length": 200, "arch": arch}
    model = build_model(ModelConfig.from_dict(cfg)).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv1d | torch.nn.Linear):  # edits that matter
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * 1.6 / fan_in**0.5)
            elif isinstance(mod, torch.nn.BatchNorm1d):
                shape = mod.running_mean.shape
                mod.running_mean.copy_(torch.randn(shape, generator=gen) * 0.3)
                mod.running_var.copy_(torch.rand(shape, generator=gen) * 1.5 + 0.5)
                mod.bias.copy_(torch.randn(shape, generator=gen) * 0.3)
    model.target_labels = ["t0", "t1", "t2", "t3"]
    return model


def _check_table(table, want: dict, targets: list[int]) -> None:
    assert list(table["motif_id"].unique()) == list(want)
    for motif_id, (mean, sd, pred) in want.items():
        rows = table[table["motif_id"] == motif_id]
        assert list(rows["target"]) == [f"t{t}" for t in targets]
        np.testing.assert_allclose(rows["delta_score"], mean[targets], atol=1e-4, rtol=0)
        np.testing.assert_allclose(rows["delta_score_sd"], sd[targets], atol=1e-4, rtol=0)
        np.testing.assert_allclose(rows["delta_pred"], pred[targets], atol=1e-4, rtol=0)


def test_fast_insertion_equals_forward_passes_of_the_inserted_sequences(monkeypatch):
    from motiflens.explain import insertion

    model = _demo_model()
    rng = np.random.default_rng(7)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (12, 200))].transpose(0, 2, 1).copy()
    # Odd and even widths; centres near both ends (the 15 bp motif does not fit at 6).
    motifs = [_fixed_motif(rng.integers(0, 4, w), f"M{w}") for w in (8, 11, 12, 15)]
    centers = [6, 100, 193]
    want = _by_hand(model, x, motifs, centers)
    assert list(want) == ["M8", "M11", "M12"]
    assert max(abs(m).max() for m, _, _ in want.values()) > 1e-2  # the motifs matter
    table = insert_motifs(model, x, motifs, centers=centers, targets=["t1", "t3"], method="fast")
    _check_table(table, want, [1, 3])
    # One background per reference pass (the spread merged over groups), one instance of
    # each background per call, two motifs per block: the same numbers.
    monkeypatch.setattr(insertion, "GROUP_BYTES", 1)
    monkeypatch.setattr(insertion, "FAST_EDITS", 1)
    monkeypatch.setattr(insertion, "BLOCK_MOTIFS", 2)
    table = insert_motifs(model, x, motifs, centers=centers, targets=[1, 3], method="fast")
    _check_table(table, want, [1, 3])


def test_fast_and_naive_insertion_draw_the_same_instances():
    model = _random_basset()
    rng = np.random.default_rng(3)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (16, 30))].transpose(0, 2, 1).copy()
    motifs = [Motif(f"A{w}", "a", rng.dirichlet(np.ones(4) * 0.5, size=w).T) for w in (5, 6)]
    fast = insert_motifs(model, x, motifs, centers=[3, 15, 26], random_state=2, method="fast")
    naive = insert_motifs(model, x, motifs, centers=[3, 15, 26], random_state=2, method="naive")
    assert len(fast) == 4
    cols = ["delta_score", "delta_score_sd", "delta_pred"]
    np.testing.assert_allclose(fast[cols], naive[cols], atol=1e-5, rtol=0)


def test_a_recurrent_model_runs_full_forward_passes_with_a_notice():
    from motiflens.config import RNNConfig
    from motiflens.errors import InputError

    model = build_model(ModelConfig(name="rnn", n_targets=2, arch=RNNConfig(hidden=8))).eval()
    model.target_labels = ["t0", "t1"]
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 25))].transpose(0, 2, 1).copy()
    motifs = [_fixed_motif(rng.integers(0, 4, 5), "R5")]
    with pytest.warns(UserWarning, match="full forward passes"):
        table = insert_motifs(model, x, motifs)
    _check_table(table, _by_hand(model, x, motifs, [12]), [0, 1])
    with pytest.raises(InputError, match="fast motif insertion cannot run"):
        insert_motifs(model, x, motifs, method="fast")
