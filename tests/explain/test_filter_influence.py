"""Filter influence on CNN-RNN models: the recurrent path against a per-filter rerun.

The reference here is written independently of :mod:`motiflens.explain.filter_influence`:
one full forward pass of the model per filter, with a forward hook that sets the filter's
activation (after the first ReLU) to its mean, then Basset's formulas in float64 numpy.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from torch import nn

from motiflens.config import ModelConfig
from motiflens.explain.filter_influence import _pool_positions
from motiflens.explain.filters import filter_influence, filter_stats
from motiflens.models import build_model
from motiflens.models.demo import DeMoCNNRNN

# The module itself (motiflens.explain exports a function of the same name).
fi_module = importlib.import_module("motiflens.explain.filter_influence")
LENGTH = 40
SMALL = {"filters": 8, "size": 5, "hidden": 6}


def _model(name: str, arch: dict, task: str = "binary", seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(
        {"name": name, "n_targets": 3, "length": LENGTH, "task": task, "arch": arch}
    )
    model = build_model(cfg)
    with torch.no_grad():
        # A conv bias that keeps about half the activations positive, and LSTM weights
        # large enough that the gates saturate sometimes: every branch of the cell matters.
        model.conv1.bias.uniform_(-0.3, 0.3)
        for name_, p in model.rnn.named_parameters():
            if name_.startswith("weight"):
                p.mul_(3.0)
    return model.eval()


def _onehot(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, LENGTH))].transpose(0, 2, 1).copy()
    X[0, :, 5] = 0.25  # an N
    return X


def _loss(task: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sequence loss summed over targets, written out."""
    if task == "binary":  # binary cross-entropy on logits, the stable form
        per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    elif task == "regression":
        per = (z - y) ** 2
    else:  # Poisson NLL with log input (PyTorch's default, without the Stirling term)
        per = np.exp(z) - y * z
    return per.sum(axis=-1)


def _rerun_influence(model, X, y, means, task):
    """``(targets (F, T), loss (F,))`` from one hooked forward pass per filter."""
    x = torch.as_tensor(X)

    def logits(f: int | None) -> np.ndarray:
        def hook(_module, _inputs, output):
            output = output.clone()
            output[:, f, :] = float(means[f])
            return output

        handle = None if f is None else model.first_block.act.register_forward_hook(hook)
        try:
            with torch.no_grad():
                return model(x).double().numpy()
        finally:
            if handle is not None:
                handle.remove()

    orig = logits(None)
    targets, loss = [], []
    for f in range(len(means)):
        null = logits(f)
        targets.append((orig.mean(0) - null.mean(0)) / orig.var(0))
        loss.append((_loss(task, null, y) - _loss(task, orig, y)).mean())
    return np.array(targets), np.array(loss)


def _check(model, X, y, task="binary", **kwargs):
    means = filter_stats(model, X).mean
    res = filter_influence(model, X, y, means=means, **kwargs)
    targets, loss = _rerun_influence(model, X, y, means, task)
    # Influence divides by the logit variance: compare relative to the largest value.
    scale = np.abs(targets).max()
    assert scale > 0
    np.testing.assert_allclose(res.targets / scale, targets / scale, atol=1e-4)
    # The loss gain is a difference of float32 per-sequence losses of ~2 (3 targets): its
    # rounding is ~1e-7 absolute whatever the path (1e-5 relative where the gain is ~1e-3).
    np.testing.assert_allclose(res.loss, loss, rtol=1e-4, atol=1e-6)
    return res


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("cnn-rnn", SMALL),
        ("cnn-rnn", {**SMALL, "bidirectional": False}),
        ("cnn-rnn", {**SMALL, "pool": "mean", "conv_dropout": 0.3}),
        ("cnn-rnn", {**SMALL, "layers": 2, "dropout": 0.2}),
        ("cnn-rnn-demo", SMALL),
        ("cnn-rnn-demo", {**SMALL, "bidirectional": False, "forget_bias": 0.0}),
    ],
    ids=["max-bi", "max-uni", "mean-bi-dropout", "two-layers", "demo-bi", "demo-uni"],
)
def test_recurrent_path_equals_a_hooked_rerun_per_filter(name, arch):
    model = _model(name, arch)
    X = _onehot(14)
    y = (np.random.default_rng(2).random((14, 3)) < 0.4).astype(np.float32)
    res = _check(model, X, y, batch_size=5)  # batches of 5, 5 and 4
    assert res.method == "recurrent"
    assert not model.training  # the mode is restored


