"""Position weight matrices: counts, probabilities, log-odds, information content, trimming.

Every matrix is a float array of shape ``(4, w)`` with rows A, C, G, T, the same channel order
as the project's one-hot ``(N, 4, L)``. A background is a length-4 array of base frequencies
summing to 1 (uniform when ``None``).

Information content differs from Basset on purpose. Basset's ``basset_motifs.py`` computes
``sum_b -bg_b log2(bg_b) + p_b log2(p_b + 1e-9)`` with ``bg = (0.585, 0.415, 0.415, 0.585)``;
that vector sums to 2, not 1 (reference §1.8 item 8), so its "IC" is not a relative entropy and
is about 1 bit per column higher than the uniform-background value. motiflens uses the relative
entropy ``sum_b p_b log2(p_b / bg_b)`` with a background that must sum to 1: 0 for a column equal
to the background, ``2 - H`` for a uniform background. :func:`basset_information_content`
reproduces Basset's number for comparisons with its tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALPHABET",
    "Motif",
    "basset_information_content",
    "check_background",
    "check_probs",
    "consensus",
    "counts_to_probs",
    "information_content",
    "log_odds",
    "pwm_from_sites",
    "reverse_complement_probs",
    "trim",
    "trim_matrix",
]

ALPHABET = "ACGT"
UNIFORM = np.full(4, 0.25)
# Default IC cut (bits) for trimming and for calling a consensus base: Basset's -t value.
MIN_IC = 0.2


@dataclass(eq=False)
class Motif:
    """A DNA motif as a probability matrix (compared by identity: arrays have no plain ``==``).

    Attributes
    ----------
    id
        Identifier (MEME ``MOTIF`` first field; JASPAR matrix id with version, e.g. MA0139.2).
    name
        Human name (MEME alternate name; JASPAR TF name). Equal to ``id`` when there is none.
    probs
        ``(4, w)`` float64 probabilities, rows A, C, G, T; every column sums to 1.
    nsites
        Number of sites the matrix was built from, if known.
    url
        A link to the motif's page, if known.
    """

    id: str
    name: str
    probs: np.ndarray
    nsites: int | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        self.probs = check_probs(self.probs, what=f"motif {self.id!r}")

    @property
    def width(self) -> int:
        """Number of positions."""
        return int(self.probs.shape[1])

    def reverse_complement(self) -> Motif:
        """The motif of the opposite strand (same id, name, nsites and url)."""
        return Motif(
            self.id, self.name, reverse_complement_probs(self.probs), self.nsites, self.url
        )

    def trimmed(self, min_ic: float = MIN_IC, background: np.ndarray | None = None) -> Motif:
        """The motif without its low-information ends (see :func:`trim`).

        Raises ValueError when no position reaches ``min_ic`` (a motif cannot be empty).
        """
        start, end = trim(self.probs, min_ic, background)
        if start == end:
            raise ValueError(f"motif {self.id!r}: no position reaches {min_ic} bits")
        return Motif(self.id, self.name, self.probs[:, start:end], self.nsites, self.url)

    def information_content(self, background: np.ndarray | None = None) -> np.ndarray:
        """Per-position information content in bits, see :func:`information_content`."""
        return information_content(self.probs, background)

    def consensus(self, min_ic: float = MIN_IC, background: np.ndarray | None = None) -> str:
        """Consensus string, see :func:`consensus`."""
        return consensus(self.probs, min_ic=min_ic, background=background)


def check_probs(probs: np.ndarray, *, what: str = "matrix", atol: float = 1e-3) -> np.ndarray:
    """Return ``probs`` as float64 ``(4, w)``, or raise ValueError naming ``what``.

    Entries must be finite and >= 0 and every column must sum to 1 within ``atol``.
    """
    arr = np.array(probs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 4 or arr.shape[1] < 1:
        raise ValueError(f"{what}: expected a (4, w) probability matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{what}: not a probability matrix (entries must be finite and >= 0)")
    sums = arr.sum(axis=0)
    if not np.allclose(sums, 1.0, atol=atol):
        bad = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"{what}: not a probability matrix (column {bad} sums to {sums[bad]:.4g}, not 1)"
        )
    return arr


def check_background(background: np.ndarray | None) -> np.ndarray:
    """Return the background as a float64 length-4 array summing to 1 (uniform for ``None``)."""
    if background is None:
        return UNIFORM.copy()
    bg = np.array(background, dtype=np.float64).reshape(-1)
    if bg.shape != (4,) or not np.all(np.isfinite(bg)) or np.any(bg <= 0):
        raise ValueError(f"background must be 4 positive frequencies (A, C, G, T), got {bg}")
    if not np.isclose(bg.sum(), 1.0, atol=1e-3):
        # Basset's bg vector sums to 2 (reference §1.8): refuse rather than silently rescale.
        raise ValueError(f"background must sum to 1, got {bg.sum():.4g} ({bg})")
    return bg / bg.sum()


def counts_to_probs(counts: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Column-normalise a ``(4, w)`` count matrix, adding ``pseudocount`` to every cell first.

    Parameters
    ----------
    counts
        ``(4, w)`` non-negative counts (rows A, C, G, T).
    pseudocount
        Added to every count before normalising.

    Returns
    -------
    numpy.ndarray
        ``(4, w)`` float64 probabilities.
    """
    arr = np.asarray(counts, dtype=np.float64) + pseudocount
    if arr.ndim != 2 or arr.shape[0] != 4:
        raise ValueError(f"expected a (4, w) count matrix, got shape {arr.shape}")
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError("counts must be finite and >= 0")
    totals = arr.sum(axis=0)
    if np.any(totals <= 0):
        raise ValueError(
            f"column {int(np.argmin(totals))} has no counts; "
            "use a pseudocount > 0 for empty columns"
        )
    return arr / totals


