"""Window edits (the fast path of motif insertion) against the model on hand-built sequences.

Every expected value comes from writing the edit into the one-hot by hand (NumPy) and
calling the model on the edited sequences, never from motiflens' own naive path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from motiflens.config import ModelConfig
from motiflens.explain.ism_plan import Plan, plan_model
from motiflens.explain.window_edit import WindowEdit, check_window_edit
from motiflens.models import build_model

TOL = 1e-4  # absolute, on logits


def lively(model: nn.Module, seed: int = 1) -> nn.Module:
    """Weights large enough that edits matter, and non-trivial batch-norm statistics."""
    gen = torch.Generator().manual_seed(seed)
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


def basset(length: int, padding: str, sizes: list[int], pools: list[int]) -> nn.Module:
    arch = {
        "filters": [12, 8][: len(sizes)],
        "sizes": sizes,
        "pools": pools,
        "padding": padding,
        "hidden": [16],
    }
    cfg = {"name": "basset", "n_targets": 3, "length": length, "arch": arch}
    return lively(build_model(ModelConfig.from_dict(cfg)))


def backgrounds(n: int, length: int, seed: int = 0) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


def by_hand(model: nn.Module, x: np.ndarray, start: int, bases: np.ndarray) -> np.ndarray:
    """``(R, n, T)``: the model on ``x`` with ``bases[i, j]`` written into background ``j``."""
    r, n, w = bases.shape
    out = []
    for i in range(r):
        edited = x.copy()
        for j in range(n):
            for c in range(w):
                edited[j, :, start + c] = 0.0
                edited[j, bases[i, j, c], start + c] = 1.0
        with torch.no_grad():
            out.append(model(torch.from_numpy(edited)).numpy())
    return np.stack(out)


def assert_edits_match(
    model: nn.Module,
    x: np.ndarray,
    cases: list[tuple[int, int]],
    compiled: bool | None = None,
) -> None:
    """``compiled``: True/False to require fast ISM's compiled kernels or this module's
    torch path; None to take what the model gets."""
    plan = plan_model(model)
    assert isinstance(plan, Plan), plan
    rng = np.random.default_rng(5)
    with torch.no_grad():
        fast = WindowEdit(plan, torch.from_numpy(x), compiled=compiled is not False)
        if compiled is not None:
            assert (fast._compiled is not None) == compiled
        np.testing.assert_allclose(fast.reference, model(torch.from_numpy(x)), atol=TOL, rtol=0)
        moved = 0.0
        for start, w in cases:
            bases = rng.integers(0, 4, (3, x.shape[0], w))
            got = fast.outputs(start, torch.from_numpy(bases)).numpy()
            want = by_hand(model, x, start, bases)
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0, err_msg=f"{start}, {w}")
            moved = max(moved, float(np.abs(want - fast.reference.numpy()).max()))
    assert moved > 1e-2  # the edits matter


# Windows at both ends (padding, partial pool windows), in the middle, odd and even widths,
# one base, and the whole sequence.
def cases(length: int) -> list[tuple[int, int]]:
    return [(0, 7), (1, 4), (length // 2 - 6, 12), (length - 9, 9), (length - 1, 1), (0, length)]


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize(("sizes", "pools"), [([7, 5], [3, 2]), ([6, 4], [4, 3])])
def test_basset_edits_equal_the_model_on_edited_sequences(padding, sizes, pools, compiled):
    length = 61
    model = basset(length, padding, sizes, pools)
    assert_edits_match(model, backgrounds(4, length), cases(length), compiled)


def test_compiled_edits_on_worker_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled path splits a call's edits over torch's threads: parts of 2 here."""
    from motiflens.explain import fast_ism

    monkeypatch.setattr(fast_ism, "WINDOW_MIN", 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        length = 61
        model = basset(length, "same", [7, 5], [3, 2])
        assert_edits_match(model, backgrounds(5, length), cases(length), compiled=True)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("compiled", [True, False])
def test_demo_architecture_edits_equal_the_model(compiled):
    # configs/demo.yaml's architecture at the demo simulation's 200 bp.
    arch = {"filters": [128, 64, 64], "sizes": [19, 11, 7], "pools": [3, 4, 4]}
    arch |= {"hidden": [128], "padding": "same", "conv_dropout": 0.1, "hidden_dropout": 0.5}
    cfg = {"name": "basset", "n_targets": 4, "length": 200, "arch": arch}
    model = lively(build_model(ModelConfig.from_dict(cfg)))
    cases = [(0, 11), (94, 12), (170, 30), (199, 1)]
    assert_edits_match(model, backgrounds(3, 200), cases, compiled)


def test_unknown_bases_and_soft_inputs():
    length = 40
    model = basset(length, "same", [5, 3], [2, 2])
    x = backgrounds(3, length)
    x[0, :, 15:22] = 0.25  # N columns: the first layer's table has a row for them
    x[1, :, 0:3] = 0.25
    assert_edits_match(model, x, [(12, 8), (0, 5), (length - 6, 6)])
    # Not one-hot: the first layer's change is a product instead of a table.
    soft = np.random.default_rng(2).dirichlet(np.ones(4), size=(3, length))
    soft = soft.transpose(0, 2, 1).astype(np.float32).copy()
    assert_edits_match(model, soft, [(12, 8), (0, 5)])


def dilated(length: int) -> nn.Module:
    """Dilation, overlapping floor-mode pooling, batch norm after a ReLU, another activation.

    At 46 bp the first pool reads columns 0-44 only: an edit of column 45 changes nothing.
    """
    pooled = ((length - 3) // 2 + 1 - 2) // 2
    return nn.Sequential(
        nn.Conv1d(4, 6, 4, dilation=2, padding=3),
        nn.ReLU(),
        nn.BatchNorm1d(6),
        nn.MaxPool1d(3, 2),
        nn.Conv1d(6, 5, 3),
        nn.ELU(),
        nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(5 * pooled, 3),
    )


def dilated_first_conv(length: int) -> nn.Module:
    """Basset's layout (each conv, a ReLU, a pool of stride = kernel) with a dilated first
    conv: the compiled kernels' layout."""
    pooled = ((length - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv1d(4, 6, 4, dilation=2, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(6, 5, 3),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(5 * pooled, 3),
    )


def test_dilated_first_conv_through_the_compiled_kernels():
    torch.manual_seed(0)
    model = lively(dilated_first_conv(46))
    x = backgrounds(3, 46, seed=4)
    x[1, :, 10:14] = 0.25  # N columns: the first layer's table has a row for them
    assert_edits_match(model, x, cases(46), compiled=True)


def global_pool(kind: type[nn.Module]) -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(4, 6, 5, padding="same"),
        nn.ReLU(),
        nn.Conv1d(6, 4, 4),
        nn.Tanh(),
        kind(1),
        nn.Flatten(),
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Linear(8, 2),
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: dilated(46),
        lambda: global_pool(nn.AdaptiveMaxPool1d),
        lambda: global_pool(nn.AdaptiveAvgPool1d),
    ],
    ids=["dilated", "global-max", "global-mean"],
)
def test_other_stacks_equal_the_model(make):
    torch.manual_seed(0)
    model = lively(make())
    assert_edits_match(model, backgrounds(3, 46, seed=4), cases(46))


def test_the_self_check_passes_a_faithful_plan_and_catches_a_wrong_one():
    model = basset(50, "same", [5, 3], [2, 2])
    plan = plan_model(model)
    assert isinstance(plan, Plan)
    x = torch.from_numpy(backgrounds(2, 50))
    other = basset(50, "same", [5, 3], [2, 2])
    with torch.no_grad():
        assert check_window_edit(model, plan, x, 12) is None
        # A plan whose outputs differ from the model's: the self-check must say so.
        other.output.bias.add_(1.0)
        assert "differs" in str(check_window_edit(other, plan, x, 12))
