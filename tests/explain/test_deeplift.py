"""DeepLIFT/SHAP rules: completeness on every architecture, each rule against a hand value.

Completeness is checked against the models' own forward passes (never the rules' output):
``sum(attributions) == f(x) - mean f(ref)``. The LSTM rules are checked on a one-step LSTM
whose multipliers are written out by hand, the global max against the max-pool rule of
``nn.MaxPool1d`` over the whole length (itself checked by hand in test_saliency.py), and
the Shapley product rule on two numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.explain.deeplift import DeepLiftRules, deeplift_multipliers, product
from motiflens.explain.saliency import attribute, shuffled_references
from tests.toy_models import random_onehot, toy_model

ARCHITECTURES = ["basset", "cnn", "rnn", "cnn-rnn", "rnn-demo", "cnn-rnn-demo"]
# DeMo's exact recurrent models (time-mean readout), as small as the toy ones
SMALL_ARCHS = {"rnn-demo": {"hidden": 6}, "cnn-rnn-demo": {"filters": 8, "size": 5, "hidden": 6}}


def logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(x))).double().numpy()


def expected_delta(model: nn.Module, x: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """``f(x) - mean_r f(ref_r)`` per sequence and target, from plain forward passes."""
    n, r = refs.shape[:2]
    f_refs = logits(model, refs.reshape(n * r, *refs.shape[2:])).reshape(n, r, -1)
    return logits(model, x) - f_refs.mean(axis=1)


# ------------------------------------------------------------------- completeness


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_deeplift_is_complete_on_every_architecture(name, device):
    # Before these rules (Captum 0.9) the same random models missed completeness by up to
    # 205% (cnn), 200% (rnn) and 42% (cnn-rnn); Basset was already complete.
    model = toy_model(name, length=60, n_targets=3, random_state=1, arch=SMALL_ARCHS.get(name))
    x = random_onehot(5, 60, random_state=2, unknown=3)  # N columns too
    refs = shuffled_references(x, 6, random_state=3)
    want = expected_delta(model, x, refs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no completeness warning
        result = attribute(model, x, method="deeplift_shap", references=refs, device=device)
    got = result.attributions.astype(np.float64).sum(axis=(1, 2))
    relative = np.abs(got - want) / np.maximum(np.abs(want), 0.01)
    assert relative.max() < 1e-3  # the target is 1%; float rounding gives ~1e-5
    np.testing.assert_allclose(result.convergence_delta, relative, atol=1e-4)


def test_the_global_max_gets_the_max_pool_rule():
    # The DeMo CNN ends in h.amax(dim=-1); the same network with nn.MaxPool1d over the
    # whole last length must get the same multipliers (the max-pool rule is checked by
    # hand in test_saliency.py).
    model = toy_model("cnn", length=60, n_targets=2, random_state=4)
    last = model.output_lengths(model.config)[-1][1]
    pooled = nn.Sequential(
        *model.conv_blocks, nn.MaxPool1d(last), nn.Flatten(), model.output
    ).eval()
    x = torch.from_numpy(random_onehot(3, 60, random_state=5))
    refs = torch.from_numpy(shuffled_references(x.numpy(), 4, random_state=6)).reshape(-1, 4, 60)
    inputs = x.repeat_interleave(4, dim=0)
    np.testing.assert_allclose(logits(model, x.numpy()), logits(pooled, x.numpy()), atol=1e-6)
    got, _, missing = deeplift_multipliers(model, inputs, refs, [0, 1])
    want, _, _ = deeplift_multipliers(pooled, inputs, refs, [0, 1])
    assert not missing
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
    assert np.abs(want.numpy()).max() > 0


# ---------------------------------------------------------------------------- LSTM


class OneStepLSTM(nn.Module):
    """One LSTM step over a single position (4 one-hot channels), one unit, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.lstm = nn.LSTM(4, 1, batch_first=True)
        self.head = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x.transpose(1, 2))[0][:, -1])


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def slope(fn, a: float, b: float) -> float:
    """The rescale rule's multiplier (f(a) - f(b)) / (a - b)."""
    return (fn(a) - fn(b)) / (a - b)


def test_lstm_rules_match_the_hand_computation():
    # With zero initial state: c = i g, h = o tanh(c) (the forget gate multiplies c0 = 0).
    # Rescale rule on every sigmoid/tanh, Shapley rule on each product
    # (d(ab) = mean(b) da + mean(a) db), chained:
    #   dh = mean(o) R_tanh(c) [mean(g) R_sig(z_i) W_i + mean(i) R_tanh(z_g) W_g] dx
    #        + mean(tanh c) R_sig(z_o) W_o dx
    model = OneStepLSTM().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.tensor([[[0.0], [1.0], [0.0], [0.0]]])  # C
    ref = torch.tensor([[[0.0], [0.0], [0.0], [1.0]]])  # T
    got, _, missing = deeplift_multipliers(model, x, ref, [0])
    assert not missing

    w = model.lstm.weight_ih_l0.double().numpy()  # (4 gates, 4 channels): i, f, g, o
    bias = (model.lstm.bias_ih_l0 + model.lstm.bias_hh_l0).double().numpy()
    w_out = float(model.head.weight[0, 0])
    z, z_ref = w @ x[0, :, 0].double().numpy() + bias, w @ ref[0, :, 0].double().numpy() + bias

    def state(zz):
        i, g, o = sigmoid(zz[0]), np.tanh(zz[2]), sigmoid(zz[3])
        return i, g, o, i * g

    i, g, o, c = state(z)
    i_r, g_r, o_r, c_r = state(z_ref)
    d_c = (g + g_r) / 2 * slope(sigmoid, z[0], z_ref[0]) * w[0] + (i + i_r) / 2 * slope(
        np.tanh, z[2], z_ref[2]
    ) * w[2]
    d_h = (o + o_r) / 2 * slope(np.tanh, c, c_r) * d_c + (np.tanh(c) + np.tanh(c_r)) / 2 * slope(
        sigmoid, z[3], z_ref[3]
    ) * w[3]
    np.testing.assert_allclose(got[0, :, 0, 0].numpy(), w_out * d_h, rtol=1e-5, atol=1e-7)
    # and they are complete: sum(m (x - ref)) = f(x) - f(ref)
    total = float((got[0, :, :, 0] * (x - ref)[0]).sum())
    assert total == pytest.approx(float(model(x) - model(ref)), abs=1e-6)


