"""Variant scores for genome browsers: ``sad.bed`` and the input VCF with SAD INFO fields.

Both are made from ``sad.tsv`` after the variants step has merged it, so they hold
exactly its numbers (the INFO values are ``sad.tsv``'s text, not re-formatted).

``sad.bed`` has one line per variant allele, not one per variant and target: a track of
variant x target lines stacks T features on every variant, which IGV shows as an
unreadable pile, while one feature per variant, shaded by its largest |SAD|, reads like
any variant track; the per-target values follow in extra columns (IGV ignores them, and
bedtools and pandas keep them), and the annotated VCF carries them for IGV's pop-ups.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from motiflens.sequence.bed_write import bed_name, bed_scores, write_bed
from motiflens.sequence.vcf_annotate import annotate_vcf, info_id, is_compressed

__all__ = ["KEY", "annotated_vcf_name", "sad_wide", "write_sad_bed", "write_sad_vcf"]

#: The columns of ``sad.tsv`` that identify a variant allele.
KEY = ["chrom", "pos", "id", "ref", "alt"]


def sad_wide(sad_tsv: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """``sad.tsv`` as text, one row per variant allele and one ``sad`` column per target.

    Returns
    -------
    (table, targets)
        Columns :data:`KEY` then one per target (the SAD as written in ``sad.tsv``), in
        the file's order; and the targets in their order.
    """
    long = pd.read_csv(
        sad_tsv, sep="\t", dtype=str, keep_default_na=False, usecols=[*KEY, "target", "sad"]
    )
    targets = list(dict.fromkeys(long["target"]))
    # Repeated variant lines score the same (same sequences), so their first values stand.
    long = long.drop_duplicates([*KEY, "target"])
    wide = long.pivot(index=KEY, columns="target", values="sad")
    order = long[KEY].drop_duplicates()
    wide = order.merge(wide.reset_index(), on=KEY, how="left")
    return wide[[*KEY, *targets]].fillna("."), targets


def _unique_keys(targets: list[str]) -> list[str]:
    keys, seen = [], set()
    for t in targets:
        key, k = info_id(f"SAD_{t}"), 2
        while key in seen:
            key, k = info_id(f"SAD_{t}_{k}"), k + 1
        seen.add(key)
        keys.append(key)
    return keys


def write_sad_bed(wide: pd.DataFrame, targets: list[str], path: str | Path) -> Path:
    """``sad.bed``: one BED6+ line per scored variant allele.

    ``start = POS - 1`` and ``end = start + len(REF)`` (the reference bases); name the
    VCF ID (or ``chrom:pos``) with ``_REF>ALT``; score ``max |SAD|`` over targets scaled
    so the file's largest is 1000; strand ``.``; then ``max_sad`` (the signed SAD of
    largest magnitude), ``max_target`` and one ``sad_<target>`` column per target.
    """
    sad = wide[targets].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if sad.size:
        strongest = np.argmax(np.nan_to_num(np.abs(sad), nan=-1.0), axis=1)
    else:
        strongest = np.zeros(len(wide), np.int64)
    peak = sad[np.arange(len(wide)), strongest] if len(wide) else np.zeros(0)
    start = wide["pos"].astype(np.int64).to_numpy() - 1
    ids = [
        i if i not in ("", ".") else f"{c}:{p}"
        for c, p, i in zip(wide["chrom"], wide["pos"], wide["id"], strict=True)
    ]
    bed = pd.DataFrame(
        {
            "chrom": wide["chrom"].to_numpy(dtype=object),
            "start": start,
            "end": start + wide["ref"].str.len().to_numpy(np.int64),
            "name": [
                bed_name(f"{i}_{r}>{a}")
                for i, r, a in zip(ids, wide["ref"], wide["alt"], strict=True)
            ],
            "score": bed_scores(np.abs(peak), np.nanmax(np.abs(peak)) if len(peak) else 0.0),
            "strand": ".",
            "max_sad": peak,
            "max_target": [targets[k] for k in strongest.tolist()] if len(wide) else [],
        }
    )
    for t, column in zip(targets, wide[targets].columns, strict=True):
        bed[bed_name(f"sad_{t}")] = wide[column].to_numpy(dtype=object)
    header = [
        "motiflens variants: SAD (alt - ref prediction) per variant allele",
        "BED6+: score = max |SAD| over targets / the file's largest * 1000; "
        "max_sad = the SAD of largest magnitude; max_target = its target; "
        "sad_<target> = SAD per target",
    ]
    return write_bed(bed, path, header=header)


def annotated_vcf_name(vcf: str | Path) -> str:
    """``sad.vcf.gz`` (bgzip) for a compressed VCF, else ``sad.vcf``."""
    return "sad.vcf.gz" if is_compressed(vcf) else "sad.vcf"


def write_sad_vcf(
    vcf: str | Path, wide: pd.DataFrame, targets: list[str], out_dir: str | Path
) -> tuple[Path, int]:
    """The input VCF with ``SAD_<target>`` INFO fields, in ``out_dir``.

    Returns
    -------
    (path, records annotated)
        ``sad.vcf.gz`` or ``sad.vcf`` (see :func:`annotated_vcf_name`); the other name is
        removed, so an earlier run's copy does not pass for this one.
    """
    out_dir = Path(out_dir)
    name = annotated_vcf_name(vcf)
    for other in ("sad.vcf", "sad.vcf.gz"):
        if other != name:
            (out_dir / other).unlink(missing_ok=True)
    keys = _unique_keys(targets)
    fields = [
        (k, f"SAD (alt - ref prediction, motiflens) for target {t}")
        for k, t in zip(keys, targets, strict=True)
    ]
    rows = wide[[*KEY, *targets]].itertuples(index=False, name=None)
    values = {tuple(r[:5]): list(r[5:]) for r in rows}
    n = annotate_vcf(vcf, out_dir / name, fields, values)
    return out_dir / name, n
