"""A UCSC Genome Browser track hub per run: ``hub.txt``, ``genomes.txt``, ``trackDb.txt``.

:func:`track_hub` writes ``RUN/hub/``: ``hub.txt`` (the hub), ``genomes.txt`` (one UCSC
assembly) and ``<assembly>/trackDb.txt`` with one track per file the browser reads from a
hub: bigWig (``type bigWig``) and bgzip VCF with its tabix index beside it (``type
vcfTabix``). UCSC hubs take only indexed binary files, so plain BED, bedGraph and VCF
outputs are left out (the IGV session lists them). ``bigDataUrl`` paths are relative to
``trackDb.txt``: serve the run folder over HTTP and paste the URL of ``hub.txt`` into
the browser's Track Hubs page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from motiflens.errors import InputError
from motiflens.files import write_text_atomic
from motiflens.runs import Run, as_run, holding_run
from motiflens.steps.igv import track_files, track_name

__all__ = ["HUB_FOLDER", "hub_tracks", "track_hub"]

#: The hub's folder in the run directory.
HUB_FOLDER = "hub"
#: A UCSC assembly name (hg38, mm10, sacCer3): also a folder name in the hub.
_ASSEMBLY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def hub_tracks(root: str | Path) -> list[tuple[Path, str]]:
    """The track files under ``root`` a UCSC hub can show, with their trackDb ``type``.

    bigWig files, and ``.vcf.gz`` files with a ``.tbi`` index beside them.
    """
    found = []
    for path in track_files(root):
        name = path.name.lower()
        if name.endswith((".bw", ".bigwig")):
            found.append((path, "bigWig"))
        elif name.endswith(".vcf.gz") and path.with_name(path.name + ".tbi").is_file():
            found.append((path, "vcfTabix"))
    return found


def _unique_id(label: str, taken: set[str]) -> str:
    """A trackDb track name: letters, digits and ``_``, starting with a letter, unique."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_") or "track"
    if not base[0].isalpha():
        base = f"t_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


@holding_run
def track_hub(run: Run | str | Path, genome: str | None) -> Path:
    """Write a UCSC track hub of the run's bigWig and indexed VCF outputs.

    Parameters
    ----------
    run
        The run directory.
    genome
        The UCSC assembly the tracks are on (``hg38``, ``mm10``); a hub on a genome UCSC
        does not host would need it as ``.2bit``, which motiflens does not write.

    Returns
    -------
    Path
        ``RUN/hub/hub.txt``.

    Raises
    ------
    InputError
        ``genome`` is not an assembly name (e.g. a FASTA path).
    """
    run = as_run(run)
    if genome is None or not _ASSEMBLY.fullmatch(str(genome)):
        raise InputError(
            "a track hub needs a UCSC assembly name"
            + ("" if genome is None else f", not {str(genome)!r}"),
            hint="pass the assembly the genome FASTA is, e.g. --genome hg38 (the IGV "
            "session takes the FASTA itself)",
        )
    folder = run.path / HUB_FOLDER
    trackdb = folder / genome / "trackDb.txt"
    taken: set[str] = set()
    stanzas = []
    tracks = hub_tracks(run.path)
    for path, kind in tracks:
        label = track_name(path.relative_to(run.path))
        url = Path(os.path.relpath(path.resolve(), trackdb.parent.resolve())).as_posix()
        lines = [
            f"track {_unique_id(label, taken)}",
            f"bigDataUrl {url}",
            f"shortLabel {label[-17:]}",
            f"longLabel {label[:80]}",
            f"type {kind}",
            "visibility full",
        ]
        if kind == "bigWig":
            lines += ["autoScale on", "maxHeightPixels 100:40:8"]
        stanzas.append("\n".join(lines) + "\n")
    write_text_atomic(trackdb, "\n".join(stanzas))
    write_text_atomic(folder / "genomes.txt", f"genome {genome}\ntrackDb {genome}/trackDb.txt\n")
    name = _unique_id(f"motiflens_{run.path.resolve().name}", set())
    hub = write_text_atomic(
        folder / "hub.txt",
        f"hub {name}\nshortLabel motiflens {run.path.resolve().name[:7]}\n"
        f"longLabel motiflens tracks of the run {run.path.resolve().name}\n"
        "genomesFile genomes.txt\nemail none\n",
    )
    run.record_step(
        "hub", [hub, folder / "genomes.txt", trackdb], assembly=genome, tracks=len(tracks)
    )
    return hub
