"""Train / valid / test assignment: by held-out chromosomes, at random, or as a file says."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from motiflens.errors import InputError

SPLITS = ("train", "valid", "test")

#: Values a split column may hold (compared case-insensitively) and the split each means.
SPLIT_VALUES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "test": "test",
    "testing": "test",
}


def same_chromosome(names: str | Iterable[str]) -> set[str]:
    """Both spellings of each chromosome name, so that ``chr8`` matches ``8`` and back."""
    names = [names] if isinstance(names, str) else list(names)
    out = set()
    for name in names:
        out.add(name)
        out.add(name[3:] if name.startswith("chr") else f"chr{name}")
    return out


def split_by_chromosome(
    chroms: Sequence[str] | np.ndarray,
    valid_chroms: str | Sequence[str] = ("chr8",),
    test_chroms: str | Sequence[str] = ("chr9",),
) -> np.ndarray:
    """Assign each region to a split by its chromosome.

    Parameters
    ----------
    chroms
        Chromosome of each region.
    valid_chroms, test_chroms
        Chromosomes held out for validation and test; all others train. A name matches
        with or without its ``chr`` prefix (``chr8`` matches ``8``), never by prefix
        (``chr1`` does not match ``chr18``).

    Returns
    -------
    numpy.ndarray
        Split name per region (``"train"``, ``"valid"`` or ``"test"``).

    Raises
    ------
    ValueError
        If a chromosome is held out for both validation and test.
    """
    valid_set, test_set = same_chromosome(valid_chroms), same_chromosome(test_chroms)
    tests = [test_chroms] if isinstance(test_chroms, str) else list(test_chroms)
    overlap = [c for c in tests if same_chromosome(c) & valid_set]
    if overlap:
        raise ValueError(f"chromosomes {sorted(overlap)} are both validation and test")
    chroms = np.asarray(chroms)
    out = np.full(chroms.shape, "train", dtype=object)
    out[np.isin(chroms, list(valid_set))] = "valid"
    out[np.isin(chroms, list(test_set))] = "test"
    return out


def _natural_key(name: str) -> tuple:
    # chr2 before chr10; numbers before letters within a position
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))


def describe_chromosomes(chroms: Iterable[str], limit: int = 30) -> str:
    """``chr1 (12), chr2 (3), ...`` in natural order, at most ``limit`` named."""
    counts = Counter(chroms)
    names = sorted(counts, key=_natural_key)
    shown = ", ".join(f"{c} ({counts[c]})" for c in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown


def check_chromosome_split(
    assigned: np.ndarray,
    chroms: Sequence[str] | np.ndarray,
    *,
    valid_chroms: Sequence[str],
    test_chroms: Sequence[str],
    required: Sequence[str] = SPLITS,
    path: str | Path | None = None,
) -> None:
    """Refuse a chromosome split that leaves a required split empty.

    Parameters
    ----------
    assigned
        Split name per region (:func:`split_by_chromosome`).
    chroms
        Chromosome per region.
    valid_chroms, test_chroms
        The held-out chromosomes, as given (for the message).
    required
        Splits that must not be empty.
    path
        The file(s) the regions came from (for the message).

    Raises
    ------
    InputError
        Naming the empty split, its chromosomes and the chromosomes present (with counts).
    """
    held = {"valid": list(valid_chroms), "test": list(test_chroms)}
    for split in required:
        if (assigned == split).any():
            continue
        if split == "train":
            what = "every record is on a held-out chromosome, so the train split is empty"
        else:
            names = ", ".join(held[split]) or "none"
            what = f"no record is on the {split} chromosomes ({names}), so that split is empty"
        raise InputError(
            f"{what}; the records are on {describe_chromosomes(chroms)}",
            path=path,
            hint="choose --valid-chrom/--test-chrom (valid_chroms/test_chroms) among the "
            "chromosomes present",
        )


def parse_splits(
    values: Sequence[str],
    *,
    path: str | Path | None = None,
    lines: Sequence[int] | None = None,
    column: str | None = None,
) -> list[str]:
    """Split names from a file's split column (``training`` -> ``train``, ...).

    Parameters
    ----------
    values
        One value per record; any case, surrounding spaces ignored. Accepted:
        ``train``/``training``, ``valid``/``validation``/``val``, ``test``/``testing``.
    path, lines, column
        Where the values came from (for the message).

    Returns
    -------
    list of str
        ``"train"``, ``"valid"`` or ``"test"`` per record.

    Raises
    ------
    InputError
        On the first value that is not accepted, naming its line and the accepted values.
    """
    out = []
    for i, value in enumerate(values):
        split = SPLIT_VALUES.get(value.strip().lower())
        if split is None:
            where = f" in column {column!r}" if column else ""
            raise InputError(
                f"split {value!r}{where} is not one of {', '.join(SPLIT_VALUES)}",
                path=path,
                line=None if lines is None else lines[i],
                hint="mark each row train, valid or test (any case; training, validation, "
                "val and testing also work)",
            )
        out.append(split)
    return out


def _as_count(value: float, n: int, what: str) -> int:
    if value < 0:
        raise ValueError(f"{what} must be non-negative, got {value}")
    if value < 1 or (isinstance(value, float) and not float(value).is_integer()):
        if value >= 1:
            raise ValueError(f"{what} {value} is neither a fraction below 1 nor a whole count")
        return round(value * n)
    return int(value)


def split_random(n: int, valid: float = 0.1, test: float = 0.1, seed: int = 1) -> np.ndarray:
    """Assign ``n`` regions to splits at random.

    Parameters
    ----------
    n
        Number of regions.
    valid, test
        Fractions (below 1) or counts (whole numbers >= 1) for validation and test.
    seed
        Seed of the permutation.

    Returns
    -------
    numpy.ndarray
        Split name per region.
    """
    n_valid = _as_count(valid, n, "valid")
    n_test = _as_count(test, n, "test")
    if valid < 1 and test < 1 and valid + test <= 1 + 1e-9 and n_valid + n_test > n:
        # Fractions that fit can overshoot only by rounding each one up (n=3 with 0.5 + 0.5
        # gives 2 + 2); take the excess off the test share rather than refuse.
        n_test = n - n_valid
    if n_valid + n_test > n:
        raise ValueError(f"valid ({n_valid}) + test ({n_test}) exceed the {n} regions")
    order = np.random.default_rng(seed).permutation(n)
    out = np.full(n, "train", dtype=object)
    out[order[:n_valid]] = "valid"
    out[order[n_valid : n_valid + n_test]] = "test"
    return out
