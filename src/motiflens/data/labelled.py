"""Labelled sequences: the container every reader returns, and the checks they share.

Readers of each format are in :mod:`motiflens.data.labelled_readers` (FASTA with labels
in the header, TSV/CSV tables, DeepBind ENCODE files); turning labelled sequences into a
dataset file is :mod:`motiflens.data.labelled_build`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiflens.errors import InputError
from motiflens.sequence.onehot import INVALID, code_table, encode_codes

DEEPBIND_HEADER = ("FoldID", "EventID", "seq", "Bound")
#: Table columns taken as the chromosome column when none is named (any case).
CHROM_COLUMNS = ("chr", "chrom", "chromosome")
FORMATS = ("auto", "fasta", "table", "deepbind")
NEGATIVES = ("shuffle",)

COMPRESSION_SUFFIXES = (".gz", ".bgz", ".gzip")
_FORMAT_SUFFIXES = (
    ".fa",
    ".fasta",
    ".fna",
    ".fas",
    ".seq",
    ".tsv",
    ".csv",
    ".txt",
    ".tab",
)
_GENERIC_STEM = re.compile(
    r"^(train|training|test|testing|valid|validation|data|sequences?)([_.-].*)?$"
)
_DEEPBIND_FOLD = re.compile(r"_(A|B|C|AC)$")


@dataclass
class LabelledSequences:
    """Sequences with one or more labels each, as read from one file.

    Attributes
    ----------
    names
        One name per sequence (unique within a file).
    seqs
        The sequences, upper case, possibly of unequal lengths.
    labels
        ``(n, T)`` float32 targets.
    target_labels
        One name per target (``T`` of them).
    source
        The file the records came from (used in messages).
    lines
        1-based line of each record in ``source`` (its header line for FASTA).
    chroms
        Chromosome of each record (``""`` where a record has none), or None when the file
        gives none: a table's chromosome column, or coordinates in FASTA headers.
    splits
        Split of each record (``"train"``, ``"valid"``, ``"test"``; ``""`` where a record
        has none) from a table's split column, or None.
    """

    names: list[str]
    seqs: list[str]
    labels: np.ndarray
    target_labels: list[str]
    source: str
    lines: list[int]
    chroms: list[str] | None = None
    splits: list[str] | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.float32)
        if self.labels.ndim == 1:
            self.labels = self.labels[:, None]
        n = len(self.seqs)
        if not (len(self.names) == n == len(self.lines) == self.labels.shape[0]):
            raise ValueError(
                f"names ({len(self.names)}), seqs ({n}), lines ({len(self.lines)}) and labels "
                f"({self.labels.shape[0]}) must have one entry per sequence"
            )
        if self.labels.shape[1] != len(self.target_labels):
            raise ValueError(
                f"{self.labels.shape[1]} label columns but {len(self.target_labels)} target labels"
            )
        for what, values in (("chroms", self.chroms), ("splits", self.splits)):
            if values is not None and len(values) != n:
                raise ValueError(f"{what} ({len(values)}) must have one entry per sequence ({n})")

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def n_targets(self) -> int:
        """Number of targets ``T``."""
        return self.labels.shape[1]

    def subset(self, index: Sequence[int] | np.ndarray) -> LabelledSequences:
        """The records at ``index`` (in that order), as a new object."""
        idx = np.asarray(index, dtype=np.int64)
        return LabelledSequences(
            names=[self.names[i] for i in idx],
            seqs=[self.seqs[i] for i in idx],
            labels=self.labels[idx],
            target_labels=list(self.target_labels),
            source=self.source,
            lines=[self.lines[i] for i in idx],
            chroms=None if self.chroms is None else [self.chroms[i] for i in idx],
            splits=None if self.splits is None else [self.splits[i] for i in idx],
        )

    def require(self, what: str) -> list[str]:
        """Each record's chromosome (``what="chroms"``) or split (``"splits"``), all given.

        Raises
        ------
        InputError
            If the file gives none, or a record has none (naming its line).
        """
        if what not in ("chroms", "splits"):
            raise ValueError(f"what must be 'chroms' or 'splits', got {what!r}")
        values = getattr(self, what)
        if what == "chroms":
            hint = (
                "tables: name the column with --chrom-column (chrom_column=), or call it "
                "chr, chrom or chromosome; FASTA: write headers such as '>chr1:100-200 1' or "
                "'>name::chr1:100-200 1'"
            )
            missing = "no chromosome"
        else:
            hint = "name the split column with --split-column (split_column=)"
            missing = "no split"
        if values is None:
            raise InputError(f"the records have {missing}", path=self.source, hint=hint)
        for value, line, name in zip(values, self.lines, self.names, strict=True):
            if not value:
                raise InputError(
                    f"record has {missing}", path=self.source, line=line, record=name, hint=hint
                )
        return list(values)


# --------------------------------------------------------------------------- helpers


def _strip_suffixes(name: str) -> str:
    lower = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            name, lower = name[: -len(suffix)], lower[: -len(suffix)]
            break
    for suffix in _FORMAT_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def default_target_label(path: str | Path) -> str:
    """Name a single target after its file.

    The file stem without compression and format suffixes (``GABPA.fa.gz`` -> ``GABPA``).
    Generic stems (``train``, ``test_B``, ...) use the parent directory instead, without a
    ``deepbind_encode_`` prefix, so that ``deepbind_encode_GABPA_GM12878/train_AC.seq.gz``
    gives ``GABPA_GM12878``. In DeepBind ``.seq(.gz)`` names a fold suffix (``_AC``, ``_B``) is
    dropped so training and test files of one experiment share the label.
    """
    path = Path(path)
    stem = _strip_suffixes(path.name)
    if _GENERIC_STEM.match(stem) and path.resolve().parent.name:
        stem = path.resolve().parent.name
    stem = stem.removeprefix("deepbind_encode_")
    if path.name.lower().endswith((".seq", ".seq.gz")):
        stem = _DEEPBIND_FOLD.sub("", stem) or stem
    return stem


def target_names(given: Sequence[str] | None, n_targets: int, path: str | Path) -> list[str]:
    if given is not None:
        given = [given] if isinstance(given, str) else list(given)
        if len(given) != n_targets:
            raise InputError(
                f"{len(given)} target labels given ({given}) but the file has {n_targets} "
                f"label{'s' if n_targets != 1 else ''} per record",
                path=path,
            )
        return given
    base = default_target_label(path)
    return [base] if n_targets == 1 else [f"{base}_{i}" for i in range(n_targets)]


def label_error(
    token: str,
    *,
    continuous: bool,
    path: str | Path,
    line: int,
    record: str | None,
    where: str = "",
    hint: str | None = None,
) -> InputError:
    if continuous:
        what = f"label {token!r}{where} is not a finite number"
        default = "continuous targets must be numbers such as 0.5 or -1.2e-3"
    else:
        what = f"label {token!r}{where} is not 0 or 1"
        default = (
            "binary targets are 0 or 1; for real-valued targets use continuous=True (--continuous)"
        )
    return InputError(what, path=path, line=line, record=record, hint=hint or default)


def parse_label(token: str, continuous: bool) -> float | None:
    """The label's value, or None if it is not a valid label."""
    try:
        value = float(token.strip())
    except ValueError:
        return None
    if continuous:
        return value if np.isfinite(value) else None
    return value if value in (0.0, 1.0) else None


