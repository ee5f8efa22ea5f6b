"""Benchmark: variant effect scoring (``motiflens variants``) throughput and memory on CPU.

Builds, in a temporary directory:

* a synthetic genome: ``--chroms`` random chromosomes of ``--chrom-size`` bp named
  ``chr1..`` (60 bases per line);
* a VCF of ``--variants`` random SNVs (default 100,000; ``--variants 1000000`` for the
  streaming check) with the genome's REF base, a random other ALT, an ID and an INFO
  field, on chromosomes named ``1..`` (so every variant goes through the ``chr``
  reconciliation); plain text, or bgzip with ``--bgzip``;
* a run directory holding a small Basset at 600 bp (two conv layers 32/16 filters of width
  19/11, pools 3/4, one dense layer of 32, ``--targets`` outputs) with **random
  initial weights** (throughput does not depend on what the weights are); ``--tiny``
  takes a far smaller one (4/4 filters of width 5/3, pools 4/4, dense 8) to check
  the streaming memory over a million variants quickly.

Then, in one process and in this order (peak RSS is a high-water mark, so the cheap stage
goes first):

1. the reference run: just reading the VCF (:func:`motiflens.sequence.vcf.read_vcf`);
2. reading + building the reference/alternative sequences (no model);
3. the whole ``score_variants`` (read, sequences, predictions, TSV written).

Printed: seconds, variants per second, the ratio of each stage to the read-only run, and
the process's peak RSS after each stage (``resource.getrusage``).

Usage::

    .venv/bin/python bench/variants.py [--variants 100000] [--threads N] [--bgzip] [--rc]
"""

from __future__ import annotations

import os

# Passive OpenMP waiting: spinning threads make small forward passes slow on shared cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import resource
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from motiflens.config import BassetConfig, ModelConfig
from motiflens.explain.variants import resolve_chrom, variant_sequences
from motiflens.models import build_model
from motiflens.runs import Run
from motiflens.sequence.fasta import Genome
from motiflens.sequence.vcf import read_vcf
from motiflens.steps.variants import variants as score_variants

LENGTH = 600


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_genome(path: Path, n_chroms: int, size: int, rng: np.random.Generator) -> list[str]:
    chroms = []
    with open(path, "w") as fh:
        for c in range(1, n_chroms + 1):
            seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size)].tobytes().decode()
            fh.write(f">chr{c}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, size, 60))
            chroms.append(seq)
    return chroms


def write_vcf(path: Path, chroms: list[str], n: int, rng: np.random.Generator) -> None:
    per = np.bincount(rng.integers(0, len(chroms), n), minlength=len(chroms))
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write('##INFO=<ID=AF,Number=A,Type=Float,Description="allele frequency">\n')
        for c, seq in enumerate(chroms, start=1):
            fh.write(f"##contig=<ID={c},length={len(seq)}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        k = 0
        for c, (seq, m) in enumerate(zip(chroms, per, strict=True), start=1):
            positions = np.sort(rng.integers(0, len(seq), m))
            shifts = rng.integers(1, 4, m)
            afs = rng.random(m)
            lines = []
            for p, s, af in zip(positions.tolist(), shifts.tolist(), afs.tolist(), strict=True):
                ref = seq[p]
                alt = "ACGT"[("ACGT".index(ref) + s) % 4]
                lines.append(f"{c}\t{p + 1}\trs{k}\t{ref}\t{alt}\t.\tPASS\tAF={af:.3f}\n")
                k += 1
            fh.writelines(lines)


def make_run(run_dir: Path, n_targets: int, tiny: bool = False) -> None:
    torch.manual_seed(0)
    arch = (
        BassetConfig(filters=(4, 4), sizes=(5, 3), pools=(4, 4), hidden=(8,))
        if tiny
        else BassetConfig(filters=(32, 16), sizes=(19, 11), pools=(3, 4), hidden=(32,))
    )
    config = ModelConfig(name="basset", n_targets=n_targets, length=LENGTH, arch=arch)
    Run(run_dir).save_model(build_model(config).eval(), config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--chroms", type=int, default=4)
    parser.add_argument("--chrom-size", type=int, default=2_500_000)
    parser.add_argument("--targets", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--bgzip", action="store_true", help="bgzip-compress the VCF")
    parser.add_argument("--rc", action="store_true", help="average forward and RC")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a much smaller model (4/4 filters of width 5/3), to check streaming memory "
        "over a million variants quickly",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="bench_variants_") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        chroms = write_genome(tmp / "genome.fa", args.chroms, args.chrom_size, rng)
        vcf = tmp / "variants.vcf"
        write_vcf(vcf, chroms, args.variants, rng)
        del chroms
        if args.bgzip:
            import pysam

            pysam.tabix_compress(str(vcf), str(vcf) + ".gz")
            vcf.unlink()
            vcf = Path(str(vcf) + ".gz")
        make_run(tmp / "run", args.targets, args.tiny)
        print(
            f"setup {time.perf_counter() - t0:.1f} s: genome {args.chroms} x "
            f"{args.chrom_size:,} bp, {args.variants:,} SNVs ({vcf.name}, "
            f"{vcf.stat().st_size / 1e6:.1f} MB), {'tiny ' if args.tiny else ''}Basset {LENGTH} bp "
            f"x {args.targets} targets "
            f"(random weights), torch threads {torch.get_num_threads()}, "
            f"peak RSS {peak_rss_mb():.0f} MB",
            flush=True,
        )

        t = time.perf_counter()
        n_read = sum(1 for _ in read_vcf(vcf))
        t_read = time.perf_counter() - t
        rss_read = peak_rss_mb()

        t = time.perf_counter()
        n_seq = 0
        with Genome(tmp / "genome.fa") as genome:
            stream = read_vcf(vcf)
            while chunk := list(islice(stream, args.chunk_size)):
                names = [resolve_chrom(v.chrom, genome.sizes) or "" for v in chunk]
                n_seq += len(variant_sequences(genome, chunk, LENGTH, chroms=names).ref)
        t_seq = time.perf_counter() - t
        rss_seq = peak_rss_mb()

        t = time.perf_counter()
        report = score_variants(
            tmp / "run",
            vcf,
            genome=tmp / "genome.fa",
            chunk_size=args.chunk_size,
            reverse_complement=args.rc,
            verbose=sys.stderr.isatty(),
        )
        t_all = time.perf_counter() - t
        rss_all = peak_rss_mb()
        assert report is not None  # one process: this one is rank 0
        assert n_read == n_seq == report.scored == args.variants, (n_read, report.scored)
        tsv_mb = report.path.stat().st_size / 1e6

    print(f"{'stage':<34}{'seconds':>9}{'variants/s':>13}{'x read':>9}{'peak RSS MB':>13}")
    for name, secs, rss in (
        ("read VCF (reference run)", t_read, rss_read),
        ("read + build ref/alt sequences", t_seq, rss_seq),
        ("score_variants (whole verb)", t_all, rss_all),
    ):
        print(
            f"{name:<34}{secs:>9.2f}{args.variants / secs:>13,.0f}{secs / t_read:>9.1f}{rss:>13.0f}"
        )
    print(f"sad.tsv: {args.variants * args.targets:,} rows, {tsv_mb:.0f} MB")


if __name__ == "__main__":
    main()
