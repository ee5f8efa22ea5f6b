"""Labelled sequences -> dataset file: resize, optional shuffled negatives, split, write.

Splits are random, by held-out chromosome (a table's chromosome column or coordinates in
FASTA names) or as a table's split column says.

:func:`build_sequence_dataset` takes what the readers of
:mod:`motiflens.data.labelled_readers` return; :func:`build_from_files` reads the files
and builds in one call (what ``motiflens dataset sequences`` runs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiflens.data.hdf5 import write_dataset
from motiflens.data.labelled import NEGATIVES, LabelledSequences, concat_labelled
from motiflens.data.labelled_readers import read_sequences
from motiflens.data.splits import (
    SPLITS,
    check_chromosome_split,
    split_by_chromosome,
    split_random,
)
from motiflens.errors import InputError
from motiflens.sequence.onehot import INVALID, code_table, encode_codes, resize
from motiflens.sequence.shuffle import dinucleotide_shuffle

#: How :func:`build_sequence_dataset` can split records.
SPLIT_METHODS = ("random", "chrom", "column")


@dataclass
class BuildReport:
    """What :func:`build_sequence_dataset` wrote.

    Attributes
    ----------
    path
        The dataset file.
    counts
        Number of sequences per split (splits of size 0 are left out).
    n_padded, n_trimmed
        How many input sequences were centre-padded with N or centre-trimmed to ``length``
        (shuffled negatives, which copy their positive's length, are not counted).
    length
        Sequence length in the file.
    target_labels
        Target names.
    positive_rates
        Per split, per target: the fraction of 1s (binary) or the mean (continuous).
    continuous
        Whether targets are continuous.
    n_negatives
        Number of dinucleotide-shuffled negatives added.
    notes
        Anything else the user should know.
    split
        How records were split: ``"random"``, ``"chrom"`` or ``"column"``.
    held_out
        With ``split="chrom"``: the chromosomes held out for ``"valid"`` and ``"test"``.
    """

    path: Path
    counts: dict[str, int]
    n_padded: int
    n_trimmed: int
    length: int
    target_labels: list[str]
    positive_rates: dict[str, list[float]]
    continuous: bool = False
    n_negatives: int = 0
    notes: list[str] = field(default_factory=list)
    split: str = "random"
    held_out: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        total = sum(self.counts.values())
        t = len(self.target_labels)
        shown = ", ".join(self.target_labels[:5]) + (", ..." if t > 5 else "")
        lines = [
            f"Wrote {self.path}: {total} sequences of {self.length} bp, "
            f"{t} target{'s' if t != 1 else ''} ({shown})"
        ]
        what = "mean target" if self.continuous else "positive rate"
        per_target = t <= 4
        if t > 1:
            what += " (per target)" if per_target else " (mean over targets)"
        lines.append(f"  {'split':<6} {'sequences':>10}  {what}")
        for split, n in self.counts.items():
            rates = self.positive_rates.get(split, [])
            if not rates:
                rate = "-"
            elif per_target:
                rate = " / ".join(f"{r:.3f}" for r in rates)
            else:
                rate = f"{float(np.mean(rates)):.3f}"
            lines.append(f"  {split:<6} {n:>10}  {rate}")
        if self.split == "chrom":
            held = "; ".join(f"{s} {', '.join(c)}" for s, c in self.held_out.items() if c)
            lines.append(f"  split by chromosome ({held}; the others train)")
        elif self.split == "column":
            lines.append("  split as the file's split column says")
        else:
            lines.append("  split at random")
        if self.n_negatives:
            lines.append(f"  added {self.n_negatives} dinucleotide-shuffled negatives")
        if self.n_padded or self.n_trimmed:
            lines.append(
                f"  resized to {self.length} bp: {self.n_padded} centre-padded with N, "
                f"{self.n_trimmed} centre-trimmed"
            )
        else:
            lines.append(f"  all sequences were already {self.length} bp")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


# --------------------------------------------------------------------------- negatives


def _check_binary_single(data: LabelledSequences, what: str) -> None:
    if data.n_targets != 1:
        raise InputError(
            f"{what} needs a single target, but there are {data.n_targets} "
            f"({', '.join(data.target_labels[:5])})",
            path=data.source,
        )
    values = np.unique(data.labels)
    if not np.isin(values, (0.0, 1.0)).all():
        raise InputError(f"{what} needs binary 0/1 labels", path=data.source)


def add_shuffled_negatives(
    data: LabelledSequences, seed: int | np.random.Generator | None = 1
) -> LabelledSequences:
    """Add one dinucleotide-shuffled copy (label 0) of every positive.

    The shuffle (Altschul-Erickson) keeps each sequence's length, first and last letters
    and every dinucleotide count, so a model cannot tell positives from negatives by
    composition alone.

    Parameters
    ----------
    data
        Single-target binary data.
    seed
        Seed (or Generator) for the shuffles.

    Returns
    -------
    LabelledSequences
        The records of ``data`` followed by the shuffles, named ``<name>_shuf`` and located
        at their positive's line.
    """
    _check_binary_single(data, "adding shuffled negatives")
    rng = np.random.default_rng(seed)
    positives = np.flatnonzero(data.labels[:, 0] == 1)
    names = [f"{data.names[i]}_shuf" for i in positives]
    clash = set(names) & set(data.names)
    if clash:
        raise InputError(
            f"shuffle names clash with existing records: {sorted(clash)[:3]}",
            path=data.source,
        )
    shuffled = [dinucleotide_shuffle(data.seqs[i], rng) for i in positives]
    return LabelledSequences(
        names=[*data.names, *names],
        seqs=[*data.seqs, *shuffled],
        labels=np.concatenate([data.labels, np.zeros((len(positives), 1), np.float32)]),
        target_labels=list(data.target_labels),
        source=data.source,
        lines=[*data.lines, *(data.lines[i] for i in positives)],
        chroms=_and_copies(data.chroms, positives),
        splits=_and_copies(data.splits, positives),
    )


def _check_two_classes(
    training: LabelledSequences, source: LabelledSequences, negatives: str | None
) -> None:
    """Refuse a binary target whose training split holds one class only.

    A classifier trained on positives alone learns to say "positive" to everything;
    DeepBind's ENCODE training files, for one, hold only bound sequences (their test
    files hold both classes, so a check of every record would miss them).
    """
    for j, label in enumerate(training.target_labels):
        values = np.unique(training.labels[:, j])
        if len(values) != 1:
            continue
        value = int(values[0])
        everywhere = bool((source.labels[:, j] == value).all())
        if value == 1 and everywhere and source.n_targets == 1 and negatives is None:
            hint = (
                "add negatives: --negatives shuffle (negatives='shuffle') adds a "
                "dinucleotide-shuffled negative for every positive"
            )
        elif everywhere:
            hint = (
                f"add records of the other class, or leave {label!r} out (choose the label "
                "columns with --label-column)"
            )
        else:
            hint = "the other class is too rare to reach the training split: add records of it"
        where = (
            f"all {len(source):,} training records"
            if everywhere
            else f"the {len(training):,} records of the training split"
        )
        raise InputError(
            f"target {label!r} has only {'positives (1)' if value else 'negatives (0)'} in "
            f"{where}: a classifier cannot learn from one class",
            path=source.source,
            hint=hint,
        )


def _and_copies(values: list[str] | None, index: np.ndarray) -> list[str] | None:
    """``values`` followed by the values at ``index`` (a shuffle keeps its positive's)."""
    return None if values is None else [*values, *(values[i] for i in index)]


# --------------------------------------------------------------------------- build


def _most_common_length(seqs: Sequence[str]) -> int:
    counts = Counter(len(s) for s in seqs)
    best = max(counts.values())
    return max(length for length, c in counts.items() if c == best)  # ties: the longest


def _encode(data: LabelledSequences, length: int) -> np.ndarray:
    """Codes ``(n, length)`` of the centre-resized sequences (vectorised)."""
    if len(data) == 0:
        return np.empty((0, length), dtype=np.uint8)
    resized = [s if len(s) == length else resize(s, length) for s in data.seqs]
    raw = "".join(resized).encode("ascii", "replace")
    codes = code_table()[np.frombuffer(raw, dtype=np.uint8)].reshape(len(resized), length)
    bad = np.flatnonzero((codes == INVALID).any(axis=1))
    if bad.size:
        i = int(bad[0])
        for seq in (data.seqs[i], resized[i]):  # locate on the original when possible
            encode_codes(seq, path=data.source, line=data.lines[i], record=data.names[i])
    return codes


def _rates(labels: np.ndarray) -> list[float]:
    if len(labels) == 0:
        return []
    return [float(v) for v in labels.astype(np.float64).mean(axis=0)]


def _no_test_file_with_split_column(split: str, test_source: str | Path | None) -> None:
    if split == "column" and test_source is not None:
        raise InputError(
            "a split column and a separate test file were both given",
            path=test_source,
            hint="mark the test rows 'test' in the split column and pass the test file as "
            "one more input, or drop the split column",
        )


def _assign(
    train: LabelledSequences,
    test: LabelledSequences | None,
    split: str,
    valid_chroms: Sequence[str],
    test_chroms: Sequence[str],
    notes: list[str],
) -> tuple[np.ndarray, dict[str, list[str]]]:
    """Each record's split by chromosome or split column, and the held-out chromosomes."""
    if split == "chrom":
        valid_chroms = [valid_chroms] if isinstance(valid_chroms, str) else list(valid_chroms)
        test_chroms = [test_chroms] if isinstance(test_chroms, str) else list(test_chroms)
        if test is not None:
            test_chroms = []  # the test file is the test set
        chroms = train.require("chroms")
        assigned = split_by_chromosome(chroms, valid_chroms, test_chroms)
        check_chromosome_split(
            assigned,
            chroms,
            valid_chroms=valid_chroms,
            test_chroms=test_chroms,
            required=SPLITS if test is None else ("train", "valid"),
            path=train.source,
        )
        return assigned, {"valid": valid_chroms, "test": test_chroms}
    if split == "column":
        _no_test_file_with_split_column(split, None if test is None else test.source)
        assigned = np.asarray(train.require("splits"), dtype=object)
        if not (assigned == "train").any():
            raise InputError(
                "the split column marks no row train", path=train.source, hint="mark rows train"
            )
        notes.extend(
            f"the split column marks no row {s}; the dataset has no {s} split"
            for s in ("valid", "test")
            if not (assigned == s).any()
        )
        return assigned, {}
    raise ValueError(f"no assignment for split {split!r}")


def build_sequence_dataset(
    out: str | Path,
    train: LabelledSequences,
    *,
    test: LabelledSequences | None = None,
    length: int | None = None,
    negatives: str | None = None,
    split: str = "random",
    valid_chroms: Sequence[str] = ("chr8",),
    test_chroms: Sequence[str] = ("chr9",),
    valid: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 1,
    continuous: bool = False,
) -> BuildReport:
    """Turn labelled sequences into a dataset file.

    Parameters
    ----------
    out
        Destination ``.h5`` (written to a temporary file and renamed).
    train
        Sequences to split into train, valid and (without ``test``) test.
    test
        A separate test set. It must have as many targets as ``train``.
    length
        Centre-pad (with N) or centre-trim every sequence to this length; by default the
        most common length (ties: the longest).
    negatives
        ``"shuffle"`` adds a dinucleotide-shuffled negative for every positive of ``train``
        (and of ``test`` if it has no negatives of its own). Each negative lands in the
        same split as its positive.
    split
        ``"random"`` (``valid`` and ``test_fraction`` held out at random), ``"chrom"``
        (``valid_chroms`` and ``test_chroms`` held out; needs ``train.chroms``) or
        ``"column"`` (each record's split from its file's split column, ``train.splits``;
        not with ``test``).
    valid_chroms, test_chroms
        With ``split="chrom"``: chromosomes held out for validation and test (``chr8``
        matches ``8``); ``test_chroms`` is ignored when ``test`` is given. A split left
        empty is an error that names the chromosomes present.
    valid, test_fraction
        With ``split="random"``: fractions (below 1) or counts of ``train`` records held
        out for validation and test; ``test_fraction`` is ignored when ``test`` is given.
    seed
        Seed for the split and the shuffles.
    continuous
        Targets are real numbers (stored float32) rather than 0/1 (int8).

    Returns
    -------
    BuildReport
        Counts, resizing and positive rates; ``str()`` of it is a human summary.

    Raises
    ------
    InputError
        On labels that do not fit ``continuous``, a binary target with one class only in
        the training split (all positives: add ``negatives``), records without a
        chromosome (``"chrom"``) or split (``"column"``), a chromosome split that leaves a
        split empty, a split column that marks no row train, or a split column together
        with ``test``.
    """
    if negatives not in (None, *NEGATIVES):
        raise ValueError(f"unknown negatives {negatives!r}; choose one of {NEGATIVES} or None")
    if split not in SPLIT_METHODS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLIT_METHODS}")
    if len(train) == 0:
        raise InputError("no training sequences", path=train.source)
    if length is not None and length < 1:
        raise ValueError(f"length must be positive, got {length}")
    notes: list[str] = []
    parts = [train] if test is None else [train, test]
    for part in parts:
        if continuous:
            if not np.isfinite(part.labels).all():
                raise InputError("labels must be finite numbers", path=part.source)
        else:
            bad = np.flatnonzero(~np.isin(part.labels, (0.0, 1.0)).all(axis=1))
            if bad.size:
                i = int(bad[0])
                raise InputError(
                    f"labels {part.labels[i].tolist()} are not all 0 or 1",
                    path=part.source,
                    line=part.lines[i],
                    record=part.names[i],
                    hint="for real-valued targets build with continuous=True (--continuous)",
                )
    if negatives is not None and continuous:
        raise ValueError("shuffled negatives need binary targets, not continuous ones")
    if test is not None:
        if test.n_targets != train.n_targets:
            raise InputError(
                f"the test file has {test.n_targets} targets but the training file has "
                f"{train.n_targets}",
                path=test.source,
            )
        if list(test.target_labels) != list(train.target_labels):
            notes.append(
                f"test target labels {test.target_labels} differ from the training ones; "
                f"using {train.target_labels}"
            )

    inputs = [s for part in parts for s in part.seqs]
    if length is None:
        length = _most_common_length(inputs)
    n_padded = sum(len(s) < length for s in inputs)
    n_trimmed = sum(len(s) > length for s in inputs)

    if split == "random":
        assigned = split_random(len(train), valid, 0 if test is not None else test_fraction, seed)
        held_out: dict[str, list[str]] = {}
    else:
        assigned, held_out = _assign(train, test, split, valid_chroms, test_chroms, notes)
    groups = {s: train.subset(np.flatnonzero(assigned == s)) for s in SPLITS}
    if test is not None:
        groups["test"] = test
    n_negatives = 0
    if negatives == "shuffle":
        _check_binary_single(train, "--negatives shuffle")
        if (train.labels == 0).any():
            notes.append(
                "the training file already had negatives; shuffles were added for every "
                "positive anyway"
            )
        for k, name in enumerate(SPLITS):
            if name == "test" and test is not None and (test.labels == 0).any():
                continue  # a given test set with its own negatives stays as it is
            before = len(groups[name])
            groups[name] = add_shuffled_negatives(
                groups[name], seed=np.random.default_rng((seed, k))
            )
            n_negatives += len(groups[name]) - before
        if test is not None and (test.labels == 0).any():
            notes.append("the test file has its own negatives; no shuffles were added to it")

    if not continuous:
        _check_two_classes(groups["train"], train, negatives)

    # Store train and valid in random order (as Basset's seq_hdf5.py does): a dataset read
    # from disk in chunks must not see a block of positives then a block of negatives. A
    # given test file keeps its own order so predictions line up with it.
    order_rng = np.random.default_rng((seed, 99))
    for name in ("train", "valid") if test is not None else SPLITS:
        groups[name] = groups[name].subset(order_rng.permutation(len(groups[name])))

    arrays = {
        name: (_encode(data, length), data.labels, data.names)
        for name, data in groups.items()
        if len(data)
    }
    attrs = {
        "builder": "motiflens.data.labelled_build.build_sequence_dataset",
        "source_train": train.source,
        "source_test": test.source if test is not None else "",
        "length": int(length),
        "negatives": negatives or "none",
        "split": split,
        "valid": float(valid) if split == "random" else 0.0,
        "test_fraction": float(test_fraction) if test is None and split == "random" else 0.0,
        "valid_chroms": ",".join(held_out.get("valid", [])),
        "test_chroms": ",".join(held_out.get("test", [])),
        "seed": int(seed),
        "n_padded": int(n_padded),
        "n_trimmed": int(n_trimmed),
    }
    path = write_dataset(out, arrays, train.target_labels, continuous=continuous, attrs=attrs)
    return BuildReport(
        path=Path(path),
        counts={s: len(groups[s]) for s in SPLITS if len(groups[s])},
        n_padded=int(n_padded),
        n_trimmed=int(n_trimmed),
        length=int(length),
        target_labels=list(train.target_labels),
        positive_rates={s: _rates(groups[s].labels) for s in SPLITS if len(groups[s])},
        continuous=continuous,
        n_negatives=n_negatives,
        notes=notes,
        split=split,
        held_out=held_out,
    )


