"""filter_hits.bed and motif_hits.bed of the filters step, against hand-planted sites.

A one-filter Basset whose filter reads ``ACGT`` (weight 1 on each base, bias -3.5: the
activation is 0.5 on ACGT and 0 everywhere else) on a genome of A and T only, so the only
ACGT are the planted ones; CTCF's consensus is planted on both strands for FIMO.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import BassetConfig, ModelConfig
from motiflens.explain.filter_activations import filter_stats
from motiflens.models import build_model
from motiflens.motifs.databases import jaspar_motif
from motiflens.motifs.meme import write_meme
from motiflens.runs import Run
from motiflens.sequence.bed import read_bed
from motiflens.steps.filter_tracks import sequence_coordinates, write_filter_hits
from motiflens.steps.motifs import filters

LENGTH = 40
CTCF = jaspar_motif("MA0139.2")
CONSENSUS = CTCF.consensus()  # GCCACCAGGGGGCGC


def revcomp(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def acgt_model() -> torch.nn.Module:
    config = ModelConfig(
        name="basset",
        n_targets=1,
        length=LENGTH,
        arch=BassetConfig(
            filters=(1,), sizes=(4,), pools=(1,), hidden=(), batch_norm=False, padding="valid"
        ),
    )
    model = build_model(config).eval()
    with torch.no_grad():
        model.conv1.weight.zero_()
        for j, base in enumerate("ACGT"):
            model.conv1.weight[0, "ACGT".index(base), j] = 1.0
        model.conv1.bias.fill_(-3.5)
    return model


@pytest.fixture
def genome(tmp_path) -> tuple[Path, str]:
    chrom = list("".join(np.random.default_rng(3).choice(list("AT"), 200)))
    for start in (50, 120, 130):
        chrom[start : start + 4] = "ACGT"
    chrom[150 : 150 + len(CONSENSUS)] = CONSENSUS
    chrom[20 : 20 + len(CONSENSUS)] = revcomp(CONSENSUS)
    seq = "".join(chrom)
    path = tmp_path / "genome.fa"
    path.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, 200, 60)) + "\n")
    return path, seq


@pytest.fixture
def run(tmp_path) -> Path:
    model = acgt_model()
    Run(tmp_path / "run").save_model(model, model.config)
    return tmp_path / "run"


def test_filter_and_motif_hits_land_on_the_planted_genome_positions(tmp_path, genome, run):
    genome_path, seq = genome
    bed = tmp_path / "regions.bed"
    # windows (40 bp on the midpoint): [30, 70) +, [110, 150) -, [140, 180) +, [0, 40) +
    bed.write_text("chr1\t30\t70\tone\nchr1\t110\t150\ttwo\t0\t-\nchr1\t140\t180\nchr1\t0\t40\n")
    db = write_meme([CTCF], tmp_path / "ctcf.meme")
    result = filters(
        run,
        bed,
        genome=genome_path,
        db=db,
        influence=False,
        logos=False,
        verbose=False,
        motif_hits=True,
        motif_p=1e-4,
    )
    folder = result.folder
    hits = read_bed(folder / "filter_hits.bed", names=True)
    # the planted ACGT, the ones at 120 and 130 read through a reverse-complemented window
    assert list(zip(hits["chrom"], hits["start"], hits["end"], strict=True)) == [
        ("chr1", 50, 54),
        ("chr1", 120, 124),
        ("chr1", 130, 134),
    ]
    assert all(seq[s:e] == "ACGT" for s, e in zip(hits["start"], hits["end"], strict=True))
    assert set(hits["name"]) == {"filter0"}  # too few sites for a PWM: no match name
    rows = pd.read_csv(folder / "filter_hits.bed", sep="\t", comment="#", header=None)
    assert rows[4].tolist() == [1000] * 3 and rows[5].tolist() == ["."] * 3
    np.testing.assert_allclose(rows[6], 0.5)  # the raw activation, 4 - 3.5
    assert result.n_filter_hits == 3

    motif_rows = pd.read_csv(folder / "motif_hits.bed", sep="\t", comment="#", header=None)
    found = set(zip(motif_rows[1], motif_rows[2], motif_rows[3], motif_rows[5], strict=True))
    assert (150, 165, "MA0139.2_CTCF", "+") in found
    assert (20, 35, "MA0139.2_CTCF", "-") in found
    assert (motif_rows[4] > 0).all() and (motif_rows[4] <= 1000).all()
    assert (motif_rows[6] <= 1e-4).all()  # p-values


def test_filter_hit_names_carry_the_match_and_unnamed_sequences_are_their_own_chrom(
    tmp_path,
):
    model = acgt_model()
    seqs = ["T" * 5 + "ACGT" + "T" * 31, "A" * 30 + "ACGT" + "A" * 6]
    X = np.stack([np.eye(4, dtype=np.float32)[["ACGT".index(b) for b in s]].T for s in seqs])
    stats = filter_stats(model, X)
    table = pd.DataFrame({"filter": [0], "match_name": ["CTCF"]})
    # a FASTA named by bedtools getfasta (-s) is placed on the genome; others start at 0
    fasta = tmp_path / "x.fa"
    fasta.write_text(f">chr2:1000-1040(-)\n{seqs[0]}\n>my seq\n{seqs[1]}\n")
    where = sequence_coordinates(fasta, ["chr2:1000-1040(-)", "my seq"], length=LENGTH, genome=None)
    path, n = write_filter_hits(model, X, stats, table, where, tmp_path / "hits.bed")
    hits = read_bed(path, names=True)
    assert n == 2
    # 1000 + (40 - 5 - 4) on the minus-strand window; position 30 of "my_seq"
    assert sorted(zip(hits["chrom"], hits["start"], hits["end"], strict=True)) == [
        ("chr2", 1031, 1035),
        ("my_seq", 30, 34),
    ]
    assert set(hits["name"]) == {"filter0_CTCF"}


def test_cli_filters_writes_both_tracks(tmp_path, genome, run):
    genome_path, _ = genome
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t30\t70\nchr1\t140\t180\n")
    db = write_meme([CTCF], tmp_path / "ctcf.meme")
    args = ["filters", str(run), str(bed), "--genome", str(genome_path), "--db", str(db)]
    args += ["--no-influence", "--no-logos", "--motif-hits", "--motif-p", "1e-5"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "filter_hits.bed: 1 filter sites; motif_hits.bed: 1 known-motif matches" in out.output
    folder = run / "explain" / "filters"
    assert read_bed(folder / "filter_hits.bed")["start"].tolist() == [50]
    assert read_bed(folder / "motif_hits.bed")["start"].tolist() == [150]
