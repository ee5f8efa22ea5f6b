"""Opening text inputs that may be gzip- or bgzip-compressed."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from motiflens.errors import InputError


def open_text(path: str | Path) -> IO[str]:
    """Open a plain or gzip-compressed text file for reading (detected by magic bytes)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        raise InputError("expected a file but found a directory", path=path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


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
