"""In-silico saturation mutagenesis: the fast path against a hand-written loop, I/O, figure.

Every expected value here comes from building each mutant by hand and calling the model
on it (``hand_ism``), never from motiflens' own naive path.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from motiflens.config import BassetConfig, CNNConfig, CNNRNNConfig, ModelConfig, RNNConfig
from motiflens.errors import InputError
from motiflens.explain import ism_engine
from motiflens.explain.fast_ism import FastISM, conv_change, spectral
from motiflens.explain.ism import (
    ISMResult,
    ism_chunks,
    loss_gain,
    saturation_mutagenesis,
)
from motiflens.explain.ism_engine import mutants
from motiflens.explain.ism_plan import Conv, plan_model
from motiflens.explain.ism_recurrent import RecurrentISM, RecurrentPlan, recurrent_plan
from motiflens.models import build_model
from motiflens.results import read_result_info
from motiflens.steps.ism_files import ism_output_bytes, write_ism, write_ism_table

TOL = 1e-4  # absolute, on logits


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    codes = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(seed))
    return nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


def lively(model: nn.Module) -> nn.Module:
    """Weights large enough that mutations matter, and non-trivial batch-norm statistics."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv1d | nn.Linear):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * 1.6 / fan_in**0.5)
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, nn.BatchNorm1d):
                shape = mod.running_mean.shape
                mod.running_mean.copy_(torch.randn(shape, generator=gen) * 0.3)
                mod.running_var.copy_(torch.rand(shape, generator=gen) * 1.5 + 0.5)
                mod.weight.copy_(1 + torch.randn(shape, generator=gen) * 0.3)
                mod.bias.copy_(torch.randn(shape, generator=gen) * 0.3)
    return model.eval()


def hand_ism(model: nn.Module, x: torch.Tensor, rc: bool = False) -> tuple[np.ndarray, ...]:
    """Reference logits (N, T) and delta (N, 4, L, T) from a loop over every mutant.

    The reference base of a column is its largest entry, the first on ties (A for an N).
    With ``rc`` every prediction is the mean over the sequence and its reverse complement.
    """

    def predict(batch: torch.Tensor) -> torch.Tensor:
        out = model(batch)
        if rc:
            out = (out + model(batch.flip(1).flip(2))) / 2
        return out

    with torch.no_grad():
        model.eval()
        ref = predict(x)
        n, _, length = x.shape
        delta = np.zeros((n, 4, length, ref.shape[1]), dtype=np.float32)
        for i in range(n):
            mutants, slots = [], []
            for pos in range(length):
                ref_base = int(np.argmax(x[i, :, pos].numpy()))
                for base in range(4):
                    if base == ref_base:
                        continue
                    mutant = x[i].clone()
                    mutant[:, pos] = 0.0
                    mutant[base, pos] = 1.0
                    mutants.append(mutant)
                    slots.append((base, pos))
            out = predict(torch.stack(mutants)) - ref[i]
            for (base, pos), row in zip(slots, out, strict=True):
                delta[i, base, pos] = row.numpy()
    return ref.numpy(), delta


def assert_matches(result: ISMResult, ref: np.ndarray, delta: np.ndarray) -> None:
    assert result.delta.shape == delta.shape
    np.testing.assert_allclose(result.reference, ref, atol=TOL, rtol=0)
    np.testing.assert_allclose(result.delta, delta, atol=TOL, rtol=0)
    # Not a vacuous comparison: mutations change the outputs.
    assert np.abs(delta).max() > 0.05


def basset(padding: str, sizes=(7, 5, 3), pools=(3, 2, 2), hidden=(32,), length=120):
    arch = BassetConfig(
        filters=(16, 8, 8), sizes=sizes, pools=pools, hidden=hidden, padding=padding
    )
    return lively(build_model(ModelConfig(name="basset", n_targets=5, length=length, arch=arch)))


# ------------------------------------------------------------------ fast == hand loop

BASSETS = {
    "valid": dict(padding="valid"),
    "same": dict(padding="same"),
    # even widths (same: one more zero on the right), partial last pool windows (ceil)
    "same-even": dict(padding="same", sizes=(8, 4, 6), pools=(3, 4, 2)),
    "valid-even": dict(padding="valid", sizes=(8, 4, 6), pools=(4, 3, 2), length=121),
    # no pooling in one layer, no hidden dense layer
    "valid-nohidden": dict(padding="valid", pools=(3, 1, 2), hidden=()),
}


