"""Temporal output scores: equal to running the model on every prefix and suffix, one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motiflens.config import ModelConfig
from motiflens.errors import InputError
from motiflens.explain.temporal import TemporalScores, temporal_scores
from motiflens.models import build_model
from motiflens.plots.explain import temporal_heatmap
from motiflens.plots.style import save_figure


def one_hot_batch(n: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).permute(0, 2, 1).float()


# Small RNN models; dropout > 0 so that a forgotten eval() would show.
ARCHS = {
    "rnn": ("rnn", {"hidden": 6, "dropout": 0.5}),
    "rnn-2-layers": ("rnn", {"hidden": 5, "layers": 2, "dropout": 0.5}),
    "rnn-unidirectional": ("rnn", {"hidden": 5, "bidirectional": False}),
    "cnn-rnn": ("cnn-rnn", {"filters": 7, "size": 5, "hidden": 6, "conv_dropout": 0.3}),
    "cnn-rnn-even-kernel": ("cnn-rnn", {"filters": 5, "size": 4, "hidden": 4, "layers": 2}),
    "rnn-max": ("rnn", {"hidden": 6, "pool": "max", "dropout": 0.5}),
    "rnn-max-2-layers": ("rnn", {"hidden": 5, "layers": 2, "pool": "max"}),
    "cnn-rnn-max": ("cnn-rnn", {"filters": 7, "size": 5, "hidden": 6, "pool": "max"}),
}


def make(key: str, n_targets: int = 2, seed: int = 0):
    name, arch = ARCHS[key]
    torch.manual_seed(seed)
    return build_model(ModelConfig.from_dict({"name": name, "n_targets": n_targets, "arch": arch}))


def naive_loop(model, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """DeMo's loop: one model call per prefix and per suffix (sigmoid of the logits).

    For the CNN-RNN the conv runs on the whole sequence and its output is sliced, as DeMo
    did (temporal_output_values.lua).
    """
    model.eval()
    length = x.shape[-1]
    fwd, bwd = [], []
    with torch.no_grad():
        if model.config.name == "cnn-rnn":  # the test knows its architectures
            a = model.first_activation(x)
            run, h = model.forward_from_first_activation, a
        else:
            run, h = model, x
        for t in range(length):
            fwd.append(torch.sigmoid(run(h[..., : t + 1])))
            bwd.append(torch.sigmoid(run(h[..., t:])))
    return torch.stack(fwd, 1).numpy(), torch.stack(bwd, 1).numpy()


@pytest.mark.parametrize("key", list(ARCHS))
def test_equals_model_on_every_prefix_and_suffix(key):
    model = make(key)
    x = one_hot_batch(4, 19)
    model.train()
    got = temporal_scores(model, x, batch_size=40)  # 2 sequences per chunk
    assert model.training  # mode restored
    want_fwd, want_bwd = naive_loop(model, x)
    assert isinstance(got, TemporalScores)
    assert got.forward.shape == got.backward.shape == (4, 19, 2)
    assert got.forward.dtype == np.float32
    np.testing.assert_allclose(got.forward, want_fwd, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.backward, want_bwd, atol=1e-5, rtol=0)


def test_rnn_prefix_is_the_model_on_the_prefix_itself():
    # For the plain RNN, prefix t really is the sequence x[:t+1] (no conv context).
    model = make("rnn").eval()
    x = one_hot_batch(2, 12, seed=3)
    got = temporal_scores(model, x, raw=True)
    with torch.no_grad():
        np.testing.assert_allclose(got.forward[:, 4], model(x[..., :5]).numpy(), atol=1e-5)
        np.testing.assert_allclose(got.backward[:, 7], model(x[..., 7:]).numpy(), atol=1e-5)
        whole = model(x).numpy()
    # The whole sequence is both the last prefix and the first suffix.
    np.testing.assert_allclose(got.forward[:, -1], whole, atol=1e-5)
    np.testing.assert_allclose(got.backward[:, 0], whole, atol=1e-5)


def test_target_selection_raw_and_batch_size_do_not_change_values():
    model = make("cnn-rnn", n_targets=3)
    x = one_hot_batch(3, 15, seed=1).numpy()  # numpy input works too
    every = temporal_scores(model, x, raw=True, batch_size=10_000)
    one = temporal_scores(model, x, targets=2, raw=True, batch_size=1)
    assert one.targets == [2] and every.targets == [0, 1, 2]
    assert one.forward.shape == (3, 15, 1)
    np.testing.assert_allclose(one.forward[..., 0], every.forward[..., 2], atol=1e-6)
    np.testing.assert_allclose(one.backward[..., 0], every.backward[..., 2], atol=1e-6)
    probs = temporal_scores(model, x, targets=[0, 2])
    np.testing.assert_allclose(
        probs.forward, 1 / (1 + np.exp(-every.forward[..., [0, 2]])), atol=1e-6
    )


def test_empty_input_and_single_position():
    model = make("rnn")
    empty = temporal_scores(model, torch.zeros(0, 4, 9))
    assert empty.forward.shape == empty.backward.shape == (0, 9, 2)
    x = one_hot_batch(2, 1)
    single = temporal_scores(model, x)
    np.testing.assert_allclose(single.forward, single.backward, atol=1e-6)


@pytest.mark.parametrize("name", ["basset", "cnn"])
def test_non_rnn_model_gets_a_clear_error(name):
    arch = {
        "basset": {"filters": [4], "sizes": [3], "pools": [2], "hidden": [4]},
        "cnn": {"filters": [4], "sizes": [3], "pools": [1]},
    }
    model = build_model(
        ModelConfig.from_dict({"name": name, "n_targets": 1, "length": 20, "arch": arch[name]})
    )
    with pytest.raises(ValueError, match=f"need a recurrent model.*this run is a {name} model"):
        temporal_scores(model, one_hot_batch(1, 20))


def test_bad_input_and_target():
    model = make("rnn")
    with pytest.raises(ValueError, match=r"shape \(n, 4, length\)"):
        temporal_scores(model, torch.zeros(2, 5, 10))
    with pytest.raises(InputError, match="out of range"):
        temporal_scores(model, one_hot_batch(1, 5), targets=2)
    with pytest.raises(InputError, match="no target named 'CTCF'"):
        temporal_scores(model, one_hot_batch(1, 5), targets="CTCF")


def test_targets_by_name():
    model = make("rnn", n_targets=3)
    model.target_labels = ["CTCF", "REST", "SOX2"]
    x = one_hot_batch(2, 8)
    by_name = temporal_scores(model, x, targets=["SOX2", "CTCF"], raw=True)
    by_index = temporal_scores(model, x, targets=[2, 0], raw=True)
    assert by_name.targets == [2, 0]
    np.testing.assert_array_equal(by_name.forward, by_index.forward)
    np.testing.assert_array_equal(by_name.backward, by_index.backward)


def test_mode_and_grad_flags_restored_after_an_error():
    model = make("cnn-rnn").train()

    def boom(*_):
        raise RuntimeError("boom")

    handle = model.rnn.fwd.register_forward_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            temporal_scores(model, one_hot_batch(1, 6))
    finally:
        handle.remove()
    assert model.training
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_and_model_stays_home():
    model = make("cnn-rnn")
    x = one_hot_batch(3, 30)
    cpu = temporal_scores(model, x)
    gpu = temporal_scores(model, x, device="cuda")
    assert next(model.parameters()).device.type == "cpu"
    np.testing.assert_allclose(gpu.forward, cpu.forward, atol=1e-4)
    np.testing.assert_allclose(gpu.backward, cpu.backward, atol=1e-4)


def test_heatmap_figure(tmp_path):
    model = make("rnn")
    x = one_hot_batch(1, 30)
    scores = temporal_scores(model, x, targets=0)
    seq = "".join("ACGT"[i] for i in x[0].argmax(0).tolist())
    fig = temporal_heatmap(scores.forward[0, :, 0], scores.backward[0, :, 0], sequence=seq)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(seq)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["forward", "backward"]
    path = save_figure(fig, tmp_path / "temporal.png")
    assert path.is_file() and path.with_suffix(".svg").is_file()
    with pytest.raises(ValueError, match="length"):
        temporal_heatmap(np.zeros(3), np.zeros(3), sequence="ACGTA")


# ---------------------------------------------------------------------- grammar


def pair_reading_points(truth) -> list[tuple[int, int, int, int]]:
    """Per test sequence with a planted pair: (row, before, first read, both read).

    In reading order (left to right on the stored strand) the pair is two sites; ``before``
    is a prefix end before the first site and the conv's reach (k=9: 4 bp to the right),
    ``first read`` a prefix that holds the whole first site but none of the second (the
    conv at ``start2 - 5`` sees up to ``start2 - 1``), ``both read`` the end of the second.
    """
    points = []
    for row, sites in truth[truth.role == "grammar"].groupby("seq"):
        if len(sites) != 2:
            continue
        sites = sites.sort_values("start")
        (start1, start2), end2 = sites.start.to_numpy(), int(sites.end.iloc[1])
        if start1 >= 6:
            points.append((int(row), int(start1) - 6, int(start2) - 5, end2 - 1))
    return points


@pytest.mark.slow
def test_forward_score_rises_once_the_second_half_of_a_pair_is_read(tmp_path):
    # The default simulation's ordered SOX2-OCT4 pair; decoy negatives carry one half, so
    # only the pair makes a positive. A trained CNN-RNN (default design, 32 filters to keep
    # the run CI-sized) must raise its forward score when the second half has been read,
    # not at the first half alone.
    from motiflens.config import RunConfig
    from motiflens.data.hdf5 import read_split
    from motiflens.data.simulate import DEFAULT_TASKS, read_ground_truth, simulate
    from motiflens.runs import Run
    from motiflens.steps import run_config, train

    pair = next(task for task in DEFAULT_TASKS if task.spacing is not None)
    data = tmp_path / "pair.h5"
    simulate(data, tasks=[pair], n_sequences=8000, length=60, seed=1, progress=False)
    config = RunConfig.from_dict({"model": {"name": "cnn-rnn", "arch": {"filters": 32}}})
    train(data, tmp_path / "run", run_config(config, max_epochs=10, patience=10), verbose=False)
    x, _, _ = read_split(data, "test")
    points = pair_reading_points(read_ground_truth(data, "test"))
    assert len(points) > 100
    rows = [p[0] for p in points]
    forward = temporal_scores(Run(tmp_path / "run").model(), x[rows]).forward[..., 0]
    k = np.arange(len(points))
    before, first, both = (forward[k, [p[i] for p in points]] for i in (1, 2, 3))
    rise_first, rise_second = np.median(first - before), np.median(both - first)
    assert rise_second > 0.3, (rise_first, rise_second)
    assert rise_second > 3 * max(rise_first, 0.0), (rise_first, rise_second)
    assert np.mean(both - first > 0.1) > 0.75
