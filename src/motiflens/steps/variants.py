"""The variants step: SAD scores of a VCF's variants, and ISM around the top ones.

Basset's ``basset_sad.py`` and ``basset_sat_vcf.py``. The sequences and scores are
:mod:`motiflens.explain.variants`; reading the VCF in chunks, the REF-mismatch policy
and the tables are :mod:`motiflens.steps.variant_files`. With several processes
(``devices``, ``num_nodes``, ``strategy``; GPUs, nodes) every process reads the whole VCF
and scores every ``world_size``-th chunk; rank 0 merges the rows back in input order, so
``sad.tsv`` and ``log.tsv`` equal a single process's, then runs the ISM and records the
step.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motiflens.distributed import Launch, merge_units, run_sharded
from motiflens.errors import InputError
from motiflens.explain.inputs import resolve_targets
from motiflens.explain.ism import loss_gain, saturation_mutagenesis
from motiflens.explain.variants import (
    REF_MISMATCH_POLICIES,
    RefMismatch,
    variant_offset,
    variant_sequences,
)
from motiflens.files import atomic_path, safe_name
from motiflens.plots.ism import plot_ism
from motiflens.runs import Run, as_run, holding_run
from motiflens.sequence.fasta import Genome
from motiflens.sequence.onehot import codes_to_onehot
from motiflens.steps.ism_files import write_ism
from motiflens.steps.variant_files import (
    LOG_COLUMNS,
    MAX_WARNINGS,
    SAD_COLUMNS,
    ShardPart,
    TopVariant,
    VariantReport,
    merge_notes,
    score_shard,
    warn_counts,
)
from motiflens.steps.variant_tracks import sad_wide, write_sad_bed, write_sad_vcf

log = logging.getLogger(__name__)


@holding_run
def variants(
    run: Run | str | Path,
    vcf: str | Path,
    *,
    genome: str | Path | Genome,
    out: str | Path | None = None,
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
    verbose: bool = True,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
) -> VariantReport | None:
    """Score every SNV and short indel of a VCF with a trained run (SAD per target).

    Parameters
    ----------
    run
        A trained run (or its directory).
    vcf
        VCF file, plain or bgzip.
    genome
        Genome FASTA (path, or an open :class:`~motiflens.sequence.fasta.Genome`, whose
        file each process opens again).
    out
        Where to write; default the run's ``variants`` analysis folder.
    targets
        Target names or indices to report (default all).
    ref_mismatch
        ``"skip"``, ``"use-genome"`` or ``"error"`` (:mod:`motiflens.steps.variant_files`).
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
    verbose
        Show a progress bar (rank 0's).
    devices, num_nodes, strategy, accelerator
        Processes to share the work among, as Lightning takes them
        (:class:`~motiflens.distributed.Launch`); default one. Every process reads the
        whole VCF and scores the chunks ``c`` with ``c % world_size == rank``. With
        ``strategy="ddp"`` Lightning re-runs the command line for the other processes:
        call it from a command or script (from Python, use ``"ddp_spawn"``).

    Returns
    -------
    VariantReport or None
        None in the processes other than rank 0 of a multi-process run.

    Notes
    -----
    Outputs: ``sad.tsv`` (columns :data:`~motiflens.steps.variant_files.SAD_COLUMNS`, one
    row per variant allele and target), ``log.tsv`` (each variant skipped or scored with
    a caveat, and each malformed line skipped), and with ``ism`` an ``ism/`` folder. A
    step ``variants`` is added to the run's manifest.

    Examples
    --------
    >>> report = variants("runs/basset", "gwas.vcf", genome="hg38.fa", ism=True)
    >>> report.scored
    1204
    """
    if ref_mismatch not in REF_MISMATCH_POLICIES:
        raise InputError(
            f"unknown REF-mismatch policy {ref_mismatch!r}",
            hint=f"choose one of {', '.join(REF_MISMATCH_POLICIES)}",
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    run = as_run(run)
    # Checked here, in every process, before any process is started or waited for.
    config = run.model_config
    if config.length is None or config.n_targets is None:
        raise InputError(
            "the model config has no input length or number of targets", path=run.config_path
        )
    labels = run.target_labels(config.n_targets)
    chosen = resolve_targets(targets, labels)
    folder = Path(out) if out is not None else run.analysis_dir("variants")
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(genome, Genome):
        genome_path = genome.path
    else:
        genome_path = Path(genome)
        # a missing or unreadable FASTA stops here, and its index is built once, not by
        # several processes at the same time
        Genome(genome_path).close()
    work = partial(
        score_shard,
        run=run,
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
        verbose=verbose,
    )
    merge = partial(
        _merge_variants,
        run=run,
        vcf=vcf,
        genome=genome_path,
        out=folder,
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
    launch = Launch(devices, num_nodes, strategy, accelerator)
    return run_sharded(work, merge, near=folder / "sad.tsv", launch=launch, device=device)


def _merge_variants(
    parts: list[ShardPart],
    *,
    run: Run,
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
    merge_units(
        [p.sad for p in parts], [p.sad_counts for p in parts], report.path, header=sad_header
    )
    log_header = "\t".join(LOG_COLUMNS) + "\n"
    merge_units(
        [p.log for p in parts], [p.log_counts for p in parts], report.log_path, header=log_header
    )
    for name in ("scored", "ref_mismatch", "outside", "padded", "too_long", "unknown_chrom"):
        setattr(report, name, sum(getattr(p.counts, name) for p in parts))
    messages, total, report.unknown_chroms = merge_notes(parts)
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
        model = run.model(device)
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
    warn_counts(report)
    wide, targets = sad_wide(report.path)
    report.bed_path = write_sad_bed(wide, targets, out / "sad.bed")
    report.vcf_path, _ = write_sad_vcf(vcf, wide, targets, out)
    outputs = [report.path, report.log_path, report.bed_path, report.vcf_path]
    if report.ism_dir is not None:
        outputs.append(report.ism_dir)
    run.record_step(
        "variants",
        outputs,
        vcf=str(vcf),
        scored=report.scored,
        ref_mismatch=report.ref_mismatch,
        ref_mismatch_policy=ref_mismatch,
        unknown_chrom=report.unknown_chrom,
        outside=report.outside,
        padded=report.padded,
        bad_lines=report.vcf.bad_lines,
        symbolic=report.vcf.symbolic,
        reverse_complement=reverse_complement,
    )
    return report


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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    left = variant_offset(length)
    win = None if window is None or window >= length else window
    columns = ("rank", "chrom", "pos", "id", "ref", "alt", "target", "sad", "h5")
    rows = ["\t".join((*columns, "figure_ref", "figure_alt"))]
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
        alleles = f"{safe_name(v.ref)[:20]}_{safe_name(v.alt)[:20]}"
        stem = f"{rank:04d}_{safe_name(v.chrom)}_{v.pos}_{alleles}"
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
                    out / f"{stem}_{safe_name(t_name)}_{which}.png",
                    title=f"{v.label()} | {which} {allele} | {t_name} | SAD {sad:+.3g}",
                    positions=result.positions,
                    mark=left,
                    mark_width=len(allele),
                )
                figures.append(fig.name)
            fields = (rank, v.chrom, v.pos, v.id, v.ref, v.alt, t_name, f"{sad:.6g}", h5.name)
            rows.append("\t".join(map(str, (*fields, *figures))))
    path = out / "ism.tsv"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
