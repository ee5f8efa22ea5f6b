"""Scoring a VCF chunk by chunk into ``sad.tsv`` and ``log.tsv`` (one process's share).

The VCF is streamed in chunks and the rows are written as they go (to a part file, which
becomes the TSV at the end), so memory stays bounded whatever the number of variants.
Every process reads the whole VCF and scores every ``world_size``-th chunk
(:func:`score_shard`); rank 0 merges the parts back in input order
(:mod:`motiflens.distributed`), so the tables equal a single process's.

REF check: where the genome's bases at POS differ from REF, the policy decides:
``"skip"`` (default; counted, one line per variant in ``log.tsv``), ``"use-genome"``
(score the genome's own bases as the reference, the genome flanks around ALT as the
alternative; logged) or ``"error"`` (stop, naming the variant and its line). Variants on a
chromosome the genome lacks are skipped, counted and logged; so are variants whose REF
lies outside the chromosome (POS 0, past the end), except that ``"error"`` stops there.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO

import numpy as np
from torch import nn

from motiflens.distributed import Shard
from motiflens.errors import InputError
from motiflens.explain.variants import (
    max_allele_length,
    resolve_chrom,
    score_sequences,
    variant_sequences,
)
from motiflens.prediction import check_finite_weights
from motiflens.progress import tqdm
from motiflens.runs import Run
from motiflens.sequence.fasta import Genome
from motiflens.sequence.vcf import Variant, VCFStats, read_vcf

log = logging.getLogger(__name__)

SAD_COLUMNS = (
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "target",
    "ref_pred",
    "alt_pred",
    "sad",
    "log_odds_diff",
    "info",
)
LOG_COLUMNS = ("line", "chrom", "pos", "id", "ref", "alt", "action", "reason")
#: Per-variant warnings shown on the console before only the count goes on (all of them
#: are in ``log.tsv``).
MAX_WARNINGS = 10


@dataclass
class VariantReport:
    """What :func:`motiflens.steps.variants.variants` did."""

    path: Path
    log_path: Path
    task: str
    n_targets: int
    scored: int = 0
    vcf: VCFStats = field(default_factory=VCFStats)
    unknown_chrom: int = 0
    unknown_chroms: list[str] = field(default_factory=list)
    ref_mismatch: int = 0
    ref_mismatch_policy: str = "skip"
    outside: int = 0
    padded: int = 0
    too_long: int = 0
    reverse_complement: bool = False
    ism_dir: Path | None = None
    ism_variants: int = 0
    processes: int = 1
    bed_path: Path | None = None  # sad.bed
    vcf_path: Path | None = None  # the input VCF with SAD_<target> INFO fields

    def __str__(self) -> str:
        rc = " (forward and reverse complement averaged)" if self.reverse_complement else ""
        v = self.vcf
        lines = [
            f"variants  {self.path}",
            f"{self.scored:,} variant alleles scored x {self.n_targets} targets{rc}; "
            f"{v.records:,} VCF records read",
        ]
        if self.task == "regression":
            lines.append("regression task: log_odds_diff is the raw difference alt - ref")
        elif self.task == "poisson":
            lines.append("poisson task: log_odds_diff is the log rate ratio log(alt/ref)")
        if self.ref_mismatch:
            what = {
                "skip": "skipped",
                "use-genome": "scored with the genome's bases as reference",
            }.get(self.ref_mismatch_policy, self.ref_mismatch_policy)
            lines.append(f"{self.ref_mismatch:,} REF mismatches with the genome: {what}")
        if self.outside:
            lines.append(
                f"{self.outside:,} variants skipped with a position outside their chromosome"
            )
        if self.unknown_chrom:
            shown = ", ".join(self.unknown_chroms[:5])
            lines.append(
                f"{self.unknown_chrom:,} variants skipped on chromosomes not in the genome "
                f"({shown})"
            )
        if self.padded:
            lines.append(f"{self.padded:,} windows ran over a chromosome end: padded with N")
        if self.too_long:
            lines.append(f"{self.too_long:,} alleles longer than half the window skipped")
        if v.symbolic or v.no_alt:
            lines.append(
                f"{v.symbolic:,} symbolic/structural ALT alleles and {v.no_alt:,} records "
                "without ALT skipped"
            )
        if v.bad_lines:
            lines.append(f"{v.bad_lines:,} malformed VCF lines skipped")
        if self.ism_dir is not None:
            lines.append(f"ISM of {self.ism_variants} variant(s) -> {self.ism_dir}")
        if self.processes > 1:
            lines.append(f"computed by {self.processes} processes, merged in input order")
        if self.bed_path is not None and self.vcf_path is not None:
            lines.append(f"genome tracks: {self.bed_path}, {self.vcf_path} (SAD INFO fields)")
        lines.append(f"details per variant: {self.log_path}")
        return "\n".join(lines)


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _clean_any(value: object) -> str:
    return _clean(str(value))


#: A console warning kept for rank 0: (chunk, number on its rank, unknown chromosome or
#: None, message). Chunk and number put the warnings of all ranks back in input order.
_Note = tuple[int, int, str | None, str]


class _Log:
    """``log.tsv`` lines of one process: each variant skipped or scored with a caveat.

    Entries wait until the chunk is done and go out sorted by line, so the file is in VCF
    order although a chunk's checks run in stages; the header is written by the merge.
    Console warnings are shown as they come (``live``, a single process) and kept as
    notes, so that after a multi-process run rank 0 shows the same ones in input order.
    """

    def __init__(self, fh: IO[str], *, live: bool = True) -> None:
        self.fh = fh
        self.live = live
        self.chunk = 0  # the chunk being read: malformed lines found now belong to it
        self.shown = 0
        self.notes: list[_Note] = []
        self.pending: list[tuple[int, str]] = []

    def add(self, v: Variant | None, line: int, action: str, reason: str) -> None:
        cols = ("", "", "", "", "") if v is None else (v.chrom, v.pos, v.id, v.ref, v.alt)
        text = "\t".join(map(str, (line, *map(_clean_any, cols), action, _clean(reason))))
        self.pending.append((line, text + "\n"))

    def flush(self) -> int:
        """Write the pending entries in line order; return how many."""
        self.pending.sort(key=lambda item: item[0])
        self.fh.writelines(text for _, text in self.pending)
        n = len(self.pending)
        self.pending.clear()
        return n

    def warn(self, message: str, chrom: str | None = None) -> None:
        self.shown += 1
        # every unknown chromosome (the merge needs them all to list them once, in order);
        # of the others, the first few (none later on this rank can be among the first
        # MAX_WARNINGS of all ranks)
        if chrom is not None or self.shown <= MAX_WARNINGS:
            self.notes.append((self.chunk, self.shown, chrom, message))
        if not self.live:
            return
        if self.shown <= MAX_WARNINGS:
            log.warning(message)
        elif self.shown == MAX_WARNINGS + 1:
            log.warning("more variant warnings; all are listed in log.tsv")


@dataclass(order=True)
class TopVariant:
    """A variant picked for ISM, ordered by its largest |SAD| (ties: the earlier one).

    Attributes
    ----------
    score
        Largest |SAD| over the reported targets.
    order
        Minus its position in the stream of variant alleles (so that of equal scores the
        earlier ranks higher).
    variant
        The variant.
    targets
        Model outputs to run ISM for (largest |SAD| first).
    sad
        SAD of each of those targets.
    """

    score: float
    order: int
    variant: Variant = field(compare=False)
    targets: list[int] = field(compare=False)
    sad: list[float] = field(compare=False)


@dataclass
class ShardPart:
    """What one process of :func:`motiflens.steps.variants.variants` hands to rank 0."""

    sad: Path
    log: Path
    sad_counts: list[int]  # lines of sad.tsv per own chunk
    log_counts: list[int]  # lines of log.tsv per own chunk (and the tail after the last)
    counts: VariantReport  # this process's counters; its VCF statistics cover the whole file
    notes: list[_Note]
    shown: int
    top: list[TopVariant]
    device: str


@contextmanager
def _quiet(name: str, quiet: bool) -> Iterator[None]:
    """Silence logger ``name``'s warnings while ``quiet`` (restored afterwards)."""
    logger = logging.getLogger(name)
    before = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def score_shard(
    shard: Shard,
    *,
    run: Run,
    vcf: Path,
    genome: Path,
    chosen: list[int],
    ref_mismatch: str,
    skip_bad: bool,
    reverse_complement: bool,
    chunk_size: int,
    batch_size: int,
    ism_top: int,
    ism_targets: int,
    verbose: bool,
) -> ShardPart:
    """Score this process's chunks of the VCF into its part files.

    Every process reads the whole VCF, so malformed lines stop (or are skipped by) all
    of them alike and each has the file's statistics; chunk ``c`` (counted from 0) is
    admitted and scored by rank ``c % world_size`` only, and a malformed line is logged
    by the owner of the chunk being filled when it is read.
    """
    model = run.model(shard.device)
    check_finite_weights(model, run.weights_path)  # else every score is NaN, silently
    config = model.config
    assert config.length is not None and config.n_targets is not None  # checked before
    length = config.length
    labels = model.target_labels
    counts = VariantReport(
        path=shard.part(".sad.tsv"),
        log_path=shard.part(".log.tsv"),
        task=config.task,
        n_targets=len(chosen),
        ref_mismatch_policy=ref_mismatch,
        reverse_complement=reverse_complement,
    )
    top: list[TopVariant] = []
    sad_counts: list[int] = []
    log_counts: list[int] = []
    world = shard.world_size
    desc = "variants" if world == 1 else f"variants (rank 0 of {world})"
    with (
        open(counts.path, "w", encoding="utf-8", newline="\n") as fh,
        open(counts.log_path, "w", encoding="utf-8", newline="\n") as log_fh,
        Genome(genome) as fasta,
        # read_vcf's warnings for malformed lines: rank 0 reads them all too
        _quiet(read_vcf.__module__, not shard.is_zero),
        tqdm(desc=desc, unit="variant", disable=not (verbose and shard.is_zero)) as bar,
    ):
        vlog = _Log(log_fh, live=world == 1)

        def on_bad(line: int, reason: str) -> None:
            if shard.owns(vlog.chunk):
                vlog.add(None, line, "skipped", f"malformed VCF line: {reason}")

        stream = read_vcf(vcf, skip_bad=skip_bad, stats=counts.vcf, on_bad=on_bad)
        for chunk in _chunks(stream, chunk_size):
            if shard.owns(vlog.chunk):
                kept, chroms = _admit(chunk, fasta, length, counts, vlog, vcf)
                written = 0
                if kept:
                    written = _score_chunk(
                        model,
                        config.task,
                        fasta,
                        kept,
                        chroms,
                        length,
                        chosen,
                        labels,
                        ref_mismatch,
                        reverse_complement,
                        batch_size,
                        fh,
                        vlog,
                        counts,
                        top,
                        ism_top,
                        ism_targets,
                        vcf,
                        vlog.chunk * chunk_size,
                    )
                sad_counts.append(written)
                log_counts.append(vlog.flush())
            bar.update(len(chunk))
            vlog.chunk += 1
        if shard.owns(vlog.chunk):  # malformed lines after the last variant
            log_counts.append(vlog.flush())
    return ShardPart(
        sad=counts.path,
        log=counts.log_path,
        sad_counts=sad_counts,
        log_counts=log_counts,
        counts=counts,
        notes=vlog.notes,
        shown=vlog.shown,
        top=top,
        device=str(shard.device),
    )


