"""Peaks + genome -> regions, activity table and dataset, checked against hand-worked values.

Region size 100 and merge overlap 40 keep the arithmetic small. Targets: A=0, B=1, C=2.

chr1 (2000 bp), sorted by midpoint:
  C mid 15   -> [0,100)      shifted at the chromosome start (mid - 50 = -35)
  C mid 130  -> [80,180)  \\  one group (80 - 0 >= 60 starts it); overlap 80 >= 40: merge,
  A mid 150  -> [100,200) /   centre (130*2 + 150*2)/4 = 140 -> [90,190), targets {A,C}
  A mid 1005 -> [955,1055) \\ overlap 75: merge, centre (1005*2 + 1030*2)/4 = 1017.5,
  B mid 1030 -> [980,1080) /  rounded half up to 1018 -> [968,1068), targets {A,B}
  B mid 1350 -> [1300,1400) \\ overlaps 50 and 50: the first pair merges (ties keep the
  C mid 1400 -> [1350,1450)  | first), centre 1375 -> [1325,1425) {B,C}; its overlap with
  A mid 1450 -> [1400,1500) /  [1400,1500) is then 25 < 40, so that one stays alone {A}
  B mid 1550 -> [1500,1600)    alone {B}
chr2 (1000 bp):
  A mid 300, B mid 300, C mid 350 -> A+B merge first (overlap 100) into [250,350) {A,B}
     with weight 3, then with C (overlap 50): centre (300*3 + 350*2)/5 = 320 -> [270,370)
  A mid 975 -> [925,1025) runs past 1000: shifted to [900,1000)
  C mid 650 on the minus strand -> [600,700), merged separately, sequence reverse-complemented
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from motiflens.data.hdf5 import read_split
from motiflens.data.preprocess import merge_peaks, preprocess_peaks, read_targets_table
from motiflens.errors import InputError
from motiflens.sequence.onehot import decode, reverse_complement

EXPECTED = [
    ("chr1", 0, 100, "+", (2,)),
    ("chr1", 90, 190, "+", (0, 2)),
    ("chr1", 968, 1068, "+", (0, 1)),
    ("chr1", 1325, 1425, "+", (1, 2)),
    ("chr1", 1400, 1500, "+", (0,)),
    ("chr1", 1500, 1600, "+", (1,)),
    ("chr2", 270, 370, "+", (0, 1, 2)),
    ("chr2", 900, 1000, "+", (0,)),
    ("chr2", 600, 700, "-", (2,)),
]

BEDS = {
    "A": "chr1\t100\t200\nchr1\t1000\t1010\nchr1\t1445\t1455\nchr2\t290\t310\nchr2\t960\t990\n",
    "B": "chr1\t1020\t1040\nchr1\t1340\t1360\nchr1\t1500\t1600\nchr2\t295\t305\n",
    "C": "# a comment\ntrack name=C\nchr1\t120\t140\nchr1\t10\t20\nchr1\t1390\t1410\n"
    "chr2\t340\t360\nchr2\t600\t700\tpeak\t0\t-\n",
}


@pytest.fixture
def genome_dir(tmp_path):
    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 2000), ("chr2", 1000))}
    with open(tmp_path / "genome.fa", "w") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i : i + 60] + "\n")
    for label, text in BEDS.items():
        (tmp_path / f"{label}.bed").write_text(text)
    (tmp_path / "targets.txt").write_text("A\tA.bed\nB\tB.bed\nC  C.bed\n")
    return tmp_path, seqs


def _expected_sequence(seqs, chrom, start, end, strand):
    seq = seqs[chrom][start:end]
    return reverse_complement(seq) if strand == "-" else seq


def test_merge_matches_hand_worked_regions(genome_dir):
    tmp, _ = genome_dir
    frames = []
    for i, label in enumerate("ABC"):
        from motiflens.sequence.bed import read_bed

        df = read_bed(tmp / f"{label}.bed")
        df["target"] = i
        frames.append(df)
    regions, n_merged, n_shifted = merge_peaks(
        pd.concat(frames, ignore_index=True), {"chr1": 2000, "chr2": 1000}, 100, 40
    )
    got = list(
        zip(regions.chrom, regions.start, regions.end, regions.strand, regions.targets, strict=True)
    )
    assert got == EXPECTED
    assert n_merged == 5
    assert n_shifted == 2


def test_preprocess_writes_dataset_bed_and_activity(genome_dir):
    tmp, seqs = genome_dir
    report = preprocess_peaks(
        tmp / "targets.txt",
        tmp / "genome.fa",
        tmp / "out" / "peaks.h5",
        size=100,
        merge_overlap=40,
        valid_chroms=["chr2"],
        test_chroms=[],
        progress=False,
    )
    assert report.n_regions == 9
    assert report.split_sizes == {"train": 6, "valid": 3, "test": 0}

    act = pd.read_csv(tmp / "out" / "peaks_act.tsv", sep="\t")
    assert list(act.columns) == ["region", "A", "B", "C"]
    expected_rows = {
        f"{c}:{s}-{e}({st})": [int(i in t) for i in range(3)] for c, s, e, st, t in EXPECTED
    }
    assert {r: list(v) for r, *v in act.itertuples(index=False)} == expected_rows

    bed = pd.read_csv(tmp / "out" / "peaks.bed", sep="\t", header=None)
    assert [tuple(r) for r in bed[[0, 1, 2, 5]].itertuples(index=False)] == [
        (c, s, e, st) for c, s, e, st, _ in EXPECTED
    ]
    assert list(bed[3]) == ["train"] * 6 + ["valid"] * 3

    with h5py.File(tmp / "out" / "peaks.h5") as h5:
        assert "test_in" not in h5
        assert [t.decode() for t in h5["target_labels"][:]] == ["A", "B", "C"]
    for split in ("train", "valid"):
        x, y, headers = read_split(tmp / "out" / "peaks.h5", split)
        for onehot, targets, header in zip(x, y, headers, strict=True):
            chrom, rest = header.split(":")
            span, strand = rest[:-3], rest[-2]
            start, end = map(int, span.split("-"))
            assert decode(onehot) == _expected_sequence(seqs, chrom, start, end, strand)
            assert list(targets) == expected_rows[header]


def test_random_split_counts_and_seed(genome_dir):
    tmp, _ = genome_dir
    kw = dict(size=100, merge_overlap=40, split="random", valid=2, test=3, progress=False)
    r1 = preprocess_peaks(tmp / "targets.txt", tmp / "genome.fa", tmp / "a.h5", seed=5, **kw)
    preprocess_peaks(tmp / "targets.txt", tmp / "genome.fa", tmp / "b.h5", seed=5, **kw)
    assert r1.split_sizes == {"train": 4, "valid": 2, "test": 3}
    _, _, h1 = read_split(tmp / "a.h5", "test")
    _, _, h2 = read_split(tmp / "b.h5", "test")
    assert h1 == h2


def test_chromosome_filtering(genome_dir):
    tmp, _ = genome_dir
    report = preprocess_peaks(
        tmp / "targets.txt",
        tmp / "genome.fa",
        tmp / "f.h5",
        size=100,
        merge_overlap=40,
        drop_chroms=["chr2"],
        split="random",
        valid=0,
        test=0,
        progress=False,
    )
    assert report.n_regions == 6


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("chr1\t300\t200\n", "start 300 is greater than end 200"),
        ("chr1\tabc\t200\n", "must be integers"),
        ("chr1\t1990\t2010\n", "past the chromosome end"),
        ("chr7\t10\t20\n", "'chr7' is not in the genome FASTA"),
    ],
)
def test_bad_bed_lines_name_file_and_line(genome_dir, line, message):
    tmp, _ = genome_dir
    (tmp / "A.bed").write_text("chr1\t100\t200\n" + line)
    with pytest.raises(InputError) as err:
        preprocess_peaks(tmp / "targets.txt", tmp / "genome.fa", tmp / "x.h5", progress=False)
    text = str(err.value)
    assert message in text
    assert "A.bed:2" in text
    assert not (tmp / "x.h5").exists()


def test_targets_table_errors(tmp_path):
    (tmp_path / "a.bed").write_text("chr1\t1\t2\n")
    (tmp_path / "t.txt").write_text("A a.bed\nA a.bed\n")
    with pytest.raises(InputError, match=r"t.txt:2: target label 'A' already used on line 1"):
        read_targets_table(tmp_path / "t.txt")
    (tmp_path / "t.txt").write_text("A a.bed\nB missing.bed\n")
    with pytest.raises(InputError, match=r"t.txt:2: BED file 'missing.bed' not found"):
        read_targets_table(tmp_path / "t.txt")
    (tmp_path / "t.txt").write_text("A a.bed extra\n")
    with pytest.raises(InputError, match=r"t.txt:1: expected 2 fields"):
        read_targets_table(tmp_path / "t.txt")
    (tmp_path / "t.txt").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_targets_table(tmp_path / "t.txt")
