"""Class optimization: DeMo's procedure and post-processing, the sequence variant, MEME/FASTA.

The scientific check at the end trains a small model on a simulated single-motif task and
asks that the optimised matrix contain that motif.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
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
    motif_window,
    normalize_demo,
    optimize_class,
    preference_matrix,
    write_fasta,
    write_meme,
)
from motiflens.models import build_model
from motiflens.motifs.compare import tomtom
from motiflens.motifs.databases import jaspar_motif, load_database
from motiflens.motifs.meme import read_meme
from motiflens.motifs.pwm import Motif
from motiflens.plots.explain import class_optimization_logo
from motiflens.plots.style import save_figure
from motiflens.runs import Run
from motiflens.sequence.fasta import read_fasta
from motiflens.sequence.onehot import one_hot
from motiflens.steps.optimize import optimize as optimize_step
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
    result = optimize_class(
        model, targets=0, length=50, method="demo", n_sequences=3, random_state=0
    )
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
    kw = {"length": 30, "method": "demo", "n_steps": 40, "n_sequences": 1, "random_state": 3}
    both = optimize_class(model, targets=["rev", "fwd"], **kw)
    assert both.targets == [1, 0] and both.matrix.shape == (1, 4, 30, 2)
    alone = optimize_class(model, targets="rev", **kw)
    # rows are start-major (start i of target k is row i * T + k): with one start, the
    # first target draws the same random start as when it is optimised alone
    np.testing.assert_allclose(both.matrix[..., :1], alone.matrix, atol=1e-5)
    np.testing.assert_allclose(both.history[..., :1], alone.history, rtol=1e-5)
    with torch.no_grad():
        scores = model(torch.from_numpy(one_hot(both.sequences[0]))).numpy()
    np.testing.assert_allclose(both.scores[0], [scores[0, 1], scores[1, 0]], rtol=1e-5)


def test_demo_with_log_prob_score_finds_the_motif(ctcf):
    # DeMo's own objective (NLL of the positive class) for a binary target.
    result = optimize_class(
        PWMScan(ctcf), targets=0, length=40, method="demo", score="log_prob", random_state=0
    )
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

    result = optimize_class(
        Linear(), targets=0, length=length, method="demo", n_sequences=1, random_state=1
    )
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
    with torch.no_grad():
        scores = model(torch.from_numpy(one_hot(designed)))[:, 0].numpy()
    np.testing.assert_allclose(result.scores[:, 0], scores, rtol=1e-5)
    assert np.all(np.diff(scores) <= 0)  # ranked, best first
    g = torch.Generator().manual_seed(0)
    random = F.one_hot(torch.randint(0, 4, (500, 40), generator=g), 4).permute(0, 2, 1).float()
    with torch.no_grad():
        baseline = model(random)[:, 0].numpy()
    assert scores.min() > baseline.max()
    # The best achievable score of a PWM scan is its consensus's.
    top = float(np.log2(ctcf / 0.25).max(axis=0).sum())
    assert scores.max() >= 0.95 * top


def test_sequence_matrix_is_the_model_preference_around_the_site(ctcf):
    # PWMScan's logit is the best window's sum of log2(p / 0.25). At the designed site a
    # substitution to base b at motif column j changes it by log2(p_bj / p_rj), r the
    # designed base (the site stays the best window: the next best is ~20 bits lower);
    # everywhere else a substitution changes nothing and the column is uniform. The
    # changes are scaled so that the largest loss becomes ln 100, then softmax per column.
    model = PWMScan(ctcf)
    result = optimize_class(
        model, targets=0, length=40, n_sequences=2, n_steps=300, random_state=0
    )  # the default method
    best = one_hot([result.sequences[0][0]])
    with torch.no_grad():
        site = int(model.conv(torch.from_numpy(best))[0, 0].argmax())
    width = ctcf.shape[1]
    designed = best[0, :, site : site + width].argmax(axis=0)
    delta = np.log2(ctcf / ctcf[designed, np.arange(width)])
    scaled = np.exp(delta * np.log(100) / -delta.min())
    want = np.full((4, 40), 0.25)
    want[:, site : site + width] = scaled / scaled.sum(axis=0)
    np.testing.assert_allclose(result.matrix[0, :, :, 0], want, atol=1e-4)
    # the motif window is the site, less any end column below 0.2 bits
    lo, hi = result.window[0, :, 0]
    assert site <= lo < hi <= site + width and hi - lo >= width - 4
    np.testing.assert_array_equal(result.motif(0), result.matrix[0, :, lo:hi, 0])


def test_preference_matrix_hand_computed():
    # The largest loss, ln 4 (column 0), is scaled to ln 100: column 0's changes 0,
    # ln 1/2, ln 1/4, ln 1/4 become 0, -ln 10, -ln 100, -ln 100, i.e. odds 100 : 10 : 1 : 1.
    delta = np.array([[0.0, 0.0], [np.log(0.5), 0.0], [np.log(0.25), 0.0], [np.log(0.25), 0.0]])
    col0 = np.array([100, 10, 1, 1]) / 112
    want = np.stack([col0, np.full(4, 0.25)], axis=1)
    np.testing.assert_allclose(preference_matrix(delta), want, rtol=1e-6)
    # the scale is the sequence's own: the same shape at any magnitude; batched, each
    # sequence scaled alone; no loss anywhere is uniform
    both = preference_matrix(np.stack([delta * 1000, delta, np.zeros((4, 2))]))
    np.testing.assert_allclose(both[0], want, rtol=1e-5)
    np.testing.assert_allclose(both[1], want, rtol=1e-6)
    np.testing.assert_allclose(both[2], 0.25)
    # other odds: 4 : 2 : 1 : 1 with max_odds=4
    np.testing.assert_allclose(
        preference_matrix(delta, max_odds=4)[:, 0], [0.5, 0.25, 0.125, 0.125]
    )
    with pytest.raises(ValueError, match="4, L"):
        preference_matrix(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="max_odds"):
        preference_matrix(delta, max_odds=1)


def test_motif_window_finds_the_informative_run():
    matrix = np.full((4, 50), 0.25)
    rng = np.random.default_rng(0)
    matrix[:, 30:42] = rng.dirichlet(np.full(4, 0.1), size=12).T  # ~1.5 bits a column
    matrix[:, 5] = [0.97, 0.01, 0.01, 0.01]  # one lone informative column far away
    matrix[:, 31] = 0.25  # an inner uninformative column stays inside the motif
    assert motif_window(matrix, width=24) == (30, 42)
    # a narrower window keeps the most informative part
    lo, hi = motif_window(matrix, width=6)
    assert 30 <= lo and hi <= 42 and hi - lo <= 6
    # shorter than the window: the whole matrix, trimmed
    assert motif_window(matrix[:, 28:44], width=24) == (2, 14)
    # nothing informative: the first `width` positions
    assert motif_window(np.full((4, 10), 0.25), width=4) == (0, 4)
    # two copies 8 positions apart (as designed sequences often hold them): the more
    # informative one alone, not both in one 24-wide window
    two = np.full((4, 40), 0.25)
    two[:, 10:18] = np.eye(4)[:, [0, 1, 2, 3, 0, 1, 2, 3]]  # 2 bits a column
    two[:, 26:34] = 0.9 * np.eye(4)[:, [3, 2, 1, 0, 3, 2, 1, 0]] + 0.025  # ~1.4 bits
    assert motif_window(two) == (10, 18)
    assert motif_window(two, max_gap=8) == (10, 34)  # one run when the gap is allowed
    with pytest.raises(ValueError, match="width"):
        motif_window(matrix, width=0)


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


###  the default method names the planted motif (trained simulated fixture)

# The JASPAR matrix planted for each task of tests/explain/conftest.py's SIM_TASKS.
PLANTED = {"CTCF": "MA0139.2", "REST": "MA0138.3"}


@pytest.fixture(scope="module")
def jaspar() -> list:
    return load_database("jaspar:2024:CORE:vertebrates")


def planted_q(motifs: list[np.ndarray], task: str, database: list) -> np.ndarray:
    """TomTom q-value of the task's planted JASPAR matrix for each motif."""
    queries = [Motif(f"{task}_{i}", task, m) for i, m in enumerate(motifs)]
    table = tomtom(queries, database, thresh=None)
    table = table[table["target_id"] == PLANTED[task]].sort_values("query_index")
    return table["q_value"].to_numpy()


