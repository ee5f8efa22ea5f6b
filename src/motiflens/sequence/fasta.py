"""FASTA: streaming records from small files, indexed random access to genomes."""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyfaidx

from motiflens.errors import InputError
from motiflens.sequence.onehot import INVALID, code_table
from motiflens.sequence.textio import first_repeat, numbered_lines


def read_fasta(path: str | Path, *, validate: bool = True) -> Iterator[tuple[str, str, int]]:
    """Stream the records of a FASTA file (plain or gzip).

    Parameters
    ----------
    path
        FASTA file.
    validate
        Check that every sequence holds only ACGTN/IUPAC characters.

    Yields
    ------
    tuple
        ``(header, sequence, line)``: the header without ``>``, the sequence joined over
        its lines, and the line number of the header.

    Raises
    ------
    InputError
        On an empty file, sequence text before the first header, an empty record or an
        invalid character (naming the line and position).
    """
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    seen = False

    def finish() -> tuple[str, str, int]:
        seq = "".join(chunks)
        if not seq:
            raise InputError("record has no sequence", path=path, line=header_line, record=header)
        return header, seq, header_line  # type: ignore[return-value]

    for number, line in numbered_lines(path):
        if line.startswith(">"):
            if header is not None:
                yield finish()
            header, header_line, chunks = line[1:].strip(), number, []
            seen = True
            continue
        text = line.strip()
        if not text or text.startswith(";"):
            continue
        if header is None:
            raise InputError(
                "sequence text before the first '>' header",
                path=path,
                line=number,
                hint="is this a FASTA file? every record must start with a '>name' line",
            )
        text = text.replace(" ", "")
        if validate:
            bad = np.flatnonzero(code_table()[np.frombuffer(text.encode(), np.uint8)] == INVALID)
            if bad.size:
                col = int(bad[0])
                done = sum(len(c) for c in chunks)
                raise InputError(
                    f"invalid character {text[col]!r} at base {done + col + 1} of the record "
                    f"(column {col + 1} of this line)",
                    path=path,
                    line=number,
                    record=header,
                    hint="sequences may hold only A, C, G, T, N and IUPAC codes (any case)",
                )
        chunks.append(text)
    if header is not None:
        yield finish()
    if not seen:
        raise InputError("no FASTA records ('>' headers) found", path=path)


def check_unique_headers(path: str | Path) -> None:
    """Check that no two records of a FASTA file have the same header.

    Only header lines are read; memory stays at 8 bytes per record
    (:func:`~motiflens.sequence.textio.first_repeat`).

    Raises
    ------
    InputError
        Naming the first repeated header, the lines of its first two records and how
        many records repeat a name.
    """

    def headers() -> Iterator[tuple[str, int]]:
        return ((line[1:].strip(), n) for n, line in numbered_lines(path) if line[:1] == ">")

    repeat = first_repeat(headers)
    if repeat is not None:
        name, first, second, count = repeat
        more = f"; {count} records repeat an earlier name" if count > 1 else ""
        raise InputError(
            f"duplicate record name {name!r} (lines {first} and {second}){more}",
            path=path,
            line=second,
            hint="every record needs its own name, as the predictions are written by name "
            "(rename them, e.g. seqkit rename)",
        )


class Genome:
    """Indexed genome FASTA with fast batched extraction of fixed-length windows.

    pyfaidx builds or reads the ``.fai`` index. For an uncompressed FASTA the windows are
    gathered straight from a memory map using the index's line geometry, which is orders
    of magnitude faster than one ``fetch`` per region and keeps memory flat; for a
    bgzip-compressed FASTA it falls back to pyfaidx's fetch.

    Parameters
    ----------
    path
        Genome FASTA (plain or bgzip, as pyfaidx allows).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError("genome FASTA not found", path=self.path)
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False)
        except Exception as exc:  # pyfaidx raises many kinds for a broken file
            raise InputError(
                f"cannot index genome FASTA: {exc}",
                path=self.path,
                hint="plain FASTA or bgzip-compressed FASTA (not plain gzip) with equal line "
                "lengths within each record",
            ) from exc
        self.sizes: dict[str, int] = {name: len(rec) for name, rec in self._fasta.records.items()}
        self._mmap: mmap.mmap | None = None
        if not self._fasta.faidx._bgzf:
            with open(self.path, "rb") as fh:
                if self.path.stat().st_size > 0:
                    self._mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        index = self._fasta.faidx.index
        self._geometry = {name: (rec.offset, rec.lenc, rec.lenb) for name, rec in index.items()}

    def close(self) -> None:
        """Release the file handles."""
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Return the sequence of ``chrom[start:end]`` (0-based, half-open)."""
        return str(self._fasta[chrom][start:end])

    def fetch_codes(self, chrom: str, starts: np.ndarray, length: int) -> np.ndarray:
        """Codes ``(n, length)`` for windows ``[start, start + length)`` on one chromosome.

        Windows must lie inside the chromosome; the caller checks bounds once for all.
        """
        starts = np.asarray(starts, dtype=np.int64)
        size = self.sizes.get(chrom)
        if size is None:
            raise InputError(f"chromosome {chrom!r} is not in the genome", path=self.path)
        if len(starts) and (starts.min() < 0 or starts.max() + length > size):
            bad = int(starts[(starts < 0) | (starts + length > size)][0])
            raise InputError(
                f"window {chrom}:{bad}-{bad + length} is outside the chromosome (length {size})",
                path=self.path,
            )
        if self._mmap is None:
            table = code_table()
            rows = [
                table[np.frombuffer(self.fetch(chrom, int(s), int(s) + length).encode(), np.uint8)]
                for s in starts
            ]
            codes = np.stack(rows) if rows else np.empty((0, length), np.uint8)
        else:
            # One contiguous slice of the mapped file per window, line breaks deleted: a
            # C-speed copy per window, with no large index arrays.
            offset, bases_per_line, bytes_per_line = self._geometry[chrom]
            mm = self._mmap
            last = length - 1
            parts = []
            for s in starts.tolist():
                b0 = offset + (s // bases_per_line) * bytes_per_line + s % bases_per_line
                e = s + last
                b1 = offset + (e // bases_per_line) * bytes_per_line + e % bases_per_line + 1
                parts.append(mm[b0:b1].translate(None, b"\r\n"))
            raw = np.frombuffer(b"".join(parts), dtype=np.uint8)
            if raw.size != len(parts) * length:
                raise InputError(
                    f"unexpected line layout in {chrom}: windows did not come out {length} long",
                    path=self.path,
                    hint="all lines of a record must have the same length (re-wrap the FASTA)",
                )
            codes = code_table()[raw.reshape(len(parts), length)]
        bad = codes == INVALID
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(
                f"invalid character in the genome at {chrom}:{int(starts[row]) + int(col) + 1}",
                path=self.path,
                hint="the genome may hold only A, C, G, T, N and IUPAC codes",
            )
        return codes
