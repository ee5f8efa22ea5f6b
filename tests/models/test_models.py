"""Model shapes, length checks, first-layer hooks, save/load, and that they can learn."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file
from torch import nn

from motiflens.config import (
    ARCH_CONFIGS,
    BassetConfig,
    CNNConfig,
    CNNRNNConfig,
    DeMoCNNRNNConfig,
    DeMoRNNConfig,
    ModelConfig,
    RNNConfig,
    RunConfig,
)
from motiflens.errors import InputError
from motiflens.models import (
    MODELS,
    Basset,
    DeMoCNN,
    DeMoCNNRNN,
    DeMoRNN,
    SequenceModel,
    build_model,
    loss_function,
    output_lengths,
    pick_device,
    predict_transform,
)
from motiflens.models.layers import pool_length
from motiflens.runs import Run


def one_hot_batch(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """Random one-hot sequences (n, 4, length)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return F.one_hot(idx, 4).permute(0, 2, 1).float()


def small(name: str, length: int | None = 60, n_targets: int = 3) -> ModelConfig:
    """Small versions of each architecture, quick to build and run."""
    arch = {
        "basset": BassetConfig(filters=(8, 6), sizes=(5, 3), pools=(2, 2), hidden=(10,)),
        "cnn": CNNConfig(filters=(8, 6), sizes=(5, 3), pools=(2, 1), dropout=0.2),
        "rnn": RNNConfig(hidden=5),
        "cnn-rnn": CNNRNNConfig(filters=6, size=5, hidden=4),
        "rnn-demo": DeMoRNNConfig(hidden=5),
        "cnn-rnn-demo": DeMoCNNRNNConfig(filters=6, size=5, hidden=4),
    }[name]
    return ModelConfig(name=name, n_targets=n_targets, length=length, arch=arch)


# ----------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("config", "length"),
    [
        (ModelConfig(name="basset", n_targets=5, length=600), 600),
        (ModelConfig(name="basset", n_targets=5, length=200), 200),
        (
            ModelConfig(name="basset", n_targets=5, length=101, arch=BassetConfig(padding="same")),
            101,
        ),
        (ModelConfig(name="cnn", n_targets=5, length=101), 101),
        (ModelConfig(name="cnn", n_targets=5, length=101), 200),
        (ModelConfig(name="cnn", n_targets=5, length=101), 600),
        (ModelConfig(name="rnn", n_targets=5), 1),
        (ModelConfig(name="rnn", n_targets=5), 50),
        (ModelConfig(name="rnn", n_targets=5, arch=RNNConfig(layers=2)), 50),
        (ModelConfig(name="rnn", n_targets=5, arch=RNNConfig(bidirectional=False)), 50),
        (ModelConfig(name="cnn-rnn", n_targets=5), 1),
        (ModelConfig(name="cnn-rnn", n_targets=5), 101),
    ],
)
def test_output_is_batch_by_targets(config, length):
    model = build_model(config).eval()
    with torch.no_grad():
        out = model(one_hot_batch(3, length))
    assert out.shape == (3, 5)
    assert out.dtype == torch.float32


def test_build_picks_the_named_class():
    assert isinstance(build_model(small("basset")), Basset)
    assert isinstance(build_model(small("cnn")), DeMoCNN)
    assert isinstance(build_model(small("rnn")), DeMoRNN)
    assert isinstance(build_model(small("cnn-rnn")), DeMoCNNRNN)


def test_basset_valid_padding_gives_the_papers_2000_inputs_at_600bp():
    config = ModelConfig(name="basset", n_targets=164, length=600)
    # Hand: 600-19+1=582, /3=194, 194-11+1=184, /4=46, 46-7+1=40, /4=10; 200 x 10 = 2000.
    assert [n for _, n in output_lengths(config)] == [600, 582, 194, 184, 46, 40, 10]
    model = build_model(config)
    assert model.dense[0].linear.in_features == 2000


def test_basset_same_padding_gives_2600_inputs_at_600bp():
    config = ModelConfig(
        name="basset", n_targets=164, length=600, arch=BassetConfig(padding="same")
    )
    # Hand (ceil pooling): 600 -> 600 -> ceil(600/3)=200 -> 200 -> 50 -> 50 -> ceil(50/4)=13.
    assert [n for _, n in output_lengths(config)] == [600, 600, 200, 200, 50, 50, 13]
    assert build_model(config).dense[0].linear.in_features == 200 * 13


