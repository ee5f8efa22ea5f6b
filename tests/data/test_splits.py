"""Train / valid / test assignment by chromosome and at random."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from motiflens.data.splits import (
    SPLITS,
    check_chromosome_split,
    describe_chromosomes,
    parse_splits,
    split_by_chromosome,
    split_random,
)
from motiflens.errors import InputError


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
    # the same chromosome in both spellings overlaps too
    with pytest.raises(ValueError, match=r"\['8'\] are both"):
        split_by_chromosome(["chr1"], valid_chroms=["chr8"], test_chroms=["8", "chr9"])


def test_chromosome_names_match_with_or_without_chr():
    chroms = ["8", "chr8", "chr9", "9", "X", "chrX", "chr18", "18"]
    out = split_by_chromosome(chroms, valid_chroms="chr8", test_chroms=["9", "chrX"])
    assert list(out) == ["valid", "valid", "test", "test", "test", "test", "train", "train"]


def test_describe_chromosomes_in_natural_order():
    chroms = ["chr10", "chr2", "chrX", "chr2", "chr1", "chrY", "chr1_random"]
    assert describe_chromosomes(chroms) == (
        "chr1 (1), chr1_random (1), chr2 (2), chr10 (1), chrX (1), chrY (1)"
    )
    assert describe_chromosomes(chroms, limit=2) == "chr1 (1), chr1_random (1) and 4 more"


def test_check_chromosome_split_names_the_empty_split():
    chroms = ["chr1", "chr2", "chr2", "chr3"]
    assigned = split_by_chromosome(chroms, valid_chroms=["chr2"], test_chroms=["chr7"])
    with pytest.raises(InputError) as info:
        check_chromosome_split(
            assigned, chroms, valid_chroms=["chr2"], test_chroms=["chr7"], path="x.tsv"
        )
    message = str(info.value)
    assert message.startswith("x.tsv: no record is on the test chromosomes (chr7)")
    assert "chr1 (1), chr2 (2), chr3 (1)" in message
    # not required, not checked
    check_chromosome_split(
        assigned, chroms, valid_chroms=["chr2"], test_chroms=[], required=("train", "valid")
    )
    everything = split_by_chromosome(chroms, valid_chroms=["chr1", "chr2"], test_chroms=["chr3"])
    with pytest.raises(InputError, match="train split is empty"):
        check_chromosome_split(everything, chroms, valid_chroms=["chr1"], test_chroms=["chr3"])


def test_parse_splits_any_case():
    values = ["train", "Training", " VALIDATION ", "val", "Valid", "TEST", "testing"]
    expected = ["train", "train", "valid", "valid", "valid", "test", "test"]
    assert parse_splits(values) == expected


@pytest.mark.parametrize("value", ["holdout", "", "tr", "validate", "1"])
def test_parse_splits_rejects_other_values(value):
    with pytest.raises(InputError) as info:
        parse_splits(["train", value], path="s.tsv", lines=[2, 5], column="set")
    message = str(info.value)
    assert message.startswith(f"s.tsv:5: split {value!r} in column 'set' is not one of")
    assert "train, training, valid, validation, val, test, testing" in message


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
