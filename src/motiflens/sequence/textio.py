"""Opening text inputs that may be gzip- or bgzip-compressed, and telling FASTA from BED."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

import numpy as np

from motiflens.errors import InputError

#: Bytes looked at to tell a text file from a binary one (git and grep look at 8 KiB too).
SNIFF_BYTES = 8192

# Formats a user may hand over by mistake, recognised by their first bytes, so that the
# message says what the file is rather than "not a text file".
_MAGIC = (
    (b"BZh", "bzip2-compressed", "decompress it (bunzip2) or recompress it with gzip"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it (unxz) or recompress it with gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it (unzstd) or recompress it with gzip"),
    (b"PK\x03\x04", "a zip archive", "unzip it first"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file", None),
    (b"BAM\x01", "a BAM file", "convert it first, e.g. samtools fasta"),
    (b"BCF\x02", "a BCF file", "convert it to VCF first: bcftools view -Ov -o FILE.vcf FILE"),
)

# A line of sequence text: IUPAC letters (and '-', '*', '.' as aligned FASTA writes them).
_SEQUENCE_LINE = re.compile(r"^[ACGTUNRYKMSWBDHVacgtunrykmswbdhv.*-]+$")


def is_sequence_line(text: str) -> bool:
    """Whether ``text`` (stripped) is a bare line of sequence letters: FASTA body text."""
    return bool(_SEQUENCE_LINE.match(text))


def _peek(path: Path, compressed: bool) -> bytes:
    """The first :data:`SNIFF_BYTES` of the (decompressed) content; b"" if unreadable.

    A corrupt gzip stream is left for the reader to report with its line count.
    """
    try:
        if compressed:
            with gzip.open(path, "rb") as fh:
                return fh.read(SNIFF_BYTES)
        with open(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except (EOFError, OSError, zlib.error):
        return b""


def check_text(path: str | Path, head: bytes) -> None:
    """Raise :class:`InputError` when ``head`` (a file's first bytes) is not text.

    A NUL byte in the first 8 KiB marks a binary file (as git and grep decide);
    compressed formats other than gzip and a few common binary formats are named.
    """
    for magic, what, hint in _MAGIC:
        if head.startswith(magic):
            raise InputError(
                f"not a text file: this is {what}",
                path=path,
                hint=hint or "give a plain or gzip-compressed text file",
            )
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"not a text file: binary content (a NUL byte at byte {nul + 1})",
            path=path,
            hint="give a plain or gzip-compressed text file",
        )


def open_text(path: str | Path) -> IO[str]:
    """Open a plain or gzip-compressed text file for reading (detected by magic bytes).

    A UTF-8 byte-order mark at the start is dropped (Windows editors write one); bytes
    that are not UTF-8 read as U+FFFD, for the parser to name where they are.

    Raises
    ------
    InputError
        A missing file, a directory, or a binary file (:func:`check_text`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        raise InputError("expected a file but found a directory", path=path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    compressed = magic == b"\x1f\x8b"
    check_text(path, _peek(path, compressed))
    # utf-8-sig: the same as utf-8 except that a leading BOM is dropped, not read as text
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace")


def numbered_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` pairs (1-based, newline stripped); error on empty file."""
    empty = True
    with open_text(path) as fh:
        lines = enumerate(fh, start=1)
        number = 0
        while True:
            try:
                number, line = next(lines)
            except StopIteration:
                break
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                # a truncated or corrupt .gz otherwise surfaces as a bare EOFError, no file named
                raise InputError(
                    f"cannot decompress the file ({number} lines read): {exc}",
                    path=path,
                    hint="the file may be truncated or corrupt; check it with `gzip -t`",
                ) from exc
            empty = False
            yield number, line.rstrip("\r\n")
    if empty:
        raise InputError("file is empty", path=path)


def sniff_sequence_file(path: str | Path) -> Literal["fasta", "bed"]:
    """Tell a FASTA file from a BED file by its first line of content.

    ``>`` starts FASTA. A line of sequence letters alone (no columns) is FASTA too, with
    text before its first header, which :func:`~motiflens.sequence.fasta.read_fasta`
    then reports by line. ``#``, ``track`` and ``browser`` lines and lines of three or
    more columns are BED, checked line by line later by
    :func:`~motiflens.sequence.bed.read_bed`.

    Raises
    ------
    InputError
        A missing, empty, binary or undecodable file, or a first line that is neither
        (named, with what each format expects).
    """
    for number, line in numbered_lines(path):
        text = line.strip()
        if not text or text.startswith(";"):  # ';' comments are old FASTA
            continue
        if text.startswith(">"):
            return "fasta"
        if text.startswith(("#", "track", "browser")):
            return "bed"
        fields = text.split("\t") if "\t" in text else text.split()
        if len(fields) >= 3:
            return "bed"
        if len(fields) == 1 and is_sequence_line(text):
            return "fasta"
        raise InputError(
            f"neither FASTA nor BED: line {number} does not start with '>' (FASTA) and has "
            f"{len(fields)} column(s), not chrom, start, end (BED)",
            path=path,
            line=number,
            hint="give a FASTA file ('>name' lines, then sequence), a BED file (with "
            "--genome) or a dataset file",
        )
    raise InputError("file is empty (only blank lines)", path=path)


def first_repeat(
    items: Callable[[], Iterable[tuple[str, int]]],
) -> tuple[str, int, int, int] | None:
    """The first name that repeats in a stream of ``(name, where)`` pairs, in bounded memory.

    Parameters
    ----------
    items
        Makes the stream (called once, and a second time only if a repeat is likely):
        names with a line or row number each.

    Returns
    -------
    (name, first, second, count) or None
        The first name seen twice, the numbers of its first two occurrences, and how many
        items repeat an earlier name; None when every name is unique.

    Notes
    -----
    The first pass keeps 8 bytes per name (its hash), so a million names cost 8 MB,
    not the names themselves; only when two hashes agree is the stream read again,
    holding just the names whose hash repeats.
    """
    values = np.sort(np.fromiter((hash(name) for name, _ in items()), dtype=np.int64))
    repeated = values[1:] == values[:-1]
    if not repeated.any():
        return None
    clashes = set(values[1:][repeated].tolist())
    seen: dict[str, int] = {}
    found: tuple[str, int, int] | None = None
    count = 0
    for name, where in items():
        if hash(name) not in clashes:
            continue
        if name in seen:
            count += 1
            if found is None:
                found = (name, seen[name], where)
        else:
            seen[name] = where
    return None if found is None else (*found, count)
