"""Dinucleotide shuffle: exact dinucleotide counts, fixed ends, and uniform over valid sequences."""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motiflens.sequence.shuffle import dinucleotide_shuffle

SETTINGS = settings(max_examples=80, deadline=None)


def dinucleotides(s: str) -> Counter:
    return Counter(pairwise(s))


def distinct_permutations(s: str) -> list[str]:
    """Every distinct rearrangement of the letters of ``s`` (brute force, by recursion)."""
    out: list[str] = []

    def extend(prefix: list[str], left: Counter) -> None:
        if not any(left.values()):
            out.append("".join(prefix))
            return
        for letter in sorted(left):
            if left[letter]:
                left[letter] -= 1
                prefix.append(letter)
                extend(prefix, left)
                prefix.pop()
                left[letter] += 1

    extend([], Counter(s))
    return out


@given(st.text(alphabet="ACGT", max_size=120), st.integers(0, 2**32 - 1))
@SETTINGS
def test_preserves_dinucleotides_and_ends(seq, seed):
    out = dinucleotide_shuffle(seq, seed)
    assert len(out) == len(seq)
    assert dinucleotides(out) == dinucleotides(seq)
    assert Counter(out) == Counter(seq)
    if seq:
        assert out[0] == seq[0]
        assert out[-1] == seq[-1]


@given(st.text(alphabet="ACGTNacgtn", min_size=1, max_size=60), st.integers(0, 1000))
@SETTINGS
def test_any_letters_and_case_are_kept(seq, seed):
    out = dinucleotide_shuffle(seq, np.random.default_rng(seed))
    assert dinucleotides(out) == dinucleotides(seq)
    assert (out[0], out[-1]) == (seq[0], seq[-1])


def test_short_sequences_are_returned_as_they_are():
    assert dinucleotide_shuffle("", 0) == ""
    assert dinucleotide_shuffle("A", 0) == "A"
    assert dinucleotide_shuffle("AC", 0) == "AC"


def test_seeds_differ_and_repeat():
    seq = "".join(np.random.default_rng(7).choice(list("ACGT"), size=300))
    outs = {dinucleotide_shuffle(seq, seed) for seed in range(6)}
    assert len(outs) == 6
    assert seq not in outs
    assert dinucleotide_shuffle(seq, 3) == dinucleotide_shuffle(seq, 3)


def test_generator_state_advances():
    seq = "".join(np.random.default_rng(8).choice(list("ACGT"), size=200))
    rng = np.random.default_rng(0)
    assert dinucleotide_shuffle(seq, rng) != dinucleotide_shuffle(seq, rng)


@pytest.mark.parametrize(
    ("seq", "n_valid"),
    [
        ("AAACAAGAAT", 30),  # self-loops on A
        ("AATTAATTGA", 36),  # the last letter also has exits of its own
        ("GATTACAGAT", 12),
    ],
)
def test_uniform_over_all_valid_sequences(seq, n_valid):
    # The valid set, by brute force: rearrangements with the same first letter and the
    # same dinucleotide counts (the Eulerian paths of the dinucleotide multigraph).
    target = dinucleotides(seq)
    valid = {p for p in distinct_permutations(seq) if p[0] == seq[0] and dinucleotides(p) == target}
    assert len(valid) == n_valid  # sanity check of the brute force itself
    per_sequence = 400
    draws = n_valid * per_sequence
    rng = np.random.default_rng(12345)
    counts = Counter(dinucleotide_shuffle(seq, rng) for _ in range(draws))
    assert set(counts) == valid
    # Chi-square against uniform: mean k-1, sd sqrt(2(k-1)); allow 6 sd.
    k = n_valid
    chi2 = sum((c - per_sequence) ** 2 / per_sequence for c in counts.values())
    assert chi2 < (k - 1) + 6 * math.sqrt(2 * (k - 1)), (chi2, counts)
    # and no single sequence off by more than 30% (about 6 sd at 400 expected)
    assert min(counts.values()) > 0.7 * per_sequence
    assert max(counts.values()) < 1.3 * per_sequence
