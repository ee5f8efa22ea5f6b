"""VCF reading: variants one ALT allele at a time, with the line each came from.

Parsing is done by htslib through ``pysam`` (plain or bgzip VCF; htslib refuses plain
gzip). htslib's record iterator reports a bad record only as "unable to parse next
record", without a line number, but it does move on to the next line. So the file is
also read as text, in step with the iterator: every line after the ``#CHROM`` header
line is exactly one step of the iterator (a record or an error), which gives each variant
its line number, lets a bad line be named and explained, and lets reading go on past it
(``skip_bad``). Every record is checked against its text line, so the two can never
silently drift apart.

Why pysam and not cyvcf2: cyvcf2's iterator has the same missing line numbers, and its
one-line parser (``Writer.variant_from_string``) crashes the interpreter (segmentation
fault) on a malformed line instead of raising; pysam raises a catchable error and needs
no other Python packages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from motiflens.errors import InputError
from motiflens.sequence.onehot import INVALID, code_table
from motiflens.sequence.textio import open_text

log = logging.getLogger(__name__)

#: Bad lines named one by one in the log before only the count goes on.
MAX_LOGGED = 20

_FIELDS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
_BASES = re.compile(r"^[ACGTNacgtn]+$")
# VCF 4.x section 1.6.1: <ID>, '*', '.', breakends t[p[ t]p] ]p]t [p[t, single breakends .t t.
_SYMBOLIC = re.compile(
    r"^(?:<[^<>]+>|\*|\.|[ACGTNacgtn]*[\[\]].*[\[\]][ACGTNacgtn]*"
    r"|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.)$"
)


@dataclass(frozen=True)
class Variant:
    """One ALT allele of one VCF record.

    Attributes
    ----------
    chrom
        Chromosome as written in the VCF.
    pos
        VCF POS: 1-based position of the first base of ``ref``.
    id
        The ID column as text (``"."`` when missing).
    ref, alt
        Alleles as written (a multi-allelic record gives one ``Variant`` per ALT).
    info
        The INFO column as text.
    line
        1-based line number in the (decompressed) file.
    """

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    info: str
    line: int

    @property
    def is_snv(self) -> bool:
        """Single-base substitution."""
        return len(self.ref) == 1 and len(self.alt) == 1

    def label(self) -> str:
        """``chrom:pos ref>alt`` (plus the ID when there is one), for messages."""
        text = f"{self.chrom}:{self.pos} {self.ref}>{self.alt}"
        return text if self.id in ("", ".") else f"{text} ({self.id})"


@dataclass
class VCFStats:
    """What :func:`read_vcf` read and left out (filled in as the stream goes).

    Attributes
    ----------
    records
        Data lines parsed (multi-allelic records count once).
    alleles
        ALT alleles yielded as :class:`Variant`.
    bad_lines
        Malformed lines skipped (``skip_bad``).
    symbolic
        ALT alleles left out because they are symbolic or structural (``<DEL>``, ``*``,
        breakends such as ``G]2:100]``). An ALT that is neither bases nor symbolic
        (``XYZ``) makes its line malformed.
    no_alt
        Records with no ALT allele (``.``).
    bad_examples
        ``(line, reason)`` of the first bad lines.
    """

    records: int = 0
    alleles: int = 0
    bad_lines: int = 0
    symbolic: int = 0
    no_alt: int = 0
    bad_examples: list[tuple[int, str]] = field(default_factory=list)


def is_symbolic(alt: str) -> bool:
    """True for ALT alleles that stand for something other than bases: ``<ID>``, ``*``
    (an overlapping deletion), ``.`` (none), breakends (``G]2:100]``, ``.A``, ``A.``)."""
    return _SYMBOLIC.match(alt) is not None


def _check_alts(alts: tuple[str, ...]) -> str | None:
    """A reason when an ALT allele is neither bases nor symbolic (``XYZ``), else None."""
    for alt in alts:
        if not _BASES.match(alt) and not is_symbolic(alt):
            return (
                f"ALT allele {alt!r} is not valid: an ALT is bases (A, C, G, T, N), a "
                "symbolic allele such as <DEL>, '*' or a breakend"
            )
    return None


def bgzip_name(path: str | Path) -> str:
    """A name for the bgzip copy of a plain-gzip VCF, never the file's own name.

    ``x.vcf.gz`` -> ``x.vcf.bgz``; ``x.vcf.bgz`` -> ``x.vcf.gz`` (htslib goes by the
    content, not the name).
    """
    name = Path(path).name
    base = name
    for suffix in (".gz", ".gzip", ".bgz"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    if base.lower().endswith(".vcf"):
        base = base[: -len(".vcf")]
    return next(c for c in (f"{base}.vcf.bgz", f"{base}.vcf.gz") if c != name)


def _diagnose(text: str) -> str:
    """Why htslib (or our check) refused a data line, in words."""
    if not text.strip():
        return "blank line"
    if text.startswith("#"):
        return "header line ('#') after the '#CHROM' column line"
    cols = text.split("\t")
    if len(cols) < 8:
        extra = " (the columns look space-separated; VCF needs tabs)" if " " in text else ""
        return (
            f"{len(cols)} tab-separated column(s); a VCF record needs at least 8 "
            f"({' '.join(_FIELDS)}){extra}"
        )
    for name, value in zip(_FIELDS, cols, strict=False):
        if value == "":
            return f"empty {name} column"
    if not cols[1].isdigit() or len(cols[1]) > 12 or int(cols[1]) < 1:
        # > 12 digits: past any genome, and int() of thousands of digits would raise
        return f"POS {cols[1][:20]!r} is not a positive integer of at most 12 digits"
    if " " in cols[4] or " " in cols[3]:
        return "space inside REF or ALT (columns must be tab-separated)"
    return "htslib could not parse this record"


def _check_ref(ref: str) -> str | None:
    """A reason when REF is unusable text, else None."""
    table = code_table()
    if not ref or (table[np.frombuffer(ref.encode("ascii", "replace"), np.uint8)] == INVALID).any():
        return f"REF {ref!r} holds characters other than A, C, G, T, N and IUPAC codes"
    return None


def read_vcf(
    path: str | Path,
    *,
    skip_bad: bool = False,
    stats: VCFStats | None = None,
    on_bad: Callable[[int, str], None] | None = None,
) -> Iterator[Variant]:
    """Stream the variants of a VCF file (plain or bgzip), one per ALT allele.

    Parameters
    ----------
    path
        The VCF file.
    skip_bad
        Skip malformed lines (each is logged with its line number and reason, and
        counted in ``stats``) instead of raising.
    stats
        Counters to fill in (records, alleles, bad lines, symbolic ALTs, missing ALTs).
    on_bad
        Called as ``on_bad(line, reason)`` for every malformed line skipped (``skip_bad``),
        e.g. to log them all to a file.

    Yields
    ------
    Variant
        In file order. Symbolic and structural ALT alleles (``<DEL>``, ``*``, breakends)
        and records without ALT are left out and counted.

    Raises
    ------
    InputError
        A missing file, a plain-gzip (not bgzip) file, a file without a valid VCF
        header, or (without ``skip_bad``) a
        malformed data line: the message names the line and says what is wrong.

    Notes
    -----
    Blank lines are ignored. Only one record is held at a time.
    """
    import pysam

    path = Path(path)
    stats = stats if stats is not None else VCFStats()
    if not path.is_file():
        raise InputError("VCF file not found", path=path)
    previous = pysam.set_verbosity(0)  # htslib's own stderr lines carry no line number
    try:
        try:
            vcf = pysam.VariantFile(str(path))
        except NotImplementedError as exc:  # htslib cannot rewind a plain-gzip stream
            raise InputError(
                "the VCF is gzip-compressed but not with bgzip",
                path=path,
                hint=f"recompress it: zcat {path.name} | bgzip > {bgzip_name(path)} "
                "(or decompress it)",
            ) from exc
        except (ValueError, OSError) as exc:
            raise InputError(
                f"not a readable VCF file: {exc}",
                path=path,
                hint="a VCF needs '##fileformat=VCFv4.x' and a tab-separated '#CHROM POS ID "
                "REF ALT QUAL FILTER INFO' header line before the records",
            ) from exc
        with vcf, open_text(path) as fh:
            yield from _records(path, vcf, fh, skip_bad, stats, on_bad)
    finally:
        pysam.set_verbosity(previous)


def _records(
    path: Path,
    vcf: Any,
    fh: IO[str],
    skip_bad: bool,
    stats: VCFStats,
    on_bad: Callable[[int, str], None] | None,
) -> Iterator[Variant]:
    number = 0
    for number, raw in enumerate(fh, start=1):
        if raw.startswith("#CHROM"):
            break
        if not raw.startswith("#"):  # pysam accepted the header, so this cannot happen
            raise InputError("record before the '#CHROM' header line", path=path, line=number)
    records = iter(vcf)
    first = number + 1
    for number, raw in enumerate(fh, start=first):
        text = raw.rstrip("\r\n")
        try:
            rec = next(records)
        except StopIteration:
            raise InputError(
                "htslib stopped before the end of the file",
                path=path,
                line=number,
                hint="the file may be truncated or corrupt",
            ) from None
        except (OSError, ValueError):
            if not text.strip():
                continue
            _bad(path, number, _diagnose(text), skip_bad, stats, on_bad)
            continue
        cols = text.split("\t", 8)
        if len(cols) < 8 or cols[0] != rec.chrom or not _same_pos(cols[1], rec.pos):
            raise InputError(
                "lost track of line numbers: htslib's record does not match this line "
                f"({rec.chrom}:{rec.pos})",
                path=path,
                line=number,
                hint="please report this file; meanwhile remove unusual lines around it",
            )
        reason = _check_ref(rec.ref or "") or _check_alts(rec.alts or ())
        if reason is not None:
            _bad(path, number, reason, skip_bad, stats, on_bad)
            continue
        stats.records += 1
        if not rec.alts:
            stats.no_alt += 1
            continue
        for alt in rec.alts:
            if is_symbolic(alt):
                stats.symbolic += 1
                continue
            stats.alleles += 1
            yield Variant(rec.chrom, rec.pos, cols[2], rec.ref, alt, cols[7], number)
    try:
        next(records)
    except StopIteration:
        return
    except (OSError, ValueError):
        pass
    raise InputError(
        "htslib found records after the end of the text; the file may be corrupt", path=path
    )


def _same_pos(text: str, pos: int) -> bool:
    return text.isdigit() and len(text) <= 12 and int(text) == pos


def _bad(
    path: Path,
    line: int,
    reason: str,
    skip_bad: bool,
    stats: VCFStats,
    on_bad: Callable[[int, str], None] | None,
) -> None:
    if not skip_bad:
        raise InputError(
            f"malformed VCF record: {reason}",
            path=path,
            line=line,
            hint="fix or remove the line, or pass --skip-bad (skip_bad=True) to skip bad lines",
        )
    stats.bad_lines += 1
    if on_bad is not None:
        on_bad(line, reason)
    if len(stats.bad_examples) < MAX_LOGGED:
        stats.bad_examples.append((line, reason))
        log.warning("%s:%d: skipped malformed VCF record: %s", path, line, reason)
    elif stats.bad_lines == MAX_LOGGED + 1:
        log.warning("%s: more malformed records; only the count is reported from here", path)
