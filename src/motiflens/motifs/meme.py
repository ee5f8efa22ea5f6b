"""Read and write the MEME minimal motif format (DNA).

The format (https://meme-suite.org/meme/doc/meme-format.html)::

    MEME version 4

    ALPHABET= ACGT

    strands: + -

    Background letter frequencies
    A 0.303 C 0.183 G 0.209 T 0.306

    MOTIF MA0139.2 CTCF
    letter-probability matrix: alength= 4 w= 19 nsites= 17 E= 4.1e-009
     0.000000  0.176471  0.000000  0.823529
     ...
    URL https://jaspar.elixir.no/matrix/MA0139.2/

The reader accepts what real files contain and parsers have tripped on (memesuite-lite #6):
any whitespace (tabs, several spaces) between fields, ``key= value`` pairs in any order and
with or without a space after ``=``, a background spread over several lines, ``URL`` lines,
blank lines anywhere, CRLF line ends, a byte-order mark, ``log-odds matrix`` blocks (skipped)
and a last motif with no blank line after it. Rows that sum to 1 within 0.1 are renormalised
(files are written with a few decimals); anything else is an :class:`~motiflens.errors.InputError`
naming the file, the line and what was expected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from motiflens.errors import InputError
from motiflens.files import atomic_path
from motiflens.motifs.pwm import ALPHABET, Motif, check_background, check_probs

__all__ = ["read_meme", "write_meme"]

# A row may be off by this much from summing to 1 before it is an error (rounded files).
ROW_SUM_TOLERANCE = 0.1
_KEY_VALUE = re.compile(r"([A-Za-z_]+)\s*=\s*(\S+)")
_HINT = "see https://meme-suite.org/meme/doc/meme-format.html (MEME minimal motif format)"


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _is_row(line: str) -> bool:
    tokens = line.split()
    return bool(tokens) and all(_is_number(t) for t in tokens)


class _Parser:
    """Line-based state machine over one MEME file (keeps the path for error messages)."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.i = 0  # index of the next line to read
        self.background: np.ndarray | None = None
        self.motifs: list[Motif] = []

    def error(self, message: str, line: int | None, hint: str | None = _HINT) -> InputError:
        return InputError(message, path=self.path, line=line, hint=hint)

    def parse(self) -> tuple[list[Motif], np.ndarray]:
        self._header()
        current: dict | None = None
        while self.i < len(self.lines):
            lineno, line = self.i + 1, self.lines[self.i].strip()
            self.i += 1
            if not line:
                continue
            keyword = line.split()[0]
            if keyword == "MOTIF":
                self._finish(current)
                current = self._motif_line(line, lineno)
            elif line.startswith("letter-probability matrix"):
                if current is None:
                    raise self.error("'letter-probability matrix' before any MOTIF line", lineno)
                if "probs" in current:
                    raise self.error(
                        f"motif {current['id']!r} has a second letter-probability matrix", lineno
                    )
                self._matrix(current, line, lineno)
            elif line.startswith("log-odds matrix"):
                self._skip_log_odds(line, lineno)
            elif keyword == "URL":
                if current is None:
                    raise self.error("URL line before any MOTIF line", lineno)
                current["url"] = line[3:].strip() or None
            elif line.startswith("Background letter frequencies"):
                self.background = self._background(lineno)
            elif keyword.startswith("ALPHABET"):
                self._alphabet(line, lineno)
            elif _is_row(line):
                where = f"after motif {current['id']!r}" if current else "outside any motif"
                raise self.error(
                    f"a row of numbers {where}: more rows than the matrix's w= declares?", lineno
                )
            # Anything else (strands:, MEME version, comments of other tools) is not needed.
        self._finish(current)
        if not self.motifs:
            raise self.error("no MOTIF found", None)
        bg = self.background if self.background is not None else np.full(4, 0.25)
        return self.motifs, bg

    def _header(self) -> None:
        while self.i < len(self.lines) and not self.lines[self.i].strip():
            self.i += 1
        if self.i == len(self.lines):
            raise self.error("empty file, expected a MEME motif file", None)
        first = self.lines[self.i].strip()
        if not re.match(r"MEME\s+version\s+\S+", first):
            raise self.error(
                f"expected 'MEME version 4' as the first line, found {first[:60]!r}", self.i + 1
            )
        self.i += 1

    def _alphabet(self, line: str, lineno: int) -> None:
        if "=" in line:
            letters = line.split("=", 1)[1].strip().upper()
            if letters != ALPHABET:
                raise self.error(
                    f"alphabet {letters!r} is not DNA; motiflens reads ACGT motifs only", lineno
                )
            return
        # MEME 5 custom alphabet block: ALPHABET "DNA" DNA-LIKE ... END ALPHABET.
        if "DNA" not in line.upper():
            raise self.error(f"alphabet {line!r} is not DNA; expected ACGT", lineno)
        while self.i < len(self.lines):
            self.i += 1
            if self.lines[self.i - 1].strip().upper().startswith("END ALPHABET"):
                return
        raise self.error("ALPHABET block without 'END ALPHABET'", lineno)

    def _background(self, lineno: int) -> np.ndarray:
        """Letter/frequency pairs from the lines after the heading, until all four are read."""
        values: dict[str, float] = {}
        start = self.i
        while self.i < len(self.lines) and len(values) < 4:
            here, tokens = self.i + 1, self.lines[self.i].split()
            if tokens and (tokens[0] == "MOTIF" or tokens[0].startswith("letter")):
                break
            self.i += 1
            if len(tokens) % 2:
                raise self.error(
                    f"background: expected letter/frequency pairs (A 0.25 C 0.25 ...), "
                    f"found {' '.join(tokens)!r}",
                    here,
                )
            for letter, value in zip(tokens[::2], tokens[1::2], strict=True):
                letter = letter.upper()
                if letter not in ALPHABET or not _is_number(value) or float(value) < 0:
                    raise self.error(
                        f"background: expected a base (A, C, G, T) and a frequency, "
                        f"found {letter!r} {value!r}",
                        here,
                    )
                values[letter] = float(value)
        if len(values) < 4:
            raise self.error(
                f"background: frequencies for {sorted(set(ALPHABET) - set(values))} missing",
                start + 1,
            )
        bg = np.array([values[b] for b in ALPHABET])
        if abs(bg.sum() - 1.0) > ROW_SUM_TOLERANCE or np.any(bg <= 0):
            raise self.error(
                f"background frequencies must be > 0 and sum to 1, found {bg.tolist()}", lineno
            )
        return check_background(bg / bg.sum())

    def _motif_line(self, line: str, lineno: int) -> dict:
        tokens = line.split()
        if len(tokens) < 2:
            raise self.error("MOTIF line without an identifier", lineno)
        name = " ".join(tokens[2:]) or tokens[1]
        return {"id": tokens[1], "name": name, "line": lineno, "url": None}

    def _matrix(self, current: dict, header: str, lineno: int) -> None:
        fields = dict(_KEY_VALUE.findall(header.split(":", 1)[1] if ":" in header else ""))
        width = self._int_field(fields, "w", lineno)
        alength = self._int_field(fields, "alength", lineno)
        if alength is not None and alength != 4:
            raise self.error(f"alength= {alength}, expected 4 (A C G T)", lineno)
        nsites = fields.get("nsites")
        if nsites is not None:
            if not _is_number(nsites) or not math.isfinite(float(nsites)):
                raise self.error(f"nsites= {nsites!r} is not a number", lineno)
            current["nsites"] = round(float(nsites))
        rows: list[np.ndarray] = []
        while self.i < len(self.lines) and (width is None or len(rows) < width):
            here, line = self.i + 1, self.lines[self.i].strip()
            if not line:
                self.i += 1
                if width is None and rows:
                    break  # without w=, a blank line ends the matrix
                continue
            if not _is_row(line):
                if width is None and rows:
                    break
                if line.split()[0] in ("MOTIF", "URL") or line.startswith("letter"):
                    break
                raise self.error(
                    f"motif {current['id']!r}: expected 4 probabilities (A C G T), "
                    f"found {line[:60]!r}",
                    here,
                )
            self.i += 1
            rows.append(self._row(current["id"], line, here))
        if width is not None and len(rows) != width:
            raise self.error(
                f"motif {current['id']!r}: w= {width} but {len(rows)} matrix rows follow", lineno
            )
        if not rows:
            raise self.error(f"motif {current['id']!r}: matrix has no rows", lineno)
        current["probs"] = np.array(rows).T

    def _int_field(self, fields: dict[str, str], key: str, lineno: int) -> int | None:
        value = fields.get(key)
        if value is None:
            return None
        if not _is_number(value) or float(value) != int(float(value)) or float(value) < 1:
            raise self.error(f"{key}= {value!r} is not a positive whole number", lineno)
        return int(float(value))

    def _row(self, motif_id: str, line: str, lineno: int) -> np.ndarray:
        values = np.array([float(t) for t in line.split()])
        if values.size != 4:
            raise self.error(
                f"motif {motif_id!r}: expected 4 probabilities (A C G T), found {values.size} "
                f"numbers",
                lineno,
            )
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise self.error(f"motif {motif_id!r}: probabilities must be >= 0", lineno)
        total = values.sum()
        if abs(total - 1.0) > ROW_SUM_TOLERANCE:
            raise self.error(
                f"motif {motif_id!r}: row sums to {total:.4g}, expected 1 "
                "(a letter-probability matrix holds probabilities, not counts)",
                lineno,
            )
        return values / total

    def _skip_log_odds(self, header: str, lineno: int) -> None:
        fields = dict(_KEY_VALUE.findall(header))
        width = self._int_field(fields, "w", lineno)
        seen = 0
        while self.i < len(self.lines) and (width is None or seen < width):
            line = self.lines[self.i].strip()
            if not line:
                self.i += 1
                if width is None and seen:
                    return
                continue
            if not _is_row(line):
                return
            self.i += 1
            seen += 1

    def _finish(self, current: dict | None) -> None:
        if current is None:
            return
        if "probs" not in current:
            raise self.error(
                f"motif {current['id']!r} has no letter-probability matrix", current["line"]
            )
        self.motifs.append(
            Motif(
                current["id"],
                current["name"],
                current["probs"],
                nsites=current.get("nsites"),
                url=current["url"],
            )
        )


