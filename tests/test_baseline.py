"""The k-mer baseline: counts checked by hand and by brute force, a planted 6-mer learned."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from motiflens.baseline import (
    KmerBaseline,
    fit_kmer_baseline,
    kmer_baseline,
    kmer_counts,
    kmer_names,
    n_kmer_features,
)
from motiflens.data.hdf5 import write_dataset
from motiflens.errors import InputError
from tests.toy_models import onehot, random_sequences

COMPLEMENT = str.maketrans("ACGT", "TGCA")


def rc(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def counts_of(seq: str, k: int) -> dict[str, float]:
    row = kmer_counts(onehot(seq)[None], k=k).toarray()[0]
    return {name: value for name, value in zip(kmer_names(k), row, strict=True) if value}


def brute_force(seq: str, k: int) -> dict[str, float]:
    """Each k-mer counted on both strands, then keyed by the first of it and its reverse
    complement in alphabetical order: the definition, with no shortcuts."""
    out: dict[str, float] = {}
    for strand in (seq, rc(seq)):
        for size in range(1, k + 1):
            for i in range(len(strand) - size + 1):
                word = strand[i : i + size]
                if set(word) <= set("ACGT") and word == min(word, rc(word)):
                    out[word] = out.get(word, 0) + 1
    return out


def test_kmer_counts_by_hand():
    # ACGTT, forward windows: k=1 A C G T T; k=2 AC CG GT TT; k=3 ACG CGT GTT.
    # Reverse strand AACGT: A A C G T; AA AC CG GT; AAC ACG CGT.
    # Canonical: A (A, T): 1 + 2 on the forward strand = 3; C (C, G) = 2;
    # AA (AA, TT) = 1; AC (AC, GT) = 2; CG palindrome: once per strand = 2;
    # AAC (AAC, GTT) = 1; ACG (ACG, CGT) = 2.
    expected = {"A": 3, "C": 2, "AA": 1, "AC": 2, "CG": 2, "AAC": 1, "ACG": 2}
    assert counts_of("ACGTT", 3) == expected
    # An unknown base breaks every window over it: ACNGT has 2-mers AC and GT only.
    assert counts_of("ACNGT", 2) == {"A": 2, "C": 2, "AC": 2}


def test_feature_names_and_number():
    # 1-mers: A/T, C/G. 2-mers: 16, of which 4 palindromes (AT, CG, GC, TA): 6 pairs + 4.
    assert kmer_names(2) == ["A", "C", "AA", "AC", "AG", "AT", "CA", "CC", "CG", "GA", "GC", "TA"]
    # odd k: 4^k / 2; even k: (4^k - 4^(k/2)) / 2 + 4^(k/2)
    assert n_kmer_features(6) == 2 + 10 + 32 + 136 + 512 + 2080 == len(kmer_names(6))


def test_kmer_counts_match_brute_force_on_random_sequences():
    seqs = random_sequences(6, 23, random_state=4)
    seqs[0] = seqs[0][:10] + "N" + seqs[0][11:]
    for seq in seqs:
        assert counts_of(seq, 4) == brute_force(seq, 4)
    # batches of any size give the same matrix
    x = np.stack([onehot(s) for s in seqs])
    np.testing.assert_array_equal(
        kmer_counts(x, 4, batch_size=4).toarray(), kmer_counts(x, 4).toarray()
    )


def planted(
    n: int, length: int, word: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Half the sequences carry ``word`` (on a random strand) at a random place."""
    seqs = random_sequences(n, length, random_state=int(rng.integers(1 << 30)))
    y = (rng.random(n) < 0.5).astype(np.float32)
    for i in np.flatnonzero(y):
        site = word if rng.random() < 0.5 else rc(word)
        p = int(rng.integers(0, length - len(word) + 1))
        seqs[i] = seqs[i][:p] + site + seqs[i][p + len(word) :]
    return np.stack([onehot(s) for s in seqs]), y[:, None]