def test_even_kernels_keep_the_length_with_same_padding():
    # Basset issue #30: width 10 with symmetric padding gave 599 and the reshape failed.
    arch = BassetConfig(filters=(8, 8, 8), sizes=(10, 4, 6), padding="same", hidden=(16,))
    model = build_model(ModelConfig(name="basset", n_targets=2, length=600, arch=arch)).eval()
    x = one_hot_batch(2, 600)
    assert model.conv1_padding == (4, 5)  # 9 zeros in all, the extra one on the right
    assert model.first_activation(x).shape == (2, 8, 600)
    assert model(x).shape == (2, 2)
    cnn = build_model(
        ModelConfig(name="cnn", n_targets=2, arch=CNNConfig(sizes=(8, 4, 2), padding="same"))
    ).eval()
    assert cnn.first_activation(one_hot_batch(2, 30)).shape == (2, 128, 30)
    assert cnn(one_hot_batch(2, 30)).shape == (2, 2)


def test_default_basset_parameter_count():
    model = build_model(ModelConfig(name="basset", n_targets=164, length=600))
    conv1 = 300 * 4 * 19 + 300  # weights + biases = 23_100
    conv2 = 200 * 300 * 11 + 200  # 660_200
    conv3 = 200 * 200 * 7 + 200  # 280_200
    bn_conv = 2 * (300 + 200 + 200)  # gamma and beta per channel = 1_400
    dense1 = 2000 * 1000 + 1000  # 2_001_000
    dense2 = 1000 * 1000 + 1000  # 1_001_000
    bn_dense = 2 * (1000 + 1000)  # 4_000
    out = 1000 * 164 + 164  # 164_164
    expected = conv1 + conv2 + conv3 + bn_conv + dense1 + dense2 + bn_dense + out
    assert expected == 4_135_064
    assert sum(p.numel() for p in model.parameters()) == expected


def test_demo_cnn_lengths_at_101bp_match_the_paper():
    # DeMo: 101 -> 93 -> 46 -> 42 -> 21 -> 19 -> max over positions.
    config = ModelConfig(name="cnn", n_targets=1, length=101)
    assert [n for _, n in output_lengths(config)] == [101, 93, 46, 42, 21, 19]


def test_pool_length_agrees_with_torch():
    for ceil_mode in (True, False):
        for width in (2, 3, 4):
            pool = torch.nn.MaxPool1d(width, width, ceil_mode=ceil_mode)
            for length in range(1, 40):
                try:
                    actual = pool(torch.zeros(1, 1, length)).shape[-1]
                except RuntimeError:
                    actual = 0  # torch refuses when the output would be empty
                got = max(pool_length(length, width, ceil_mode), 0)
                assert got == actual, (length, width, ceil_mode)


@pytest.mark.parametrize("length", [37, 60, 101])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_output_lengths_agree_with_the_tensors(length, padding):
    arch = BassetConfig(
        filters=(4, 4, 4), sizes=(6, 3, 2), pools=(3, 2, 4), hidden=(), padding=padding
    )
    config = ModelConfig(name="basset", n_targets=1, length=length, arch=arch)
    model = build_model(config).eval()
    h = one_hot_batch(1, length)
    actual = [length]
    for block in model.conv_blocks:
        a = block.activate(h)
        h = block.reduce(a)
        actual += [a.shape[-1], h.shape[-1]]
    assert [n for _, n in output_lengths(config)] == actual


@pytest.mark.parametrize("name", ["basset", "cnn"])
def test_output_lengths_arithmetic_equals_the_traced_default(name):
    # The base class traces a forward pass on the meta device; Basset and the DeMo CNN
    # compute the same lengths from their configs.
    config = small(name, length=101)
    traced = SequenceModel.output_lengths.__func__(MODELS[name], config)
    assert [n for _, n in traced] == [n for _, n in output_lengths(config)]


