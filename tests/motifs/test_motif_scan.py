"""FIMO matches of a planted JASPAR motif: position and strand, on windows of both strands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from motiflens.motifs.databases import jaspar_motif
from motiflens.motifs.pwm import Motif
from motiflens.motifs.scan import motif_hits_bed, scan_motifs
from motiflens.sequence.bed import read_bed

CTCF = jaspar_motif("MA0139.2")


def revcomp(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def onehot(seq: str) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[["ACGT".index(b) for b in seq]].T


def test_planted_motif_is_found_at_its_genome_position_and_strand(tmp_path):
    core = CTCF.consensus()
    assert len(core) == 15
    background = "".join(np.random.default_rng(0).choice(list("AT"), 60))
    fwd = background[:10] + core + background[25:]  # + strand at 10..25 of the sequence
    rev = background[:30] + revcomp(core) + background[45:]  # - strand at 30..45
    # an unrelated motif (poly-C) that the A/T background never matches
    poly_c = Motif("X1", "polyC", np.tile([[0.01], [0.97], [0.01], [0.01]], (1, 8)))
    hits = scan_motifs(
        [poly_c, CTCF],
        np.stack([onehot(fwd), onehot(rev), onehot(rev)]),
        ["chr1", "chr2", "chr3"],
        [1000, 0, 500],
        # the third sequence is the reverse complement of genome chr3:500-560
        strands=["+", "+", "-"],
        p=1e-4,
    )
    got = set(
        zip(
            hits["chrom"], hits["start"], hits["end"], hits["motif_id"], hits["strand"], strict=True
        )
    )
    assert got == {
        ("chr1", 1010, 1025, "MA0139.2", "+"),
        ("chr2", 30, 45, "MA0139.2", "-"),
        # sequence [30, 45) on '-' of a '-' window: genome 500 + 60 - 45 = 515, strand +
        ("chr3", 515, 530, "MA0139.2", "+"),
    }
    assert (hits["p_value"] <= 1e-4).all() and (hits["motif_name"] == "CTCF").all()

    path = motif_hits_bed(hits, tmp_path / "motifs.bed", p=1e-4)
    back = read_bed(path, names=True)
    assert list(zip(back["chrom"], back["start"], back["name"], strict=True)) == [
        ("chr1", 1010, "MA0139.2_CTCF"),
        ("chr2", 30, "MA0139.2_CTCF"),
        ("chr3", 515, "MA0139.2_CTCF"),
    ]
    rows = pd.read_csv(path, sep="\t", comment="#", header=None)
    expected = np.minimum(1000, np.round(-np.log10(hits["p_value"].to_numpy()) * 100))
    np.testing.assert_array_equal(rows[4].to_numpy(), expected)


def test_no_match_gives_an_empty_table_and_strings_are_accepted():
    hits = scan_motifs([CTCF], np.stack([onehot("AT" * 20)]), p=1e-6)
    assert len(hits) == 0 and {"chrom", "start", "strand", "p_value"} <= set(hits.columns)
    hits = scan_motifs([CTCF], ["AT" * 5 + CTCF.consensus() + "AT" * 5], p=1e-4)
    assert hits[["chrom", "start", "end", "strand"]].values.tolist() == [["0", 10, 25, "+"]]
