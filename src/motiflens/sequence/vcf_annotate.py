"""A copy of a VCF with INFO fields added: every line kept, in order, as text.

The copy is made line by line from the text (not re-encoded through htslib), so every
header and record line comes out as it went in (a malformed line included), apart from
the new ``##INFO`` declarations before ``#CHROM`` and the new fields appended to the INFO
column of the records that have values. A bgzip (or gzip) input gives a bgzip copy that
``tabix`` and IGV can index.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pysam

from motiflens.files import atomic_path
from motiflens.sequence.textio import open_text

__all__ = ["InfoField", "annotate_vcf", "info_id", "is_compressed"]

VariantKey = tuple[str, str, str, str, str]
"""``(CHROM, POS, ID, REF, ALT)`` of one ALT allele, as text."""

InfoField = tuple[str, str]
"""``(ID, Description)`` of a new INFO field (Number=A, Type=Float)."""

_INFO_ID = re.compile(r"[^0-9A-Za-z_.]")


def info_id(text: str) -> str:
    """``text`` as a valid INFO key (VCF 4.3: ``[A-Za-z_][0-9A-Za-z_.]*``)."""
    key = _INFO_ID.sub("_", text)
    return key if re.match(r"[A-Za-z_]", key) else f"_{key}"


def is_compressed(path: str | Path) -> bool:
    """Whether the file is gzip or bgzip compressed (by its magic bytes)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _declaration(key: str, description: str) -> str:
    text = description.replace("\\", "\\\\").replace('"', '\\"')
    return f'##INFO=<ID={key},Number=A,Type=Float,Description="{text}">\n'


def _with_fields(info: str, new: list[str], keys: set[str]) -> str:
    # fields of the same name from an earlier annotation are replaced, not repeated
    kept = [f for f in info.split(";") if f and f != "." and f.split("=", 1)[0] not in keys]
    return ";".join(kept + new)


def annotate_vcf(
    vcf: str | Path,
    out: str | Path,
    fields: Sequence[InfoField],
    values: Mapping[VariantKey, Sequence[str]],
) -> int:
    """Copy ``vcf`` to ``out`` with ``fields`` added to the records that have values.

    Parameters
    ----------
    vcf
        The input VCF (plain, gzip or bgzip).
    out
        The copy, written atomically; bgzip-compressed when ``vcf`` is compressed.
    fields
        The new INFO fields, declared ``Number=A, Type=Float`` (one value per ALT allele).
    values
        For an ALT allele ``(CHROM, POS, ID, REF, ALT)``, its value of each field as text,
        in the order of ``fields``. A record gets the fields when at least one of its ALT
        alleles has values (``.`` for the others); records without any keep their line.

    Returns
    -------
    int
        Records annotated.
    """
    keys = [k for k, _ in fields]
    key_set = set(keys)
    declared = "".join(_declaration(k, d) for k, d in fields)
    annotated = 0
    compressed = is_compressed(vcf)
    with atomic_path(Path(out)) as tmp, open_text(vcf) as src:
        dst = pysam.BGZFile(str(tmp), "wb") if compressed else open(tmp, "wb")
        try:
            for line in src:
                text = line.rstrip("\n")
                if text.startswith("##INFO=<ID="):
                    if text[len("##INFO=<ID=") :].split(",", 1)[0] in key_set:
                        continue  # re-declared below
                elif text.startswith("#CHROM"):
                    dst.write(declared.encode())
                elif text and not text.startswith("#"):
                    cols = text.split("\t")
                    if len(cols) >= 8:
                        alts = cols[4].split(",")
                        found = [values.get((cols[0], cols[1], cols[2], cols[3], a)) for a in alts]
                        if any(v is not None for v in found):
                            new = [
                                f"{k}=" + ",".join("." if v is None else v[j] for v in found)
                                for j, k in enumerate(keys)
                            ]
                            cols[7] = _with_fields(cols[7], new, key_set)
                            text = "\t".join(cols)
                            annotated += 1
                dst.write((text + "\n").encode())
        finally:
            dst.close()
    return annotated
