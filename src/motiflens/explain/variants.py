"""Variant effect scores: SAD per target for VCF variants, and ISM around the top ones.

Basset's ``basset_sad.py`` and ``basset_sat_vcf.py`` with explicit policies:

- **Sequences** (Basset's ``bvcf.snps_seq1``): for a model of length ``L`` the window
  holds ``L // 2 - 1`` genome bases left of the variant, then the allele, then the right
  flank, so an SNV sits at 0-based index ``L // 2 - 1``. Both sequences are ``L`` long:
  the reference is the genome window; in the alternative the REF bases are replaced by
  ALT and the right flank is cut (insertion) or extended from the genome (deletion) at
  the right end. Bases beyond a chromosome end are N (0.25 in every channel), counted.
- **Chromosome names** ``1``/``chr1``, ``MT``/``chrM`` are matched to the genome's;
  variants on a chromosome the genome lacks are skipped, counted and logged.
- **REF check**: where the genome's bases at POS differ from REF, ``ref_mismatch``
  decides: ``"skip"`` (default; counted, one line per variant in ``log.tsv``),
  ``"use-genome"`` (score the genome's own bases as the reference, the genome flanks
  around ALT as the alternative; logged) or ``"error"`` (stop, naming the variant and
  its line).
- **Scores** per target: ``ref_pred``, ``alt_pred`` (the model's predictions, i.e.
  probabilities for a binary task), ``sad = alt_pred - ref_pred`` and
  ``log_odds_diff`` = alt minus ref of the model's raw outputs: the log-odds difference
  ``logit(alt) - logit(ref)`` for a binary task, the log rate ratio for a Poisson task,
  and for a regression task the raw difference (equal to ``sad``).

The VCF is streamed in chunks and the rows are written as they go (to a part file, which
becomes the TSV at the end), so memory stays bounded whatever the number of variants.
With several processes (``launch``; GPUs, nodes) every process reads the whole VCF and
scores every ``world_size``-th chunk; rank 0 merges the rows back in input order
(:mod:`motiflens.distributed`), so ``sad.tsv`` and ``log.tsv`` equal a single process's.
"""

from __future__ import annotations

import heapq
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import IO, Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from motiflens.distributed import Launch, Shard, merge_units, run_sharded
from motiflens.errors import InputError
from motiflens.explain.inputs import explain_dir, resolve_targets
from motiflens.explain.ism import loss_gain, saturation_mutagenesis, write_ism
from motiflens.files import atomic_path
from motiflens.files import safe_name as _safe
from motiflens.models import predict_transform
from motiflens.prediction import predict_array
from motiflens.runs import Run
from motiflens.sequence.fasta import Genome
from motiflens.sequence.onehot import UNKNOWN, code_table, codes_to_onehot
from motiflens.sequence.vcf import Variant, VCFStats, read_vcf

log = logging.getLogger(__name__)

RefMismatch = Literal["skip", "use-genome", "error"]
REF_MISMATCH_POLICIES = ("skip", "use-genome", "error")

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
_MITO = ("chrM", "MT", "M", "chrMT")


# ------------------------------------------------------------------ chromosome names


def resolve_chrom(name: str, sizes: dict[str, int] | Iterable[str]) -> str | None:
    """The genome's name for a VCF chromosome, with or without ``chr``; None if absent.

    ``1`` matches ``chr1`` and back; the mitochondrion matches among ``chrM``, ``MT``,
    ``M`` and ``chrMT``.
    """
    names = sizes if isinstance(sizes, dict) else set(sizes)
    if name in names:
        return name
    base = name[3:] if name[:3].lower() == "chr" else name
    candidates = [base, f"chr{base}", f"Chr{base}"]
    if base.upper() in ("M", "MT"):
        candidates += list(_MITO)
    return next((c for c in candidates if c in names), None)


# ------------------------------------------------------------------ sequences