def pwm_from_sites(sites: np.ndarray, pseudocount: float = 1.0) -> np.ndarray:
    """Probability matrix from aligned one-hot sites (Basset's ``make_filter_pwm``).

    Counts start at ``pseudocount`` per base per position; each site adds its one-hot column,
    an unknown base (0.25 in all four rows) adds 0.25 to each base. With ``n`` sites the
    probabilities are ``counts / (n + 4 * pseudocount)``, Basset's ``/(n_sites + 4)`` for the
    default pseudocount of 1.

    Parameters
    ----------
    sites
        ``(n, 4, w)`` one-hot float array (``n`` may be 0: the result is then uniform).
    pseudocount
        Count added to every base at every position; > 0 when ``n`` may be 0.

    Returns
    -------
    numpy.ndarray
        ``(4, w)`` float64 probabilities.
    """
    arr = np.asarray(sites, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1] != 4:
        raise ValueError(f"expected sites of shape (n, 4, w), got {arr.shape}")
    counts = arr.sum(axis=0) + pseudocount
    # Every site column sums to 1, so counts.sum(axis=0) == n + 4 * pseudocount.
    return counts_to_probs(counts)


def log_odds(
    probs: np.ndarray, background: np.ndarray | None = None, pseudocount: float = 0.01
) -> np.ndarray:
    """Log-odds matrix ``log2(p' / bg)`` in bits.

    ``p' = (p + pseudocount * bg) / (1 + pseudocount)``: the pseudocount is spread over the
    bases in proportion to the background (MEME's convention), so a zero probability gives a
    finite score. ``pseudocount=0`` gives the plain ``log2(p / bg)`` (``-inf`` for zeros).

    Parameters
    ----------
    probs
        ``(4, w)`` probabilities.
    background
        Base frequencies (A, C, G, T) summing to 1; uniform when ``None``.
    pseudocount
        Weight of the background mixed into each column.

    Returns
    -------
    numpy.ndarray
        ``(4, w)`` float64 scores.
    """
    p = check_probs(probs)
    bg = check_background(background)[:, None]
    mixed = (p + pseudocount * bg) / (1.0 + pseudocount)
    with np.errstate(divide="ignore"):
        return np.log2(mixed / bg)