@pytest.mark.parametrize("task", ["regression", "poisson"])
def test_recurrent_path_losses_of_other_tasks(task):
    model = _model("cnn-rnn", SMALL, task=task)
    X = _onehot(10)
    y = np.random.default_rng(3).poisson(2.0, (10, 3)).astype(np.float32)
    assert _check(model, X, y, task=task).method == "recurrent"


def test_a_pooled_first_block_gives_the_mean_to_the_lstm(monkeypatch):
    # Max-pooling a constant gives the constant; ceil mode makes a short last window.
    model = _model("cnn-rnn", SMALL)
    model.conv.pool = nn.MaxPool1d(3, 3, ceil_mode=True)
    X = _onehot(9)
    y = (np.random.default_rng(4).random((9, 3)) < 0.5).astype(np.float32)
    # Chunks of one filter x 4 sequences: many chunks per batch.
    monkeypatch.setattr(fi_module, "_RECURRENT_ROWS", 4)
    res = _check(model, X, y, batch_size=4)
    assert res.method == "recurrent"


def test_subset_of_filters_follows_the_given_order():
    model = _model("cnn-rnn", SMALL)
    X = _onehot(8)
    means = filter_stats(model, X).mean
    targets, _ = _rerun_influence(model, X, np.zeros((8, 3), np.float32), means, "binary")
    some = [6, 0, 3]
    res = filter_influence(model, X, means=means, filters=some)
    scale = np.abs(targets).max()
    np.testing.assert_allclose(res.targets / scale, targets[some] / scale, atol=1e-4)
    assert res.loss is None


class _ScaledFeatures(DeMoCNNRNN):
    """A CNN-RNN whose LSTM reads twice the first block's output (not the block itself)."""

    def forward_from_first_activation(self, a: torch.Tensor) -> torch.Tensor:
        return self.output(self.rnn(2.0 * self.first_block.reduce(a)))

    def recurrent_parts(self):
        parts = super().recurrent_parts()
        return parts._replace(features=lambda x: 2.0 * parts.features(x))


def test_a_model_whose_lstm_reads_something_else_takes_the_rerun():
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict(
        {"name": "cnn-rnn", "n_targets": 3, "length": LENGTH, "arch": SMALL}
    )
    model = _ScaledFeatures(cfg).eval()
    X = _onehot(8)
    y = (np.random.default_rng(5).random((8, 3)) < 0.5).astype(np.float32)
    assert _check(model, X, y).method == "rest"


def test_recurrent_method_is_refused_for_a_conv_stack():
    model = _model("cnn-rnn", SMALL)
    X = _onehot(4)
    rest = filter_influence(model, X, method="rest")
    assert rest.method == "rest"
    cnn = build_model(ModelConfig.from_dict({"name": "cnn", "n_targets": 2, "length": LENGTH}))
    with pytest.raises(ValueError, match="recurrent path needs a CNN-RNN"):
        filter_influence(cnn, X, method="recurrent")
    with pytest.raises(ValueError, match="unknown method"):
        filter_influence(model, X, method="lstm")


@pytest.mark.parametrize(
    ("kernel", "stride", "ceil"),
    [(4, 4, True), (4, 4, False), (3, 3, True), (3, 2, True), (5, 2, False)],
)
def test_pooling_channels_last_positions_equals_max_pool1d(kernel, stride, ceil):
    z = torch.randn(6, 23, 5)  # (N, L, C): 23 positions, a partial last window
    pool = nn.MaxPool1d(kernel, stride, ceil_mode=ceil)
    want = pool(z.transpose(1, 2))  # torch's on (N, C, L)
    got = _pool_positions(z, pool).transpose(1, 2)
    assert torch.equal(got, want)
    assert _pool_positions(z, nn.Identity()) is z
