"""Simulated datasets: planted sites are real motif instances, labels follow the grammar."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest

from motiflens.data.simulate import (
    DEFAULT_TASKS,
    TaskSpec,
    estimate_markov,
    read_ground_truth,
    read_simulation_config,
    simulate,
)
from motiflens.errors import InputError
from motiflens.motifs.databases import jaspar_motif

PAIR_TASK = "SOX2-OCT4_pair"


def jaspar_probs(matrix_id: str) -> np.ndarray:
    """Column frequencies straight from pyjaspar (independent of the simulator's loader)."""
    from pyjaspar import jaspardb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        motif = jaspardb(release="JASPAR2024").fetch_motif_by_id(matrix_id)
    counts = np.array([motif.counts[b] for b in "ACGT"], dtype=float)
    return (counts + 0.25) / (counts.sum(axis=0) + 1.0)


def stored_codes(path, split: str) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        onehot = h5[f"{split}_in"][:]
    assert (onehot.sum(axis=1) == 1).all()  # simulated sequences hold no N
    return onehot.argmax(axis=1)


def stored_labels(path, split: str) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        return h5[f"{split}_out"][:]


def site_codes(codes: np.ndarray, row) -> np.ndarray:
    """The site's bases read on its own strand."""
    bases = codes[row.seq, row.start : row.end]
    return 3 - bases[::-1] if row.strand == "-" else bases


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney AUROC with average ranks for ties."""
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    pos = labels.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def max_scan(codes: np.ndarray, logodds: np.ndarray) -> np.ndarray:
    """Best log-odds over all windows and both strands, per sequence."""
    w = logodds.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(codes, w, axis=1)
    forward = logodds[windows, np.arange(w)].sum(axis=-1)
    rc = logodds[::-1, ::-1]
    reverse = rc[windows, np.arange(w)].sum(axis=-1)
    return np.maximum(forward, reverse).max(axis=1)


@pytest.fixture(scope="module")
def default_sim(tmp_path_factory):
    """The default tasks at the default size (it takes well under a second)."""
    path = tmp_path_factory.mktemp("sim") / "default.h5"
    summary = simulate(path, seed=3, progress=False)
    return path, summary


def test_summary_and_layout(default_sim):
    path, summary = default_sim
    assert summary.n == {"train": 24000, "valid": 3000, "test": 3000}
    assert summary.target_labels == [t.name for t in DEFAULT_TASKS]
    with h5py.File(path, "r") as h5:
        assert h5["test_in"].shape == (3000, 4, 200)
        assert h5["test_out"].shape == (3000, len(DEFAULT_TASKS))
        assert h5["test_headers"][0].decode().startswith("sim_")
        assert set(h5["simulation/motifs"]) >= {"MA0139.2", "MA0143.5", "MA1115.2"}
    config = read_simulation_config(path)
    assert config["seed"] == 3 and config["length"] == 200
    assert [t["name"] for t in config["tasks"]] == summary.target_labels
    truth = read_ground_truth(path, "valid")
    assert list(truth.columns) == [
        "seq",
        "task",
        "motif_id",
        "motif_name",
        "start",
        "end",
        "strand",
        "role",
    ]
    assert len(truth) == summary.n_sites["valid"]


def test_same_seed_same_data_other_seed_differs(tmp_path):
    tasks = [TaskSpec("CTCF", ["MA0139"]), TaskSpec("pair", ["MA0143.5", "MA1115.2"], spacing=9)]
    paths = [tmp_path / f"{i}.h5" for i in range(3)]
    for p, seed in zip(paths, (5, 5, 6), strict=True):
        simulate(p, tasks=tasks, n_sequences=300, length=100, seed=seed, progress=False)

    def content(p):
        with h5py.File(p, "r") as h5:
            arrays = {k: h5[k][:] for k in h5 if isinstance(h5[k], h5py.Dataset)}
            arrays.update({k: v[:] for k, v in h5["simulation"].items() if k != "motifs"})
        return arrays

    a, b, c = (content(p) for p in paths)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert not np.array_equal(a["train_in"], c["train_in"])
    assert not np.array_equal(a["train_out"], c["train_out"])
    assert not read_ground_truth(paths[0]).equals(read_ground_truth(paths[2]))


def test_sites_hold_motif_instances_on_their_strand(default_sim):
    path, _ = default_sim
    codes = stored_codes(path, "train")
    truth = read_ground_truth(path, "train")
    rng = np.random.default_rng(0)
    for motif_id, sites in truth.groupby("motif_id"):
        probs = jaspar_probs(motif_id)
        w = probs.shape[1]
        assert (sites.end - sites.start == w).all()
        bases = np.stack([site_codes(codes, row) for row in sites.itertuples()])
        # Sites are draws from the PWM: their base frequencies per column are the PWM.
        freq = (bases[:, None, :] == np.arange(4)[None, :, None]).mean(axis=0)
        assert np.abs(freq - probs).max() < 0.1, motif_id
        # Their log-odds scores on the recorded strand average what PWM draws score on
        # average (the relative entropy to uniform bases), within 4 standard errors ...
        logodds = np.log2(probs / 0.25)
        score = logodds[bases, np.arange(w)].sum(axis=1)
        expected = (probs * logodds).sum()
        sd = np.sqrt(((probs * logodds**2).sum(axis=0) - (probs * logodds).sum(axis=0) ** 2).sum())
        assert abs(score.mean() - expected) < 4 * sd / np.sqrt(len(score)), motif_id
        # ... and most are far above chance: beyond the best 0.1% of random windows.
        random_windows = rng.integers(0, 4, size=(100_000, w))
        chance = np.quantile(logodds[random_windows, np.arange(w)].sum(axis=1), 0.999)
        assert np.mean(score > chance) > 0.75, motif_id
        assert np.median(score) > 0.6 * logodds.max(axis=0).sum(), motif_id
        # Read on the other strand the same bases mostly do not match (no motif here is
        # a palindrome scoring as well both ways).
        other = logodds[::-1, ::-1][bases, np.arange(w)].sum(axis=1)
        assert np.median(other) < np.median(score) - 5, motif_id


def test_planted_sites_do_not_overlap(default_sim):
    path, _ = default_sim
    truth = read_ground_truth(path, "train").sort_values(["seq", "start"])
    same_seq = truth.seq.to_numpy()[1:] == truth.seq.to_numpy()[:-1]
    gap = truth.start.to_numpy()[1:] - truth.end.to_numpy()[:-1]
    assert (gap[same_seq] >= 0).all()
    assert truth.start.min() >= 0 and truth.end.max() <= 200


def test_positions_cover_the_sequence_evenly(tmp_path):
    path = tmp_path / "pos.h5"
    tasks = [TaskSpec("AP-1", ["MA0478.2"], positive_rate=1.0)]
    simulate(path, tasks=tasks, n_sequences=3000, length=60, seed=9, progress=False)
    starts = read_ground_truth(path, "train").start.to_numpy()
    # one 10 bp motif in 60 bp: 51 possible starts, each equally likely
    counts = np.bincount(starts, minlength=51)
    assert len(counts) == 51 and counts.min() > 0
    expected = len(starts) / 51
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 100  # 50 degrees of freedom: p < 1e-4 above 100


def test_labels_follow_the_grammar(default_sim):
    path, _ = default_sim
    labels = stored_labels(path, "train")
    truth = read_ground_truth(path, "train")
    n = len(labels)
    for t, task in enumerate(DEFAULT_TASKS):
        sites = truth[truth.task == task.name]
        grammar = sites[sites.role == "grammar"]
        per_seq = np.zeros((n, len(task.motifs)), dtype=int)
        for j, motif_id in enumerate(task.motifs):
            per_seq[:, j] = np.bincount(grammar.seq[grammar.motif_id == motif_id], minlength=n)
        positive = labels[:, t] == 1
        # every positive carries each grammar motif exactly once; negatives carry none
        assert (per_seq[positive] == 1).all(), task.name
        assert (per_seq[~positive] == 0).all(), task.name
        decoys = sites[sites.role == "decoy"]
        if len(task.motifs) == 1:
            assert decoys.empty
            continue
        # decoys sit only in negatives, one motif each, so no negative holds the pair
        assert not positive[decoys.seq].any()
        assert decoys.seq.is_unique
        assert set(decoys.motif_id) == set(task.motifs)
        rate = decoys.seq.nunique() / (~positive).sum()
        assert abs(rate - 0.3) < 0.04


def test_pair_spacing_along_the_strand(default_sim):
    path, _ = default_sim
    task = next(t for t in DEFAULT_TASKS if t.name == PAIR_TASK)
    first, second = task.motifs
    truth = read_ground_truth(path, "train")
    pairs = truth[(truth.task == PAIR_TASK) & (truth.role == "grammar")]
    a = pairs[pairs.motif_id == first].set_index("seq")
    b = pairs[pairs.motif_id == second].set_index("seq").loc[a.index]
    assert len(a) > 100
    assert (a.strand == b.strand).all()
    plus = a.strand == "+"
    assert plus.any() and (~plus).any()
    # + strand: second starts `spacing` after the first; - strand: mirrored, so the
    # first motif's 5' end (its right end) is `spacing` bp to the right of the second's.
    assert ((b.start - a.start)[plus] == task.spacing).all()
    assert ((a.end - b.end)[~plus] == task.spacing).all()


def test_positive_rates_as_requested(tmp_path):
    tasks = [
        TaskSpec("rare", ["MA0139.2"], positive_rate=0.1),
        TaskSpec("common", ["MA0080.7"], positive_rate=0.6),
        TaskSpec("never", ["MA0478.2"], positive_rate=0.0),
    ]
    path = tmp_path / "rates.h5"
    summary = simulate(path, tasks=tasks, n_sequences=4000, length=100, seed=2, progress=False)
    labels = np.concatenate([stored_labels(path, s) for s in ("train", "valid", "test")])
    assert np.abs(labels.mean(axis=0) - [0.1, 0.6, 0.0]).max() < 0.03
    # tasks are drawn independently: joint rate ~ product of rates
    assert abs((labels[:, 0] & labels[:, 1]).mean() - 0.06) < 0.02
    assert summary.positive_rate["never"] == 0.0


def test_background_gc_content(tmp_path):
    path = tmp_path / "gc.h5"
    tasks = [TaskSpec("CTCF", ["MA0139.2"], positive_rate=0.5)]
    simulate(path, tasks=tasks, n_sequences=2000, length=200, gc=0.62, seed=4, progress=False)
    codes = stored_codes(path, "train")
    background = np.ones(codes.shape, dtype=bool)
    for row in read_ground_truth(path, "train").itertuples():
        background[row.seq, row.start : row.end] = False
    gc = np.isin(codes[background], [1, 2]).mean()
    assert abs(gc - 0.62) < 0.01
    # G and C (and A and T) equally likely
    counts = np.bincount(codes[background], minlength=4) / background.sum()
    assert abs(counts[1] - counts[2]) < 0.01 and abs(counts[0] - counts[3]) < 0.01


def _dinucleotide_freq(codes: np.ndarray) -> np.ndarray:
    pairs = codes[:, :-1] * 4 + codes[:, 1:]
    return np.bincount(pairs.ravel(), minlength=16) / pairs.size


def test_markov_background_reproduces_dinucleotides(tmp_path):
    # Reference sequences from a strongly structured order-1 chain (CpG-depleted,
    # A->A and T->T favoured), generated here with a plain loop.
    true = np.array(
        [
            [0.50, 0.15, 0.20, 0.15],
            [0.30, 0.30, 0.05, 0.35],
            [0.25, 0.30, 0.30, 0.15],
            [0.10, 0.20, 0.20, 0.50],
        ]
    )
    rng = np.random.default_rng(0)
    reference = []
    for _ in range(200):
        seq = [int(rng.integers(4))]
        for _ in range(299):
            seq.append(int(rng.choice(4, p=true[seq[-1]])))
        reference.append("".join("ACGT"[b] for b in seq))
    ref_codes = np.array([["ACGT".index(c) for c in s] for s in reference])

    path = tmp_path / "markov.h5"
    tasks = [TaskSpec("none", ["MA0139.2"], positive_rate=0.0)]
    simulate(
        path,
        tasks=tasks,
        n_sequences=1000,
        length=200,
        background="markov",
        markov_order=1,
        background_sequences=reference,
        seed=1,
        progress=False,
    )
    codes = stored_codes(path, "train")
    assert np.abs(_dinucleotide_freq(codes) - _dinucleotide_freq(ref_codes)).max() < 0.006
    # the estimate itself is close to the chain that made the reference
    assert np.abs(estimate_markov(reference, order=1) - true).max() < 0.03
    config = read_simulation_config(path)
    assert config["background"] == "markov" and config["markov_order"] == 1


def test_markov_table_given_directly(tmp_path):
    # order 2 table: after "CG" always "A", otherwise uniform
    table = np.full((16, 4), 0.25)
    table[1 * 4 + 2] = [1, 0, 0, 0]
    path = tmp_path / "table.h5"
    tasks = [TaskSpec("none", ["MA0139.2"], positive_rate=0.0)]
    simulate(
        path,
        tasks=tasks,
        n_sequences=500,
        length=100,
        background="markov",
        markov_table=table,
        seed=1,
        progress=False,
    )
    codes = stored_codes(path, "train")
    after_cg = codes[:, 2:][(codes[:, :-2] == 1) & (codes[:, 1:-1] == 2)]
    assert after_cg.size > 500 and (after_cg == 0).all()


def test_default_dataset_is_learnable_by_a_pwm_scan(default_sim):
    path, _ = default_sim
    codes = stored_codes(path, "test")
    labels = stored_labels(path, "test")
    background = np.array([0.295, 0.205, 0.205, 0.295])  # gc = 0.41
    for t, task in enumerate(DEFAULT_TASKS):
        if len(task.motifs) != 1:
            continue
        logodds = np.log2(jaspar_probs(task.motifs[0]) / background[:, None])
        score = max_scan(codes, logodds)
        assert auroc(score, labels[:, t]) > 0.95, task.name


def test_load_jaspar_motif_resolves_latest_version():
    motif = jaspar_motif("MA0139", pseudocount=0.25)
    name, probs = motif.name, motif.probs
    assert name == "CTCF"
    assert probs.shape == (4, 15)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0)
    np.testing.assert_allclose(probs, jaspar_probs("MA0139.2"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tasks": [TaskSpec("x", ["MA9999.1"])]}, "JASPAR2024 has no matrix 'MA9999.1'"),
        ({"jaspar_release": "JASPAR1999"}, "is not bundled with pyjaspar"),
        ({"tasks": [TaskSpec("x", ["MA0139.2"], positive_rate=1.5)]}, "positive_rate"),
        ({"decoy_rate": -0.1}, "decoy_rate"),
        ({"gc": 2.0}, "gc must lie in"),
        ({"length": 10}, "longer than the sequences"),
        ({"length": 40}, "needs"),
        ({"tasks": [TaskSpec("a", ["MA0139.1"]), TaskSpec("b", ["MA0139.2"])]}, "used by"),
        ({"tasks": [TaskSpec("a", ["MA0143.5", "MA1115.2"], spacing=3)]}, "spacing 3"),
        ({"tasks": [TaskSpec("a", ["MA0143.5"], spacing=10)]}, "exactly two motifs"),
        ({"tasks": [TaskSpec("a", ["MA0139.2"]), TaskSpec("a", ["MA0080.7"])]}, "unique"),
        ({"background": "markov"}, "background_sequences"),
        ({"background": "uniform"}, "unknown background"),
        ({"background": "markov", "markov_table": np.ones((5, 4))}, "shape"),
    ],
)
def test_bad_input_is_explained(tmp_path, kwargs, message):
    path = tmp_path / "bad.h5"
    with pytest.raises(InputError, match=message):
        simulate(path, n_sequences=50, progress=False, **kwargs)
    assert not path.exists()


def test_reading_ground_truth_from_other_files(tmp_path, default_sim):
    from motiflens.data.hdf5 import write_dataset

    plain = tmp_path / "plain.h5"
    codes = np.zeros((3, 10), dtype=np.uint8)
    write_dataset(plain, {"train": (codes, np.zeros((3, 1)), ["a", "b", "c"])}, ["t"])
    with pytest.raises(InputError, match="no simulation ground truth"):
        read_ground_truth(plain)
    with pytest.raises(InputError, match="no ground truth for split 'nope'"):
        read_ground_truth(default_sim[0], "nope")
    with h5py.File(default_sim[0], "r") as h5:
        config = json.loads(h5["simulation"].attrs["config"])
    assert config["tasks"][3]["spacing"] == 10