def information_content(probs: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Per-position information content in bits: relative entropy to the background.

    ``IC_j = sum_b p_bj log2(p_bj / bg_b)`` with ``0 log 0 = 0``. For a uniform background this
    is ``2 - H_j``: 0 for a uniform column, 2 for a column with one base. The background must sum
    to 1 (Basset's does not; see the module docstring and :func:`basset_information_content`).

    Parameters
    ----------
    probs
        ``(4, w)`` probabilities.
    background
        Base frequencies (A, C, G, T) summing to 1; uniform when ``None``.

    Returns
    -------
    numpy.ndarray
        ``(w,)`` float64, each >= 0.
    """
    p = check_probs(probs)
    bg = check_background(background)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / bg), 0.0)
    # Rounding can give -1e-17 for a column equal to the background.
    return np.maximum(terms.sum(axis=0), 0.0)


def basset_information_content(probs: np.ndarray, gc: float = 0.415) -> float:
    """Basset's total "information content" of a matrix, bug included (for comparison only).

    ``sum_j sum_b (-bg_b log2 bg_b + p_bj log2(p_bj + 1e-9))`` with
    ``bg = (1 - gc, gc, gc, 1 - gc)``, a vector that sums to 2 (reference §1.8 item 8). Use
    :func:`information_content` for a real relative entropy.
    """
    p = check_probs(probs)
    bg = np.array([1 - gc, gc, gc, 1 - gc])[:, None]
    return float(np.sum(-bg * np.log2(bg) + p * np.log2(p + 1e-9)))


def consensus(
    probs: np.ndarray, *, min_ic: float = MIN_IC, background: np.ndarray | None = None
) -> str:
    """Consensus string: the most probable base of each position, ``N`` where uninformative.

    Rule: a position whose information content (bits, :func:`information_content`) is below
    ``min_ic`` is ``N``; otherwise it is its most probable base (ties go to the first in A, C,
    G, T order). The default 0.2 bits is Basset's trimming cut, so the ends that
    :func:`trim` removes are exactly the leading and trailing ``N`` of the consensus. A filter
    PWM built with pseudocounts from few sites has near-uniform columns whose arg-max is noise;
    ``N`` says so instead of printing a random base.

    Parameters
    ----------
    probs
        ``(4, w)`` probabilities.
    min_ic
        Information content (bits) a position needs to get a base. 0 gives the plain arg-max.
    background
        Base frequencies for the information content; uniform when ``None``.

    Returns
    -------
    str
        ``w`` characters from ``ACGTN``.
    """
    p = check_probs(probs)
    ic = information_content(p, background)
    best = np.argmax(p, axis=0)
    return "".join("N" if ic[j] < min_ic else ALPHABET[best[j]] for j in range(p.shape[1]))


def trim(
    probs: np.ndarray, min_ic: float = MIN_IC, background: np.ndarray | None = None
) -> tuple[int, int]:
    """Bounds of the matrix without its low-information ends (Basset's ``-t``).

    Positions are dropped from either end while their information content is below
    ``min_ic`` bits; inner low-information positions are kept.

    Parameters
    ----------
    probs
        ``(4, w)`` probabilities.
    min_ic
        Information content (bits) an end position needs to be kept.
    background
        Base frequencies for the information content; uniform when ``None``.

    Returns
    -------
    tuple of int
        ``(start, end)`` so that ``probs[:, start:end]`` is the kept part; ``(0, 0)`` when no
        position reaches ``min_ic``.
    """
    keep = np.flatnonzero(information_content(probs, background) >= min_ic)
    if keep.size == 0:
        return 0, 0
    return int(keep[0]), int(keep[-1]) + 1


def trim_matrix(
    probs: np.ndarray, min_ic: float = MIN_IC, background: np.ndarray | None = None
) -> np.ndarray:
    """``probs`` without its low-information ends (see :func:`trim`); may have width 0."""
    start, end = trim(probs, min_ic, background)
    return np.array(probs, dtype=np.float64)[:, start:end]


def reverse_complement_probs(probs: np.ndarray) -> np.ndarray:
    """The matrix of the opposite strand: positions reversed and A<->T, C<->G swapped.

    With rows in A, C, G, T order, complementing is reversing the rows.
    """
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 4:
        raise ValueError(f"expected a (4, w) matrix, got shape {arr.shape}")
    return arr[::-1, ::-1].copy()