def test_planted_6mer_is_learned_on_both_strands():
    rng = np.random.default_rng(0)
    word = "CCGGAA"  # GABPA's ETS core; its reverse complement TTCCGG is planted too
    x_train, y_train = planted(800, 60, word, rng)
    x_valid, y_valid = planted(200, 60, word, rng)
    x_test, y_test = planted(400, 60, word, rng)
    baseline = fit_kmer_baseline(x_train, y_train, x_valid, y_valid, target_labels=["ets"])
    p = baseline.predict(x_test)
    assert p.shape == (400, 1) and baseline.fitted.all()
    # a random 60 bp sequence holds CCGGAA or TTCCGG with probability about 2 x 55 / 4096
    # (2.7%), so a few negatives look positive: AUROC close to, not exactly, 1
    assert roc_auc_score(y_test[:, 0], p[:, 0]) > 0.97
    assert baseline.top_kmers(1)["ets"][0][0] in {"CCGGAA", "CCGG", "CGGAA", "CCGGA"}
    # the features are the same on both strands, so are the predictions
    np.testing.assert_allclose(baseline.predict(x_test[:, ::-1, ::-1]), p, rtol=1e-5)
    assert baseline.C[0] in baseline.info["Cs"] and 0.9 < baseline.valid_auroc[0] <= 1


def test_target_with_one_class_gets_no_model_and_nan(tmp_path):
    rng = np.random.default_rng(1)
    x, y = planted(200, 40, "ACGTTG", rng)
    y2 = np.concatenate([y, np.zeros_like(y)], axis=1)  # second target: never positive
    baseline = fit_kmer_baseline(x, y2, target_labels=["m", "never"])
    assert baseline.fitted.tolist() == [True, False]
    assert baseline.info["n_valid"] == 0  # no validation split: the default C
    p = baseline.predict(x[:5])
    assert np.isfinite(p[:, 0]).all() and np.isnan(p[:, 1]).all()
    # saved and read back, it predicts the same (no pickle involved)
    back = KmerBaseline.load(baseline.save(tmp_path / "b.npz"))
    assert back.target_labels == ["m", "never"] and back.k == baseline.k
    np.testing.assert_allclose(back.predict(x[:5]), p, rtol=1e-6)


def dataset_with_test_labels(path, test_labels: np.ndarray, rng_seed: int = 2):
    rng = np.random.default_rng(rng_seed)
    codes = rng.integers(0, 4, (1200, 50), dtype=np.uint8)
    y = (rng.random(1200) < 0.5).astype(np.int8)
    motif = np.array([0, 1, 2, 3, 3, 2], dtype=np.uint8)  # ACGTTG
    for i in np.flatnonzero(y):
        p = rng.integers(0, 44)
        codes[i, p : p + 6] = motif
    codes[0, 5] = 4  # an unknown base
    splits = {
        "train": (codes[:800], y[:800, None], [f"s{i}" for i in range(800)]),
        "valid": (codes[800:1000], y[800:1000, None], [f"v{i}" for i in range(200)]),
        "test": (codes[1000:], test_labels[:, None], [f"t{i}" for i in range(200)]),
    }
    return write_dataset(path, splits, ["motif"]), codes[1000:], y[1000:]


def test_kmer_baseline_fits_on_train_chooses_on_valid_never_reads_test(tmp_path):
    rng = np.random.default_rng(3)
    first, test_codes, truth = dataset_with_test_labels(tmp_path / "a.h5", np.zeros(200, np.int8))
    other, _, _ = dataset_with_test_labels(
        tmp_path / "b.h5", (rng.random(200) < 0.5).astype(np.int8)
    )
    a, b = kmer_baseline(first), kmer_baseline(other)
    # the test labels differ, the fit does not
    np.testing.assert_array_equal(a.coef, b.coef)
    assert a.C[0] == b.C[0] and a.info["chosen_on"] == "valid"
    assert a.info["n_train"] == 800 and a.info["n_valid"] == 200
    x = np.eye(4, dtype=np.float32)[test_codes].transpose(0, 2, 1)
    assert roc_auc_score(truth, a.predict(x)[:, 0]) > 0.95


def test_max_train_takes_a_subset(tmp_path):
    path, _, _ = dataset_with_test_labels(tmp_path / "a.h5", np.zeros(200, np.int8))
    assert kmer_baseline(path, max_train=150, k=3).info["n_train"] == 150


def test_continuous_targets_are_refused(tmp_path):
    codes = np.zeros((10, 20), np.uint8)
    splits = {"train": (codes, np.linspace(0, 1, 10)[:, None], [str(i) for i in range(10)])}
    path = write_dataset(tmp_path / "c.h5", splits, ["signal"], continuous=True)
    with pytest.raises(InputError, match="continuous"):
        kmer_baseline(path)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_all_kmers_of_one_length_are_columns(k):
    # every k-mer string maps to the column of its canonical form
    names = kmer_names(k)[n_kmer_features(k - 1) :]
    expected = sorted({min(w, rc(w)) for w in map("".join, itertools.product("ACGT", repeat=k))})
    assert names == expected