def check_unique(names: Sequence[str], lines: Sequence[int], path: str | Path) -> None:
    first: dict[str, int] = {}
    for name, line in zip(names, lines, strict=True):
        if name in first:
            raise InputError(
                f"duplicate name {name!r} (first on line {first[name]}, again on line {line})",
                path=path,
                line=line,
                record=name,
                hint="record names must be unique within a file",
            )
        first[name] = line


def validate_seqs(
    seqs: Sequence[str], names: Sequence[str], lines: Sequence[int], path: str | Path
) -> None:
    """Check every sequence is non-empty and holds only ACGTN/IUPAC (vectorised)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        i = int(empty[0])
        raise InputError("empty sequence", path=path, line=lines[i], record=names[i])
    raw = "".join(seqs).encode("ascii", "replace")  # one byte per character
    codes = code_table()[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes == INVALID)
    if bad.size:
        ends = np.cumsum(lengths)
        i = int(np.searchsorted(ends, bad[0], side="right"))
        encode_codes(seqs[i], path=str(path), line=lines[i], record=names[i])  # raises


def concat_labelled(parts: Sequence[LabelledSequences]) -> LabelledSequences:
    """Join labelled sequences from several files (e.g. one table per cell type).

    All parts must have the same target labels, and names must stay unique.
    ``source`` becomes the files joined with ``" + "``; ``lines`` refer to each record's
    own file. ``chroms`` and ``splits`` are None when no part has them, and ``""`` for the
    records of a part without them.
    """
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0]
    for part in parts[1:]:
        if list(part.target_labels) != list(first.target_labels):
            raise InputError(
                f"target labels {part.target_labels} differ from {first.target_labels} "
                f"in {first.source}",
                path=part.source,
            )
    seen: dict[str, str] = {}
    for part in parts:
        for name, line in zip(part.names, part.lines, strict=True):
            if name in seen:
                raise InputError(
                    f"duplicate name {name!r} (also in {seen[name]})",
                    path=part.source,
                    line=line,
                    record=name,
                )
            seen[name] = part.source

    def joined(what: str) -> list[str] | None:
        # a part without the field contributes "" per record, so that a later check names
        # the first record that lacks it
        if all(getattr(p, what) is None for p in parts):
            return None
        return [v for p in parts for v in (getattr(p, what) or [""] * len(p))]

    return LabelledSequences(
        names=[n for p in parts for n in p.names],
        seqs=[s for p in parts for s in p.seqs],
        labels=np.concatenate([p.labels for p in parts]),
        target_labels=list(first.target_labels),
        source=" + ".join(p.source for p in parts),
        lines=[x for p in parts for x in p.lines],
        chroms=joined("chroms"),
        splits=joined("splits"),
    )
