"""Configs: paper defaults, strict dict/YAML reading with clear errors, round trips."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
import yaml

from motiflens.config import (
    BassetConfig,
    CNNConfig,
    CNNRNNConfig,
    ConfigBase,
    ModelConfig,
    RNNConfig,
    RunConfig,
)
from motiflens.errors import InputError


def test_defaults_are_the_papers():
    basset = ModelConfig().arch
    assert isinstance(basset, BassetConfig)
    # Basset pretrained_params.txt and the paper: valid convolutions.
    assert basset.filters == (300, 200, 200)
    assert basset.sizes == (19, 11, 7)
    assert basset.pools == (3, 4, 4)
    assert basset.hidden == (1000, 1000)
    assert basset.hidden_dropout == (0.3, 0.3)
    assert basset.conv_dropout == (0.0, 0.0, 0.0)
    assert basset.batch_norm is True
    assert basset.padding == "valid"
    # DeMo main.lua: -cnn_size 128, -cnn_filters 9-5-3, -cnn_pool 2, -rnn_size 32, dropout 0.5.
    cnn = ModelConfig(name="cnn").arch
    assert (cnn.filters, cnn.sizes, cnn.pools) == ((128, 128, 128), (9, 5, 3), (2, 2, 1))
    assert cnn.dropout == (0.5, 0.5, 0.5)
    rnn = ModelConfig(name="rnn").arch
    assert (rnn.hidden, rnn.layers, rnn.bidirectional, rnn.dropout) == (32, 1, True, 0.5)
    cnn_rnn = ModelConfig(name="cnn-rnn").arch
    assert (cnn_rnn.filters, cnn_rnn.size, cnn_rnn.hidden) == (128, 9, 32)
    assert ModelConfig().task == "binary"


def test_reads_a_hand_written_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "model:\n"
        "  name: basset\n"
        "  n_targets: 3\n"
        "  length: 300\n"
        "  task: regression\n"
        "  arch:\n"
        "    filters: [64, 32]\n"
        "    sizes: [10, 5]\n"
        "    pools: [2, 2]\n"
        "    conv_dropout: 0.1\n"
        "    hidden: [50]\n"
        "    hidden_dropout: 0\n"
        "    padding: same\n"
    )
    model = RunConfig.load_yaml(path).model
    assert model.name == "basset"
    assert (model.n_targets, model.length, model.task) == (3, 300, "regression")
    assert model.arch.filters == (64, 32)
    assert model.arch.sizes == (10, 5)
    assert model.arch.conv_dropout == (0.1, 0.1)  # one number -> every layer
    assert model.arch.hidden_dropout == (0.0,)  # an int is accepted for a float
    assert model.arch.batch_norm is True  # not given -> default
    assert model.arch.padding == "same"


def test_empty_yaml_gives_all_defaults(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("")
    assert RunConfig.load_yaml(path) == RunConfig(model=ModelConfig(name="basset"))


@pytest.mark.parametrize(
    "model",
    [
        ModelConfig(name="basset", n_targets=164, length=600),
        ModelConfig(
            name="basset",
            n_targets=2,
            length=1000,
            task="poisson",
            arch=BassetConfig(filters=(10,), sizes=(4,), pools=(1,), hidden=(), padding="same"),
        ),
        ModelConfig(name="cnn", n_targets=1, arch=CNNConfig(dropout=(0.1, 0.2, 0.3))),
        ModelConfig(name="rnn", n_targets=4, length=101, arch=RNNConfig(bidirectional=False)),
        ModelConfig(name="cnn-rnn", n_targets=1, arch=CNNRNNConfig(size=10, layers=2)),
    ],
)
def test_yaml_round_trip(tmp_path, model):
    run = RunConfig(model=model)
    path = run.save_yaml(tmp_path / "config.yaml")
    assert RunConfig.load_yaml(path) == run
    # The file is plain YAML: lists, not Python tuples or tags.
    raw = yaml.safe_load(path.read_text())
    assert raw["model"]["name"] == model.name
    assert isinstance(raw["model"]["arch"], dict)
    assert "!!" not in path.read_text()


def test_to_dict_is_plain_data():
    d = ModelConfig(name="cnn", n_targets=2).to_dict()
    assert d == {
        "name": "cnn",
        "n_targets": 2,
        "length": None,
        "task": "binary",
        "arch": {
            "filters": [128, 128, 128],
            "sizes": [9, 5, 3],
            "pools": [2, 2, 1],
            "dropout": [0.5, 0.5, 0.5],
            "padding": "valid",
        },
    }


# ------------------------------------------------------------------------ errors


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(InputError, match=r"model\.name: unknown model 'deepsea'") as err:
        RunConfig.from_dict({"model": {"name": "deepsea"}})
    assert "basset, cnn, rnn, cnn-rnn" in str(err.value)


@pytest.mark.parametrize(
    ("data", "key", "allowed"),
    [
        ({"modle": {}}, "modle", "model"),
        ({"model": {"n_target": 3}}, "model.n_target", "name, n_targets, length, task, arch"),
        ({"model": {"arch": {"filtres": [1]}}}, "model.arch.filtres", "filters, sizes, pools"),
        # The arch schema follows the model name: `sizes` is Basset's/CNN's, not the RNN's.
        ({"model": {"name": "rnn", "arch": {"sizes": [3]}}}, "model.arch.sizes", "hidden, layers"),
    ],
)
def test_unknown_key_names_the_key_and_the_allowed_ones(data, key, allowed):
    with pytest.raises(InputError, match="unknown key") as err:
        RunConfig.from_dict(data)
    text = str(err.value)
    assert key in text
    assert allowed in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": {"n_targets": "3"}}, r"model\.n_targets: expected int or null, got '3'"),
        ({"model": {"n_targets": True}}, r"model\.n_targets: expected int"),
        ({"model": {"task": "ordinal"}}, r"model\.task: expected 'binary' \| 'regression'"),
        ({"model": {"arch": {"filters": 300}}}, r"model\.arch\.filters: expected list of int"),
        ({"model": {"arch": {"sizes": [19, 11]}}}, "sizes has 2 entries but there are 3 layers"),
        ({"model": {"arch": {"pools": [3, 0, 4]}}}, r"pools\[1\] must be a positive integer"),
        ({"model": {"arch": {"hidden_dropout": 1.5}}}, r"hidden_dropout\[0\] must be in \[0, 1\)"),
        ({"model": {"arch": {"padding": "full"}}}, r"model\.arch\.padding: expected 'valid'"),
        ({"model": {"length": 0}}, "length must be a positive integer"),
        ({"model": {"arch": {"filters": []}}}, "at least one conv layer"),
        ({"model": [1, 2]}, "model: expected a mapping"),
    ],
)
def test_bad_values_are_explained(data, message):
    with pytest.raises(InputError, match=message):
        RunConfig.from_dict(data)


def test_arch_must_match_the_model_name():
    with pytest.raises(ValueError, match="needs arch of type CNNConfig"):
        ModelConfig(name="cnn", arch=BassetConfig())


def test_yaml_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name: basset\n  arch: [unclosed\n")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: not valid YAML"):
        RunConfig.load_yaml(path)
    path.write_text("model:\n  name: basset\n  colour: red\n")
    with pytest.raises(InputError, match=r"bad\.yaml: model\.colour: unknown key"):
        RunConfig.load_yaml(path)
    with pytest.raises(InputError, match="config file not found"):
        RunConfig.load_yaml(tmp_path / "missing.yaml")


def test_configs_are_frozen_values():
    config = ModelConfig(name="cnn")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_targets = 3  # type: ignore[misc]
    filled = dataclasses.replace(config, n_targets=3, length=101)
    assert (filled.n_targets, filled.length, filled.arch) == (3, 101, config.arch)
    assert BassetConfig(filters=[300, 200, 200]).filters == (300, 200, 200)  # lists -> tuples


def test_a_new_config_class_reads_and_writes_the_same_way(tmp_path):
    # What a later TrainingConfig gets for free by deriving from ConfigBase.
    @dataclass(frozen=True)
    class Toy(ConfigBase):
        epochs: int
        lr: float = 0.002
        schedule: tuple[int, ...] = (10, 20)

    assert Toy.from_dict({"epochs": 3, "lr": 1}) == Toy(epochs=3, lr=1.0)
    with pytest.raises(InputError, match="epochs: required key is missing"):
        Toy.from_dict({})
    Toy(epochs=5, schedule=(1,)).save_yaml(tmp_path / "toy.yaml")
    assert Toy.load_yaml(tmp_path / "toy.yaml") == Toy(epochs=5, schedule=(1,))


def test_fitted_to_fills_unset_sizes_and_refuses_conflicting_ones():
    run = RunConfig(model=ModelConfig(name="cnn"))
    fitted = run.fitted_to(n_targets=7, length=101)
    assert (fitted.model.n_targets, fitted.model.length) == (7, 101)
    assert fitted.model.arch == run.model.arch
    fixed = ModelConfig(name="basset", n_targets=164, length=600)
    assert fixed.fitted_to(164, 600) == fixed
    with pytest.raises(InputError, match=r"model\.length is 600 but the dataset has 1000"):
        fixed.fitted_to(164, 1000)
    with pytest.raises(InputError, match=r"model\.n_targets is 164 but the dataset has 3"):
        fixed.fitted_to(3, 600)


def test_non_utf8_yaml_names_the_file_byte_and_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    # "# café" in Latin-1: é is the single byte 0xe9; lines 1-2 are 7 + 15 bytes, so it
    # is at offset 22 + 5 = 27, on line 3, column 6
    path.write_bytes(b"model:\n  name: basset\n# caf\xe9\n")
    with pytest.raises(InputError) as info:
        RunConfig.load_yaml(path)
    assert info.value.path == str(path)
    assert info.value.line == 3
    assert "byte 0xe9 at offset 27" in info.value.message
    assert "column 6" in info.value.message
    assert "codec" not in str(info.value)


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfmodel:\n  name: cnn\n")
    assert RunConfig.load_yaml(path).model.name == "cnn"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("training:\n  max_epochs: " + "9" * 5000 + "\n", "training.max_epochs", "5,000 digits"),
        (
            "model:\n  name: basset\n  arch:\n    filters: [" + "1" * 5000 + "]\n",
            "model.arch.filters[0]",
            "5,000 digits",
        ),
        ("training:\n  seed: -" + "7" * 4400 + "\n", "training.seed", "negative integer"),
        # 2^63 itself: short enough for Python, too large for any setting
        ("training:\n  seed: 9223372036854775808\n", "training.seed", "19 digits"),
    ],
)
def test_huge_integers_name_the_key_and_the_range(tmp_path, text, key, fragment):
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        RunConfig.load_yaml(path)
    message = info.value.message
    assert message.startswith(f"{key}: ")
    assert fragment in message and "out of range" in message
    assert "9,223,372,036,854,775,807" in message
    assert "int_max_str_digits" not in message


def test_huge_integers_from_python_too():
    with pytest.raises(InputError, match=r"training\.max_epochs: an integer of 5,001 digits"):
        RunConfig.from_dict({"training": {"max_epochs": 10**5000}})
    # the largest allowed value itself passes the range check (and the config's own)
    assert RunConfig.from_dict({"training": {"seed": 2**63 - 1}}).training.seed == 2**63 - 1