class StackedLSTM(nn.Module):
    """PyTorch's own stacking: 2 layers, bidirectional, time-major, mean over time."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(8)
        self.lstm = nn.LSTM(4, 5, num_layers=2, bidirectional=True)
        self.head = nn.Linear(10, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x.permute(2, 0, 1))[0].mean(dim=0))


def test_lstm_rules_cover_stacked_bidirectional_time_major_lstms():
    model = StackedLSTM().eval()
    x = random_onehot(3, 25, random_state=9)
    refs = shuffled_references(x, 4, random_state=10)
    # the step-by-step LSTM computes what nn.LSTM computes
    both = torch.from_numpy(np.concatenate([x, x]))
    with torch.no_grad(), DeepLiftRules():
        recomputed = model(both)
    np.testing.assert_allclose(recomputed[:3].numpy(), logits(model, x), atol=1e-5)
    result = attribute(model, x, method="deeplift_shap", references=refs)
    got = result.attributions.astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(got, expected_delta(model, x, refs), atol=1e-4)


def test_the_product_rule_splits_a_change_as_shapley_values():
    # a b - a' b' with a: 3 -> 1, b: 2 -> 5: the share of a is mean(b) (a - a') =
    # 3.5 * 2 = 7, the share of b is mean(a) (b - b') = 2 * (-3) = -6; 7 - 6 = 6 - 5.
    a = torch.tensor([[3.0], [1.0]], requires_grad=True)
    b = torch.tensor([[2.0], [5.0]], requires_grad=True)
    out = product(a, b)
    grad_a, grad_b = torch.autograd.grad(out.sum(), (a, b))
    assert grad_a[0, 0] * (3 - 1) == pytest.approx(7.0)
    assert grad_b[0, 0] * (2 - 5) == pytest.approx(-6.0)
    assert torch.equal(grad_a[0], grad_a[1]) and torch.equal(grad_b[0], grad_b[1])


# ------------------------------------------------------------ other non-linearities


class Activations(nn.Module):
    """Conv -> one of several non-linearities -> global max -> dense -> tanh -> linear."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        torch.manual_seed(11)
        self.conv = nn.Conv1d(4, 6, 5)
        self.kind = kind
        self.dense = nn.Linear(6, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        if self.kind == "leaky":
            h = F.leaky_relu(h, 0.1, True)  # in place, positionally: the rule keeps h
        elif self.kind == "elu":
            h = nn.ELU()(h)
        elif self.kind == "softplus":
            h = F.softplus(h, beta=2.0)
        else:
            h = torch.sigmoid(h)
        h = torch.max(h, dim=2).values if self.kind == "elu" else F.adaptive_max_pool1d(h, 1)
        return self.out(torch.tanh(self.dense(h.flatten(1))))


@pytest.mark.parametrize("kind", ["leaky", "elu", "softplus", "sigmoid"])
def test_other_nonlinearities_and_maxima_are_complete(kind):
    model = Activations(kind).eval()
    x = random_onehot(4, 30, random_state=12)
    refs = shuffled_references(x, 5, random_state=13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = attribute(model, x, method="deeplift_shap", references=refs)
    got = result.attributions.astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(got, expected_delta(model, x, refs), atol=1e-5)


class SquareGate(nn.Module):
    """A product of two input-dependent values outside an LSTM: no rule applies."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(14)
        self.conv = nn.Conv1d(4, 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return (h * h).sum(dim=(1, 2))[:, None]


class ProjectedLSTM(nn.Module):
    """An LSTM with projections (proj_size): the step-by-step rules do not cover it."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(15)
        self.lstm = nn.LSTM(4, 6, proj_size=3, batch_first=True)
        self.head = nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x.transpose(1, 2))[0].amax(dim=1))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")
@pytest.mark.parametrize(
    ("model", "named"), [(SquareGate(), "products"), (ProjectedLSTM(), "torch.lstm")]
)
def test_operations_without_a_rule_are_reported(model, named):
    x = random_onehot(4, 30, random_state=16)
    with pytest.warns(UserWarning, match=f"completeness.*{named}"):
        result = attribute(model, x, method="deeplift_shap", n_shuffles=4, random_state=0)
    assert result.max_delta > 0.01