@dataclass
class VariantSequences:
    """Reference and alternative windows for a batch of variants.

    Attributes
    ----------
    ref, alt
        ``(n, L)`` uint8 base codes (A=0, C=1, G=2, T=3, N=4).
    genome_ref
        The genome's bases where REF should be (upper case; ``N`` beyond a chromosome end).
    ref_matches
        ``(n,)`` bool: the genome's bases equal REF.
    padded
        ``(n,)`` bool: the window ran over a chromosome end and was filled with N.
    """

    ref: np.ndarray
    alt: np.ndarray
    genome_ref: list[str]
    ref_matches: np.ndarray
    padded: np.ndarray


def variant_offset(length: int) -> int:
    """0-based index of the variant's first base in a window of ``length`` (``L//2 - 1``)."""
    return length // 2 - 1


def max_allele_length(length: int) -> int:
    """Longest REF or ALT the window takes (``L // 2``): half the window is right flank."""
    return length // 2


def variant_sequences(
    genome: Genome,
    variants: Sequence[Variant],
    length: int,
    *,
    chroms: Sequence[str] | None = None,
) -> VariantSequences:
    """Build the reference and alternative sequences of ``length`` around each variant.

    Parameters
    ----------
    genome
        The genome.
    variants
        Variants whose REF and ALT are at most :func:`max_allele_length` long.
    length
        Model input length ``L``.
    chroms
        The genome's name of each variant's chromosome (default: :func:`resolve_chrom`,
        an error for an unknown one).

    Returns
    -------
    VariantSequences
        The window starts ``L // 2 - 1`` bases left of POS. Reference: the genome window.
        Alternative: the same left flank, ALT, then the genome from just after REF,
        cut or extended at the right end to ``L``.
    """
    n = len(variants)
    left = variant_offset(length)
    if left < 0:
        raise ValueError(f"a model length of {length} leaves no room for a variant")
    if chroms is None:
        chroms = []
        for v in variants:
            name = resolve_chrom(v.chrom, genome.sizes)
            if name is None:
                raise InputError(f"chromosome {v.chrom!r} is not in the genome", line=v.line)
            chroms.append(name)
    longest = max_allele_length(length)
    for v in variants:
        if max(len(v.ref), len(v.alt)) > longest:
            raise ValueError(f"{v.label()}: an allele is longer than {longest} bp")
    extra = np.array([max(0, len(v.ref) - len(v.alt)) for v in variants], dtype=np.int64)
    # One width for the batch: enough for the longest deletion's right flank.
    width = length + (int(extra.max()) if n else 0)
    starts = np.array([v.pos - 1 - left for v in variants], dtype=np.int64)
    sizes = np.array([genome.sizes[c] for c in chroms], dtype=np.int64)
    need_end = starts + length + extra
    padded = (starts < 0) | (need_end > sizes)
    codes = np.full((n, width), UNKNOWN, dtype=np.uint8)
    inside = (starts >= 0) & (starts + width <= sizes)
    chrom_arr = np.array(chroms, dtype=object)
    for chrom in dict.fromkeys(chrom_arr[inside].tolist()):
        rows = np.flatnonzero(inside & (chrom_arr == chrom))
        codes[rows] = genome.fetch_codes(chrom, starts[rows], width)
    for i in np.flatnonzero(~inside).tolist():
        # Near a chromosome end: fetch what exists, the rest stays N.
        a, b = max(int(starts[i]), 0), min(int(starts[i]) + width, int(sizes[i]))
        if b > a:
            codes[i, a - starts[i] : b - starts[i]] = genome.fetch_codes(chroms[i], [a], b - a)[0]
    table = code_table()
    ref = codes[:, :length].copy()
    alt = ref.copy()
    genome_ref: list[str] = []
    matches = np.zeros(n, dtype=bool)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    for i, v in enumerate(variants):
        here = codes[i, left : left + len(v.ref)]
        genome_ref.append(letters[here].tobytes().decode("ascii"))
        matches[i] = np.array_equal(here, table[np.frombuffer(v.ref.encode(), np.uint8)])
        alt_codes = table[np.frombuffer(v.alt.encode(), np.uint8)]
        if len(v.ref) == 1 and len(v.alt) == 1:
            alt[i, left] = alt_codes[0]
            continue
        tail = length - left - len(v.alt)
        after = left + len(v.ref)
        alt[i] = np.concatenate([codes[i, :left], alt_codes, codes[i, after : after + tail]])
    return VariantSequences(ref, alt, genome_ref, matches, padded)


