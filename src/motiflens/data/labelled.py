"""Labelled sequences (FASTA, TSV/CSV, DeepBind ENCODE files) -> dataset file.

Three input formats:

- **FASTA** whose header carries the label(s): ``>1`` / ``>0`` (the Deep Motif Dashboard
  format), ``>1,0,1`` for several targets, or ``>name 1`` (a name, then the label(s) as the
  last whitespace-separated token).
- **Tables** (TSV or CSV, plain or gzip) with a sequence column and one or more label
  columns.
- **DeepBind ENCODE** files: gzip TSV with the header ``FoldID EventID seq Bound``.

Every reader validates as it goes and rejects malformed input with an
:class:`~motiflens.errors.InputError` naming the file, the line (and record) and what is
wrong. :func:`build_sequence_dataset` then resizes, optionally adds dinucleotide-shuffled
negatives, splits and writes the HDF5 dataset file atomically.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.data.hdf5 import write_dataset
from motiflens.data.splits import SPLITS, split_random
from motiflens.errors import InputError
from motiflens.sequence.fasta import read_fasta
from motiflens.sequence.onehot import INVALID, code_table, encode_codes, resize
from motiflens.sequence.shuffle import dinucleotide_shuffle
from motiflens.sequence.textio import numbered_lines, open_text

DEEPBIND_HEADER = ("FoldID", "EventID", "seq", "Bound")
FORMATS = ("auto", "fasta", "table", "deepbind")
NEGATIVES = ("shuffle",)

_COMPRESSION_SUFFIXES = (".gz", ".bgz", ".gzip")
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
    """

    names: list[str]
    seqs: list[str]
    labels: np.ndarray
    target_labels: list[str]
    source: str
    lines: list[int]

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
        )


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


# --------------------------------------------------------------------------- helpers


def _strip_suffixes(name: str) -> str:
    lower = name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
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


def _target_names(given: Sequence[str] | None, n_targets: int, path: str | Path) -> list[str]:
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


