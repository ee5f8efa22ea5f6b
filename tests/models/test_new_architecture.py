"""A new architecture is one class and one ``register_model`` call (issue 11, item 5).

The toy architecture below is defined here, in the test, from plain torch layers: a
convolution, a ReLU, a max over all positions, one linear layer. Once registered it is
built from a config, trained for one epoch by :func:`motiflens.training.train`, loaded
back from the run directory, and run through prediction, ISM (the fast path, checked
against a loop over every mutant) and gradient x input (checked against autograd), with
no other motiflens code told about it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from motiflens.config import ConfigBase, ModelConfig, RunConfig
from motiflens.data.hdf5 import write_dataset
from motiflens.explain.ism import saturation_mutagenesis
from motiflens.explain.saliency import attribute
from motiflens.explain.temporal import temporal_scores
from motiflens.models import MODELS, SequenceModel, build_model, output_lengths, register_model
from motiflens.prediction import predict_array
from motiflens.runs import Run
from motiflens.training import train

NAME = "toy-convmax"
LENGTH = 30


@dataclass(frozen=True)
class ToyArch(ConfigBase):
    """The ``arch:`` section of the toy model (every field has a default)."""

    filters: int = 6
    size: int = 5


class ToyConvMax(SequenceModel):
    """Conv -> ReLU -> global max -> linear, from plain torch layers."""

    arch_config = ToyArch

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        arch: ToyArch = config.arch  # type: ignore[assignment]
        self.config = config
        self.min_length = arch.size
        self.net = nn.Sequential(
            nn.Conv1d(4, arch.filters, arch.size),
            nn.ReLU(),
            nn.AdaptiveMaxPool1d(1),
            nn.Flatten(),
            nn.Linear(arch.filters, config.n_targets),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.net(x)

    def ism_layers(self) -> list[nn.Module]:
        return list(self.net)  # what the fast ISM path parses


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    register_model(NAME, ToyConvMax)  # idempotent for the same class


def random_onehot(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One epoch on a tiny random dataset (target 0: a planted ACGT, target 1: noise)."""
    root = tmp_path_factory.mktemp("new_arch")
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in (("train", 200), ("valid", 50), ("test", 50)):
        codes = rng.integers(0, 4, (n, LENGTH), dtype=np.uint8)
        y = (rng.random((n, 2)) < 0.5).astype(np.int8)
        for i in np.flatnonzero(y[:, 0]):
            p = rng.integers(0, LENGTH - 4)
            codes[i, p : p + 4] = [0, 1, 2, 3]
        splits[split] = (codes, y, [f"{split}{i}" for i in range(n)])
    dataset = write_dataset(root / "data.h5", splits, ["ACGT", "noise"])
    config = RunConfig.from_dict(
        {
            "model": {"name": NAME, "arch": {"filters": 8}},
            "training": {"preset": "demo", "batch_size": 32, "max_epochs": 1, "seed": 0},
        }
    )
    train(dataset, root / "run", config, verbose=False)
    return Run(root / "run")


def test_the_name_is_a_model_name_of_the_config() -> None:
    config = ModelConfig.from_dict({"name": NAME, "n_targets": 2, "arch": {"size": 7}})
    assert config.arch == ToyArch(filters=6, size=7)
    assert MODELS[NAME] is ToyConvMax
    model = build_model(config)
    assert isinstance(model, ToyConvMax)
    assert model.target_labels == ["target_0", "target_1"]
    # The default description: lengths traced on the meta device, 30 -> 24 after the conv.
    sized = ModelConfig(name=NAME, n_targets=2, length=LENGTH, arch=ToyArch(size=7))
    assert output_lengths(sized) == [("input", 30), ("net.0", 24), ("net.2", 1)]
    assert not ToyConvMax.is_recurrent and not ToyConvMax.needs_length


def test_register_model_refuses_what_it_cannot_build() -> None:
    with pytest.raises(TypeError, match="SequenceModel"):
        register_model("not-a-model", nn.Linear)  # type: ignore[arg-type]

    class NoArch(SequenceModel):
        pass

    with pytest.raises(TypeError, match="arch_config"):
        register_model("no-arch", NoArch)

    class Other(ToyConvMax):
        pass

    with pytest.raises(ValueError, match="already names ToyConvMax"):
        register_model(NAME, Other)


def test_trains_loads_and_predicts(trained: Run) -> None:
    model = trained.model("cpu")
    assert isinstance(model, ToyConvMax)
    assert model.target_labels == ["ACGT", "noise"]
    X = random_onehot(5, LENGTH, seed=1)
    probs = predict_array(model, X, transform="binary")
    with torch.no_grad():
        want = torch.sigmoid(model(torch.from_numpy(X))).numpy()
    np.testing.assert_allclose(probs, want, atol=1e-6)
    assert probs.shape == (5, 2)


def test_ism_takes_the_fast_path_and_matches_a_loop(trained: Run) -> None:
    model = trained.model("cpu")
    X = random_onehot(2, LENGTH, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: the fast path is used
        result = saturation_mutagenesis(model, X, targets=["noise", "ACGT"])
    assert result.method_used == "fast"
    np.testing.assert_array_equal(result.targets, [1, 0])
    x = torch.from_numpy(X)
    with torch.no_grad():
        reference = model(x)
        want = np.zeros((2, 4, LENGTH, 2), np.float32)
        for i in range(2):
            for pos in range(LENGTH):
                for base in range(4):
                    mutant = x[i : i + 1].clone()
                    mutant[0, :, pos] = 0.0
                    mutant[0, base, pos] = 1.0
                    want[i, base, pos] = (model(mutant) - reference[i])[0, [1, 0]].numpy()
    np.testing.assert_allclose(result.reference, reference[:, [1, 0]].numpy(), atol=1e-5)
    np.testing.assert_allclose(result.delta, want, atol=1e-4, rtol=0)
    assert np.abs(want).max() > 0  # not a vacuous comparison


def test_gradient_x_input_matches_autograd(trained: Run) -> None:
    model = trained.model("cpu")
    X = random_onehot(3, LENGTH, seed=3)
    x = torch.from_numpy(X).requires_grad_(True)
    grads = np.zeros((3, 4, LENGTH, 2), np.float32)
    for t in range(2):
        (grad,) = torch.autograd.grad(model(x)[:, t].sum(), x)
        grads[..., t] = grad.numpy()
    # By default the gradient is corrected (Majdandzic et al. 2023): its mean over the four
    # bases at each position is taken out before multiplying by the input.
    corrected = grads - grads.mean(axis=1, keepdims=True)
    got = attribute(model, X, method="gradient_x_input", targets=[0, 1]).attributions
    assert got.shape == corrected.shape
    np.testing.assert_allclose(got, corrected * X[..., None], atol=1e-6)
    # and the textbook gradient x input on request
    textbook = attribute(
        model, X, method="gradient_x_input", targets=[0, 1], correct_gradient=False
    ).attributions
    np.testing.assert_allclose(textbook, grads * X[..., None], atol=1e-6)


def test_temporal_scores_say_the_model_is_not_recurrent(trained: Run) -> None:
    with pytest.raises(ValueError, match=f"this run is a {NAME} model"):
        temporal_scores(trained.model("cpu"), random_onehot(1, LENGTH, seed=4))
