"""Hyperparameter search: search-space parsing, tiny studies, failure, pruning, resume, CLI."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import RunConfig
from motiflens.errors import InputError
from motiflens.steps import tune
from motiflens.tuning import base_params, load_search_space, masked
from tests.test_training import TINY, make_dataset

# The tiny model of tests/test_training.py (length-40 sequences), trained 1-2 epochs.
BASE = {"model": TINY["model"], "training": {**TINY["training"], "max_epochs": 2}}
SEARCH = {
    "model.arch.filters[0]": {"type": "int", "low": 8, "high": 24},
    "model.arch.hidden_dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "training.lr": {"type": "float", "low": "1e-3", "high": 3.0e-2, "log": True},
    # [40, 40]: the first pool leaves one position, too short for the width-3 conv
    "model.arch.pools": {"type": "categorical", "choices": [[2, 2], [1, 2], [40, 40]]},
}


def write_space(path: Path, search: dict, base: dict | None = None) -> Path:
    path.write_text(yaml.safe_dump({**(base or BASE), "search": search}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny.h5", n=600)


def _study(out: Path, name: str = "motiflens") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def _get(config: dict, key: str):
    """Value at a dotted key with [i] indices, read by hand from a config dict."""
    node = config
    for part in key.split("."):
        name, _, index = part.partition("[")
        node = node[name]
        if index:
            node = node[int(index.rstrip("]"))]
    return node


def _line_of(path: Path, key: str) -> int:
    """1-based line of the search key in the file, found by reading the text."""
    lines = path.read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if line.lstrip(" '").startswith(key))


# ------------------------------------------------------------------ whole searches


@pytest.mark.slow  # ~9 s: four tiny trainings
def test_three_trials_best_config_and_resume(dataset, tmp_path):
    space = write_space(
        tmp_path / "space.yaml", {k: v for k, v in SEARCH.items() if k != "model.arch.pools"}
    )
    out = tmp_path / "tune"
    lines: list[str] = []
    # the Gaussian-process sampler (it runs on torch) suggests the third trial
    result = tune(
        dataset,
        out,
        space,
        n_trials=3,
        sampler="gp",
        startup_trials=2,
        random_state=0,
        verbose=False,
        echo=lines.append,
    )
    assert (out / "study.db").exists()
    study = _study(out)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert len(lines) == 3 and all(line.startswith(f"trial {i} ") for i, line in enumerate(lines))
    for t in study.trials:  # each trial trained a normal run directory
        assert (out / "trials" / str(t.number) / "model.safetensors").exists()

    # trial 0 is the base config itself (TINY: 16 filters, default dropout 0.3, lr 0.01)
    assert study.trials[0].params == {
        "model.arch.filters[0]": 16,
        "model.arch.hidden_dropout": 0.3,
        "training.lr": 0.01,
    }
    best = max(study.trials, key=lambda t: t.value)
    assert result.best_number == best.number and result.best_value == pytest.approx(best.value)
    config = RunConfig.load_yaml(out / "best_config.yaml").to_dict()
    assert _get(config, "model.arch.filters[0]") == best.params["model.arch.filters[0]"]
    assert _get(config, "model.arch.hidden_dropout") == [best.params["model.arch.hidden_dropout"]]
    assert _get(config, "training.lr") == best.params["training.lr"]
    assert 8 <= _get(config, "model.arch.filters[0]") <= 24
    assert 0.0 <= _get(config, "model.arch.hidden_dropout")[0] <= 0.5
    assert 1e-3 <= _get(config, "training.lr") <= 3e-2
    # the rest is the base config, untouched
    assert _get(config, "model.arch.filters[1]") == 8 and config["model"]["arch"]["hidden"] == [16]
    assert config["training"]["batch_size"] == 32 and config["training"]["optimizer"] == "adam"

    table = pd.read_csv(out / "trials.tsv", sep="\t")
    assert list(table["number"]) == [0, 1, 2] and set(table["state"]) == {"COMPLETE"}
    assert table.loc[best.number, "value"] == pytest.approx(best.value)
    assert (table["epochs"] == 2).all()
    assert (out / "history.png").exists() and (out / "history.svg").exists()

    # A second invocation (here through the CLI) continues the same study.
    out_cli = CliRunner().invoke(
        app, ["tune", str(dataset), str(out), str(space), "--n-trials", "1", "--no-progress"]
    )
    assert out_cli.exit_code == 0, out_cli.output
    assert "4 complete" in out_cli.output
    assert [t.number for t in _study(out).trials] == [0, 1, 2, 3]
    assert len(pd.read_csv(out / "trials.tsv", sep="\t")) == 4


@pytest.mark.slow  # ~7 s: three tiny trainings
def test_invalid_architecture_fails_its_trial_and_the_study_goes_on(dataset, tmp_path):
    space = write_space(tmp_path / "space.yaml", SEARCH)
    out = tmp_path / "tune"
    url = f"sqlite:///{tmp_path / 'shared.db'}"  # --storage: any database URL
    study = optuna.create_study(storage=url, study_name="s", direction="maximize")
    fixed = {"model.arch.filters[0]": 8, "model.arch.hidden_dropout": 0.1, "training.lr": 0.01}
    for pools in ("[2, 2]", "[40, 40]", "[1, 2]"):  # categorical lists are stored as JSON
        study.enqueue_trial({**fixed, "model.arch.pools": pools})
    lines: list[str] = []
    result = tune(
        dataset,
        out,
        space,
        n_trials=3,
        storage=url,
        study_name="s",
        pruner="none",
        verbose=False,
        echo=lines.append,
    )
    assert not (out / "study.db").exists()
    trials = optuna.load_study(study_name="s", storage=url).trials
    states = [t.state for t in trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    reason = trials[1].user_attrs["fail_reason"]
    # pools of 40 on 40 bp: the first pool already spans more than conv1 leaves (35)
    assert "pool1" in reason and "larger than its input" in reason
    assert lines[1].startswith("trial 1 FAILED:") and "pool1" in lines[1]
    table = pd.read_csv(out / "trials.tsv", sep="\t", keep_default_na=False)
    assert table.loc[1, "state"] == "FAIL" and table.loc[1, "fail_reason"] == reason
    assert table.loc[1, "model.arch.pools"] == "[40, 40]"
    assert result.counts["COMPLETE"] == 2 and result.counts["FAIL"] == 1
    # the best configuration is a completed one, with its list value decoded
    best = max((t for t in trials if t.value is not None), key=lambda t: t.value)
    config = RunConfig.load_yaml(out / "best_config.yaml")
    assert list(config.model.arch.pools) == yaml.safe_load(best.params["model.arch.pools"])


def test_pruned_trial_stops_training_early(dataset, tmp_path):
    base = {**BASE, "training": {**BASE["training"], "max_epochs": 4}}
    space = write_space(tmp_path / "space.yaml", {"training.lr": SEARCH["training.lr"]}, base)
    out = tmp_path / "tune"
    # No tiny model reaches a mean validation AUROC of 0.99 (one target is random), so
    # this pruner stops every trial after the first epoch it reports.
    pruner = optuna.pruners.ThresholdPruner(lower=0.99)
    tune(dataset, out, space, n_trials=1, pruner=pruner, verbose=False, echo=lambda _: None)
    (trial,) = _study(out).trials
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]
    epochs = pd.read_csv(out / "trials" / "0" / "metrics" / "training.tsv", sep="\t")
    assert list(epochs["epoch"]) == [1]  # stopped after the first of 4 epochs
    assert trial.user_attrs["pruned_at_epoch"] == 1
    assert trial.intermediate_values[0] == pytest.approx(epochs["val_auroc"].iloc[0])
    assert not (out / "best_config.yaml").exists()  # no completed trial


# ------------------------------------------------------------------ search spaces


def test_config_for_sets_one_entry_broadcasts_ints_and_keeps_dropout_scalar(tmp_path):
    space = load_search_space(write_space(tmp_path / "s.yaml", SEARCH))
    config = space.config_for(
        {
            "model.arch.filters[0]": 20,
            "model.arch.hidden_dropout": 0.25,
            "training.lr": 0.005,
            "model.arch.pools": [1, 2],
        }
    ).to_dict()
    assert config["model"]["arch"]["filters"] == [20, 8]
    assert config["model"]["arch"]["pools"] == [1, 2]
    assert config["model"]["arch"]["hidden_dropout"] == [0.25]
    assert config["training"]["lr"] == 0.005
    # one int for a list of ints: every layer
    space = load_search_space(
        write_space(
            tmp_path / "t.yaml", {"model.arch.filters": {"type": "int", "low": 4, "high": 8}}
        )
    )
    assert space.config_for({"model.arch.filters": 5}).model.arch.filters == (5, 5)
    # a preset left to fill the optimizer settings still does
    base = {"model": BASE["model"], "training": {"preset": "basset"}}
    space = load_search_space(
        write_space(tmp_path / "u.yaml", {"training.preset": ["basset", "demo"]}, base)
    )
    cfg = space.config_for({"training.preset": "demo"}).training
    assert (cfg.optimizer, cfg.lr, cfg.batch_size) == ("adam", 0.01, 256)


def test_base_params_are_the_base_config_when_the_space_holds_them(tmp_path):
    space = load_search_space(write_space(tmp_path / "s.yaml", SEARCH))
    assert base_params(space) == {
        "model.arch.filters[0]": 16,
        "model.arch.hidden_dropout": 0.3,
        "training.lr": 0.01,
        "model.arch.pools": "[2, 2]",
    }
    # the base lr 0.01 lies outside this range: no baseline trial
    outside = {**SEARCH, "training.lr": {"type": "float", "low": 0.05, "high": 0.1}}
    assert base_params(load_search_space(write_space(tmp_path / "t.yaml", outside))) is None
    # filters [16, 8] cannot be written as one number for every layer
    every = {"model.arch.filters": {"type": "int", "low": 4, "high": 32}}
    assert base_params(load_search_space(write_space(tmp_path / "u.yaml", every))) is None
    stepped = {"model.arch.hidden_dropout": {"type": "float", "low": 0.1, "high": 0.5, "step": 0.1}}
    assert base_params(load_search_space(write_space(tmp_path / "v.yaml", stepped))) == {
        "model.arch.hidden_dropout": 0.3
    }


def test_categorical_shorthand_and_lists(tmp_path):
    space = load_search_space(
        write_space(
            tmp_path / "s.yaml",
            {
                "model.arch.padding": ["valid", "same"],
                "model.arch.sizes": {"type": "categorical", "choices": [[6, 3], [4, 3]]},
            },
        )
    )
    padding, sizes = space.params
    assert padding.distribution.choices == ("valid", "same")
    assert [sizes.decode(c) for c in sizes.distribution.choices] == [[6, 3], [4, 3]]


def test_unknown_key_is_a_clear_error(tmp_path):
    path = write_space(tmp_path / "space.yaml", {**SEARCH, "model.arch.filtres": [1, 2]})
    with pytest.raises(InputError) as err:
        load_search_space(path)
    text = str(err.value)
    assert str(path) in text and "model.arch.filtres" in text
    assert err.value.line == _line_of(path, "model.arch.filtres")
    assert "filters" in err.value.hint and "pools" in err.value.hint


@pytest.mark.parametrize(
    ("key", "spec", "message"),
    [
        ("training.lr", {"type": "float", "low": 0.1, "high": 0.01}, "above high"),
        ("training.lr", {"type": "float", "low": 0.0, "high": 0.1, "log": True}, "low > 0"),
        ("training.lr", {"type": "normal", "low": 0, "high": 1}, "unknown distribution type"),
        ("training.lr", {"type": "float", "low": 0.1}, "needs low and high"),
        ("training.lr", {"type": "float", "low": 0.1, "high": 1, "size": 3}, "unknown setting"),
        ("training.lr", 0.01, "expected a distribution"),
        ("model.arch.filters", {"type": "float", "low": 1, "high": 9}, "whole numbers"),
        ("model.arch.filters", {"type": "int", "low": 1.5, "high": 9}, "whole number"),
        ("model.arch.padding", {"type": "int", "low": 1, "high": 9}, "categorical"),
        ("model.arch.filters[2]", {"type": "int", "low": 1, "high": 9}, r"no \[2\]"),
        ("model.arch", {"type": "int", "low": 1, "high": 9}, "is a section"),
        ("model.task", ["binary", "regression"], "cannot be searched"),
        ("model.arch.sizes", {"type": "categorical", "choices": []}, "non-empty"),
        ("training..lr", {"type": "float", "low": 0.1, "high": 1}, "not a dotted"),
    ],
)
def test_bad_distribution_is_a_clear_error(tmp_path, key, spec, message):
    path = write_space(tmp_path / "space.yaml", {key: spec})
    with pytest.raises(InputError, match=message) as err:
        load_search_space(path)
    assert str(path) in str(err.value) and key in str(err.value)
    assert err.value.line == _line_of(path, key)


def test_bad_file_level_input(dataset, tmp_path):
    with pytest.raises(InputError, match="no search"):
        load_search_space(write_space(tmp_path / "a.yaml", {}))
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump({**BASE, "search": SEARCH, "serach": {}}))
    with pytest.raises(InputError, match="unknown top-level key 'serach'"):
        load_search_space(path)
    bad_base = {"model": {"name": "transformer"}, "training": {}}
    with pytest.raises(InputError, match="unknown model"):
        load_search_space(write_space(tmp_path / "c.yaml", SEARCH, bad_base))
    # one tune directory holds one study: trials/<number> would collide
    space = write_space(tmp_path / "d.yaml", SEARCH)
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "tune.yaml").write_text("study_name: other\n")
    with pytest.raises(InputError, match="holds study 'other'"):
        tune(dataset, tmp_path / "t", space, n_trials=1, verbose=False)


def test_cli_bad_key_is_a_message(dataset, tmp_path):
    space = write_space(tmp_path / "space.yaml", {"training.learning_rate": [0.1, 0.01]})
    out = CliRunner().invoke(app, ["tune", str(dataset), str(tmp_path / "o"), str(space)])
    assert out.exit_code == 2
    assert "unknown config key 'learning_rate'" in out.output and "lr" in out.output


def test_masked_hides_the_password():
    assert masked("postgresql://ana:s3cr:t@db.lab:5432/optuna") == (
        "postgresql://ana:***@db.lab:5432/optuna"
    )
    assert masked("sqlite:////tmp/x/study.db") == "sqlite:////tmp/x/study.db"
