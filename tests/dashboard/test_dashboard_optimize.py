"""The dashboard's class-optimization view of what ``motiflens optimize`` writes: each
method's folder, the default method first, and the status and command of the analysis."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiflens.dashboard.data import optimize_view, status
from motiflens.steps import optimize
from tests.dashboard.runfixtures import make_bare_run


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _optimize(run, method):
    return optimize(
        run, targets=["target_1"], method=method, n_steps=5, n=2, db=None, verbose=False
    )


def test_each_method_the_step_wrote_is_shown_default_first(tmp_path):
    run = make_bare_run(tmp_path)
    view = optimize_view(run)
    assert view["missing"] and view["command"] == f"motiflens optimize {run}"
    assert "explain/optimize/sequence/optimize.tsv not found" in view["message"]
    assert not status(run)["optimize"]["present"]

    demo = _optimize(run, "demo")
    assert status(run)["optimize"]["present"]  # any method counts
    assert [m["method"] for m in optimize_view(run)["methods"]] == ["demo"]
    sequence = _optimize(run, "sequence")
    view = optimize_view(run)
    # the default method first, though it ran second; neither replaced the other
    assert [m["method"] for m in view["methods"]] == ["sequence", "demo"]
    for shown, result in zip(view["methods"], (sequence, demo), strict=True):
        assert shown["folder"] == f"explain/optimize/{result.method}/"
        assert [(r["target"], r["start"]) for r in shown["rows"]] == [
            ("target_1", 0),
            ("target_1", 1),
        ]
        assert [r["score"] for r in shown["rows"]] == pytest.approx(
            list(result.scores["score"]), rel=1e-5
        )
        for row in shown["rows"]:
            # each start's own motif window: as wide as its window, a probability per column
            probs = np.array(shown["pwms"][row["logo"]]["probs"])
            assert probs.shape == (4, row["motif_end"] - row["motif_start"])
            assert np.allclose(probs.sum(axis=0), 1, atol=1e-3)
            assert row["match_id"] is None  # no database asked for
        folder = shown["folder"]
        assert {f"{folder}target_1.png", f"{folder}target_1_motif.png"} <= set(shown["figures"])
        assert f"{folder}designed.fa" in shown["files"]
        assert shown["params"]["steps"] == 5 and shown["params"]["db"] is None