def _label_error(
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


def _parse_label(token: str, continuous: bool) -> float | None:
    """The label's value, or None if it is not a valid label."""
    try:
        value = float(token.strip())
    except ValueError:
        return None
    if continuous:
        return value if np.isfinite(value) else None
    return value if value in (0.0, 1.0) else None


def _check_unique(names: Sequence[str], lines: Sequence[int], path: str | Path) -> None:
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


def _validate_seqs(
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


# --------------------------------------------------------------------------- readers


def read_labelled_fasta(
    path: str | Path,
    *,
    continuous: bool = False,
    target_labels: Sequence[str] | None = None,
) -> LabelledSequences:
    """Read a FASTA file whose headers carry the labels.

    Parameters
    ----------
    path
        FASTA file (plain or gzip). Accepted headers: ``>1`` or ``>0`` (one binary target),
        ``>1,0,1`` (several targets), and ``>name 1`` / ``>name 1,0,1`` (a name, then the
        labels as the last whitespace-separated token).
    continuous
        Labels are real numbers rather than 0/1.
    target_labels
        Names for the targets; by default the file stem (``_0``, ``_1``... for several).

    Returns
    -------
    LabelledSequences
        Records without a name are called ``record_<i>`` (``i`` counts records from 1).

    Raises
    ------
    InputError
        On an empty file, a header without a label, a label that is not 0/1 (or not a number
        with ``continuous``), records with different numbers of labels, duplicate names,
        or a sequence with a character outside ACGTN and the IUPAC codes.
    """
    names: list[str] = []
    seqs: list[str] = []
    rows: list[list[float]] = []
    lines: list[int] = []
    named: list[bool] = []
    for i, (header, seq, line) in enumerate(read_fasta(path), start=1):
        tokens = header.split()
        if not tokens:
            raise InputError(
                "header has no label",
                path=path,
                line=line,
                hint="write the label in the header: '>1', '>0' or '>name 1'",
            )
        name = tokens[0] if len(tokens) > 1 else None
        values = []
        for token in tokens[-1].split(","):
            value = _parse_label(token, continuous)
            if value is None:
                raise _label_error(
                    token,
                    continuous=continuous,
                    path=path,
                    line=line,
                    record=name,
                    hint=None
                    if len(tokens) > 1
                    else "the header must carry the label(s): '>1', '>0', '>1,0,1' or '>name 1'",
                )
            values.append(value)
        if rows and len(values) != len(rows[0]):
            raise InputError(
                f"record has {len(values)} label(s) but the first record has {len(rows[0])}",
                path=path,
                line=line,
                record=name,
            )
        names.append(name if name is not None else f"record_{i}")
        named.append(name is not None)
        seqs.append(seq.upper())
        rows.append(values)
        lines.append(line)
    if any(named):
        _check_unique(names, lines, path)
    labels = np.asarray(rows, dtype=np.float32)
    return LabelledSequences(
        names=names,
        seqs=seqs,
        labels=labels,
        target_labels=_target_names(target_labels, labels.shape[1], path),
        source=str(path),
        lines=lines,
    )


def _sniff_sep(path: Path, first_line: str) -> str:
    stem = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        stem = stem.removesuffix(suffix)
    if stem.endswith((".tsv", ".tab")):
        return "\t"
    if stem.endswith(".csv"):
        return ","
    if "\t" in first_line:
        return "\t"
    if "," in first_line:
        return ","
    return "\t"


def _first_line(path: str | Path) -> tuple[int, str]:
    """First non-blank line and its number (raises on an empty file)."""
    for number, line in numbered_lines(path):
        if line.strip():
            return number, line
    raise InputError("file is empty (only blank lines)", path=path)


def read_table(
    path: str | Path,
    *,
    sequence_column: str = "sequence",
    label_columns: Sequence[str] | None = None,
    name_column: str | None = None,
    continuous: bool = False,
    sep: str | None = None,
    target_labels: Sequence[str] | None = None,
) -> LabelledSequences:
    """Read a TSV or CSV table with a sequence column and label columns.

    Parameters
    ----------
    path
        The table (plain or gzip). Line 1 is the header.
    sequence_column
        Column holding the sequences.
    label_columns
        Columns holding the targets, in order. By default every column other than the
        sequence and name columns, which must then all be numeric.
    name_column
        Column holding unique record names; without it records are ``record_<i>``
        (``i`` counts rows from 1).
    continuous
        Labels are real numbers rather than 0/1.
    sep
        Field separator; by default ``\\t`` for ``.tsv``, ``,`` for ``.csv``, otherwise
        sniffed from the header line.
    target_labels
        Names for the targets; by default the label column names.

    Returns
    -------
    LabelledSequences

    Raises
    ------
    InputError
        On an empty file, a missing column (listing those available), rows with more fields
        than the header, an empty or invalid sequence, a label that is not 0/1 (or not a
        number with ``continuous``), or duplicate names. Messages give the 1-based line
        (the header is line 1).
    """
    path = Path(path)
    header_line, first = _first_line(path)
    if header_line != 1:
        raise InputError(
            "the table starts with blank lines; line 1 must be the header", path=path, line=1
        )
    if sep is None:
        sep = _sniff_sep(path, first)
    sep = {"\\t": "\t", "tab": "\t", "comma": ","}.get(sep, sep)
    shown_sep = {"\t": "tab", ",": "comma"}.get(sep, repr(sep))
    try:
        with open_text(path) as fh:
            df = pd.read_csv(
                fh,
                sep=sep,
                dtype=str,
                na_filter=False,
                skip_blank_lines=False,
                engine="c" if len(sep) == 1 else "python",
            )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = (int(g) for g in match.groups())
            raise InputError(
                f"line has {saw} fields but the header has {expected} ({shown_sep}-separated)",
                path=path,
                line=line,
            ) from None
        raise InputError(f"cannot parse the table: {exc}", path=path) from None
    if not isinstance(df.index, pd.RangeIndex):
        raise InputError(
            f"line has more fields than the header ({len(df.columns)} columns, "
            f"{shown_sep}-separated)",
            path=path,
            line=2,
        )
    columns = [str(c) for c in df.columns]
    available = ", ".join(columns)

    def need(column: str, what: str) -> None:
        if column not in df.columns:
            raise InputError(
                f"no {what} column {column!r}; the columns are: {available}",
                path=path,
                line=1,
                hint=f"read as {shown_sep}-separated; choose the {what} column by name"
                + ("" if len(columns) > 1 else ", or pass the right separator"),
            )

    line_numbers = np.arange(2, len(df) + 2)
    blank = (df.apply(lambda s: s.str.strip() == "")).all(axis=1).to_numpy()
    if blank.any():
        df = df.loc[~blank].reset_index(drop=True)
        line_numbers = line_numbers[~blank]
    if len(df) == 0:
        raise InputError("the table has a header but no rows", path=path)
    need(sequence_column, "sequence")
    if name_column is not None:
        need(name_column, "name")
    if label_columns is None:
        label_columns = [c for c in columns if c not in (sequence_column, name_column)]
        if not label_columns:
            raise InputError(
                f"no label columns: the only columns are {available}", path=path, line=1
            )
        numeric = df[label_columns].apply(lambda s: pd.to_numeric(s.str.strip(), errors="coerce"))
        # a column of mostly text (chromosome, class name) is not a label column; a numeric
        # column with a few bad values is, and the bad values are reported below by line
        text = [c for c in label_columns if numeric[c].notna().mean() < 0.5]
        if text:
            raise InputError(
                f"label columns were not given and columns {text} are not numeric",
                path=path,
                line=1,
                hint=f"choose the label column(s) among: {available}",
            )
    else:
        label_columns = [label_columns] if isinstance(label_columns, str) else list(label_columns)
        if not label_columns:
            raise InputError("no label columns given", path=path)
        for column in label_columns:
            need(column, "label")

    lines = line_numbers.tolist()
    if name_column is not None:
        names = df[name_column].str.strip().tolist()
        for name, line in zip(names, lines, strict=True):
            if not name:
                raise InputError(f"empty name in column {name_column!r}", path=path, line=line)
        _check_unique(names, lines, path)
    else:
        names = [f"record_{i}" for i in range(1, len(df) + 1)]
    seqs = df[sequence_column].str.strip().str.upper().tolist()
    _validate_seqs(seqs, names, lines, path)

    labels = np.empty((len(df), len(label_columns)), dtype=np.float32)
    for j, column in enumerate(label_columns):
        raw = df[column]
        values = pd.to_numeric(raw.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        if continuous:
            bad = ~np.isfinite(values)
        else:
            bad = ~((values == 0) | (values == 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _label_error(
                raw.iloc[i],
                continuous=continuous,
                path=path,
                line=lines[i],
                record=names[i] if name_column is not None else None,
                where=f" in column {column!r}",
            )
        labels[:, j] = values
    if target_labels is None:
        target_labels = label_columns
    elif len(list(target_labels)) != len(label_columns):
        raise InputError(
            f"{len(list(target_labels))} target labels given for {len(label_columns)} label "
            "columns",
            path=path,
        )
    return LabelledSequences(
        names=names,
        seqs=seqs,
        labels=labels,
        target_labels=list(target_labels),
        source=str(path),
        lines=lines,
    )


def read_deepbind(
    path: str | Path, *, target_labels: Sequence[str] | None = None
) -> LabelledSequences:
    """Read a DeepBind ENCODE file (``FoldID EventID seq Bound``, tab-separated, gzip).

    Parameters
    ----------
    path
        The ``.seq.gz`` file.
    target_labels
        Name of the (single) target; by default the experiment, taken from the directory
        (``deepbind_encode_GABPA_GM12878`` -> ``GABPA_GM12878``) or the file name.

    Returns
    -------
    LabelledSequences
        Names are the EventIDs, labels the Bound column.

    Raises
    ------
    InputError
        On an empty file, a wrong header, a line without four tab-separated fields, a Bound
        that is not 0/1, duplicate EventIDs or an invalid sequence.
    """
    names: list[str] = []
    seqs: list[str] = []
    labels: list[float] = []
    lines: list[int] = []
    header_seen = False
    for number, line in numbered_lines(path):
        if not header_seen:
            fields = tuple(line.strip().split("\t"))
            if fields != DEEPBIND_HEADER:
                raise InputError(
                    f"expected the DeepBind header {' '.join(DEEPBIND_HEADER)!r} "
                    f"(tab-separated), got {line[:80]!r}",
                    path=path,
                    line=number,
                    hint="for another table use the table format with sequence/label columns",
                )
            header_seen = True
            continue
        if not line.strip():
            continue
        fields = tuple(line.split("\t"))
        if len(fields) != 4:
            raise InputError(
                f"expected 4 tab-separated fields (FoldID, EventID, seq, Bound), got {len(fields)}",
                path=path,
                line=number,
            )
        name = fields[1].strip()
        if not name:
            raise InputError("empty EventID", path=path, line=number)
        value = _parse_label(fields[3], False)
        if value is None:
            raise _label_error(
                fields[3],
                continuous=False,
                path=path,
                line=number,
                record=name,
                where=" in column 'Bound'",
            )
        labels.append(value)
        names.append(name)
        seqs.append(fields[2].strip().upper())
        lines.append(number)
    if not names:
        raise InputError("no records after the header", path=path)
    _check_unique(names, lines, path)
    _validate_seqs(seqs, names, lines, path)
    return LabelledSequences(
        names=names,
        seqs=seqs,
        labels=np.asarray(labels, dtype=np.float32)[:, None],
        target_labels=_target_names(target_labels, 1, path),
        source=str(path),
        lines=lines,
    )


def detect_format(path: str | Path) -> str:
    """Guess ``"fasta"``, ``"deepbind"`` or ``"table"`` from the first non-blank line."""
    _, line = _first_line(path)
    if line.lstrip().startswith(">"):
        return "fasta"
    if tuple(line.strip().split("\t")) == DEEPBIND_HEADER:
        return "deepbind"
    return "table"


def read_sequences(
    path: str | Path,
    format: str = "auto",
    *,
    continuous: bool = False,
    target_labels: Sequence[str] | None = None,
    sequence_column: str = "sequence",
    label_columns: Sequence[str] | None = None,
    name_column: str | None = None,
    sep: str | None = None,
) -> LabelledSequences:
    """Read labelled sequences in any supported format.

    Parameters
    ----------
    path
        Input file.
    format
        ``"fasta"``, ``"table"``, ``"deepbind"`` or ``"auto"`` (a first character ``>``
        means FASTA, the header ``FoldID EventID seq Bound`` means DeepBind, anything
        else is a table).
    continuous, target_labels
        As for every reader (DeepBind targets are always binary).
    sequence_column, label_columns, name_column, sep
        Table options (see :func:`read_table`); an error for other formats.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {FORMATS}")
    if format == "auto":
        format = detect_format(path)
    if format == "table":
        return read_table(
            path,
            sequence_column=sequence_column,
            label_columns=label_columns,
            name_column=name_column,
            continuous=continuous,
            sep=sep,
            target_labels=target_labels,
        )
    table_options = {
        "sequence_column": sequence_column != "sequence",
        "label_columns": label_columns is not None,
        "name_column": name_column is not None,
        "sep": sep is not None,
    }
    given = [k for k, v in table_options.items() if v]
    if given:
        raise InputError(
            f"options {given} apply to tables, but the file is read as {format}", path=path
        )
    if format == "fasta":
        return read_labelled_fasta(path, continuous=continuous, target_labels=target_labels)
    if continuous:
        raise InputError("DeepBind files have binary (Bound 0/1) targets", path=path)
    return read_deepbind(path, target_labels=target_labels)


def concat_labelled(parts: Sequence[LabelledSequences]) -> LabelledSequences:
    """Join labelled sequences from several files (e.g. one table per cell type).

    All parts must have the same target labels, and names must stay unique.
    ``source`` becomes the files joined with ``" + "``; ``lines`` refer to each record's
    own file.
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
    return LabelledSequences(
        names=[n for p in parts for n in p.names],
        seqs=[s for p in parts for s in p.seqs],
        labels=np.concatenate([p.labels for p in parts]),
        target_labels=list(first.target_labels),
        source=" + ".join(p.source for p in parts),
        lines=[x for p in parts for x in p.lines],
    )


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
    )


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


def build_sequence_dataset(
    out: str | Path,
    train: LabelledSequences,
    *,
    test: LabelledSequences | None = None,
    length: int | None = None,
    negatives: str | None = None,
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
        Training sequences; ``valid`` (and, without ``test``, ``test_fraction``) of them are
        held out at random.
    test
        A separate test set. It must have as many targets as ``train``.
    length
        Centre-pad (with N) or centre-trim every sequence to this length; by default the
        most common length (ties: the longest).
    negatives
        ``"shuffle"`` adds a dinucleotide-shuffled negative for every positive of ``train``
        (and of ``test`` if it has no negatives of its own). Each negative lands in the
        same split as its positive.
    valid, test_fraction
        Fractions (below 1) or counts of ``train`` records held out for validation and
        test; ``test_fraction`` is ignored when ``test`` is given.
    seed
        Seed for the split and the shuffles.
    continuous
        Targets are real numbers (stored float32) rather than 0/1 (int8).

    Returns
    -------
    BuildReport
        Counts, resizing and positive rates; ``str()`` of it is a human summary.
    """
    if negatives not in (None, *NEGATIVES):
        raise ValueError(f"unknown negatives {negatives!r}; choose one of {NEGATIVES} or None")
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

    assigned = split_random(len(train), valid, 0 if test is not None else test_fraction, seed)
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
        for k, split in enumerate(SPLITS):
            if split == "test" and test is not None and (test.labels == 0).any():
                continue  # a given test set with its own negatives stays as it is
            before = len(groups[split])
            groups[split] = add_shuffled_negatives(
                groups[split], seed=np.random.default_rng((seed, k))
            )
            n_negatives += len(groups[split]) - before
        if test is not None and (test.labels == 0).any():
            notes.append("the test file has its own negatives; no shuffles were added to it")

    # Store train and valid in random order (as Basset's seq_hdf5.py does): a dataset read
    # from disk in chunks must not see a block of positives then a block of negatives. A
    # given test file keeps its own order so predictions line up with it.
    order_rng = np.random.default_rng((seed, 99))
    for split in ("train", "valid") if test is not None else SPLITS:
        groups[split] = groups[split].subset(order_rng.permutation(len(groups[split])))

    arrays = {
        split: (_encode(data, length), data.labels, data.names)
        for split, data in groups.items()
        if len(data)
    }
    attrs = {
        "builder": "motiflens.data.labelled.build_sequence_dataset",
        "source_train": train.source,
        "source_test": test.source if test is not None else "",
        "length": int(length),
        "negatives": negatives or "none",
        "valid": float(valid),
        "test_fraction": float(test_fraction) if test is None else 0.0,
        "seed": int(seed),
        "n_padded": int(n_padded),
        "n_trimmed": int(n_trimmed),
    }
    path = write_dataset(out, arrays, train.target_labels, continuous=continuous, attrs=attrs)
    return BuildReport(
        path=Path(path),
        counts={split: len(groups[split]) for split in SPLITS if len(groups[split])},
        n_padded=int(n_padded),
        n_trimmed=int(n_trimmed),
        length=int(length),
        target_labels=list(train.target_labels),
        positive_rates={s: _rates(groups[s].labels) for s in SPLITS if len(groups[s])},
        continuous=continuous,
        n_negatives=n_negatives,
        notes=notes,
    )