def test_models_describe_themselves():
    assert set(MODELS) == set(ARCH_CONFIGS)
    for name, cls in MODELS.items():
        assert ARCH_CONFIGS[name] is cls.arch_config
    assert [n for n, c in MODELS.items() if c.needs_length] == ["basset"]
    recurrent = sorted(n for n, c in MODELS.items() if c.is_recurrent)
    assert recurrent == ["cnn-rnn", "cnn-rnn-demo", "rnn", "rnn-demo"]
    x = one_hot_batch(2, 60)
    for name in MODELS:
        model = build_model(small(name)).eval()
        layers = model.ism_layers()
        if model.is_recurrent:
            assert layers is None
            parts = model.recurrent_parts()
            with torch.no_grad():
                rebuilt = parts.head(parts.readout(parts.features(x)))
                torch.testing.assert_close(rebuilt, model(x))
        else:
            with pytest.raises(NotImplementedError):
                model.recurrent_parts()
            with torch.no_grad():  # the layer list computes the model
                torch.testing.assert_close(nn.Sequential(*layers)(x), model(x))


def test_build_refuses_a_model_that_needs_a_length_without_one():
    with pytest.raises(ValueError, match="basset: length is not set"):
        build_model(small("basset", length=None))


# ------------------------------------------------------------------ bad input


def test_too_short_basset_names_the_layer_and_lengths():
    # Hand: 100-18=82, ceil(82/3)=28, 28-10=18, ceil(18/4)=5, 5-6=-1.
    with pytest.raises(ValueError, match="conv3") as err:
        build_model(ModelConfig(name="basset", n_targets=1, length=100))
    text = str(err.value)
    assert "kernel 7" in text
    assert "gets length 5" in text
    assert "-1" in text
    assert "input length 100" in text


def test_too_short_pool_is_named():
    arch = CNNConfig(filters=(4, 4), sizes=(3, 1), pools=(5, 1))
    # 6 - 3 + 1 = 4 positions reach a floor-mode pool of width 5: (4 - 5) // 5 + 1 = 0.
    with pytest.raises(ValueError, match=r"pool1 \(width 5\) gets length 4 -> output length 0"):
        build_model(ModelConfig(name="cnn", n_targets=1, length=6, arch=arch))


def test_demo_cnn_minimum_length_and_clear_error_at_runtime():
    model = build_model(ModelConfig(name="cnn", n_targets=1)).eval()
    # Backwards from conv3 (width 3) needing 3: pool2 input >= 6, conv2 input >= 10,
    # pool1 input >= 20, conv1 input >= 28.
    assert model.min_length == 28
    assert model(one_hot_batch(1, 28)).shape == (1, 1)
    with pytest.raises(ValueError, match=r"conv3 \(kernel 3\) gets length 2 -> output length 0"):
        model(one_hot_batch(1, 27))


def test_basset_rejects_other_lengths_and_channel_counts():
    model = build_model(small("basset", length=60)).eval()
    with pytest.raises(ValueError, match="exactly 60 bp"):
        model(one_hot_batch(1, 61))
    with pytest.raises(ValueError, match=r"\(batch, 4, length\)"):
        model(torch.zeros(1, 5, 60))


def test_unknown_model_name():
    with pytest.raises(InputError, match="unknown model 'deepsea'"):
        ModelConfig(name="deepsea", n_targets=1, length=100)


def test_missing_targets_or_length_is_explained():
    with pytest.raises(ValueError, match="n_targets is not set"):
        build_model(ModelConfig(name="cnn"))
    with pytest.raises(ValueError, match="length is not set"):
        build_model(ModelConfig(name="basset", n_targets=2))


# ------------------------------------------------------------ first-layer hooks


@pytest.mark.parametrize("name", ["basset", "cnn", "cnn-rnn"])
def test_forward_equals_rest_of_network_after_first_activation(name):
    torch.manual_seed(0)
    model = build_model(small(name)).eval()
    x = one_hot_batch(4, 60)
    with torch.no_grad():
        assert torch.equal(model(x), model.forward_from_first_activation(model.first_activation(x)))


def test_basset_first_activation_is_relu_of_batchnorm_of_conv():
    torch.manual_seed(0)
    model = build_model(small("basset")).train()
    model(one_hot_batch(16, 60, seed=1))  # move the running statistics off their defaults
    model.eval()
    x = one_hot_batch(2, 60)
    bn = model.conv_blocks[0].bn
    w, b = model.conv1.weight, model.conv1.bias
    with torch.no_grad():
        z = F.conv1d(x, w, b)
        z = (z - bn.running_mean[:, None]) / torch.sqrt(bn.running_var[:, None] + bn.eps)
        expected = torch.clamp(z * bn.weight[:, None] + bn.bias[:, None], min=0)
        assert torch.allclose(model.first_activation(x), expected, atol=1e-5)
    assert model.conv1.weight.shape == (8, 4, 5)