# ------------------------------------------------------------------ scoring


def score_sequences(
    model: nn.Module,
    ref: np.ndarray,
    alt: np.ndarray,
    task: str,
    *,
    reverse_complement: bool = False,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions for reference and alternative sequences, and the raw-output difference.

    Parameters
    ----------
    model
        Returns ``(batch, T)`` raw outputs (logits).
    ref, alt
        ``(n, L)`` base codes.
    task
        ``"binary"``, ``"regression"`` or ``"poisson"``: how raw outputs become predictions.
    reverse_complement
        Average forward and reverse-complement raw outputs (see
        :func:`~motiflens.prediction.predict_array`).

    Returns
    -------
    (ref_pred, alt_pred, raw_diff)
        ``(n, T)`` float32 each; ``raw_diff`` is alt minus ref of the raw outputs.
    """
    n = len(ref)
    x = codes_to_onehot(np.concatenate([ref, alt]), np.float32)
    raw = predict_array(
        model, x, batch_size=batch_size, device=device, reverse_complement=reverse_complement
    )
    preds = predict_transform(task, torch.from_numpy(raw)).numpy()
    return preds[:n], preds[n:], raw[n:] - raw[:n]


@dataclass
class VariantReport:
    """What :func:`score_variants` did."""

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
    padded: int = 0
    too_long: int = 0
    reverse_complement: bool = False
    ism_dir: Path | None = None
    ism_variants: int = 0
    processes: int = 1

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


def score_variants(
    run_dir: str | Path,
    vcf: str | Path,
    genome: str | Path | Genome,
    *,
    out_dir: str | Path | None = None,
    targets: Sequence[str | int] | None = None,
    ref_mismatch: RefMismatch = "skip",
    skip_bad: bool = False,
    reverse_complement: bool = False,
    chunk_size: int = 1024,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
    ism: bool = False,
    ism_top: int = 10,
    ism_targets: int = 1,
    ism_window: int | None = 200,
    ism_method: str = "auto",
    progress: bool = True,
    launch: Launch | None = None,
) -> VariantReport | None:
    """Score every SNV and short indel of a VCF with a trained model (SAD per target).

    Parameters
    ----------
    run_dir
        Trained run directory (model, config, target labels).
    vcf
        VCF file, plain or bgzip.
    genome
        Genome FASTA (path, or an open :class:`~motiflens.sequence.fasta.Genome`, whose
        file each process opens again).
    out_dir
        Where to write; default ``RUN_DIR/explain/variants``.
    targets
        Target names or indices to report (default all).
    ref_mismatch
        ``"skip"``, ``"use-genome"`` or ``"error"`` (module docstring).
    skip_bad
        Skip malformed VCF lines (named in the log) instead of stopping at the first.
    reverse_complement
        Average forward and reverse-complement raw outputs.
    chunk_size
        Variants read and scored at a time (memory is bounded by this; also the unit of
        work a process takes).
    batch_size
        Sequences per forward pass.
    device
        Where to run the model in a single process (default CUDA if available, else CPU).
    ism
        Also run saturation mutagenesis around the top variants (:func:`variant_ism`).
    ism_top
        How many variants, by largest |SAD| over the reported targets; 0 for all
        (held in memory: for small VCFs).
    ism_targets
        Targets per variant for ISM: its largest |SAD| ones.
    ism_window
        Central positions to mutate (Basset's ``-n 200``); None for the whole sequence.
    ism_method
        ``"auto"``, ``"fast"`` or ``"naive"`` (see
        :func:`~motiflens.explain.ism.saturation_mutagenesis`).
    progress
        Show a progress bar (rank 0's).
    launch
        Processes to share the work among (:class:`~motiflens.distributed.Launch`, e.g.
        ``Launch(4, strategy="ddp")`` on four GPUs); default one. Every process reads the
        whole VCF and scores the chunks ``c`` with ``c % world_size == rank``; rank 0
        merges the rows back in input order (the files equal a single process's), runs
        ISM and records the step. With ``strategy="ddp"`` Lightning re-runs the command
        line for the other processes: call it from a command or script (from Python, use
        ``"ddp_spawn"``).

    Returns
    -------
    VariantReport or None
        None in the processes other than rank 0 of a multi-process run.

    Notes
    -----
    Outputs: ``sad.tsv`` (columns :data:`SAD_COLUMNS`, one row per variant allele and target),
    ``log.tsv`` (:data:`LOG_COLUMNS`: each variant skipped or scored with a caveat, and
    each malformed line skipped), and with ``ism`` an ``ism/`` folder. A step
    ``variants`` is added to the run's manifest.
    """
    if ref_mismatch not in REF_MISMATCH_POLICIES:
        raise InputError(
            f"unknown REF-mismatch policy {ref_mismatch!r}",
            hint=f"choose one of {', '.join(REF_MISMATCH_POLICIES)}",
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    run_dir = Path(run_dir)
    # Checked here, in every process, before any process is started or waited for.
    config = Run(run_dir).model_config
    if config.length is None or config.n_targets is None:
        raise InputError(
            "the model config has no input length or number of targets",
            path=run_dir / "config.yaml",
        )
    labels = Run(run_dir).target_labels(config.n_targets)
    chosen = resolve_targets(targets, labels)
    out = Path(out_dir) if out_dir is not None else explain_dir(run_dir, "variants")
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(genome, Genome):
        genome_path = genome.path
    else:
        genome_path = Path(genome)
        # a missing or unreadable FASTA stops here, and its index is built once, not by
        # several processes at the same time
        Genome(genome_path).close()
    work = partial(
        _score_shard,
        run_dir=run_dir,
        vcf=Path(vcf),
        genome=genome_path,
        chosen=chosen,
        ref_mismatch=ref_mismatch,
        skip_bad=skip_bad,
        reverse_complement=reverse_complement,
        chunk_size=chunk_size,
        batch_size=batch_size,
        ism_top=ism_top if ism else -1,
        ism_targets=ism_targets,
        progress=progress,
    )
    merge = partial(
        _merge_variants,
        run_dir=run_dir,
        vcf=vcf,
        genome=genome_path,
        out=out,
        task=config.task,
        chosen=chosen,
        labels=labels,
        length=config.length,
        ref_mismatch=ref_mismatch,
        reverse_complement=reverse_complement,
        ism=ism,
        ism_top=ism_top,
        ism_window=ism_window,
        ism_method=ism_method,
    )
    return run_sharded(work, merge, near=out / "sad.tsv", launch=launch, device=device)


@dataclass
class _Part:
    """What one process of :func:`score_variants` hands to rank 0."""

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


def _score_shard(
    shard: Shard,
    *,
    run_dir: Path,
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
    progress: bool,
) -> _Part:
    """Score this process's chunks of the VCF into its part files.

    Every process reads the whole VCF, so malformed lines stop (or are skipped by) all
    of them alike and each has the file's statistics; chunk ``c`` (counted from 0) is
    admitted and scored by rank ``c % world_size`` only, and a malformed line is logged
    by the owner of the chunk being filled when it is read.
    """
    model = Run(run_dir).model(shard.device)
    config = model.config
    assert config.length is not None and config.n_targets is not None  # checked before
    length = config.length
    labels = Run(run_dir).target_labels(config.n_targets)
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
        tqdm(desc=desc, unit="variant", disable=not (progress and shard.is_zero)) as bar,
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
                        model, config.task, fasta, kept, chroms, length, chosen, labels,
                        ref_mismatch, reverse_complement, batch_size, fh, vlog, counts, top,
                        ism_top, ism_targets, vcf, vlog.chunk * chunk_size,
                    )  # fmt: skip
                sad_counts.append(written)
                log_counts.append(vlog.flush())
            bar.update(len(chunk))
            vlog.chunk += 1
        if shard.owns(vlog.chunk):  # malformed lines after the last variant
            log_counts.append(vlog.flush())
    return _Part(
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


def _merge_variants(
    parts: list[_Part],
    *,
    run_dir: Path,
    vcf: str | Path,
    genome: Path,
    out: Path,
    task: str,
    chosen: list[int],
    labels: list[str],
    length: int,
    ref_mismatch: str,
    reverse_complement: bool,
    ism: bool,
    ism_top: int,
    ism_window: int | None,
    ism_method: str,
) -> VariantReport:
    """Rank 0: the parts back in input order, the counts summed, ISM, the manifest."""
    report = VariantReport(
        path=out / "sad.tsv",
        log_path=out / "log.tsv",
        task=task,
        n_targets=len(chosen),
        vcf=parts[0].counts.vcf,
        ref_mismatch_policy=ref_mismatch,
        reverse_complement=reverse_complement,
        processes=len(parts),
    )
    sad_header = "\t".join(SAD_COLUMNS) + "\n"
    merge_units([p.sad for p in parts], [p.sad_counts for p in parts], report.path,
                header=sad_header)  # fmt: skip
    log_header = "\t".join(LOG_COLUMNS) + "\n"
    merge_units([p.log for p in parts], [p.log_counts for p in parts], report.log_path,
                header=log_header)  # fmt: skip
    for name in ("scored", "ref_mismatch", "padded", "too_long", "unknown_chrom"):
        setattr(report, name, sum(getattr(p.counts, name) for p in parts))
    messages, total, report.unknown_chroms = _merge_notes(parts)
    if len(parts) > 1:  # a single process showed them as they came
        for message in messages[:MAX_WARNINGS]:
            log.warning(message)
        if total > MAX_WARNINGS:
            log.warning("more variant warnings; all are listed in log.tsv")
    top = [item for p in parts for item in p.top]
    # An earlier run's ISM files would pass for this run's (the dashboard lists them all).
    shutil.rmtree(out / "ism", ignore_errors=True)
    if ism and top:
        report.ism_dir = out / "ism"
        selected = sorted(top, reverse=True)[: ism_top or None]
        report.ism_variants = len(selected)
        device = parts[0].device
        model = Run(run_dir).model(device)
        with Genome(genome) as fasta:
            variant_ism(
                model,
                fasta,
                selected,
                report.ism_dir,
                length=length,
                labels=labels,
                window=ism_window,
                reverse_complement=reverse_complement,
                method=ism_method,
                device=device,
            )
    _warn_counts(report)
    outputs = [_relative(p, run_dir) for p in (report.path, report.log_path)]
    if report.ism_dir is not None:
        outputs.append(_relative(report.ism_dir, run_dir) + "/")
    Run(run_dir).record_step(
        "variants",
        outputs,
        vcf=str(vcf),
        scored=report.scored,
        ref_mismatch=report.ref_mismatch,
        ref_mismatch_policy=ref_mismatch,
        unknown_chrom=report.unknown_chrom,
        padded=report.padded,
        bad_lines=report.vcf.bad_lines,
        symbolic=report.vcf.symbolic,
        reverse_complement=reverse_complement,
    )
    return report


def _merge_notes(parts: Sequence[_Part]) -> tuple[list[str], int, list[str]]:
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


def _relative(path: Path, run_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(run_dir.resolve()))
    except ValueError:
        return str(path)


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
        if v.pos > genome.sizes[name]:
            report.ref_mismatch += 1
            reason = f"POS is beyond the end of {name} ({genome.sizes[name]:,} bp)"
            if report.ref_mismatch_policy == "error":
                raise InputError(f"variant {v.label()}: {reason}", path=vcf, line=v.line)
            vlog.add(v, v.line, "skipped", reason)
            continue
        kept.append(v)
        chroms.append(name)
    return kept, chroms


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


def _warn_counts(report: VariantReport) -> None:
    if report.padded:
        log.warning(
            "%d variant window(s) ran over a chromosome end and were padded with N",
            report.padded,
        )
    if report.ref_mismatch and report.ref_mismatch_policy == "skip":
        log.warning(
            "%d variant(s) skipped because REF does not match the genome (see %s)",
            report.ref_mismatch,
            report.log_path,
        )


# ------------------------------------------------------------------ ISM


def variant_ism(
    model: nn.Module,
    genome: Genome,
    selected: Sequence[TopVariant],
    out_dir: str | Path,
    *,
    length: int,
    labels: Sequence[str],
    window: int | None = 200,
    reverse_complement: bool = False,
    method: str = "auto",
    device: str | torch.device | None = None,
) -> Path:
    """Saturation mutagenesis of each selected variant's reference and alternative.

    Basset's ``basset_sat_vcf.py``: for each variant, both sequences are mutated over the
    central ``window`` positions for the variant's top targets; one HDF5 file per variant
    (:func:`~motiflens.explain.ism.write_ism`, sequences named ``ref`` and ``alt``), a
    figure per sequence and target with the variant marked, and ``ism.tsv`` listing them.

    Returns
    -------
    Path
        ``out_dir/ism.tsv``.
    """
    from motiflens.plots.ism import plot_ism

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    left = variant_offset(length)
    win = None if window is None or window >= length else window
    rows = ["\t".join(("rank", "chrom", "pos", "id", "ref", "alt", "target", "sad", "h5",
                       "figure_ref", "figure_alt"))]  # fmt: skip
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    for rank, item in enumerate(selected, start=1):
        v = item.variant
        seqs = variant_sequences(genome, [v], length)
        x = codes_to_onehot(np.concatenate([seqs.ref, seqs.alt]), np.float32)
        result = saturation_mutagenesis(
            model,
            x,
            window=win,
            targets=item.targets,
            reverse_complement=reverse_complement,
            method=method,  # type: ignore[arg-type]
            device=device,
        )
        stem = f"{rank:04d}_{_safe(v.chrom)}_{v.pos}_{_safe(v.ref)[:20]}_{_safe(v.alt)[:20]}"
        names = [labels[t] for t in item.targets]
        # Names that identify the variant: the dashboard finds a variant's ISM by them.
        label = f"{v.chrom}:{v.pos} {v.ref}>{v.alt}"
        h5 = write_ism(out / f"{stem}.h5", result, [f"{label} ref", f"{label} alt"], names)
        loss, gain = loss_gain(result.delta)
        for k, (t_name, sad) in enumerate(zip(names, item.sad, strict=True)):
            figures = []
            for s, (which, allele) in enumerate((("ref", v.ref), ("alt", v.alt))):
                codes = (seqs.ref if s == 0 else seqs.alt)[0]
                region = letters[codes[result.positions]].tobytes().decode("ascii")
                fig = plot_ism(
                    result.delta[s, :, :, k],
                    loss[s, :, k],
                    gain[s, :, k],
                    region,
                    out / f"{stem}_{_safe(t_name)}_{which}.png",
                    title=f"{v.label()} | {which} {allele} | {t_name} | SAD {sad:+.3g}",
                    positions=result.positions,
                    mark=left,
                    mark_width=len(allele),
                )
                figures.append(fig.name)
            rows.append(
                "\t".join(
                    map(str, (rank, v.chrom, v.pos, v.id, v.ref, v.alt, t_name, f"{sad:.6g}",
                              h5.name, *figures))
                )
            )  # fmt: skip
    path = out / "ism.tsv"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
