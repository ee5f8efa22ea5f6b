"""Train / valid / test assignment by chromosome and at random."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from motiflens.data.splits import SPLITS, split_by_chromosome, split_random


def test_split_names():
    assert SPLITS == ("train", "valid", "test")


def test_chromosome_split_exactly_as_given():
    chroms = ["chr1", "chr8", "chr9", "chr2", "chr8", "chrX", "chr9", "chr10"]
    out = split_by_chromosome(chroms, valid_chroms=["chr8", "chrX"], test_chroms=["chr9"])
    assert list(out) == ["train", "valid", "test", "train", "valid", "valid", "test", "train"]


def test_chromosome_split_defaults_hold_out_chr8_and_chr9():
    out = split_by_chromosome(np.array(["chr8", "chr9", "chr18", "chr19", "chr1"]))
    # no prefix matching: chr18 and chr19 stay in training
    assert list(out) == ["valid", "test", "train", "train", "train"]


def test_chromosome_split_empty_held_out_lists():
    assert list(split_by_chromosome(["chr1", "chr2"], valid_chroms=[], test_chroms=[])) == [
        "train",
        "train",
    ]


def test_chromosome_split_overlap_is_an_error():
    with pytest.raises(ValueError, match="chr8"):
        split_by_chromosome(["chr1"], valid_chroms=["chr8", "chr2"], test_chroms=["chr8"])


@pytest.mark.parametrize(
    ("n", "valid", "test", "expected"),
    [
        (100, 0.1, 0.2, (70, 10, 20)),
        (1000, 0.05, 0.05, (900, 50, 50)),
        (10, 0.0, 0.3, (7, 0, 3)),
        (50, 5, 7, (38, 5, 7)),  # integer counts
        (50, 5.0, 1, (44, 5, 1)),  # whole floats are counts too
        (20, 0.25, 3, (12, 5, 3)),  # a fraction and a count
        (30, 10, 20, (0, 10, 20)),  # everything held out
        (0, 0.1, 0.1, (0, 0, 0)),
        (3, 0.5, 0.5, (0, 2, 1)),  # fractions adding to 1 never over-assign by rounding
        (5, 0.3, 0.7, (0, 2, 3)),
        (7, 0.5, 0.5, (0, 4, 3)),
        (21657, 0.1, 0.1, (17325, 2166, 2166)),  # each share rounded on its own
    ],
)
def test_random_split_counts(n, valid, test, expected):
    out = split_random(n, valid=valid, test=test, seed=4)
    assert len(out) == n
    counts = Counter(out)
    assert (counts["train"], counts["valid"], counts["test"]) == expected


def test_random_split_is_deterministic_per_seed():
    a = split_random(500, 0.1, 0.1, seed=1)
    b = split_random(500, 0.1, 0.1, seed=1)
    c = split_random(500, 0.1, 0.1, seed=2)
    assert list(a) == list(b)
    assert list(a) != list(c)
    # a random choice, not the first rows
    assert set(a[:50]) != {"valid"}


@pytest.mark.parametrize(
    ("valid", "test", "match"),
    [
        (6, 5, "exceed the 10"),
        (10, 1, "exceed the 10"),
        (0.6, 5, "exceed the 10"),
        (-1, 0, "non-negative"),
        (0.1, -0.2, "non-negative"),
        (2.5, 0, "neither a fraction"),
    ],
)
def test_random_split_errors(valid, test, match):
    with pytest.raises(ValueError, match=match):
        split_random(10, valid=valid, test=test)


@given(
    st.integers(1, 400),
    st.floats(0, 1, exclude_max=True),
    st.floats(0, 1, exclude_max=True),
    st.integers(0, 2**31),
)
@example(3, 0.5, 0.5, 0)
@example(5, 0.3, 0.7, 0)
@settings(max_examples=80, deadline=None)
def test_random_split_fractions_that_fit_never_fail(n, valid, test, seed):
    # fractions that add up to at most 1 must always give a valid split, whatever rounding
    if valid + test > 1:
        return
    out = split_random(n, valid=valid, test=test, seed=seed)
    counts = Counter(out)
    assert sum(counts.values()) == n
    assert abs(counts["valid"] - valid * n) <= 1
    assert abs(counts["test"] - test * n) <= 1
