"""Errors that tell a user which file, which line and what to do about it."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Malformed user input, located to a file and line (or record).

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    path
        The offending file, if there is one.
    line
        1-based line number, if known.
    record
        Name of the record (FASTA header, sequence id) when a line is not meaningful.
    hint
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        record: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.record = record
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.record is not None:
            where = f"{where} (record {self.record!r})" if where else f"record {self.record!r}"
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text = f"{text}\n  hint: {self.hint}"
        return text
