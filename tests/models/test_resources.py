"""The resource guard: figures worked out by hand, refusals before anything is allocated."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import (
    BassetConfig,
    CNNConfig,
    CNNRNNConfig,
    ModelConfig,
    RNNConfig,
    RunConfig,
)
from motiflens.errors import InputError
from motiflens.models import build_model, check_resources, estimate_resources, resources
from motiflens.training import train
from tests.test_training import make_dataset, tiny


def cnn(length: int, n_targets: int = 1, **arch) -> ModelConfig:
    arch = {"dropout": 0.0, **arch}
    return ModelConfig(name="cnn", n_targets=n_targets, length=length, arch=CNNConfig(**arch))


def machine_with(monkeypatch: pytest.MonkeyPatch, memory: int) -> None:
    monkeypatch.setattr(resources, "available_memory", lambda device="cpu": (memory, "it has"))


# ------------------------------------------------------------------------ figures


def test_parameters_are_counted_as_by_hand():
    # conv 4 filters x 4 bases x width 3 + 4 biases = 52; flatten 4 x (10 - 3 + 1) = 32;
    # dense 32 x 5 + 5 = 165; output 5 x 2 + 2 = 12: 229. Batch norm adds a scale and a
    # shift per conv filter (8) and per hidden unit (10): 247.
    arch = {"filters": (4,), "sizes": (3,), "pools": (1,), "hidden": (5,)}
    plain = ModelConfig(name="basset", n_targets=2, length=10, arch=BassetConfig(**arch))
    assert estimate_resources(plain).parameters == 247
    no_bn = BassetConfig(**arch, batch_norm=False)
    assert (
        estimate_resources(
            ModelConfig(name="basset", n_targets=2, length=10, arch=no_bn)
        ).parameters
        == 229
    )


def test_lstm_parameters_are_counted_as_by_hand():
    # Per direction: 4 gates x 3 units x (4 inputs + 3 recurrent) weights + 2 x 12 biases
    # = 84 + 24 = 108; two directions 216; output 6 x 1 + 1 = 7: 223.
    arch = RNNConfig(hidden=3, layers=1, bidirectional=True)
    assert estimate_resources(ModelConfig(name="rnn", n_targets=1, arch=arch)).parameters == 223


def test_activations_are_counted_as_by_hand():
    # One conv of 2 filters, width 3, on 10 bp: 2 x 8 outputs, the ReLU another 16, the
    # output layer 1 per sequence: 33 floats x 4 bytes = 132 per sequence.
    config = cnn(10, filters=(2,), sizes=(3,), pools=(1,))
    assert estimate_resources(config, batch_size=1).activation_bytes == 132
    assert estimate_resources(config, batch_size=5).activation_bytes == 5 * 132
    assert estimate_resources(config).activation_bytes is None  # no batch: not estimated


def test_lstm_activations_are_counted_without_running_it():
    # An LSTM keeps 4 gates + cell + hidden = 6 x 4 units per step: 24 x 10 steps x 2
    # sequences = 480; dropout's output 2 x 10 x 4 = 80; the output layer 2: 562 floats.
    arch = RNNConfig(hidden=4, layers=1, bidirectional=False, dropout=0.5)
    config = ModelConfig(name="rnn", n_targets=1, length=10, arch=arch)
    assert estimate_resources(config, batch_size=2).activation_bytes == 562 * 4


# ------------------------------------------------------------------------ refusals


def test_too_many_parameters_is_refused_before_allocating():
    # conv 10^9 x 4 x 1 weights + 10^9 biases, output 10^9 + 1: 6,000,000,001 parameters
    # (24 GB): refused from the meta build, so no allocation error and no wait.
    with pytest.raises(InputError) as err:
        build_model(cnn(100, filters=(10**9,), sizes=(1,), pools=(1,)))
    text = str(err.value)
    assert "6 billion parameters" in text and "24 GB of weights" in text
    assert "conv1" in text and "500 million" in text
    assert "--no-resource-check" in text and "MOTIFLENS_NO_RESOURCE_CHECK=1" in text


def test_memory_of_a_training_step_against_the_machine(monkeypatch):
    # 1000 filters of width 1 on 1000 bp, batch 100: conv and ReLU 10^8 floats each,
    # output 100: (2 x 10^8 + 100) x 4 = 800,000,400 bytes of activations. 6,001
    # parameters x 16 bytes = 96,016. A step: 96,016 + 2 x 800,000,400 = 1,600,096,816
    # bytes, refused above 0.8 of the memory: on 2.0 GB (1.6e9), not on 2.001 GB.
    config = cnn(1000, filters=(1000,), sizes=(1,), pools=(1,))
    assert estimate_resources(config, batch_size=100).training_bytes == 1_600_096_816
    machine_with(monkeypatch, 2_000_000_000)
    with pytest.raises(InputError, match=r"about 1\.6 GB to train at batch size 100") as err:
        check_resources(config, batch_size=100)
    assert "it has 2.0 GB" in str(err.value)
    machine_with(monkeypatch, 2_001_000_000)
    assert check_resources(config, batch_size=100) is not None
    # without a batch size only the weights (24 kB) are checked
    machine_with(monkeypatch, 100_000)
    assert check_resources(config) is not None


def test_kernel_wider_than_the_input_with_same_padding_is_refused_at_once():
    # With padding 'same' the length arithmetic never runs out, so this used to run a
    # 10^6-wide convolution on 100 bp (over 10 minutes, deaf to SIGTERM).
    with pytest.raises(InputError, match=r"conv1 kernel 1,000,000 is larger than its input \(100"):
        build_model(cnn(100, sizes=(10**6, 5, 3), padding="same"))
    arch = CNNRNNConfig(size=200)
    with pytest.raises(InputError, match="conv1 kernel 200 is larger than its input"):
        build_model(ModelConfig(name="cnn-rnn", n_targets=1, length=100, arch=arch))


def test_ceil_mode_pool_wider_than_its_input_is_refused():
    # 20 - 3 + 1 = 18 positions reach a ceil-mode pool of width 50: one window, mostly
    # outside the sequence.
    arch = BassetConfig(filters=(4,), sizes=(3,), pools=(50,), hidden=())
    with pytest.raises(InputError, match=r"pool1 pool width 50 is larger than its input \(18"):
        build_model(ModelConfig(name="basset", n_targets=1, length=20, arch=arch))


def test_the_model_own_length_message_still_names_a_too_short_layer():
    with pytest.raises(InputError, match=r"conv2 \(kernel 11\) gets length 8"):
        build_model(ModelConfig(name="basset", n_targets=1, length=40))


def test_override_by_keyword_and_by_environment(monkeypatch):
    config = ModelConfig(name="cnn-rnn", n_targets=1, length=10, arch=CNNRNNConfig(size=20))
    with pytest.raises(InputError):
        build_model(config)
    model = build_model(config, check_resources=False).eval()
    assert model(torch.zeros(1, 4, 10)).shape == (1, 1)
    monkeypatch.setenv("MOTIFLENS_NO_RESOURCE_CHECK", "1")
    assert check_resources(config) is None
    build_model(config)


# ---------------------------------------------------------------- through training


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("guard") / "d.h5", n=300)


def test_train_refuses_before_writing_anything(dataset, tmp_path):
    cfg = tiny(1).to_dict()
    cfg["model"]["arch"]["filters"] = [10**9, 8]
    with pytest.raises(InputError, match="parameters"):
        train(dataset, tmp_path / "run", RunConfig.from_dict(cfg), verbose=False)
    assert not (tmp_path / "run").exists()


def test_cli_train_refusal_is_one_message_and_the_env_override_reaches_it(dataset, tmp_path):
    config = tmp_path / "huge.yaml"
    config.write_text(
        "model:\n  name: cnn\n  arch:\n    sizes: [1000000, 3]\n    filters: [4, 4]\n"
        "    pools: [1, 1]\n    padding: same\ntraining:\n  max_epochs: 1\n"
    )
    args = ["train", str(dataset), str(tmp_path / "run"), "--config", str(config)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2, out.output
    assert "conv1 kernel 1,000,000 is larger than its input (40" in out.output
    assert "Traceback" not in out.output
    assert not (tmp_path / "run").exists()
    # The override reaches the guard (a tiny kernel check stands in for the big run).
    small = tmp_path / "wide.yaml"
    small.write_text(config.read_text().replace("1000000", "60"))
    args = ["train", str(dataset), str(tmp_path / "wide"), "--config", str(small)]
    assert CliRunner().invoke(app, args).exit_code == 2
    out = CliRunner().invoke(app, args, env={"MOTIFLENS_NO_RESOURCE_CHECK": "1"})
    assert out.exit_code == 0, out.output
