"""Class optimization: DeMo's procedure and post-processing, the sequence variant, MEME/FASTA.

The scientific check at the end trains a small model on a simulated single-motif task and
asks that the optimised matrix contain that motif.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from Bio import motifs as bio_motifs
from sklearn.metrics import roc_auc_score
from torch import nn

from motiflens.config import ModelConfig, RunConfig
from motiflens.data.hdf5 import read_split
from motiflens.data.simulate import TaskSpec, simulate
from motiflens.errors import InputError
from motiflens.explain.optimize import (
    ClassOptimization,
    normalize_demo,
    optimize_class,
    write_fasta,
    write_meme,
)
from motiflens.models import build_model
from motiflens.motifs.databases import jaspar_motif
from motiflens.plots.explain import class_optimization_logo
from motiflens.plots.style import save_figure
from motiflens.runs import Run
from motiflens.sequence.fasta import read_fasta
from motiflens.sequence.onehot import one_hot
from motiflens.training import train

CTCF = "MA0139.2"


@pytest.fixture(scope="module")
def ctcf() -> np.ndarray:
    # one pseudo-observation spread over the four bases: no zero (log-odds stay finite)
    return jaspar_motif(CTCF, pseudocount=0.25).probs


class PWMScan(nn.Module):
    """Target logit = best log-odds score of a PWM over all windows (+ strand only)."""

    def __init__(self, probs: np.ndarray) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 1, probs.shape[1], bias=False)
        with torch.no_grad():
            self.conv.weight[0] = torch.as_tensor(np.log2(probs / 0.25), dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).amax(dim=-1)


def best_window(matrix: np.ndarray, motif: np.ndarray) -> tuple[float, str, int]:
    """Slide the motif over the matrix on both strands: best Pearson r of aligned columns."""
    width = motif.shape[1]
    best = (-1.0, "+", 0)
    for strand, m in (("+", motif), ("-", motif[::-1, ::-1])):
        for offset in range(matrix.shape[1] - width + 1):
            window = matrix[:, offset : offset + width].ravel()
            if window.std() == 0:
                continue
            r = float(np.corrcoef(window, m.ravel())[0, 1])
            if r > best[0]:
                best = (r, strand, offset)
    return best


###  DeMo's post-processing


def test_normalize_demo_hand_computed():
    x = np.array(
        [
            [-0.5, 2.0, 0.0],
            [0.5, 0.0, 0.0],
            [0.25, 0.25, 0.0],
            [0.0, 0.5, -1.0],
        ]
    )
    # clamp to [0, 1] -> max is 1 -> +0.01 -> columns sum to 0.79, 1.79 and 0.04
    want = np.array(
        [
            [0.01 / 0.79, 1.01 / 1.79, 0.25],
            [0.51 / 0.79, 0.01 / 1.79, 0.25],
            [0.26 / 0.79, 0.26 / 1.79, 0.25],
            [0.01 / 0.79, 0.51 / 1.79, 0.25],
        ]
    )
    np.testing.assert_allclose(normalize_demo(x), want, rtol=1e-6)
    # The global maximum (0.5 here, after clamping) scales every entry first.
    y = np.array([[0.5, 0.1], [0.25, 0.1], [0.0, 0.1], [0.0, 0.1]])
    col0 = np.array([1.01, 0.51, 0.01, 0.01]) / 1.54
    col1 = np.full(4, 0.25)
    np.testing.assert_allclose(normalize_demo(y), np.stack([col0, col1], 1), rtol=1e-6)
    # Batched: each input has its own maximum; all-zero (after clamping) is uniform.
    both = normalize_demo(torch.tensor(np.stack([y, -y])))
    np.testing.assert_allclose(both[0], normalize_demo(y), rtol=1e-6)
    np.testing.assert_allclose(both[1], np.full((4, 2), 0.25), rtol=1e-6)


###  the DeMo method


def test_demo_finds_the_scanned_motif_and_the_objective_decreases(ctcf):
    model = PWMScan(ctcf)
    result = optimize_class(model, targets=0, length=50, n_sequences=3, random_state=0)
    assert isinstance(result, ClassOptimization)
    # starts first, target last
    assert result.matrix.shape == (3, 4, 50, 1) and result.targets == [0]
    np.testing.assert_allclose(result.matrix.sum(axis=1), 1.0, atol=1e-5)
    assert result.history.shape == (1000, 3, 1) and result.scores.shape == (3, 1)
    first, last = result.history[:50].mean(0), result.history[-50:].mean(0)
    assert np.all(last < first - 100)
    for matrix in result.matrix[..., 0]:
        r, strand, _ = best_window(matrix, ctcf)
        assert r >= 0.7, r
        assert strand == "+"  # the scan only reads the + strand
    # The most probable bases form a sequence the scan scores well above random ones.
    top = float(np.log2(ctcf / 0.25).max(axis=0).sum())
    assert np.all(result.scores >= 0.8 * top)
    assert [len(row) for row in result.sequences] == [1, 1, 1]
    with torch.no_grad():
        again = model(torch.from_numpy(one_hot([row[0] for row in result.sequences])))
    np.testing.assert_allclose(result.scores, again.numpy(), rtol=1e-5)


def test_targets_are_optimized_on_inputs_of_their_own(ctcf):
    # Two outputs (the motif and its reverse complement), selected by name: optimised in
    # one batch, each target's inputs are those of optimising it alone.
    model = PWMScan(ctcf)
    model.conv = nn.Conv1d(4, 2, ctcf.shape[1], bias=False)
    with torch.no_grad():
        model.conv.weight[0] = torch.as_tensor(np.log2(ctcf / 0.25))
        model.conv.weight[1] = torch.as_tensor(np.log2(ctcf[::-1, ::-1].copy() / 0.25))
    model.target_labels = ["fwd", "rev"]
    both = optimize_class(model, targets=["rev", "fwd"], length=30, n_steps=40, random_state=3)
    assert both.targets == [1, 0] and both.matrix.shape == (1, 4, 30, 2)
    alone = optimize_class(model, targets="rev", length=30, n_steps=40, random_state=3)
    # rows are start-major (start i of target k is row i * T + k): with one start, the
    # first target draws the same random start as when it is optimised alone
    np.testing.assert_allclose(both.matrix[..., :1], alone.matrix, atol=1e-5)
    np.testing.assert_allclose(both.history[..., :1], alone.history, rtol=1e-5)
    with torch.no_grad():
        scores = model(torch.from_numpy(one_hot(both.sequences[0]))).numpy()
    np.testing.assert_allclose(both.scores[0], [scores[0, 1], scores[1, 0]], rtol=1e-5)


def test_demo_with_log_prob_score_finds_the_motif(ctcf):
    # DeMo's own objective (NLL of the positive class) for a binary target.
    result = optimize_class(PWMScan(ctcf), targets=0, length=40, score="log_prob", random_state=0)
    assert best_window(result.matrix[0, ..., 0], ctcf)[0] >= 0.7
    assert result.history[-1, 0, 0] < result.history[0, 0, 0]


def test_demo_reaches_the_penalised_optimum_of_a_linear_score():
    # S(X) = <W, X>: the minimiser of -S + lam*|X|^2 is W / (2 lam). With W = 0.018 at one
    # entry per position and -1 elsewhere, that is X = 1 there and clamped to 0 elsewhere.
    length = 6
    w = -torch.ones(1, 4, length)
    bases = torch.tensor([0, 1, 2, 3, 2, 1])
    w[0, bases, torch.arange(length)] = 2 * 0.009

    class Linear(nn.Module):
        def forward(self, x):
            return (x * w).sum(dim=(1, 2))[:, None]

    result = optimize_class(Linear(), targets=0, length=length, random_state=1)  # DeMo
    assert result.sequences == [["ACGTGC"]]
    hi, lo = 1.01 / 1.04, 0.01 / 1.04  # DeMo's normalisation of a one-hot column
    want = np.full((4, length), lo)
    want[bases.numpy(), np.arange(length)] = hi
    np.testing.assert_allclose(result.matrix[0, ..., 0], want, atol=0.02)


def test_seeded_runs_repeat_and_model_state_is_restored(ctcf):
    model = PWMScan(ctcf)
    model.train()
    a = optimize_class(model, targets=0, length=30, n_steps=50, random_state=7)
    b = optimize_class(model, targets=0, length=30, n_steps=50, random_state=7)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert model.training
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_eval_mode_for_batch_norm_and_dropout():
    # In training mode batch norm would use the statistics of the batch of starts and
    # dropout would be random; optimisation must see the deterministic eval-mode model.
    cfg = {"name": "basset", "n_targets": 2, "length": 40}
    cfg["arch"] = {"filters": [6], "sizes": [5], "pools": [4], "hidden": [8]}
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_dict(cfg)).train()
    result = optimize_class(model, targets=1, n_steps=20, n_sequences=2, random_state=0)
    model.eval()
    designed = [row[0] for row in result.sequences]
    with torch.no_grad():
        want = torch.sigmoid(model(torch.from_numpy(one_hot(designed)))[:, 1])
    np.testing.assert_allclose(result.scores[:, 0], want.numpy(), rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", ["demo", "sequence"])
def test_rnn_on_cuda_in_eval_mode(method):
    # cuDNN's LSTM has no backward in eval mode; the optimisation must still run there.
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_dict({"name": "cnn-rnn", "n_targets": 1}))
    result = optimize_class(model, targets=0, length=30, n_steps=5, method=method, device="cuda")
    assert result.matrix.shape == (1, 4, 30, 1)
    assert next(model.parameters()).device.type == "cpu"


###  the sequence variant


def test_sequence_variant_designs_valid_high_scoring_dna(ctcf):
    model = PWMScan(ctcf)
    result = optimize_class(
        model, targets=0, length=40, method="sequence", n_sequences=4, n_steps=300, random_state=0
    )
    designed = [row[0] for row in result.sequences]
    assert len(designed) == 4
    assert all(len(s) == 40 and set(s) <= set("ACGT") for s in designed)
    np.testing.assert_array_equal(result.matrix[..., 0], one_hot(designed))
    with torch.no_grad():
        scores = model(torch.from_numpy(one_hot(designed)))[:, 0].numpy()
    np.testing.assert_allclose(result.scores[:, 0], scores, rtol=1e-5)
    g = torch.Generator().manual_seed(0)
    random = F.one_hot(torch.randint(0, 4, (500, 40), generator=g), 4).permute(0, 2, 1).float()
    with torch.no_grad():
        baseline = model(random)[:, 0].numpy()
    assert scores.min() > baseline.max()
    # The best achievable score of a PWM scan is its consensus's.
    top = float(np.log2(ctcf / 0.25).max(axis=0).sum())
    assert scores.max() >= 0.95 * top


def test_bad_arguments(ctcf):
    model = PWMScan(ctcf)
    with pytest.raises(ValueError, match="length"):
        optimize_class(model, targets=0)
    with pytest.raises(ValueError, match="method"):
        optimize_class(model, targets=0, length=20, method="gibbs")
    with pytest.raises(ValueError, match="score"):
        optimize_class(model, targets=0, length=20, score="prob")
    with pytest.raises(ValueError, match="temperatures"):
        optimize_class(model, targets=0, length=20, method="sequence", temperature=(1.0, 0.0))
    config_model = build_model(ModelConfig.from_dict({"name": "rnn", "n_targets": 2}))
    with pytest.raises(InputError, match=r"out of range \(0..1\)"):
        optimize_class(config_model, targets=2, length=10)
    with pytest.raises(InputError, match="no target named 'CTCF'"):
        optimize_class(config_model, targets="CTCF", length=10)
    regression = build_model(
        ModelConfig.from_dict({"name": "rnn", "n_targets": 1, "task": "regression"})
    )
    with pytest.raises(ValueError, match="binary"):
        optimize_class(regression, targets=0, length=10, score="log_prob")


###  files and figure


def test_meme_file_reads_back_with_biopython(tmp_path, ctcf):
    matrix = normalize_demo(np.random.default_rng(0).random((4, 12)))
    path = write_meme([matrix, ctcf], tmp_path / "opt.meme", ["class opt", "CTCF"])
    text = path.read_text()
    assert text.startswith("MEME version 4\n")
    assert "ALPHABET= ACGT" in text and "strands: + -" in text
    assert "letter-probability matrix: alength= 4 w= 12 nsites= 20 E= 0" in text
    rows = text.split("w= 12 nsites= 20 E= 0\n")[1].split("\n\n")[0].splitlines()
    np.testing.assert_allclose(np.loadtxt(rows).T, matrix, atol=1e-6)
    # Biopython turns probabilities into counts (x nsites, rounded): a large nsites keeps
    # the values.
    path = write_meme([matrix, ctcf], path, ["class opt", "CTCF"], nsites=10**6)
    with path.open() as handle:
        record = bio_motifs.parse(handle, "minimal")
    assert [m.name for m in record] == ["class_opt", "CTCF"]
    for motif, want in zip(record, [matrix, ctcf], strict=True):
        got = np.array([motif.pwm[b] for b in "ACGT"])
        np.testing.assert_allclose(got, want, atol=1e-5)
    one = write_meme(matrix, tmp_path / "one.meme", "x")
    assert one.read_text().count("MOTIF x\n") == 1
    with pytest.raises(ValueError, match="probability matrix"):
        write_meme(matrix * 2, tmp_path / "bad.meme")
    assert not (tmp_path / "bad.meme").exists()


def test_fasta_reads_back(tmp_path):
    seqs = ["ACGTACGT", "TTTTCCCC"]
    path = write_fasta(seqs, tmp_path / "d.fa", descriptions=["score=0.91", "score=0.88"])
    records = [(name, seq) for name, seq, *_ in read_fasta(path)]
    assert [r[1] for r in records] == seqs
    assert path.read_text().splitlines()[0] == ">seq_1 score=0.91"
    with pytest.raises(ValueError, match="names"):
        write_fasta(seqs, tmp_path / "e.fa", names=["a b", "c"])


@pytest.mark.parametrize("scale", ["information", "probability"])
def test_logo_figure(tmp_path, ctcf, scale):
    fig = class_optimization_logo(ctcf, scale=scale, title="CTCF")
    ax = fig.axes[0]
    assert ax.get_ylabel() == ("bits" if scale == "information" else "probability")
    path = save_figure(fig, tmp_path / f"logo_{scale}.png")
    assert path.is_file() and path.with_suffix(".svg").is_file()
    with pytest.raises(ValueError, match="probability matrix"):
        class_optimization_logo(ctcf * 3)


###  scientific check: a model trained on one planted motif


@pytest.mark.slow
def test_class_optimization_recovers_the_planted_motif(tmp_path, ctcf):
    """Simulated CTCF task -> small CNN -> DeMo class optimization -> CTCF in the matrix.

    The model is one conv layer (8 filters of width 19) with a max over positions;
    DeMo's procedure runs with its own settings (1000 RMSprop steps, lr 0.05, lambda
    0.009), from one start.
    """
    data = tmp_path / "ctcf.h5"
    task = TaskSpec("CTCF", [CTCF], positive_rate=0.5)
    simulate(data, tasks=[task], n_sequences=3000, length=100, seed=1, progress=False)
    config = RunConfig.from_dict(
        {
            "model": {
                "name": "cnn",
                "arch": {"filters": [8], "sizes": [19], "pools": [1], "dropout": 0.0},
            },
            "training": {"preset": "demo", "lr": 0.01, "batch_size": 64, "max_epochs": 3},
        }
    )
    train(data, tmp_path / "run", config, verbose=False)
    model = Run(tmp_path / "run").model("cpu")
    x, y, _ = read_split(data, "test")
    with torch.no_grad():
        logits = model(torch.from_numpy(x).float())[:, 0].numpy()
    assert roc_auc_score(y[:, 0], logits) > 0.9

    result = optimize_class(model, targets=0, random_state=0)
    r, _, _ = best_window(result.matrix[0, ..., 0], ctcf)
    assert r >= 0.7, f"best window of the optimised matrix matches CTCF with r = {r:.3f}"
    assert result.scores[0, 0] > 0.9  # its consensus sequence is predicted positive