def merge_notes(parts: Sequence[ShardPart]) -> tuple[list[str], int, list[str]]:
    """The ranks' warnings in input order, how many a single process would have shown,
    and the unknown chromosomes in order of first appearance (each once)."""
    notes = sorted((note for p in parts for note in p.notes), key=lambda note: note[:2])
    messages: list[str] = []
    chroms: list[str] = []
    for _chunk, _number, chrom, message in notes:
        if chrom is not None:
            if chrom in chroms:  # another rank met it first: a single process warns once
                continue
            chroms.append(chrom)
        messages.append(message)
    others = sum(p.shown - sum(note[2] is not None for note in p.notes) for p in parts)
    return messages, others + len(chroms), chroms


def _chunks(stream: Iterator[Variant], size: int) -> Iterator[list[Variant]]:
    while chunk := list(islice(stream, size)):
        yield chunk


def _admit(
    chunk: list[Variant],
    genome: Genome,
    length: int,
    report: VariantReport,
    vlog: _Log,
    vcf: str | Path,
) -> tuple[list[Variant], list[str]]:
    """Variants on a known chromosome with alleles that fit; the others logged."""
    kept: list[Variant] = []
    chroms: list[str] = []
    longest = max_allele_length(length)
    for v in chunk:
        name = resolve_chrom(v.chrom, genome.sizes)
        if name is None:
            report.unknown_chrom += 1
            if v.chrom not in report.unknown_chroms:
                report.unknown_chroms.append(v.chrom)
                vlog.warn(
                    f"chromosome {v.chrom!r} (VCF line {v.line}) is not in the genome", v.chrom
                )
            vlog.add(v, v.line, "skipped", f"chromosome {v.chrom!r} is not in the genome")
            continue
        if max(len(v.ref), len(v.alt)) > longest:
            report.too_long += 1
            vlog.add(v, v.line, "skipped", f"allele longer than {longest} bp (half the window)")
            continue
        reason = outside_reason(v, name, genome.sizes[name])
        if reason is not None:
            report.outside += 1
            if report.ref_mismatch_policy == "error":
                raise InputError(
                    f"variant {v.label()}: {reason}",
                    path=vcf,
                    line=v.line,
                    hint="check that the VCF and the genome are the same assembly; or use "
                    "--ref-mismatch skip to skip such variants",
                )
            vlog.add(v, v.line, "skipped", reason)
            vlog.warn(f"line {v.line}: {v.label()}: {reason}")
            continue
        kept.append(v)
        chroms.append(name)
    return kept, chroms