def test_nullifying_a_filter_changes_the_output_only_through_that_filter():
    torch.manual_seed(0)
    model = build_model(small("cnn")).eval()
    x = one_hot_batch(3, 60)
    with torch.no_grad():
        a = model.first_activation(x)
        edited = a.clone()
        edited[:, 2] = a[:, 2].mean()
        assert not torch.equal(model.forward_from_first_activation(edited), model(x))
        edited[:, 2] = a[:, 2]
        assert torch.equal(model.forward_from_first_activation(edited), model(x))


# ------------------------------------------------------------------------ RNNs


def _manual_lstm(x: torch.Tensor, lstm: torch.nn.LSTM) -> torch.Tensor:
    """LSTM outputs for x (L, n_in) from the gate equations (i, f, g, o) directly."""
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    hidden = w_hh.shape[1]
    h = torch.zeros(hidden)
    c = torch.zeros(hidden)
    outs = []
    for step in x:
        gates = w_ih @ step + w_hh @ h + b
        i, f, g, o = gates.split(hidden)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs)


def test_rnn_is_the_mean_of_forward_and_backward_lstm_outputs():
    torch.manual_seed(0)
    config = ModelConfig(name="rnn-demo", n_targets=2, arch=DeMoRNNConfig(hidden=3))
    model = build_model(config).eval()
    x = one_hot_batch(1, 7)
    seq = x[0].T  # (L, 4)
    with torch.no_grad():
        fwd = _manual_lstm(seq, model.rnn.fwd).mean(0)
        bwd = _manual_lstm(seq.flip(0), model.rnn.bwd).mean(0)
        expected = model.output.weight @ torch.cat([fwd, bwd]) + model.output.bias
        assert torch.allclose(model(x)[0], expected, atol=1e-5)


def test_rnn_prefixes_of_every_length():
    torch.manual_seed(0)
    model = build_model(small("rnn")).eval()
    x = one_hot_batch(2, 12)
    with torch.no_grad():
        outs = [model(x[..., :t]) for t in range(1, 13)]
    assert all(o.shape == (2, 3) for o in outs)


def test_unidirectional_prefix_score_uses_only_the_prefix():
    torch.manual_seed(0)
    config = ModelConfig(name="rnn", n_targets=1, arch=RNNConfig(hidden=4, bidirectional=False))
    model = build_model(config).eval()
    x = one_hot_batch(1, 10)
    with torch.no_grad():
        # A forward LSTM is causal: outputs 1..t of the full run are those of the prefix.
        steps, _ = model.rnn.fwd(x.transpose(1, 2))
        for t in (1, 4, 10):
            expected = model.output(steps[:, :t].amax(1))
            assert torch.allclose(model(x[..., :t]), expected, atol=1e-6)


def test_cnn_rnn_runs_on_prefixes_of_the_conv_output():
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="cnn-rnn", n_targets=2)).eval()
    x = one_hot_batch(2, 20)
    with torch.no_grad():
        a = model.first_activation(x)
        assert a.shape == (2, 128, 20)  # zero padding 4 + 4 keeps the length
        assert model.conv1_padding == (4, 4)
        for t in (1, 9, 20):
            assert model.forward_from_first_activation(a[..., :t]).shape == (2, 2)
        assert model(x[..., :9]).shape == (2, 2)


# ------------------------------------------------------------------ outputs, tasks


@pytest.mark.parametrize("name", ["basset", "cnn", "rnn", "cnn-rnn"])
def test_outputs_are_logits_not_probabilities(name):
    model = build_model(small(name, n_targets=2)).eval()
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.tensor([-3.0, 2.5]))
        out = model(one_hot_batch(2, 60))
    # A sigmoid could never give -3 or 2.5.
    assert torch.equal(out, torch.tensor([[-3.0, 2.5], [-3.0, 2.5]]))


