"""Known-motif databases: JASPAR from pyjaspar's bundled SQLite files (offline), or MEME files.

A database is named by a *spec* string:

``jaspar:<release>[:<collection>[:<tax_group>]]``
    A JASPAR collection from the ``pyjaspar`` package, e.g. ``jaspar:2024:CORE:vertebrates``.
    ``<release>`` is a year (``2024``) or a pyjaspar release name (``JASPAR2024``); the
    collection defaults to ``CORE`` and the taxonomic group to ``vertebrates``, so
    ``jaspar:2024`` is JASPAR 2024 CORE vertebrates (879 matrices). ``all`` as the taxonomic
    group keeps every group. Only the latest version of each matrix is kept, as in JASPAR's
    non-redundant sets. Motif ``id`` is the versioned matrix id (``MA0139.2``), ``name`` the TF
    name (``CTCF``), probabilities are the counts normalised per column (no pseudocount) and
    ``nsites`` the count total of the first column.
anything else
    A path to a MEME minimal-format file (e.g. CIS-BP's ``Homo_sapiens.meme``, Basset's
    database).

Loaded databases are cached per process; their probability arrays are read-only.
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from motiflens.errors import InputError
from motiflens.motifs.meme import read_meme
from motiflens.motifs.pwm import ALPHABET, Motif, counts_to_probs

__all__ = [
    "available_jaspar_releases",
    "jaspar_motif",
    "load_database",
    "parse_jaspar_spec",
]

DEFAULT_COLLECTION = "CORE"
DEFAULT_TAX_GROUP = "vertebrates"
JASPAR_URL = "https://jaspar.elixir.no/matrix/{}/"


def available_jaspar_releases() -> list[str]:
    """pyjaspar's bundled releases, oldest first, e.g. ``['JASPAR2014', ..., 'JASPAR2026']``."""
    import pyjaspar

    return sorted(pyjaspar.jaspar_releases)


def _release_name(release: str | int) -> str:
    text = str(release).strip()
    name = f"JASPAR{text}" if text.isdigit() else text.upper()
    if name not in available_jaspar_releases():
        raise InputError(
            f"JASPAR release {text!r} is not bundled with pyjaspar",
            hint=f"use one of {', '.join(available_jaspar_releases())} (or just the year)",
        )
    return name


def _jaspar_db(release: str) -> Any:
    # Not cached: an sqlite3 connection may only be used by the thread that opened it (the
    # dashboard serves from threads), and opening one is cheap. The results are cached.
    from pyjaspar import jaspardb

    return jaspardb(release=release)


@functools.lru_cache(maxsize=64)
def _distinct(release: str, query: str) -> tuple[str, ...]:
    db = _jaspar_db(release)
    try:
        rows = db.conn.execute(query).fetchall()
    finally:
        db.conn.close()
    return tuple(sorted(str(r[0]) for r in rows if r[0] is not None))


def parse_jaspar_spec(spec: str) -> tuple[str, str, str | None]:
    """Split ``jaspar:<release>[:<collection>[:<tax_group>]]`` and check each part exists.

    Returns
    -------
    tuple
        ``(release, collection, tax_group)`` as pyjaspar spells them, e.g.
        ``('JASPAR2024', 'CORE', 'vertebrates')``; ``tax_group`` is ``None`` for ``all``.

    Raises
    ------
    InputError
        A part is not in the bundled database; the message lists what exists.
    """
    parts = [p.strip() for p in spec.split(":")]
    if parts[0].lower() != "jaspar" or not 2 <= len(parts) <= 4 or not all(parts[1:]):
        raise InputError(
            f"cannot read database spec {spec!r}",
            hint="write jaspar:<release>[:<collection>[:<tax_group>]], e.g. "
            "jaspar:2024:CORE:vertebrates, or give the path of a MEME file",
        )
    release = _release_name(parts[1])
    collection = parts[2].upper() if len(parts) > 2 else DEFAULT_COLLECTION
    collections = _distinct(release, "SELECT DISTINCT COLLECTION FROM MATRIX")
    if collection not in collections:
        raise InputError(
            f"{release} has no collection {parts[2]!r}",
            hint=f"collections in {release}: {', '.join(collections)}",
        )
    tax_group: str | None = parts[3].lower() if len(parts) > 3 else DEFAULT_TAX_GROUP
    if tax_group == "all":
        return release, collection, None
    groups = _distinct(
        release, "SELECT DISTINCT VAL FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group'"
    )
    if tax_group not in groups:
        raise InputError(
            f"{release} has no taxonomic group {parts[3]!r}",
            hint=f"groups in {release}: {', '.join(groups)}, or all",
        )
    return release, collection, tax_group


