"""Train / valid / test assignment: by held-out chromosomes or at random."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "valid", "test")


def split_by_chromosome(
    chroms: Sequence[str] | np.ndarray,
    valid_chroms: Sequence[str] = ("chr8",),
    test_chroms: Sequence[str] = ("chr9",),
) -> np.ndarray:
    """Assign each region to a split by its chromosome.

    Parameters
    ----------
    chroms
        Chromosome of each region.
    valid_chroms, test_chroms
        Chromosomes held out for validation and test; all others train.

    Returns
    -------
    numpy.ndarray
        Split name per region (``"train"``, ``"valid"`` or ``"test"``).
    """
    overlap = set(valid_chroms) & set(test_chroms)
    if overlap:
        raise ValueError(f"chromosomes {sorted(overlap)} are both validation and test")
    chroms = np.asarray(chroms)
    out = np.full(chroms.shape, "train", dtype=object)
    out[np.isin(chroms, list(valid_chroms))] = "valid"
    out[np.isin(chroms, list(test_chroms))] = "test"
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
