"""An IGV session per run: every genome track the run holds, opened in one go.

:func:`igv_session` writes ``RUN/igv_session.xml``, IGV desktop's session format (version
8), kept minimal as IGV's authors advise for generated sessions: the genome, a start
locus and one ``<Resource>`` per track file; IGV lays out the panels itself. Paths are
relative to the session file, so the run folder can be copied or shared whole and
opened with File > Open Session.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pyBigWig

from motiflens.errors import InputError
from motiflens.files import write_text_atomic
from motiflens.runs import Run, as_run, holding_run

__all__ = ["SESSION_NAME", "igv_session", "track_files", "track_name"]

#: The session file's name in the run directory.
SESSION_NAME = "igv_session.xml"
#: Track file endings IGV opens (lower case) and their kind; IGV tells the format from
#: the ending, so the session names none.
TRACK_TYPES = {
    ".bw": "bigwig",
    ".bigwig": "bigwig",
    ".bedgraph": "bedgraph",
    ".bed": "bed",
    ".vcf": "vcf",
    ".vcf.gz": "vcf",
}
#: A genome id IGV knows (``hg38``, ``mm10``, ``sacCer3``) rather than a FASTA path.
_GENOME_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
#: Bases read at a time when looking for the first data, and the most the locus shows.
_STEP = 1_000_000
_SPAN = 10_000
_FASTA_ENDINGS = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


def _track_type(path: Path) -> str | None:
    name = path.name.lower()
    for ending, kind in TRACK_TYPES.items():
        if name.endswith(ending):
            return kind
    return None


def track_files(root: str | Path) -> list[Path]:
    """Every track file under ``root`` (``.bw``, ``.bedGraph``, ``.bed``, ``.vcf(.gz)``).

    Hidden files and folders (the temporaries of writers) are skipped. Sorted by path.
    """
    root = Path(root)
    found = []
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") for p in parts) or not path.is_file():
            continue
        if _track_type(path) is not None:
            found.append(path)
    return sorted(found)


def _genome_attribute(run: Run, genome: str | Path | None) -> str:
    """The session's ``genome``: an absolute FASTA path or an IGV genome id."""
    if genome is None:
        recorded = [
            info["genome"] for info in run.steps().values() if info.get("genome") is not None
        ]
        if not recorded:
            raise InputError(
                "no genome given and none recorded by the run's steps",
                path=run.path,
                hint="pass the genome FASTA (--genome genome.fa) or an IGV genome id "
                "(--genome hg38)",
            )
        genome = recorded[-1]
    path = Path(genome)
    if path.is_file():
        return str(path.resolve())  # IGV opens it from wherever the session is
    text = str(genome)
    if _GENOME_ID.fullmatch(text) and not text.lower().endswith(_FASTA_ENDINGS):
        return text
    raise InputError(
        "genome FASTA not found",
        path=path,
        hint="give an existing FASTA file or an IGV genome id such as hg38",
    )


def track_name(relative: Path) -> str:
    """``explain/ism/tracks/CTCF.mean.bw`` -> ``ism CTCF.mean``."""
    parts = [p for p in relative.parts if p not in ("explain", "tracks")]
    last = parts[-1]
    for ending in sorted(TRACK_TYPES, key=len, reverse=True):
        if last.lower().endswith(ending):
            parts[-1] = last[: -len(ending)]
            break
    return " ".join(parts)


def _first_locus(bigwigs: Iterable[Path]) -> str | None:
    """``chrom:start-end`` (1-based) of the first stretch of data in the first bigWig.

    Read a megabase at a time, so a whole-chromosome track is never loaded at once.
    """
    for path in bigwigs:
        bw = pyBigWig.open(str(path))
        if bw is None:
            continue
        try:
            for chrom, size in bw.chroms().items():
                for lo in range(0, size, _STEP):
                    intervals = bw.intervals(chrom, lo, min(lo + _STEP, size)) or []
                    if intervals:
                        start = intervals[0][0]
                        end = min(max(e for _, e, _ in intervals), start + _SPAN)
                        return f"{chrom}:{start + 1}-{end}"
        finally:
            bw.close()
    return None


@holding_run
def igv_session(
    run: Run | str | Path, genome: str | Path | None = None, out: str | Path | None = None
) -> Path:
    """Write an IGV session listing every genome track of the run.

    Parameters
    ----------
    run
        The run directory.
    genome
        The genome FASTA (written as an absolute path) or an IGV genome id (``hg38``).
        Default: the genome the run's track-making steps recorded.
    out
        The session file; default ``RUN/igv_session.xml``. Track paths are written
        relative to its folder.

    Returns
    -------
    Path
        The session file.

    Raises
    ------
    InputError
        No genome given or recorded, or a genome path that does not exist.
    """
    run = as_run(run)
    session = Path(out) if out is not None else run.path / SESSION_NAME
    genome_attr = _genome_attribute(run, genome)
    tracks = [p for p in track_files(run.path) if p.resolve() != session.resolve()]
    root = ET.Element("Session", genome=genome_attr, version="8")
    locus = _first_locus(p for p in tracks if _track_type(p) == "bigwig")
    if locus is not None:
        root.set("locus", locus)
    resources = ET.SubElement(root, "Resources")
    here = session.resolve().parent
    for path in tracks:
        relative = Path(os.path.relpath(path.resolve(), here)).as_posix()
        ET.SubElement(
            resources,
            "Resource",
            name=track_name(path.relative_to(run.path)),
            path=relative,
        )
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    write_text_atomic(session, '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n")
    outputs = [session] if session.resolve().is_relative_to(run.path.resolve()) else []
    run.record_step("igv", outputs, genome=genome_attr, tracks=len(tracks), session=str(session))
    return session