def build_from_files(
    out: str | Path,
    sources: Sequence[str | Path],
    *,
    format: str = "auto",
    test_file: str | Path | None = None,
    continuous: bool = False,
    sequence_column: str = "sequence",
    label_columns: Sequence[str] | None = None,
    name_column: str | None = None,
    chrom_column: str | None = None,
    split_column: str | None = None,
    split: str | None = None,
    **options: object,
) -> BuildReport:
    """Read labelled sequence files and build a dataset file from them.

    Parameters
    ----------
    out
        Destination ``.h5``.
    sources
        Training files in one format (:func:`~motiflens.data.labelled_readers.read_sequences`),
        joined with :func:`~motiflens.data.labelled.concat_labelled`.
    format
        ``"auto"``, ``"fasta"``, ``"table"`` or ``"deepbind"``.
    test_file
        A separate test set in the same format.
    continuous, sequence_column, label_columns, name_column, chrom_column, split_column
        As :func:`~motiflens.data.labelled_readers.read_sequences` takes them: the
        chromosome column is found by name (``chr``, ``chrom``, ``chromosome``) unless
        given, and FASTA records take their chromosome from coordinates in their names.
    split
        ``"random"``, ``"chrom"`` or ``"column"`` (:func:`build_sequence_dataset`); by
        default ``"column"`` when ``split_column`` is given, else ``"random"``.
    **options
        ``length``, ``negatives``, ``valid_chroms``, ``test_chroms``, ``valid``,
        ``test_fraction``, ``seed`` of :func:`build_sequence_dataset`.

    Raises
    ------
    InputError
        As the readers and :func:`build_sequence_dataset` do, naming the file of a record
        without a chromosome or split; and when ``split_column`` is given with another
        ``split``.
    """
    if split is None:
        split = "column" if split_column is not None else "random"
    if split_column is not None and split != "column":
        given = (
            "a chromosome split (valid_chroms/test_chroms, --valid-chrom/--test-chrom)"
            if split == "chrom"
            else f"split={split!r}"
        )
        raise InputError(
            f"{given} and a split column ({split_column!r}, --split-column) were both "
            "given; choose one",
        )
    _no_test_file_with_split_column(split, test_file)

    def read(path: str | Path) -> LabelledSequences:
        return read_sequences(
            path,
            format,
            continuous=continuous,
            sequence_column=sequence_column,
            label_columns=label_columns,
            name_column=name_column,
            chrom_column=chrom_column,
            split_column=split_column,
        )

    parts = [read(p) for p in sources]
    if split != "random":
        for part in parts:  # each file on its own, so that a message names its file
            part.require("chroms" if split == "chrom" else "splits")
    train = concat_labelled(parts)
    test = read(test_file) if test_file is not None else None
    return build_sequence_dataset(
        out,
        train,
        test=test,
        split=split,
        continuous=continuous,
        **options,  # type: ignore[arg-type]
    )