def test_default_method_names_the_planted_motif_of_every_task(trained_sim, jaspar):
    """Design sequences for each task of the trained fixture, cut out the motif window,
    and ask TomTom (against all 879 JASPAR CORE vertebrate matrices) for the planted one.

    200 steps instead of 1000: every one of 4 starts x 2 tasks x 4 seeds matched at 100
    steps (q < 1e-3), and 31 of 32 at 50 (measured while writing this test).
    """
    model = trained_sim.model
    result = optimize_class(model, n_steps=200, random_state=0)
    assert result.targets == [0, 1] and result.matrix.shape == (4, 4, 100, 2)
    assert np.all(result.scores > 0.99)  # every start is a confident positive
    for k, task in enumerate(trained_sim.target_labels):
        q = planted_q([result.motif(k, i) for i in range(4)], task, jaspar)
        assert np.all(q < 0.05), f"{task}: q-values of the planted {PLANTED[task]}: {q}"


def test_methods_write_side_by_side(trained_sim, tmp_path):
    """demo then sequence through the step: each keeps its folder and its manifest entry."""
    run_dir = shutil.copytree(trained_sim.run_dir, tmp_path / "run")
    demo = optimize_step(
        run_dir, targets="CTCF", method="demo", n_steps=20, n=2, db=None, verbose=False
    )
    demo_files = {p.name: p.read_bytes() for p in demo.folder.iterdir()}
    seq = optimize_step(run_dir, n_steps=200, verbose=False)  # the default method
    assert seq.method == "sequence" and demo.folder != seq.folder
    assert demo.folder == run_dir / "explain" / "optimize" / "demo"
    assert seq.folder == run_dir / "explain" / "optimize" / "sequence"
    # the second method left the first one's files as they were
    assert {p.name: p.read_bytes() for p in demo.folder.iterdir()} == demo_files
    assert sorted(p.name for p in demo.folder.glob("*.meme")) == ["CTCF.meme"]
    assert sorted(p.name for p in seq.folder.glob("*.meme")) == ["CTCF.meme", "REST.meme"]
    assert (seq.folder / "CTCF.png").is_file() and (seq.folder / "CTCF_motif.png").is_file()
    steps = Run(run_dir).steps()
    assert steps["optimize/demo"]["method"] == "demo" and steps["optimize/demo"]["starts"] == 2
    assert steps["optimize/sequence"]["method"] == "sequence"
    assert steps["optimize/sequence"]["outputs"] == ["explain/optimize/sequence/"]
    # the table names each task's best motif after its planted factor
    table = pd.read_csv(seq.table, sep="\t")
    best = table[table["start"] == 0].set_index("target")
    for task in ("CTCF", "REST"):
        assert best.loc[task, "match_name"] == task and best.loc[task, "match_q"] < 0.05
        lo, hi = best.loc[task, "motif_start"], best.loc[task, "motif_end"]
        assert len(best.loc[task, "motif"]) == hi - lo
    assert (table["match_q"].dropna() <= 0.1).all()  # the step's q threshold
    # the MEME file holds the motif windows, readable back, best first
    motifs, _ = read_meme(seq.folder / "CTCF.meme")
    assert [m.id for m in motifs] == [f"CTCF_{i}" for i in range(4)]
    assert (
        motifs[0].probs.shape[1] == best.loc["CTCF", "motif_end"] - best.loc["CTCF", "motif_start"]
    )
    lines = seq.summary().splitlines()
    assert lines[1].split()[0] == "CTCF" and "CTCF (MA" in lines[1]
    demo_table = pd.read_csv(demo.table, sep="\t")
    assert demo_table["match_id"].isna().all()  # no database asked for


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

    result = optimize_class(model, targets=0, method="demo", n_sequences=1, random_state=0)
    r, _, _ = best_window(result.matrix[0, ..., 0], ctcf)
    assert r >= 0.7, f"best window of the optimised matrix matches CTCF with r = {r:.3f}"
    assert result.scores[0, 0] > 0.9  # its consensus sequence is predicted positive