def read_meme(path: str | Path) -> tuple[list[Motif], np.ndarray]:
    """Read a MEME minimal-format motif file.

    Parameters
    ----------
    path
        The file (MEME version 4 or 5, DNA alphabet).

    Returns
    -------
    motifs
        Every motif in file order, the last one included; ``name`` is the alternate name (the
        rest of the ``MOTIF`` line) or the id when there is none.
    background
        The ``Background letter frequencies`` (A, C, G, T), uniform when the file has none.

    Raises
    ------
    InputError
        The file is missing, not MEME, or a motif is malformed; the message names the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("MEME motif file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("expected a MEME motif file, found a directory", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("not a text file (invalid UTF-8)", path=path, line=line) from None
    # splitlines() handles \n, \r\n and lone \r.
    return _Parser(path, text.splitlines()).parse()


def _token(text: str, what: str) -> str:
    """A MEME field: no whitespace (it would split the MOTIF line)."""
    clean = re.sub(r"\s+", "_", str(text).strip())
    if not clean:
        raise ValueError(f"a motif {what} must not be empty")
    return clean


def write_meme(
    motifs: Motif | Iterable[Motif],
    path: str | Path,
    background: Sequence[float] | np.ndarray | None = None,
    *,
    nsites_default: int = 20,
) -> Path:
    """Write motifs as a MEME (version 4, minimal) file, atomically.

    Each motif becomes ``MOTIF <id> [<name>]`` (the name only when it differs from the id;
    whitespace inside either becomes ``_``), a ``letter-probability matrix: alength= 4 w= <w>
    nsites= <n> E= 0`` line, one row of six-decimal probabilities per position, a ``URL`` line
    when the motif has one, and a blank line. :func:`read_meme`, MEME's tomtom, memelite and
    Biopython read it.

    Parameters
    ----------
    motifs
        One motif or several.
    path
        Output file.
    background
        Base frequencies (A, C, G, T) summing to 1; uniform when ``None``.
    nsites_default
        The ``nsites=`` of motifs whose ``nsites`` is ``None`` (MEME tools use it to weigh
        pseudocounts).

    Returns
    -------
    Path
        ``path``.
    """
    items = [motifs] if isinstance(motifs, Motif) else list(motifs)
    try:
        bg = check_background(background)
    except ValueError as exc:
        raise ValueError(f"write_meme: {exc}") from None
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {ALPHABET}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {f:.6g}" for b, f in zip(ALPHABET, bg, strict=True)),
        "",
    ]
    for motif in items:
        motif_id = _token(motif.id, "id")
        name = _token(motif.name, "name") if str(motif.name).strip() else motif_id
        probs = check_probs(motif.probs, what=f"motif {motif_id!r}")
        nsites = nsites_default if motif.nsites is None else motif.nsites
        lines.append(f"MOTIF {motif_id}" if name == motif_id else f"MOTIF {motif_id} {name}")
        lines.append(
            f"letter-probability matrix: alength= 4 w= {probs.shape[1]} nsites= {nsites} E= 0"
        )
        lines += [" ".join(f"{v:.6f}" for v in col) for col in probs.T]
        if motif.url:
            lines.append(f"URL {motif.url.strip()}")
        lines.append("")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return Path(path)
