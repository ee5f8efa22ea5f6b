"""Readers of labelled sequences: FASTA, TSV/CSV tables and DeepBind ENCODE files.

- **FASTA** whose header carries the label(s): ``>1`` / ``>0`` (the Deep Motif Dashboard
  format), ``>1,0,1`` for several targets, or ``>name 1`` (a name, then the label(s) as the
  last whitespace-separated token). A name that holds coordinates (``chr1:100-200``,
  ``chr1:100-200(+)``, or bedtools getfasta ``-name``'s ``name::chr1:100-200``) gives the
  record's chromosome.
- **Tables** (TSV or CSV, plain or gzip) with a sequence column and one or more label
  columns, optionally a chromosome column and a split column.
- **DeepBind ENCODE** files: gzip TSV with the header ``FoldID EventID seq Bound``.

Every reader validates as it goes and rejects malformed input with an
:class:`~motiflens.errors.InputError` naming the file, the line (and record) and what is
wrong. :func:`read_sequences` picks the reader by the file's format.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from motiflens.data.labelled import (
    CHROM_COLUMNS,
    COMPRESSION_SUFFIXES,
    DEEPBIND_HEADER,
    FORMATS,
    LabelledSequences,
    check_unique,
    label_error,
    parse_label,
    target_names,
    validate_seqs,
)
from motiflens.data.splits import parse_splits
from motiflens.errors import InputError
from motiflens.sequence.fasta import read_fasta
from motiflens.sequence.textio import is_sequence_line, numbered_lines, open_text

# bedtools getfasta writes chrom:start-end, with -s a (+)/(-) suffix, with -name name::...;
# the chromosome is everything before the last ':start-end'
_COORDINATES = re.compile(r"^(?:.*::)?(?P<chrom>\S+?):\d+-\d+(?:\([+.-]\))?$")


def header_chromosome(name: str) -> str | None:
    """The chromosome of a FASTA record name that holds coordinates, else None.

    ``chr1:100-200``, ``chr1:100-200(+)`` and ``name::chr1:100-200`` (bedtools getfasta
    with ``-name``) all give ``chr1``.
    """
    match = _COORDINATES.match(name)
    return match.group("chrom") if match else None


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
        ``chroms`` comes from names that hold coordinates (:func:`header_chromosome`);
        it is None when no name does.

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
            value = parse_label(token, continuous)
            if value is None:
                raise label_error(
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
        check_unique(names, lines, path)
    chroms = [
        (header_chromosome(name) or "") if is_named else ""
        for name, is_named in zip(names, named, strict=True)
    ]
    labels = np.asarray(rows, dtype=np.float32)
    return LabelledSequences(
        names=names,
        seqs=seqs,
        labels=labels,
        target_labels=target_names(target_labels, labels.shape[1], path),
        source=str(path),
        lines=lines,
        chroms=chroms if any(chroms) else None,
    )


def _sniff_sep(path: Path, first_line: str) -> str:
    stem = path.name.lower()
    for suffix in COMPRESSION_SUFFIXES:
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


def _split_rows(fh: IO[str], sep: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of every row, as pandas splits them: one character with CSV
    quoting, a longer ``sep`` as a regular expression."""
    if len(sep) == 1:
        reader = csv.reader(fh, delimiter=sep)
        for fields in reader:
            yield reader.line_num, fields
    else:
        pattern = re.compile(sep)
        for number, line in enumerate(fh, start=1):
            yield number, pattern.split(line.rstrip("\r\n"))