@pytest.mark.parametrize("path", ["compiled", "compiled-bmm", "general"])
@pytest.mark.parametrize("name", list(BASSETS))
def test_fast_matches_hand_loop_on_basset(
    name: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every way fast ISM runs these layers: the compiled kernels (CPU) with the
    per-frequency products through oneDNN or, where that is missing, torch.bmm; and the
    general path (what a GPU runs)."""
    import motiflens.explain.fast_ism as fast_ism

    model = basset(**BASSETS[name])
    x = one_hot(2, model.config.length)
    assert (FastISM(plan_model(model), x).stages is not None) is True
    if path == "general":
        monkeypatch.setattr(FastISM, "_compiled_stages", lambda self, x: None)
    if path == "compiled-bmm":
        monkeypatch.setattr(fast_ism, "_MKLDNN_GROUPED", [False])
    result = saturation_mutagenesis(model, x, method="fast")
    assert result.method_used == "fast"
    assert_matches(result, *hand_ism(model, x))
    np.testing.assert_array_equal(result.positions, np.arange(x.shape[-1]))
    np.testing.assert_array_equal(result.targets, np.arange(5))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_fast_matches_hand_loop_on_demo_cnn(padding: str) -> None:
    arch = CNNConfig(filters=(16, 8, 8), sizes=(9, 5, 3), pools=(2, 2, 1), padding=padding)
    model = lively(build_model(ModelConfig(name="cnn", n_targets=3, length=None, arch=arch)))
    x = one_hot(2, 90)
    result = saturation_mutagenesis(model, x, method="fast")
    assert result.method_used == "fast"
    assert_matches(result, *hand_ism(model, x))


def test_fast_matches_hand_loop_on_dilated_sequential() -> None:
    """Dilated convs, a conv's own padding ('same' and ints), overlapping pools, batch
    norm after a ReLU, zero padding modules, GELU and a dense head with batch norm."""
    model = lively(
        nn.Sequential(
            nn.Conv1d(4, 12, 5, padding=2),
            nn.BatchNorm1d(12),
            nn.ReLU(),
            nn.ConstantPad1d((1, 2), 0.0),
            nn.Conv1d(12, 10, 3, dilation=2),
            nn.ReLU(),
            nn.BatchNorm1d(10),
            nn.MaxPool1d(3, stride=2),
            nn.Dropout(0.3),
            nn.Conv1d(10, 8, 3, dilation=4, padding="same"),
            nn.GELU(),
            nn.MaxPool1d(2, ceil_mode=True),
            nn.Flatten(),
            nn.Linear(8 * 12, 16),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Linear(16, 3),
        )
    )
    x = one_hot(2, 50)
    result = saturation_mutagenesis(model, x, method="fast")
    assert result.method_used == "fast"
    assert_matches(result, *hand_ism(model, x))


@pytest.mark.parametrize("pool", [nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d])
def test_fast_matches_hand_loop_with_global_pooling(pool: type[nn.Module]) -> None:
    model = lively(
        nn.Sequential(
            nn.Conv1d(4, 12, 7),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(12, 8, 3, dilation=2),
            nn.ELU(),
            pool(1),
            nn.Flatten(),
            nn.Linear(8, 4),
        )
    )
    x = one_hot(2, 60)
    result = saturation_mutagenesis(model, x, method="fast")
    assert result.method_used == "fast"
    assert_matches(result, *hand_ism(model, x))


def test_window_subset_and_targets() -> None:
    model = basset("same")
    x = one_hot(2, 120)
    ref, delta = hand_ism(model, x)
    central = saturation_mutagenesis(model, x, window=30, targets=[4, 1])
    assert central.method_used == "fast"
    np.testing.assert_array_equal(central.positions, np.arange(45, 75))  # (120 - 30) // 2
    np.testing.assert_array_equal(central.targets, [4, 1])
    np.testing.assert_allclose(central.delta, delta[:, :, 45:75][..., [4, 1]], atol=TOL, rtol=0)
    np.testing.assert_allclose(central.reference, ref[:, [4, 1]], atol=TOL, rtol=0)
    span = saturation_mutagenesis(model, x, window=(0, 7))
    np.testing.assert_allclose(span.delta, delta[:, :, :7], atol=TOL, rtol=0)
    end = saturation_mutagenesis(model, x, window=(113, 120))
    np.testing.assert_allclose(end.delta, delta[:, :, 113:], atol=TOL, rtol=0)


def test_targets_by_name_equal_targets_by_index() -> None:
    model = basset("same")
    model.target_labels = ["a", "b", "c", "CTCF", "REST"]
    x = one_hot(1, 120)
    by_name = saturation_mutagenesis(model, x, targets=["REST", 1], window=10)
    by_index = saturation_mutagenesis(model, x, targets=[4, 1], window=10)
    np.testing.assert_array_equal(by_name.targets, [4, 1])
    np.testing.assert_array_equal(by_name.delta, by_index.delta)
    one = saturation_mutagenesis(model, x, targets="CTCF", window=10)
    np.testing.assert_array_equal(one.targets, [3])


def test_reverse_complement_average() -> None:
    model = basset("valid")
    x = one_hot(2, 120)
    result = saturation_mutagenesis(model, x, reverse_complement=True, method="fast")
    assert result.method_used == "fast"
    assert_matches(result, *hand_ism(model, x, rc=True))
    window = saturation_mutagenesis(model, x, reverse_complement=True, window=(10, 30))
    np.testing.assert_allclose(window.delta, hand_ism(model, x, rc=True)[1][:, :, 10:30], atol=TOL)


def test_unknown_reference_base_counts_as_a() -> None:
    model = basset("same")
    x = one_hot(2, 120)
    x[0, :, [0, 5, 60, 119]] = 0.25  # N, including both ends
    result = saturation_mutagenesis(model, x, method="fast")
    ref, delta = hand_ism(model, x)
    assert_matches(result, ref, delta)
    # The A slot holds the unmutated prediction; C, G and T are real mutants.
    assert np.all(result.delta[0, 0, 5] == 0)
    assert np.abs(result.delta[0, 1:, 5]).max() > 0
    rc = saturation_mutagenesis(model, x, reverse_complement=True)
    assert_matches(rc, *hand_ism(model, x, rc=True))


def test_columns_that_are_neither_one_hot_nor_n() -> None:
    model = basset("valid")
    x = one_hot(2, 120)
    x[1, :, 33] = 0.0  # all zero
    x[0, :, 70] = torch.tensor([0.1, 0.2, 0.3, 0.4])  # a soft column: reference T
    result = saturation_mutagenesis(model, x, method="fast")
    assert_matches(result, *hand_ism(model, x))
    assert np.all(result.delta[0, 3, 70] == 0)


def test_stored_uint8_one_hot_reads_an_all_zero_column_as_n() -> None:
    model = basset("same")
    x = one_hot(2, 120)
    x[0, :, 10] = 0.25
    stored = (x == 1).numpy().astype(np.uint8)  # the dataset file's N is all zero
    chunks = list(ism_chunks(model, stored, window=(0, 20)))
    np.testing.assert_allclose(chunks[0].delta, hand_ism(model, x)[1][:, :, :20], atol=TOL)


def test_naive_method_matches_hand_loop_and_ism_chunks() -> None:
    model = basset("valid")
    x = one_hot(3, 120)
    ref, delta = hand_ism(model, x)
    naive = saturation_mutagenesis(model, x, method="naive", batch_size=50)
    assert naive.method_used == "naive"
    assert_matches(naive, ref, delta)
    chunks = list(ism_chunks(model, x.numpy(), sequences_per_chunk=2, window=(20, 40)))
    assert [c.delta.shape[0] for c in chunks] == [2, 1]
    joined = np.concatenate([c.delta for c in chunks])
    np.testing.assert_allclose(joined, delta[:, :, 20:40], atol=TOL, rtol=0)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "general"])
def test_skipping_is_exact_on_a_sparse_model(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most mutants change nothing after the first ReLU; they leave the chunk early."""
    if not compiled:
        monkeypatch.setattr(FastISM, "_compiled_stages", lambda self, x: None)
    model = lively(
        nn.Sequential(
            nn.Conv1d(4, 6, 5),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(6, 8, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(8 * 36, 3),
        )
    )
    with torch.no_grad():
        model[0].bias.fill_(-2.0)  # the first layer fires rarely
    x = one_hot(2, 80)
    result = saturation_mutagenesis(model, x, method="fast")
    assert_matches(result, *hand_ism(model, x))
    engine = FastISM(plan_model(model), x)
    assert (engine.stages is not None) is compiled
    seq, pos, base, _ = mutants(x, np.arange(80))
    got = engine.outputs(seq, pos, base, 96)
    assert engine.stats["skipped"] > 0.5 * engine.stats["mutants"]
    ref, delta = hand_ism(model, x)
    want = ref[seq.numpy()] + delta[seq.numpy(), base.numpy(), pos.numpy()]
    np.testing.assert_allclose(got.numpy(), want, atol=TOL, rtol=0)


def test_skipping_check_stops_where_it_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every substitution changes every window column of the second conv's input here:
    after PRUNE_TRIALS chunks the general path stops checking there, and stays exact.
    (The compiled kernels find all-0 changes as they write them: no separate check.)"""
    import motiflens.explain.fast_ism as fast_ism

    monkeypatch.setattr(FastISM, "_compiled_stages", lambda self, x: None)

    model = lively(
        nn.Sequential(
            nn.Conv1d(4, 6, 5, padding=2),
            nn.BatchNorm1d(6),
            nn.MaxPool1d(2),
            nn.Conv1d(6, 8, 3),
            nn.Flatten(),
            nn.Linear(8 * 18, 3),
        )
    )
    x = one_hot(2, 40)
    engine = FastISM(plan_model(model), x)
    seq, pos, base, _ = mutants(x, np.arange(40))
    got = engine.outputs(seq, pos, base, 12)  # 20 chunks
    assert engine.stats["skipped"] == 0
    # The conv's input (op 2) stopped after PRUNE_TRIALS chunks; the head's check found
    # columns to trim at the sequence ends and went on.
    assert engine._prune_misses[2] == fast_ism.PRUNE_TRIALS
    assert engine._prune_misses[3] < 0
    ref, delta = hand_ism(model, x)
    want = ref[seq.numpy()] + delta[seq.numpy(), base.numpy(), pos.numpy()]
    np.testing.assert_allclose(got.numpy(), want, atol=TOL, rtol=0)


def test_dense_layers_over_changed_units_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dense layers after the first where a ReLU keeps most units at 0: the product over
    the units some mutant of the chunk uses (the others are 0 in all of them) is exact,
    and so is the batch norm folded into the linear layer before it."""
    import motiflens.explain.fast_ism as fast_ism

    model = lively(
        nn.Sequential(
            nn.Conv1d(4, 8, 5),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Flatten(),
            nn.Linear(8 * 18, 40),
            nn.ReLU(),
            nn.Linear(40, 30),
            nn.BatchNorm1d(30),
            nn.ReLU(),
            nn.Linear(30, 3),
        )
    )
    with torch.no_grad():
        model[4].bias.sub_(1.0)  # most hidden units stay at 0
    x = one_hot(2, 40)
    calls = []
    linear = fast_ism._linear
    monkeypatch.setattr(
        fast_ism, "_linear", lambda h, w, b: calls.append(tuple(w.shape)) or linear(h, w, b)
    )
    result = saturation_mutagenesis(model, x, method="fast")
    assert_matches(result, *hand_ism(model, x))
    # Some products took fewer than all 40 (or 30) input units.
    assert any(shape[0] == 30 and shape[1] < 40 for shape in calls)


@pytest.mark.parametrize(
    ("cin", "cout", "k", "dilation", "w"),
    [
        (30, 20, 11, 1, 7),
        (20, 20, 7, 1, 5),
        (12, 10, 5, 2, 7),
        (12, 10, 5, 2, 4),
        (8, 6, 3, 1, 2),
        (5, 7, 4, 3, 6),
    ],
)
def test_conv_change_forms_agree_with_float64(cin, cout, k, dilation, w) -> None:
    """The DFT form and the direct form of a conv's change, against float64."""
    weight = torch.randn(cout, cin, k) / (cin * k) ** 0.5
    change = torch.randn(64, w, cin)
    want = nn.functional.conv_transpose1d(
        change.double().transpose(1, 2),
        weight.double().flip(-1).transpose(0, 1),
        dilation=dilation,
    ).transpose(1, 2)
    op = Conv(weight, None, (0, 0), dilation)
    got, _ = conv_change(change, op)
    torch.testing.assert_close(got.double(), want, atol=2e-5, rtol=0)
    op.spectral[w] = None  # force the direct form
    direct, _ = conv_change(change, op)
    torch.testing.assert_close(direct.double(), want, atol=2e-5, rtol=0)
    op.spectral.clear()
    used = spectral(op, w) is not None  # where it needs clearly fewer products
    assert used == ((w, k, dilation) in {(7, 11, 1), (5, 7, 1), (7, 5, 2)})


def test_fast_outputs_in_any_order_and_chunk_size() -> None:
    """Mutants not grouped by position (no sharing among the three) and odd chunks."""
    model = basset("valid")
    x = one_hot(3, 120)
    seq, pos, base, _ = mutants(x, np.arange(120))
    order = torch.randperm(seq.numel(), generator=torch.Generator().manual_seed(2))
    seq, pos, base = seq[order], pos[order], base[order]
    mutated = x[seq].clone()
    rows = torch.arange(seq.numel())
    mutated[rows, :, pos] = 0.0
    mutated[rows, base, pos] = 1.0
    with torch.no_grad():
        want = model.eval()(mutated)
        engine = FastISM(plan_model(model), x)
        for size in (7, 100, 5000):
            torch.testing.assert_close(engine.outputs(seq, pos, base, size), want, atol=TOL, rtol=0)


def test_chunks_on_worker_threads_match_one_thread() -> None:
    """With several torch threads, chunks run on worker threads; same result, and the
    thread setting is restored."""
    model = basset("same")
    x = one_hot(2, 120)
    single = saturation_mutagenesis(model, x, batch_size=30)
    torch.set_num_threads(2)  # the autouse fixture restores it after the test
    multi = saturation_mutagenesis(model, x, batch_size=30)
    assert torch.get_num_threads() == 2
    np.testing.assert_allclose(multi.delta, single.delta, atol=1e-5, rtol=0)
    assert_matches(multi, *hand_ism(model, x))


# --------------------------------------------------------------------------- fallbacks


RECURRENT = {
    "cnn-rnn-bi-max": ModelConfig(name="cnn-rnn", n_targets=3),
    "cnn-rnn-demo-mean": ModelConfig(name="cnn-rnn-demo", n_targets=3),
    "cnn-rnn-2-layers-forward": ModelConfig(
        name="cnn-rnn", n_targets=3, arch=CNNRNNConfig(layers=2, bidirectional=False, size=6)
    ),
    "rnn": ModelConfig(name="rnn", n_targets=2, arch=RNNConfig(hidden=8)),
}


@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_fast_path_matches_hand_loop(name: str) -> None:
    """Each LSTM direction restarted from the cached states at the first changed step."""
    model = lively(build_model(RECURRENT[name]))
    x = one_hot(2, 30)
    x[1, :, 4] = 0.25  # an N
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback notice
        result = saturation_mutagenesis(model, x, method="fast")
    assert result.method_used == "fast"
    assert_matches(result, *hand_ism(model, x))
    assert model in ism_engine._CHECKED  # the next call skips the self-check
    rc = saturation_mutagenesis(model, x, reverse_complement=True, window=(0, 6))
    np.testing.assert_allclose(rc.delta, hand_ism(model, x, rc=True)[1][:, :, :6], atol=TOL)


def test_recurrent_engine_without_local_features_and_in_any_order() -> None:
    """Features compared on the whole mutant (no local layer list), mutants shuffled,
    chunks of any size, against the model on hand-built mutants."""
    model = lively(build_model(RECURRENT["cnn-rnn-bi-max"]))
    x = one_hot(3, 25)
    seq, pos, base, _ = mutants(x, np.arange(25))
    order = torch.randperm(seq.numel(), generator=torch.Generator().manual_seed(3))
    seq, pos, base = seq[order], pos[order], base[order]
    mutated = x[seq].clone()
    rows = torch.arange(seq.numel())
    mutated[rows, :, pos] = 0.0
    mutated[rows, base, pos] = 1.0
    plan = recurrent_plan(model)
    assert isinstance(plan, RecurrentPlan) and plan.local is not None
    with torch.no_grad():
        want = model.eval()(mutated)
        for local in (plan.local, None):
            engine = RecurrentISM(RecurrentPlan(plan.parts, local), x)
            for size in (5, 64, 1000):
                got = engine.outputs(seq, pos, base, size)
                torch.testing.assert_close(got, want, atol=TOL, rtol=0)
            # Fewer steps than the naive computation (3 runs of 2 directions over 25
            # steps): the steps before a change are shared.
            assert engine.stats["steps"] < 0.75 * 3 * 2 * seq.numel() * 25


def test_fast_method_refuses_an_unknown_architecture() -> None:
    model = lively(Residual())
    with pytest.raises(InputError, match="fast ISM cannot run"):
        saturation_mutagenesis(model, one_hot(1, 20), method="fast")


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 20, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x + torch.relu(self.conv(x)))


def test_unknown_architecture_falls_back() -> None:
    model = lively(Residual())
    x = one_hot(1, 20)
    with pytest.warns(UserWarning, match="Residual"):
        result = saturation_mutagenesis(model, x)
    assert result.method_used == "naive"
    np.testing.assert_allclose(result.delta, hand_ism(model, x)[1], atol=TOL, rtol=0)


def test_self_check_catches_a_model_that_does_not_do_what_its_layers_say() -> None:
    """A block whose forward was replaced: the plan is wrong, the self-check notices."""
    model = basset("valid")
    block = model.conv_blocks[1]
    block.forward = lambda h: block.reduce(block.activate(h)) * 0.5  # type: ignore[method-assign]
    x = one_hot(1, 120)
    with pytest.warns(UserWarning, match="differs"):
        result = saturation_mutagenesis(model, x)
    assert result.method_used == "naive"
    assert_matches(result, *hand_ism(model, x))


def test_plan_is_reused_until_the_model_changes() -> None:
    """A second call on the same model reuses its checked plan; weights changed in place
    (a training step) or a forward replaced make a new one, and results stay exact."""
    model = basset("same")
    x = one_hot(1, 120)
    saturation_mutagenesis(model, x, window=10)
    plan = ism_engine._PLANS[model][1]
    saturation_mutagenesis(model, x, window=10)
    assert ism_engine._PLANS[model][1] is plan
    with torch.no_grad():
        model.conv_blocks[1].conv.weight.mul_(1.5)
    again = saturation_mutagenesis(model, x, window=10)
    assert ism_engine._PLANS[model][1] is not plan
    np.testing.assert_allclose(again.delta, hand_ism(model, x)[1][:, :, 55:65], atol=TOL)
    block = model.conv_blocks[1]
    block.forward = lambda h: block.reduce(block.activate(h)) * 0.5  # type: ignore[method-assign]
    with pytest.warns(UserWarning, match="differs"):
        assert saturation_mutagenesis(model, x, window=10).method_used == "naive"


def test_model_mode_is_restored() -> None:
    model = basset("same")
    model.train()
    saturation_mutagenesis(model, one_hot(1, 120), window=5)
    assert model.training and all(m.training for m in model.modules())


# -------------------------------------------------------------------------- bad input


def test_wrong_length_is_an_input_error() -> None:
    model = basset("valid")
    with pytest.raises(InputError, match="120"):
        saturation_mutagenesis(model, one_hot(1, 100))
    with pytest.raises(InputError, match="shape"):
        saturation_mutagenesis(model, torch.zeros(2, 120))
    cnn = build_model(ModelConfig(name="cnn", n_targets=1)).eval()
    with pytest.raises(InputError, match="length"):
        saturation_mutagenesis(cnn, one_hot(1, 10))


def test_output_too_large_for_memory_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import motiflens.explain.ism as ism

    monkeypatch.setattr(ism, "_available_memory", lambda: 10_000)
    with pytest.raises(InputError, match="ism_chunks"):
        saturation_mutagenesis(basset("same"), one_hot(2, 120))


def test_bad_targets_window_and_method() -> None:
    model = basset("same")
    x = one_hot(1, 120)
    with pytest.raises(InputError, match=r"out of range \(0..4\)"):
        saturation_mutagenesis(model, x, targets=[7])
    with pytest.raises(InputError, match="no target named 'CTCF'"):
        saturation_mutagenesis(model, x, targets=["CTCF"])
    with pytest.raises(InputError, match="no targets"):
        saturation_mutagenesis(model, x, targets=[])
    with pytest.raises(InputError, match="window"):
        saturation_mutagenesis(model, x, window=121)
    with pytest.raises(InputError, match="outside"):
        saturation_mutagenesis(model, x, window=(100, 130))
    with pytest.raises(InputError, match="method"):
        saturation_mutagenesis(model, x, method="quick")  # type: ignore[arg-type]
    x[0, 0, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        saturation_mutagenesis(model, x)


# ------------------------------------------------------------------- loss, gain, files


def test_loss_gain_by_hand() -> None:
    delta = np.zeros((1, 4, 3, 2), dtype=np.float32)
    delta[0, :, 0, 0] = [0.0, -0.5, 0.2, -0.1]  # reference A
    delta[0, :, 1, 0] = [0.3, 0.0, 0.1, 0.4]  # reference C: only gains
    delta[0, :, 2, 1] = [-0.2, -0.7, 0.0, -0.3]  # reference G: only losses
    loss, gain = loss_gain(delta)
    assert loss.shape == gain.shape == (1, 3, 2)
    np.testing.assert_allclose(loss[0, :, 0], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(gain[0, :, 0], [0.2, 0.4, 0.0])
    np.testing.assert_allclose(loss[0, :, 1], [0.0, 0.0, 0.7])
    np.testing.assert_allclose(gain[0, :, 1], [0.0, 0.0, 0.0])


def test_output_bytes_by_hand() -> None:
    # delta 10*4*200*3 + loss, gain 2*10*200*3 + reference 10*3 floats; positions (int64)
    assert ism_output_bytes(10, 200, 3) == 4 * (24000 + 12000 + 30) + 8 * 200
    assert ism_output_bytes(0, 600, 164) == 8 * 600
    # with the one-hot sequences: 10 x 4 x 250 bytes more
    assert ism_output_bytes(10, 200, 3, length=250) == ism_output_bytes(10, 200, 3) + 10_000


def test_write_ism_round_trip(tmp_path: Path) -> None:
    model = basset("same")
    x = one_hot(3, 120)
    whole = saturation_mutagenesis(model, x, window=20, targets=[0, 3])
    chunks = list(ism_chunks(model, x, window=20, targets=[0, 3], sequences_per_chunk=2))
    # Other batches, other float rounding (~1e-6): the chunks agree with the whole at the
    # fast path's tolerance; the file must hold the chunks exactly.
    joined = np.concatenate([c.delta for c in chunks])
    np.testing.assert_allclose(joined, whole.delta, atol=TOL, rtol=0)
    path = write_ism(
        tmp_path / "ism.h5",
        iter(chunks),
        names=["a", "b", "c"],
        target_labels=["CTCF", "REST"],
        onehot=x,
        params={"window": 20},
    )
    loss, gain = loss_gain(joined)
    with h5py.File(path, "r") as h5:
        np.testing.assert_array_equal(h5["delta"][:], joined)
        np.testing.assert_array_equal(
            h5["reference"][:], np.concatenate([c.reference for c in chunks])
        )
        np.testing.assert_array_equal(h5["loss"][:], loss)
        np.testing.assert_array_equal(h5["gain"][:], gain)
        np.testing.assert_array_equal(h5["positions"][:], np.arange(50, 70))
        np.testing.assert_array_equal(h5["onehot"][:], x.numpy().astype(np.uint8))
        stored = sum(h5[k].size * h5[k].dtype.itemsize for k in ("delta", "reference", "loss"))
        stored += h5["gain"].size * 4 + h5["positions"].size * 8 + h5["onehot"].size
    assert stored == ism_output_bytes(3, 20, 2, length=120)
    info = read_result_info(path)
    assert info.kind == "ism"
    assert info.names == ["a", "b", "c"]
    assert info.target_labels == ["CTCF", "REST"]
    assert info.params == {"method_used": "fast", "targets": [0, 3], "window": 20}
    assert info.arrays == {
        "delta": ("sequence", "base", "position", "target"),
        "reference": ("sequence", "target"),
        "loss": ("sequence", "position", "target"),
        "gain": ("sequence", "position", "target"),
    }
    assert info.has_onehot
    assert [p.name for p in tmp_path.iterdir()] == ["ism.h5"]  # no temporary file left


def test_ism_table_by_hand(tmp_path: Path) -> None:
    delta = np.zeros((1, 4, 2, 2), dtype=np.float32)
    delta[0, :, 0, 0] = [0.0, -0.5, 0.2, -0.1]
    delta[0, :, 1, 1] = [-0.3, 0.1, 0.0, 0.0]
    result = ISMResult(
        reference=np.array([[1.5, -2.0]], dtype=np.float32),
        delta=delta,
        positions=np.array([10, 11]),
        method_used="fast",
        targets=np.array([0, 3]),
    )
    path = write_ism_table(tmp_path / "table.tsv", result, ["s1"], ["CTCF", "REST"])
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == [
        "name",
        "position",
        "target",
        "reference",
        "loss",
        "gain",
        "best_base",
        "worst_base",
    ]
    assert lines[1].split("\t") == ["s1", "10", "CTCF", "1.5", "0.5", "0.2", "G", "C"]
    assert lines[4].split("\t") == ["s1", "11", "REST", "-2", "0.3", "0.1", "C", "A"]
    assert len(lines) == 5


def test_write_ism_is_atomic_and_checks_names(tmp_path: Path) -> None:
    model = basset("same")
    result = saturation_mutagenesis(model, one_hot(2, 120), window=4)
    write_ism(tmp_path / "one.h5", result)
    info = read_result_info(tmp_path / "one.h5")
    assert info.names == ["seq0", "seq1"]
    assert info.target_labels == ["0", "1", "2", "3", "4"]
    assert not info.has_onehot
    with pytest.raises(InputError, match="names"):
        write_ism(tmp_path / "bad.h5", result, names=["only one"])
    with pytest.raises(InputError, match="names"):
        write_ism(tmp_path / "bad.h5", result, names=["a", "b", "c"])
    with pytest.raises(InputError, match="one-hot"):
        write_ism(tmp_path / "bad.h5", result, onehot=one_hot(3, 120))
    with pytest.raises(InputError, match="target labels"):
        write_ism(tmp_path / "bad.h5", result, target_labels=["CTCF"])
    assert not (tmp_path / "bad.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.h5"]


def test_plot_ism_writes_png_and_svg(tmp_path: Path) -> None:
    from motiflens.plots.ism import plot_ism

    model = basset("same")
    x = one_hot(1, 120)
    result = saturation_mutagenesis(model, x, window=40)
    loss, gain = loss_gain(result.delta)
    seq = "".join("ACGT"[i] for i in x[0].argmax(0)[40:80])
    path = plot_ism(
        result.delta[0, :, :, 2],
        loss[0, :, 2],
        gain[0, :, 2],
        seq[:20] + "N" + seq[21:],
        tmp_path / "sat",
        title="seq0, target 2",
        positions=result.positions,
        mark=60,
    )
    assert path == tmp_path / "sat.png"
    assert path.stat().st_size > 1000
    assert (tmp_path / "sat.svg").stat().st_size > 1000
    with pytest.raises(ValueError, match="length"):
        plot_ism(result.delta[0, :, :, 2], loss[0, :5, 2], gain[0, :, 2], seq, tmp_path / "x")


# --------------------------------------------------------------------------- science


@pytest.mark.parametrize("task", ["CTCF", "REST"])
def test_loss_scores_find_the_planted_motifs(trained_sim, task: str) -> None:
    """On the simulated positives, ISM loss ranks planted-site positions above the rest."""
    from sklearn.metrics import roc_auc_score

    rows, mask = trained_sim.motif_mask(task)
    k = trained_sim.target_labels.index(task)
    result = saturation_mutagenesis(trained_sim.model, trained_sim.x_test[rows], targets=[k])
    assert result.method_used == "fast"
    loss_scores = loss_gain(result.delta)[0][..., 0]  # (rows, L)
    pooled = roc_auc_score(mask.ravel(), loss_scores.ravel())
    per_sequence = np.mean([roc_auc_score(m, s) for m, s in zip(mask, loss_scores, strict=True)])
    assert pooled >= 0.9, f"{task}: pooled AUROC {pooled:.3f}"
    assert per_sequence >= 0.9, f"{task}: mean AUROC per sequence {per_sequence:.3f}"
    assert not trained_sim.model.training


def test_no_warnings_on_supported_models() -> None:
    model = basset("valid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saturation_mutagenesis(model, one_hot(1, 120), window=3)