def outside_reason(v: Variant, chrom: str, size: int) -> str | None:
    """Why a variant's REF does not lie on its chromosome (1..size), or None if it does.

    VCF allows POS 0 (and size + 1) for telomeres; neither has bases to score.
    """
    last = v.pos + len(v.ref) - 1
    if 1 <= v.pos and last <= size:
        return None
    if v.pos < 1 or v.pos > size:
        return f"POS {v.pos:,} is outside {chrom} (positions 1..{size:,})"
    return (
        f"REF ({len(v.ref)} bp) runs to {last:,}, past the end of {chrom} (positions 1..{size:,})"
    )


def _score_chunk(
    model: nn.Module,
    task: str,
    genome: Genome,
    variants: list[Variant],
    chroms: list[str],
    length: int,
    chosen: list[int],
    labels: list[str],
    policy: str,
    rc: bool,
    batch_size: int,
    fh: IO[str],
    vlog: _Log,
    report: VariantReport,
    top: list[TopVariant],
    ism_top: int,
    ism_targets: int,
    vcf: str | Path,
    first: int,
) -> int:
    """Score a chunk's admitted variants into ``fh``; return the lines written.

    ``first`` is the chunk's position in the stream of variant alleles (its index times
    the chunk size): it orders the candidates for ISM as a single pass would.
    """
    seqs = variant_sequences(genome, variants, length, chroms=chroms)
    keep = np.ones(len(variants), dtype=bool)
    for i in np.flatnonzero(~seqs.ref_matches).tolist():
        v = variants[i]
        report.ref_mismatch += 1
        reason = f"REF {v.ref} does not match the genome ({seqs.genome_ref[i]})"
        if policy == "error":
            raise InputError(
                f"variant {v.label()}: {reason}",
                path=vcf,
                line=v.line,
                hint="check that the VCF and the genome are the same assembly; or use "
                "--ref-mismatch skip / use-genome",
            )
        if policy == "skip":
            keep[i] = False
            vlog.add(v, v.line, "skipped", reason)
        else:
            vlog.add(v, v.line, "scored", f"{reason}: the genome's bases were the reference")
        vlog.warn(f"line {v.line}: {v.label()}: {reason}")
    for i in np.flatnonzero(seqs.padded & keep).tolist():
        v = variants[i]
        report.padded += 1
        vlog.add(v, v.line, "scored", "window runs over the chromosome end: padded with N")
    rows = np.flatnonzero(keep)
    if not rows.size:
        return 0
    ref_pred, alt_pred, raw_diff = score_sequences(
        model, seqs.ref[rows], seqs.alt[rows], task, reverse_complement=rc, batch_size=batch_size
    )
    cols = np.asarray(chosen)
    ref_pred, alt_pred, raw_diff = ref_pred[:, cols], alt_pred[:, cols], raw_diff[:, cols]
    sad = alt_pred - ref_pred
    names = [_clean(labels[t]) for t in chosen]
    lines = []
    for k, i in enumerate(rows.tolist()):
        v = variants[i]
        head = f"{_clean(v.chrom)}\t{v.pos}\t{_clean(v.id)}\t{v.ref}\t{v.alt}\t"
        tail = f"\t{_clean(v.info)}\n"
        for j, name in enumerate(names):
            lines.append(
                f"{head}{name}\t{ref_pred[k, j]:.6g}\t{alt_pred[k, j]:.6g}\t"
                f"{sad[k, j]:.6g}\t{raw_diff[k, j]:.6g}{tail}"
            )
    fh.writelines(lines)
    report.scored += len(rows)
    if ism_top < 0:
        return len(lines)
    strength = np.abs(sad).max(axis=1)
    for k, i in enumerate(rows.tolist()):
        order = np.argsort(-np.abs(sad[k]), kind="stable")[:ism_targets]
        item = TopVariant(
            float(strength[k]),
            -(first + i),
            variants[i],
            [chosen[j] for j in order.tolist()],
            [float(sad[k, j]) for j in order.tolist()],
        )
        if ism_top == 0 or len(top) < ism_top:
            heapq.heappush(top, item)
        elif item > top[0]:
            heapq.heapreplace(top, item)
    return len(lines)


def warn_counts(report: VariantReport) -> None:
    if report.padded:
        log.warning(
            "%d variant window(s) ran over a chromosome end and were padded with N",
            report.padded,
        )
    if report.outside:
        log.warning(
            "%d variant(s) skipped because their position is outside the chromosome (see %s)",
            report.outside,
            report.log_path,
        )
    if report.ref_mismatch and report.ref_mismatch_policy == "skip":
        log.warning(
            "%d variant(s) skipped because REF does not match the genome (see %s)",
            report.ref_mismatch,
            report.log_path,
        )