def _to_motif(record: Any, pseudocount: float = 0.0) -> Motif:
    counts = np.array([record.counts[b] for b in ALPHABET], dtype=np.float64)
    motif = Motif(
        id=record.matrix_id,
        name=str(record.name),
        probs=counts_to_probs(counts, pseudocount),
        nsites=round(float(counts[:, 0].sum())),
        url=JASPAR_URL.format(record.matrix_id),
    )
    return _frozen(motif)


def _frozen(motif: Motif) -> Motif:
    motif.probs.flags.writeable = False
    return motif


@functools.lru_cache(maxsize=16)
def _jaspar_collection(release: str, collection: str, tax_group: str | None) -> tuple[Motif, ...]:
    db = _jaspar_db(release)
    try:
        records = db.fetch_motifs(collection=collection, tax_group=tax_group)
    finally:
        db.conn.close()
    return tuple(_to_motif(r) for r in records)


@functools.lru_cache(maxsize=16)
def _meme_file(path: str, mtime_ns: int, size: int) -> tuple[Motif, ...]:
    # mtime and size in the key: an edited file is read again.
    motifs, _ = read_meme(path)
    return tuple(_frozen(m) for m in motifs)


def load_database(spec: str | Path) -> list[Motif]:
    """Load a motif database by spec (see the module docstring).

    Parameters
    ----------
    spec
        ``jaspar:<release>[:<collection>[:<tax_group>]]`` or a MEME file path.

    Returns
    -------
    list of Motif
        A new list each call; the motifs are shared with the cache (read-only arrays).

    Raises
    ------
    InputError
        Unknown release/collection/group (listing what exists), a missing file or a MEME file
        that does not parse (naming the line).
    """
    text = str(spec)
    if isinstance(spec, str) and re.match(r"(?i)jaspar:", text):
        return list(_jaspar_collection(*parse_jaspar_spec(text)))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise InputError(
            "motif database not found",
            path=path,
            hint="give a MEME motif file or a JASPAR spec such as jaspar:2024:CORE:vertebrates",
        )
    stat = path.stat()
    return list(_meme_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=512)
def jaspar_motif(matrix_id: str, release: str | int = 2024, *, pseudocount: float = 0.0) -> Motif:
    """One JASPAR matrix by id, from pyjaspar's bundled database (offline).

    Parameters
    ----------
    matrix_id
        ``MA0139.2``, or ``MA0139`` for the latest version in that release.
    release
        Year (``2024``) or pyjaspar release name (``JASPAR2024``).
    pseudocount
        Added to every count before the columns are normalised (the simulator spreads
        one pseudo-observation over the four bases: 0.25).

    Returns
    -------
    Motif
        ``id`` the versioned matrix id, ``name`` the TF name (read-only probabilities).

    Raises
    ------
    InputError
        The release or the matrix id does not exist.
    """
    return _jaspar_motif(matrix_id.strip(), _release_name(release), float(pseudocount))


@functools.lru_cache(maxsize=256)
def _jaspar_motif(matrix_id: str, release: str, pseudocount: float) -> Motif:
    db = _jaspar_db(release)
    try:
        with warnings.catch_warnings():
            # pyjaspar warns and returns None for an unknown id; we raise instead.
            warnings.simplefilter("ignore")
            record = db.fetch_motif_by_id(matrix_id)
    finally:
        db.conn.close()
    if record is None:
        raise InputError(
            f"{release} has no matrix {matrix_id!r}",
            hint="check the id at jaspar.elixir.no (e.g. MA0139.2, or MA0139 for the latest "
            "version) or choose another release",
        )
    return _to_motif(record, pseudocount)