def test_loss_and_prediction_per_task():
    logit = torch.tensor([[0.0]])
    one = torch.tensor([[1.0]])
    assert loss_function("binary")(logit, one).item() == pytest.approx(math.log(2))
    assert loss_function("regression")(torch.tensor([[3.0]]), one).item() == pytest.approx(4.0)
    # Poisson NLL with log-rate 0 (rate 1) and count 1: rate - count * log rate = 1.
    assert loss_function("poisson")(logit, one).item() == pytest.approx(1.0)
    assert predict_transform("binary", logit).item() == pytest.approx(0.5)
    assert predict_transform("regression", torch.tensor([[-2.0]])).item() == -2.0
    assert predict_transform("poisson", torch.tensor([[math.log(3)]])).item() == pytest.approx(3)
    with pytest.raises(ValueError, match="unknown task"):
        loss_function("ordinal")


def test_pick_device(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")


# --------------------------------------------------------------------- save/load


@pytest.mark.parametrize("name", ["basset", "cnn", "rnn", "cnn-rnn"])
def test_save_load_round_trip(tmp_path, name):
    torch.manual_seed(0)
    config = small(name)
    model = build_model(config).train()
    model(one_hot_batch(8, 60, seed=2))  # batch-norm running statistics away from 0/1
    model.eval()
    x = one_hot_batch(5, 60, seed=3)
    with torch.no_grad():
        before = model(x)
    Run(tmp_path).save_model(model, config)
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    # the manifest keeps the model config the weights were saved with
    assert written == ["config.yaml", "manifest.json", "model.safetensors"]

    loaded = Run(tmp_path).model("cpu")

    loaded_config = loaded.config
    assert loaded_config == config
    assert not loaded.training
    saved = model.state_dict()
    on_disk = load_file(tmp_path / "model.safetensors")
    assert on_disk.keys() == saved.keys()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, saved[key]), key
    with torch.no_grad():
        assert torch.equal(loaded(x), before)


def test_load_needs_both_files(tmp_path):
    with pytest.raises(
        InputError, match=r"not a motiflens run directory.*missing model.safetensors"
    ):
        Run(tmp_path).model()
    config = small("cnn")
    Run(tmp_path).save_model(build_model(config), config)
    (tmp_path / "config.yaml").unlink()
    with pytest.raises(InputError, match=r"missing config\.yaml"):
        Run(tmp_path).model()


def test_saving_a_model_config_keeps_the_other_sections_of_config_yaml(tmp_path):
    (tmp_path / "config.yaml").write_text("model: {name: cnn}\ntraining: {max_epochs: 3}\n")
    config = small("cnn")
    Run(tmp_path).save_model(build_model(config), config)
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert written["training"] == {"max_epochs": 3}
    assert written["model"]["n_targets"] == 3
    assert written["model"]["arch"]["filters"] == [8, 6]


def test_save_refuses_a_config_that_does_not_describe_the_model(tmp_path):
    model = build_model(small("cnn"))
    other = dataclasses.replace(small("cnn"), n_targets=4)
    with pytest.raises(ValueError, match="do not match"):
        Run(tmp_path).save_model(model, other)
    # nothing written but the run's (empty) lock file, which stays for the next writer
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]
    assert (tmp_path / ".lock").stat().st_size == 0 or "pid" in (tmp_path / ".lock").read_text()


def test_load_reports_weights_that_do_not_fit_the_config(tmp_path):
    config = small("cnn")
    Run(tmp_path).save_model(build_model(config), config)
    RunConfig(model=dataclasses.replace(config, n_targets=7)).save_yaml(tmp_path / "config.yaml")
    with pytest.raises(ValueError, match=r"n_targets is 7 but the weights .*n_targets 3"):
        Run(tmp_path).model()


# ----------------------------------------------------------------------- learning


def test_tiny_basset_overfits_a_tiny_dataset():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = one_hot_batch(32, 30, seed=4)
    y = torch.from_numpy(rng.integers(0, 2, size=(32, 2)).astype(np.float32))
    arch = BassetConfig(filters=(16,), sizes=(5,), pools=(2,), hidden=(32,), hidden_dropout=0.0)
    model = build_model(ModelConfig(name="basset", n_targets=2, length=30, arch=arch))
    loss_fn = loss_function("binary")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    start = loss_fn(model(x), y).item()
    for _ in range(200):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        final = loss_fn(model(x), y).item()
    assert start > 0.5  # random labels: about log 2 at the start
    assert final < 0.05
