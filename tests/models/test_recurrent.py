"""The recurrent models: DeMo's exact design by name, a default that learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from motiflens.config import OPTIMIZER_PRESETS, ModelConfig
from motiflens.data.hdf5 import write_dataset
from motiflens.models import build_model
from motiflens.prediction import predict_array
from motiflens.runs import Run
from motiflens.steps import run_config, train
from tests.toy_models import random_onehot

MOTIF = "GGAAGTGA"  # an ETS site


def small(name: str, **arch) -> torch.nn.Module:
    torch.manual_seed(0)
    config = {"name": name, "n_targets": 2, "arch": {"hidden": 5, **arch}}
    if name.startswith("cnn-rnn"):
        config["arch"]["filters"] = 6
    return build_model(ModelConfig.from_dict(config)).eval()


@pytest.mark.parametrize(("name", "pool"), [("rnn", "max"), ("rnn-demo", "mean")])
def test_default_pools_by_max_and_demo_by_mean(name, pool):
    # Hand-built readout: the LSTMs run on their own, pooled over time as stated.
    model = small(name)
    x = torch.from_numpy(random_onehot(3, 17, random_state=1))
    with torch.no_grad():
        seq = x.transpose(1, 2)
        fwd = model.rnn.fwd(seq)[0]
        bwd = model.rnn.bwd(seq.flip(1))[0]
        reduce = (lambda o: o.amax(dim=1)) if pool == "max" else (lambda o: o.mean(dim=1))
        want = model.output(torch.cat([reduce(fwd), reduce(bwd)], dim=1))
        torch.testing.assert_close(model(x), want)


@pytest.mark.parametrize("name", ["rnn", "cnn-rnn", "rnn-demo", "cnn-rnn-demo"])
def test_forget_gate_starts_at_one_as_in_torch_rnn(name):
    # torch-rnn's LSTM.lua (DeMo's LSTM) sets the forget-gate bias to 1, the others to 0;
    # PyTorch keeps two bias vectors, so their sum is what the gate sees.
    model = small(name)
    hidden = 5
    for lstm in (model.rnn.fwd, model.rnn.bwd):
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
        torch.testing.assert_close(bias[hidden : 2 * hidden], torch.ones(hidden))


def test_each_model_gets_its_papers_optimizer_by_default():
    demo, basset = OPTIMIZER_PRESETS["demo"], OPTIMIZER_PRESETS["basset"]
    for name in ("cnn", "rnn", "cnn-rnn", "rnn-demo"):
        training = run_config(model=name).training
        assert (training.optimizer, training.lr, training.grad_clip) == ("adam", 0.01, 5.0)
        assert training.max_epochs == demo["max_epochs"]
    training = run_config(model="basset").training
    assert (
        (training.optimizer, training.lr)
        == ("rmsprop", 0.002)
        == (
            basset["optimizer"],
            basset["lr"],
        )
    )
    # An explicit preset still wins.
    assert run_config(model="rnn", preset="basset").training.optimizer == "rmsprop"


def _planted(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    labels = rng.integers(0, 2, size=n)
    motif = np.array(["ACGT".index(b) for b in MOTIF], dtype=np.uint8)
    for i in np.flatnonzero(labels):
        start = rng.integers(0, length - len(motif) + 1)
        codes[i, start : start + len(motif)] = motif
    return codes, labels[:, None].astype(np.float32)


@pytest.mark.slow
def test_default_rnn_learns_a_planted_motif(tmp_path):
    # With the defaults a user gets (no option but the model), in a CI-sized run. (DeMo's
    # exact RNN also learns this easy task, ~0.95, but not the ENCODE sets: benchmarks.md.)
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in (("train", 3000), ("valid", 300), ("test", 300)):
        codes, labels = _planted(n, 60, rng)
        splits[split] = (codes, labels, [f"{split}{i}" for i in range(n)])
    data = write_dataset(tmp_path / "planted.h5", splits, ["ets"])
    config = run_config(model="rnn", max_epochs=15, patience=15)
    train(data, tmp_path / "run", config, verbose=False)
    codes, labels, _ = splits["test"]
    x = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1)
    scores = predict_array(Run(tmp_path / "run").model(), x)[:, 0]
    assert roc_auc_score(labels[:, 0], scores) > 0.9