def _table_rows(
    path: Path, sep: str, shown_sep: str
) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and the line of each row; blank rows left out.

    Every row must have as many fields as the header: a short row would otherwise read as
    empty values and be reported as a bad label or sequence far from its cause.
    """
    # a long sequence is one field; csv's default limit (128 KiB) would refuse it
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    rows: list[list[str]] = []
    lines: list[int] = []
    columns: list[str] | None = None
    number = 0
    try:
        with open_text(path) as fh:
            for number, fields in _split_rows(fh, sep):
                if columns is None:
                    columns = [f or f"Unnamed: {i}" for i, f in enumerate(fields)]
                    _check_header(columns, path)
                    continue
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) != len(columns):
                    raise InputError(
                        f"line has {len(fields)} column(s) but the header has "
                        f"{len(columns)} ({shown_sep}-separated)",
                        path=path,
                        line=number,
                        hint="every row needs a value in every column (an empty value "
                        "between two separators counts)",
                    )
                rows.append(fields)
                lines.append(number)
    except csv.Error as exc:
        raise InputError(f"cannot parse the table: {exc}", path=path, line=number + 1) from None
    if columns is None:
        raise InputError("file is empty", path=path)
    return columns, rows, lines


def _check_header(columns: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(columns, start=1):
        if name in seen:
            raise InputError(
                f"column {name!r} appears twice in the header (columns {seen[name]} and {i})",
                path=path,
                line=1,
                hint="give every column its own name",
            )
        seen[name] = i


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
    chrom_column: str | None = None,
    split_column: str | None = None,
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
        sequence, name, chromosome and split columns, which must then all be numeric.
        The chromosome and split columns are never labels.
    name_column
        Column holding unique record names; without it records are ``record_<i>``
        (``i`` counts rows from 1).
    chrom_column
        Column holding each row's chromosome; by default the column named ``chr``,
        ``chrom`` or ``chromosome`` (any case) if there is one.
    split_column
        Column holding each row's split: ``train``/``training``,
        ``valid``/``validation``/``val`` or ``test``/``testing`` (any case).
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
        On an empty file, a missing column (listing those available), a row with more or
        fewer fields than the header, a column name given twice, an empty or invalid
        sequence, a label that is not 0/1 (or not a number with ``continuous``),
        duplicate names, a split value that is not accepted,
        a chromosome or split column chosen as a label, or several columns that could be
        the chromosome column. Messages give the 1-based line (the header is line 1).
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
    columns, rows, row_lines = _table_rows(path, sep, shown_sep)
    df = pd.DataFrame(rows, columns=columns, dtype=object)
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

    line_numbers = np.asarray(row_lines, dtype=np.int64)
    if len(df) == 0:
        raise InputError("the table has a header but no rows", path=path)
    need(sequence_column, "sequence")
    if name_column is not None:
        need(name_column, "name")
    if split_column is not None:
        need(split_column, "split")
    if chrom_column is not None:
        need(chrom_column, "chromosome")
    else:
        found = [c for c in columns if c.strip().lower() in CHROM_COLUMNS]
        if len(found) > 1:
            raise InputError(
                f"columns {found} could each be the chromosome column",
                path=path,
                line=1,
                hint="choose one with --chrom-column (chrom_column=)",
            )
        chrom_column = found[0] if found else None
    roles = {chrom_column: "chromosome", split_column: "split"}
    roles.pop(None, None)
    if label_columns is None:
        label_columns = [
            c for c in columns if c not in (sequence_column, name_column) and c not in roles
        ]
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
            if column in roles:
                raise InputError(
                    f"column {column!r} is the {roles[column]} column; it cannot be a label",
                    path=path,
                    line=1,
                    hint=f"choose the label column(s) among: {available}",
                )

    lines = line_numbers.tolist()
    if name_column is not None:
        names = df[name_column].str.strip().tolist()
        for name, line in zip(names, lines, strict=True):
            if not name:
                raise InputError(f"empty name in column {name_column!r}", path=path, line=line)
        check_unique(names, lines, path)
    else:
        names = [f"record_{i}" for i in range(1, len(df) + 1)]
    seqs = df[sequence_column].str.strip().str.upper().tolist()
    validate_seqs(seqs, names, lines, path)

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
            raise label_error(
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
    chroms = None if chrom_column is None else df[chrom_column].str.strip().tolist()
    splits = None
    if split_column is not None:
        splits = parse_splits(
            df[split_column].tolist(), path=path, lines=lines, column=split_column
        )
    return LabelledSequences(
        names=names,
        seqs=seqs,
        labels=labels,
        target_labels=list(target_labels),
        source=str(path),
        lines=lines,
        chroms=chroms,
        splits=splits,
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
        value = parse_label(fields[3], False)
        if value is None:
            raise label_error(
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
    check_unique(names, lines, path)
    validate_seqs(seqs, names, lines, path)
    return LabelledSequences(
        names=names,
        seqs=seqs,
        labels=np.asarray(labels, dtype=np.float32)[:, None],
        target_labels=target_names(target_labels, 1, path),
        source=str(path),
        lines=lines,
    )


def detect_format(path: str | Path) -> str:
    """Guess ``"fasta"``, ``"deepbind"`` or ``"table"`` from the first non-blank line.

    A bare line of sequence letters is FASTA text before its first header: read as FASTA,
    whose reader says so, rather than as a table without the columns it needs.
    """
    _, line = _first_line(path)
    if line.lstrip().startswith(">") or is_sequence_line(line.strip()):
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
    chrom_column: str | None = None,
    split_column: str | None = None,
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
    sequence_column, label_columns, name_column, chrom_column, split_column, sep
        Table options (see :func:`read_table`); an error for other formats. FASTA records
        take their chromosome from coordinates in their names
        (:func:`read_labelled_fasta`).
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
            chrom_column=chrom_column,
            split_column=split_column,
            continuous=continuous,
            sep=sep,
            target_labels=target_labels,
        )
    table_options = {
        "sequence_column": sequence_column != "sequence",
        "label_columns": label_columns is not None,
        "name_column": name_column is not None,
        "chrom_column": chrom_column is not None,
        "split_column": split_column is not None,
        "sep": sep is not None,
    }
    given = [k for k, v in table_options.items() if v]
    if given:
        raise InputError(
            f"options {given} apply to tables, but the file is read as {format}",
            path=path,
            hint="FASTA records take their chromosome from names such as 'chr1:100-200' or "
            "'name::chr1:100-200'"
            if format == "fasta" and "chrom_column" in given
            else None,
        )
    if format == "fasta":
        return read_labelled_fasta(path, continuous=continuous, target_labels=target_labels)
    if continuous:
        raise InputError("DeepBind files have binary (Bound 0/1) targets", path=path)
    return read_deepbind(path, target_labels=target_labels)
