"""A k-mer baseline: logistic regression on k-mer counts, to see whether a deep model beats it.

Features: for every k from 1 to ``k`` (default 6), the count of each k-mer on both strands.
A k-mer and its reverse complement are one feature, named by the first of the two in
alphabetical order (the canonical k-mer): a window that reads ``AC`` on the forward strand
reads ``GT`` on the reverse one, so the feature ``AC`` counts ``AC`` and ``GT`` windows of the
forward strand: the count of ``AC`` on both strands. A palindrome (``CG``) reads the same on
both strands and counts twice, once per strand (the sum of the two strands' counts).
Windows with an unknown base are not counted. For k up to 6 that is 2 + 10 + 32 + 136 +
512 + 2080 = 2772 features, counted with NumPy over the one-hot array and kept sparse.

Each feature is divided by its standard deviation on the training split (not centred, so
the matrix stays sparse; with an unpenalized intercept, centring would not change the
fit). One L2-regularized logistic regression per binary target (scikit-learn, lbfgs) is
fitted on the training split for each C of a grid, from strong to weak regularization,
each fit starting from the previous one; the C with the best AUROC on the validation
split is kept. The test split is never looked at. Continuous (regression) targets get no
baseline.

The issue that asked for it measured why: on held-out cell-type-specific DHS rows a
logistic regression on k-mer counts scored AUROC 0.962 against 0.961 for CNN-RNN and
0.954 for the CNN.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from motiflens.cores import cpu_cores
from motiflens.data.hdf5 import SequenceDataset, target_labels
from motiflens.errors import InputError
from motiflens.files import atomic_path
from motiflens.progress import tqdm

#: Longest k-mer counted by default (every k from 1 to it).
DEFAULT_K = 6

#: Inverse regularization strengths tried, strongest first (half-decades); the best on
#: the validation split is kept. On GABPA (10,918 training sequences) validation AUROC
#: peaked at 3e-4 and fell steadily above it, while each fit took longer (0.1 s at 1e-4,
#: 1.9 s at 1): the path stops after :data:`PATIENCE` strengths without improvement.
C_GRID: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)

#: Strengths tried past the best before the path stops.
PATIENCE = 2

#: C used when the validation split cannot choose (absent, or one class only).
DEFAULT_C = 3e-4

#: Training (and validation) sequences used at most (a random subset beyond): the k-mer
#: counts of a 200 bp sequence hold about 500 non-zero entries (4 kB in memory).
MAX_TRAIN = 50_000

_FORMAT = 1
_ALPHABET = np.array(list("ACGT"))


# ----------------------------------------------------------------------------- counting


@functools.cache
def _kmer_table(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every k-mer id (base-4 number, first base most significant): its feature
    column among the canonical k-mers of length k, its weight (2 for a palindrome, else 1),
    and the canonical k-mers' ids in column order."""
    ids = np.arange(4**k, dtype=np.int64)
    powers = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
    digits = (ids[:, None] // powers) % 4
    # reverse complement: complement each base (A<->T, C<->G is 3 - code), reverse the order
    rc = ((3 - digits[:, ::-1]) * powers).sum(axis=1)
    canonical, column = np.unique(np.minimum(ids, rc), return_inverse=True)
    weight = np.where(ids == rc, 2.0, 1.0)
    return column.astype(np.int64), weight, canonical


def kmer_names(k: int = DEFAULT_K) -> list[str]:
    """The feature names of :func:`kmer_counts`: canonical k-mers, k = 1, 2, ..., ``k``.

    Examples
    --------
    >>> kmer_names(2)
    ['A', 'C', 'AA', 'AC', 'AG', 'AT', 'CA', 'CC', 'CG', 'GA', 'GC', 'TA']
    """
    names = []
    for length in range(1, k + 1):
        _, _, canonical = _kmer_table(length)
        powers = 4 ** np.arange(length - 1, -1, -1)
        digits = (canonical[:, None] // powers) % 4
        names += ["".join(row) for row in _ALPHABET[digits]]
    return names


def n_kmer_features(k: int = DEFAULT_K) -> int:
    """Number of features of :func:`kmer_counts` (2772 for ``k = 6``)."""
    return sum(len(_kmer_table(length)[2]) for length in range(1, k + 1))


def _codes(x: np.ndarray) -> np.ndarray:
    """One-hot ``(n, 4, L)`` -> base codes ``(n, L)`` (0-3 for A, C, G, T; -1 unknown)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"expected one-hot sequences of shape (n, 4, L), got {x.shape}")
    # an unknown base is all 0.25 (float) or all 0 (stored uint8): no channel above 0.5
    known = x.max(axis=1) > 0.5
    return np.where(known, x.argmax(axis=1), -1).astype(np.int64)


def kmer_counts(x: np.ndarray, k: int = DEFAULT_K, *, batch_size: int = 2048) -> sparse.csr_matrix:
    """Counts of every canonical k-mer (k = 1 .. ``k``) on both strands.

    Parameters
    ----------
    x
        One-hot ``(n, 4, L)``, channels A, C, G, T; an unknown base (all 0.25 or all 0)
        breaks every window that covers it.
    k
        Longest k-mer (every length from 1 to ``k`` is counted).
    batch_size
        Sequences counted at a time (memory: ``batch_size x`` :func:`n_kmer_features`
        floats).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n, F)`` float32, columns named by :func:`kmer_names`. A feature counts its
        k-mer and its reverse complement on the forward strand (which is the k-mer's count
        on both strands); a palindrome counts twice.

    Examples
    --------
    >>> counts = kmer_counts(one_hot(["ACGTT"]), k=2).toarray()[0]
    >>> dict(zip(kmer_names(2), counts))["AC"]   # AC, and GT (its reverse complement)
    2.0
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    tables = [_kmer_table(length) for length in range(1, k + 1)]
    offsets = np.cumsum([0] + [len(t[2]) for t in tables])
    n_features = int(offsets[-1])
    parts = []
    for start in range(0, max(len(x), 1), batch_size):
        codes = _codes(x[start : start + batch_size])
        n, length = codes.shape
        known = codes >= 0
        base = np.where(known, codes, 0)
        row = np.arange(n, dtype=np.int64)[:, None] * n_features
        index = np.zeros((n, length), dtype=np.int64)
        whole = np.ones((n, length), dtype=bool)
        flat, weights = [], []
        for size, (column, weight, _) in enumerate(tables, start=1):
            windows = length - size + 1
            if windows <= 0:
                break
            # windows of length `size` starting at 0 .. windows-1: the previous windows
            # extended by one base on the right
            index = index[:, :windows] * 4 + base[:, size - 1 : size - 1 + windows]
            whole = whole[:, :windows] & known[:, size - 1 : size - 1 + windows]
            flat.append((row + offsets[size - 1] + column[index])[whole])
            weights.append(weight[index][whole])
        dense = np.bincount(
            np.concatenate(flat) if flat else np.zeros(0, np.int64),
            weights=np.concatenate(weights) if weights else None,
            minlength=n * n_features,
        )
        parts.append(sparse.csr_matrix(dense.reshape(n, n_features).astype(np.float32)))
    return sparse.vstack(parts, format="csr") if len(parts) > 1 else parts[0]


# ----------------------------------------------------------------------------- the model


@dataclass
class KmerBaseline:
    """Logistic regressions on k-mer counts, one per target (see the module docstring).

    Attributes
    ----------
    k
        Longest k-mer counted.
    target_labels
        The ``T`` target names.
    coef
        ``(T, F)`` weights on the scaled counts (zero for a target without a model).
    intercept
        ``(T,)`` intercepts.
    scale
        ``(F,)`` factor applied to each count (1 / its training standard deviation; 0
        for a feature constant in training).
    C
        ``(T,)`` the chosen inverse regularization strength (NaN: no model).
    valid_auroc
        ``(T,)`` AUROC of the chosen model on the validation split (NaN when it could
        not be measured).
    fitted
        ``(T,)`` whether the target has a model (training had both classes).
    info
        Provenance: the data it was fitted on, grid, sizes, seconds.
    """

    k: int
    target_labels: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    scale: np.ndarray
    C: np.ndarray
    valid_auroc: np.ndarray
    fitted: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """``(n, T)`` log-odds for one-hot ``(n, 4, L)`` sequences (NaN: no model)."""
        counts = kmer_counts(x, self.k)
        logits = np.asarray(counts @ (self.coef * self.scale).T) + self.intercept
        logits[:, ~self.fitted] = np.nan
        return logits.astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, T)`` probabilities for one-hot ``(n, 4, L)`` sequences (NaN: no model)."""
        with np.errstate(over="ignore"):
            return (1.0 / (1.0 + np.exp(-self.decision_function(x)))).astype(np.float32)

    def top_kmers(self, n: int = 10) -> dict[str, list[tuple[str, float]]]:
        """Per target, the ``n`` k-mers with the largest positive weights."""
        names = np.asarray(kmer_names(self.k))
        out = {}
        for t, label in enumerate(self.target_labels):
            if self.fitted[t]:
                order = np.argsort(-self.coef[t])[:n]
                out[label] = [(str(names[i]), float(self.coef[t, i])) for i in order]
        return out

    def save(self, path: str | Path) -> Path:
        """Write the fitted baseline as ``.npz`` (plain arrays, no pickle), atomically."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                format=np.int64(_FORMAT),
                k=np.int64(self.k),
                target_labels=np.asarray(self.target_labels, dtype=str),
                coef=self.coef.astype(np.float32),
                intercept=self.intercept.astype(np.float64),
                scale=self.scale.astype(np.float32),
                C=self.C.astype(np.float64),
                valid_auroc=self.valid_auroc.astype(np.float64),
                fitted=self.fitted.astype(bool),
                info=np.asarray(json.dumps(self.info, default=str)),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> KmerBaseline:
        """Read a baseline written by :meth:`save`.

        Raises
        ------
        InputError
            Unreadable, or written in another format.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {key: z[key] for key in z.files}
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read the k-mer baseline: {err}", path=path) from None
        if int(arrays.get("format", -1)) != _FORMAT:
            raise InputError("not a k-mer baseline of this version of motiflens", path=path)
        return cls(
            k=int(arrays["k"]),
            target_labels=[str(t) for t in arrays["target_labels"]],
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            scale=arrays["scale"],
            C=arrays["C"],
            valid_auroc=arrays["valid_auroc"],
            fitted=arrays["fitted"],
            info=json.loads(str(arrays["info"])),
        )


def _fit_counts(
    train: sparse.csr_matrix,
    y_train: np.ndarray,
    valid: sparse.csr_matrix | None,
    y_valid: np.ndarray | None,
    *,
    k: int,
    target_labels: Sequence[str],
    Cs: Sequence[float],
    max_iter: int,
    verbose: bool,
) -> KmerBaseline:
    """Fit one logistic regression per target on count matrices (see the module docstring)."""
    # sklearn takes most of a second to import: here, not for every command line call.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    y_train = np.asarray(y_train, dtype=np.float64).reshape(train.shape[0], -1) > 0.5
    n_targets = y_train.shape[1]
    if valid is not None and y_valid is not None:
        y_valid = np.asarray(y_valid, dtype=np.float64).reshape(valid.shape[0], -1) > 0.5
    mean = np.asarray(train.mean(axis=0)).ravel()
    square = np.asarray(train.multiply(train).mean(axis=0)).ravel()
    std = np.sqrt(np.maximum(square - mean**2, 0.0))
    scale = np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 0.0)
    xs = (train @ sparse.diags(scale)).tocsr()
    vs = (valid @ sparse.diags(scale)).tocsr() if valid is not None else None
    n_features = train.shape[1]
    coef = np.zeros((n_targets, n_features))
    intercept = np.zeros(n_targets)
    chosen = np.full(n_targets, np.nan)
    valid_auroc = np.full(n_targets, np.nan)
    fitted = np.zeros(n_targets, dtype=bool)
    grid = sorted(float(c) for c in Cs)

    def fit_target(t: int) -> None:
        y = y_train[:, t]
        if y.all() or not y.any():
            return  # one class in training: nothing to learn
        can_choose = (
            vs is not None and y_valid is not None and 0 < y_valid[:, t].sum() < len(y_valid)
        )
        model = LogisticRegression(C=grid[0], max_iter=max_iter, warm_start=True)
        best, since_best = -np.inf, 0
        for C in grid if can_choose else [DEFAULT_C]:
            model.set_params(C=C)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(xs, y)
            score = (
                roc_auc_score(y_valid[:, t], model.decision_function(vs)) if can_choose else np.nan
            )
            if not can_choose or score > best:
                best, since_best = score, 0
                coef[t], intercept[t], chosen[t] = model.coef_[0], model.intercept_[0], C
                valid_auroc[t] = score
            else:
                since_best += 1
                if since_best >= PATIENCE:
                    break  # weaker regularization only overfits more, and slower
        fitted[t] = True

    # Nearly all of a fit is sparse products with the count matrix, which scipy runs on
    # one core without the GIL: one target per core. BLAS and OpenMP keep to one thread
    # each meanwhile, or their idle threads spin on the cores the fits need (the demo's
    # 5 targets on 2 cores: 23 s one after another, 19 s side by side with BLAS's 2
    # threads, 12 s with 1). A target writes only its own rows and depends on no other.
    with (
        threadpool_limits(1),
        ThreadPoolExecutor(max(1, min(cpu_cores(), n_targets))) as pool,
    ):
        futures = [pool.submit(fit_target, t) for t in range(n_targets)]
        done = as_completed(futures)
        for future in tqdm(
            done, total=n_targets, desc="k-mer baseline", unit="target", disable=not verbose
        ):
            future.result()

    return KmerBaseline(
        k=k,
        target_labels=list(target_labels),
        coef=coef.astype(np.float32),
        intercept=intercept,
        scale=scale.astype(np.float32),
        C=chosen,
        valid_auroc=valid_auroc,
        fitted=fitted,
        info={
            "Cs": grid,
            "n_train": int(train.shape[0]),
            "n_valid": int(valid.shape[0]) if valid is not None else 0,
        },
    )


def fit_kmer_baseline(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
    *,
    k: int = DEFAULT_K,
    target_labels: Sequence[str] | None = None,
    Cs: Sequence[float] = C_GRID,
    max_iter: int = 1000,
    verbose: bool = False,
) -> KmerBaseline:
    """Fit the k-mer baseline on one-hot arrays.

    Parameters
    ----------
    x_train, y_train
        One-hot ``(n, 4, L)`` and 0/1 targets ``(n, T)`` (or ``(n,)``).
    x_valid, y_valid
        The validation split that chooses C among ``Cs`` per target; without it (or
        with one class only) C is :data:`DEFAULT_C`.
    k
        Longest k-mer counted.
    target_labels
        Names of the T targets (default ``"0" .. "T-1"``).
    Cs
        Inverse regularization strengths to try.
    max_iter
        lbfgs iterations at most per fit.
    verbose
        A progress bar over targets.

    Returns
    -------
    KmerBaseline
        ``.predict(x)`` gives ``(n, T)`` probabilities.

    Examples
    --------
    >>> baseline = fit_kmer_baseline(x_train, y_train, x_valid, y_valid)
    >>> baseline.predict(x_test).shape
    (1000, 1)
    """
    y = np.asarray(y_train).reshape(len(y_train), -1)
    labels = list(target_labels) if target_labels is not None else list(map(str, range(y.shape[1])))
    has_valid = x_valid is not None and y_valid is not None
    return _fit_counts(
        kmer_counts(x_train, k),
        y,
        kmer_counts(x_valid, k) if has_valid else None,
        y_valid if has_valid else None,
        k=k,
        target_labels=labels,
        Cs=Cs,
        max_iter=max_iter,
        verbose=verbose,
    )


def _count_split(
    path: Path, split: str, k: int, rows: np.ndarray | None, batch_size: int
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """K-mer counts and targets of a dataset split (``rows``: a sorted subset), by chunks."""
    data = SequenceDataset(path, split)
    rows = np.arange(len(data)) if rows is None else rows
    counts, targets = [], []
    for start in range(0, len(rows), batch_size):
        items = data.__getitems__(rows[start : start + batch_size].tolist())
        counts.append(kmer_counts(np.stack([x.numpy() for x, _ in items]), k))
        targets.append(np.stack([y.numpy() for _, y in items]))
    if not counts:
        raise InputError(f"the {split!r} split is empty", path=path)
    return sparse.vstack(counts, format="csr"), np.concatenate(targets)


def kmer_baseline(
    dataset: str | Path,
    *,
    k: int = DEFAULT_K,
    Cs: Sequence[float] = C_GRID,
    max_train: int | None = MAX_TRAIN,
    batch_size: int = 4096,
    random_state: int | None = 0,
    verbose: bool = False,
) -> KmerBaseline:
    """Fit the k-mer baseline on a dataset file's training split, C chosen on its validation split.

    Parameters
    ----------
    dataset
        A dataset file (``train`` split required, ``valid`` used when present; ``test``
        never read).
    k
        Longest k-mer counted (every length from 1 to ``k``).
    Cs
        Inverse regularization strengths to try, per target.
    max_train
        Training (and validation) sequences used at most: a random subset beyond it
        (``None``: all).
    batch_size
        Sequences read and counted at a time.
    random_state
        Seed of the subset.
    verbose
        A progress bar over targets.

    Returns
    -------
    KmerBaseline
        ``.predict(x)`` gives ``(n, T)`` probabilities; ``.info`` records the dataset,
        sizes and seconds.

    Raises
    ------
    InputError
        The file has no training split, or continuous targets (no baseline for those).

    Examples
    --------
    >>> baseline = kmer_baseline("gabpa.h5")
    >>> x, y, _ = read_split("gabpa.h5", "test")
    >>> probabilities = baseline.predict(x)          # (n, 1)
    """
    path = Path(dataset)
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)

    def subset(split: str) -> np.ndarray | None:
        n = len(SequenceDataset(path, split))
        if max_train is None or n <= max_train:
            return None
        return np.sort(rng.choice(n, max_train, replace=False))

    x_train, y_train = _count_split(path, "train", k, subset("train"), batch_size)
    if not np.isin(y_train, (0.0, 1.0)).all():
        raise InputError(
            "the k-mer baseline is for 0/1 targets; this dataset's targets are continuous",
            path=path,
        )
    try:
        x_valid, y_valid = _count_split(path, "valid", k, subset("valid"), batch_size)
    except InputError:  # no (or an empty) validation split: C is DEFAULT_C
        x_valid = y_valid = None
    baseline = _fit_counts(
        x_train,
        y_train,
        x_valid,
        y_valid,
        k=k,
        target_labels=target_labels(path),
        Cs=Cs,
        max_iter=1000,
        verbose=verbose,
    )
    baseline.info.update(
        dataset=str(path.resolve()),
        max_train=max_train,
        random_state=random_state,
        chosen_on="valid" if x_valid is not None else f"none (C = {DEFAULT_C})",
        seconds=round(time.perf_counter() - started, 2),
    )
    return baseline
