"""Filters -> PWMs, nullification influence, and recovery of planted motifs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiflens.config import ModelConfig
from motiflens.data.hdf5 import read_split
from motiflens.errors import InputError
from motiflens.explain.filters import (
    analyze_filters,
    filter_influence,
    filter_stats,
    naive_filter_influence,
    planted_recovery,
    same_family,
)
from motiflens.models import build_model
from motiflens.motifs.databases import jaspar_motif, load_database
from motiflens.sequence.onehot import decode


def _random_model(name: str, arch: dict, length: int = 60, n_targets: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(
        {"name": name, "n_targets": n_targets, "length": length, "arch": arch}
    )
    model = build_model(cfg)
    # Batch norm with non-trivial running statistics, so folding it is really tested.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    return model.eval()


def _onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()
    X[0, :, 7] = 0.25  # an N
    return X


BASSET_SAME = {
    "filters": [12, 8, 8],
    "sizes": [5, 4, 3],
    "pools": [2, 2, 2],
    "hidden": [10],
    "padding": "same",
}
BASSET_VALID = {"filters": [12, 8], "sizes": [6, 3], "pools": [3, 2], "hidden": [10]}


@pytest.mark.parametrize("arch", [BASSET_SAME, BASSET_VALID], ids=["same", "valid"])
def test_filter_stats_match_a_position_by_position_loop(arch):
    model = _random_model("basset", arch)
    X = _onehot(9, 60)
    stats = filter_stats(model, X, batch_size=4)

    with torch.no_grad():
        act = model.first_activation(torch.as_tensor(X)).numpy().astype(np.float64)
    width = arch["sizes"][0]
    left = (width - 1) // 2 if arch.get("padding") == "same" else 0
    F = act.shape[1]
    mean = act.mean(axis=(0, 2))
    peak = act.max(axis=(0, 2))
    cut = mean + 0.5 * (peak - mean)
    counts = np.zeros((F, 4, width))
    sites = np.zeros(F, dtype=int)
    for f in range(F):
        for n in range(len(X)):
            for j in range(act.shape[2]):
                start = j - left  # window start in sequence coordinates
                inside = 0 <= start and start + width <= X.shape[2]
                if act[n, f, j] > cut[f] and peak[f] > 0 and inside:
                    counts[f] += X[n, :, start : start + width]
                    sites[f] += 1
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, act.std(axis=(0, 2)), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(stats.sites, sites)
    np.testing.assert_allclose(stats.counts, counts, atol=1e-5)
    # Basset's PWM: pseudocount 1 per base, divided by sites + 4
    np.testing.assert_allclose(stats.pwms(), (counts + 1) / (sites[:, None, None] + 4))


def test_filter_that_never_activates_is_reported_not_matched():
    model = _random_model("basset", BASSET_VALID)
    with torch.no_grad():
        model.conv_blocks[0].bn.bias[2] = -1e6  # never positive after the ReLU
    X = _onehot(6, 60)
    database = load_database("jaspar:2024:CORE:vertebrates")[:40]
    model.target_labels = ["a", "b", "c"]
    report = analyze_filters(model, X, database=database, influence=True)
    assert report.target_labels == ["a", "b", "c"]  # the model's own names
    row = report.table.iloc[2]
    assert row["sites"] == 0 and report.stats.max[2] == 0
    assert row["match_id"] == "" and "filter2" not in {m.id for m in report.motifs}
    assert len(report.table) == 12


def test_model_without_a_first_convolution_is_refused():
    model = _random_model("rnn", {}, length=30)
    with pytest.raises(InputError, match="first layer is not a convolution"):
        filter_stats(model, _onehot(2, 30))


@pytest.mark.parametrize(
    ("name", "arch"),
    [("basset", BASSET_SAME), ("basset", BASSET_VALID), ("cnn", {}), ("cnn-rnn", {})],
    ids=["basset-same", "basset-valid", "cnn", "cnn-rnn"],
)
def test_influence_equals_one_full_forward_per_filter(name, arch):
    model = _random_model(name, arch, length=60)
    X = _onehot(24, 60, seed=1)
    y = (np.random.default_rng(2).random((24, 3)) < 0.4).astype(np.float32)
    means = filter_stats(model, X).mean
    fast = filter_influence(model, X, y, means=means, batch_size=10)
    naive = naive_filter_influence(model, X, y, means=means)
    assert fast.method == ("recurrent" if name == "cnn-rnn" else "fast")
    # Influence divides by the logit variance; compare relative to the largest value
    # (float32 sums over positions differ in the 5th digit between the two orders).
    scale = np.abs(naive.targets).max()
    np.testing.assert_allclose(fast.targets / scale, naive.targets / scale, atol=1e-4)
    np.testing.assert_allclose(fast.loss, naive.loss, atol=1e-5)
    some = [0, 3, 5]
    subset = filter_influence(model, X, y, means=means, filters=some)
    np.testing.assert_allclose(subset.targets / scale, naive.targets[some] / scale, atol=1e-4)


def test_influence_of_a_hand_built_model():
    # One filter reading "A" at each position, global max pool, output = 2 * max - 1:
    # nullifying the filter sets every activation to its mean m, so the output is 2m - 1.
    model = _random_model(
        "basset",
        {"filters": [2], "sizes": [1], "pools": [4], "hidden": [], "batch_norm": False},
        length=4,
        n_targets=1,
    )
    with torch.no_grad():
        model.conv1.weight.zero_()
        model.conv1.bias.zero_()
        model.conv1.weight[0, 0, 0] = 1.0
        model.output.weight.zero_()
        model.output.weight[0, 0] = 2.0
        model.output.bias.fill_(-1.0)
    X = np.eye(4, dtype=np.float32)[[[0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 2, 3]]].transpose(0, 2, 1)
    y = np.array([[1.0], [0.0], [1.0]], dtype=np.float32)
    res = filter_influence(model, X, y)
    m = 3 / 12  # three A among 12 positions
    orig = np.array([1.0, -1.0, 1.0])
    null = 2 * m - 1
    expected = (orig.mean() - null) / orig.var()
    np.testing.assert_allclose(res.targets[0, 0], expected, rtol=1e-6)

    def bce(z, t):
        return np.log1p(np.exp(-z)) if t else np.log1p(np.exp(z))

    loss_gain = np.mean([bce(null, t) - bce(o, t) for o, t in zip(orig, y[:, 0], strict=True)])
    np.testing.assert_allclose(res.loss[0], loss_gain, rtol=1e-5)
    assert res.targets[1, 0] == 0.0  # filter 1 is all zero: nullifying changes nothing


def test_same_family():
    fosl2, ctcf, rest = (jaspar_motif(i) for i in ("MA0478.2", "MA0139.2", "MA0138.3"))
    fos_jun = jaspar_motif("MA0099.4")  # FOS::JUN
    assert same_family(fosl2, fos_jun)
    assert same_family(ctcf, jaspar_motif("MA0139.1"))
    assert not same_family(ctcf, rest)
    assert not same_family(jaspar_motif("MA0080.7"), ctcf)  # SPI1 is not CTCF


@pytest.mark.slow
def test_filters_recover_the_planted_motifs(trained_motifs):
    """The science check: a model trained on planted JASPAR motifs has filters that TomTom
    annotates with those motifs (or their family) at q < 0.1."""
    x, y, _ = read_split(trained_motifs.dataset, "test")
    database = load_database("jaspar:2024:CORE:vertebrates")
    report = analyze_filters(trained_motifs.model, x, y, database=database)
    assert report.target_labels == trained_motifs.target_labels
    planted = [jaspar_motif(i) for i in trained_motifs.planted.values()]
    recovery = planted_recovery(report, planted)
    assert recovery["recovered"].mean() >= 0.8, recovery
    # and the filter that learned a motif matters for its task
    for task, motif_id in trained_motifs.planted.items():
        row = recovery[recovery["motif_id"] == motif_id].iloc[0]
        if row["recovered"] and task in ("CTCF", "REST"):
            k = trained_motifs.target_labels.index(task)
            infl = report.influence.targets[:, k]
            assert infl[row["filter"]] > np.median(infl)


def test_influence_takes_integer_labels_as_stored_in_datasets():
    model = _random_model("basset", BASSET_VALID)
    X = _onehot(8, 60)
    y = (np.random.default_rng(0).random((8, 3)) < 0.5).astype(np.int8)  # *_out is int8
    a = filter_influence(model, X, y)
    b = filter_influence(model, X, y.astype(np.float32))
    np.testing.assert_array_equal(a.loss, b.loss)


def test_sequences_may_be_given_as_dna_strings():
    model = _random_model("basset", BASSET_VALID)
    X = _onehot(5, 60)
    text = decode(X)  # the N of _onehot decodes to N, which encodes as 0.25 again
    a, b = filter_stats(model, X), filter_stats(model, text)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.sites, b.sites)
    np.testing.assert_allclose(
        filter_influence(model, text).targets, filter_influence(model, X).targets, atol=1e-6
    )
