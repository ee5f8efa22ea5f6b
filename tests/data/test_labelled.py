"""Labelled sequences -> dataset file: the three readers, resizing, shuffled negatives, errors.

Expected values are worked out by hand from the small files written in each test.
"""

from __future__ import annotations

import gzip
import tempfile
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motiflens.data.hdf5 import read_split
from motiflens.data.labelled import LabelledSequences, concat_labelled, default_target_label
from motiflens.data.labelled_build import (
    BuildReport,
    add_shuffled_negatives,
    build_from_files,
    build_sequence_dataset,
)
from motiflens.data.labelled_readers import (
    detect_format,
    header_chromosome,
    read_deepbind,
    read_labelled_fasta,
    read_sequences,
    read_table,
)
from motiflens.errors import InputError
from motiflens.sequence.onehot import decode

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEEPBIND_HEADER = "FoldID\tEventID\tseq\tBound\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def dinucleotides(seq: str) -> Counter[str]:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def stored(path: Path, split: str) -> tuple[list[str], np.ndarray, list[str]]:
    x, y, headers = read_split(path, split)
    return decode(x), y, headers


# --------------------------------------------------------------------------- FASTA


def test_fasta_labels_in_header_lower_case_and_multiline(tmp_path: Path) -> None:
    path = write(tmp_path / "GATA1.fa", ">1\nACGT\nac\n>0\nggnn\n>1\nTTRA\n")
    data = read_labelled_fasta(path)
    assert data.names == ["record_1", "record_2", "record_3"]
    assert data.seqs == ["ACGTAC", "GGNN", "TTRA"]
    assert data.labels.dtype == np.float32
    assert data.labels.tolist() == [[1.0], [0.0], [1.0]]
    assert data.target_labels == ["GATA1"]
    assert data.lines == [1, 4, 6]
    assert data.source == str(path)


def test_fasta_names_and_several_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "multi.fa.gz", ">peakA 1,0,1\nACGT\n>peakB extra words 0,0,1\nCCGG\n")
    data = read_labelled_fasta(path, target_labels=["K562", "HepG2", "GM12878"])
    assert data.names == ["peakA", "peakB"]
    assert data.labels.tolist() == [[1, 0, 1], [0, 0, 1]]
    assert data.target_labels == ["K562", "HepG2", "GM12878"]
    default = read_labelled_fasta(path)
    assert default.target_labels == ["multi_0", "multi_1", "multi_2"]


def test_fasta_continuous(tmp_path: Path) -> None:
    path = write(tmp_path / "expr.fasta", ">s1 0.5\nACGT\n>s2 -1.25e1\nAAAA\n>s3 3\nCCCC\n")
    data = read_labelled_fasta(path, continuous=True)
    assert data.labels[:, 0].tolist() == [0.5, -12.5, 3.0]


# --------------------------------------------------------------------------- tables


def test_tsv_with_name_and_two_label_columns(tmp_path: Path) -> None:
    text = (
        "id\tchr\tsequence\tK562\tHepG2\n"
        "r1\tchr1\tacgt\t1\t0\n"
        "r2\tchr2\tGGCC\t0\t1\n"
        "\n"
        "r3\tchr3\tNNAT\t1.0\t1\n"
    )
    path = write(tmp_path / "cells.tsv.gz", text)
    data = read_table(path, label_columns=["HepG2", "K562"], name_column="id")
    assert data.names == ["r1", "r2", "r3"]
    assert data.seqs == ["ACGT", "GGCC", "NNAT"]
    assert data.labels.tolist() == [[0, 1], [1, 0], [1, 1]]
    assert data.target_labels == ["HepG2", "K562"]
    assert data.lines == [2, 3, 5]  # the blank line 4 is skipped but counted


def test_csv_default_label_columns_and_sniffed_separator(tmp_path: Path) -> None:
    csv = write(tmp_path / "a.csv", "sequence,t1,t2\nACGT,1,0\nTTTT,0,0\n")
    data = read_table(csv)
    assert data.target_labels == ["t1", "t2"]
    assert data.labels.tolist() == [[1, 0], [0, 0]]
    assert data.names == ["record_1", "record_2"]
    # .txt: the separator comes from the header line
    txt = write(tmp_path / "b.txt", "name,sequence,score\nx,AC,0.25\ny,GT,-2\n")
    data = read_table(txt, name_column="name", continuous=True)
    assert data.labels[:, 0].tolist() == [0.25, -2.0]
    assert data.seqs == ["AC", "GT"]


def test_deepbind_format(tmp_path: Path) -> None:
    text = DEEPBIND_HEADER + "A\tseq_00001_peak\tACGTacgt\t1\nA\tseq_00001_shuf\tAGTCACGT\t0\n"
    path = write(tmp_path / "deepbind_encode_FOO_K562" / "test_B.seq.gz", text)
    data = read_deepbind(path)
    assert data.names == ["seq_00001_peak", "seq_00001_shuf"]
    assert data.seqs == ["ACGTACGT", "AGTCACGT"]
    assert data.labels.tolist() == [[1], [0]]
    assert data.target_labels == ["FOO_K562"]
    assert data.lines == [2, 3]


def test_auto_detection(tmp_path: Path) -> None:
    fa = write(tmp_path / "x.dat", "\n>1\nACGT\n")
    db = write(tmp_path / "y.dat", DEEPBIND_HEADER + "A\te1\tACGT\t1\n")
    tab = write(tmp_path / "z.dat", "sequence\tlabel\nACGT\t1\n")
    assert [detect_format(p) for p in (fa, db, tab)] == ["fasta", "deepbind", "table"]
    assert read_sequences(fa).labels.tolist() == [[1]]
    assert read_sequences(db).names == ["e1"]
    assert read_sequences(tab).target_labels == ["label"]
    with pytest.raises(InputError, match="apply to tables"):
        read_sequences(fa, label_columns=["label"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("GABPA.fa.gz", "GABPA"),
        ("deepbind_encode_SRF_H1-hESC/train_AC.seq.gz", "SRF_H1-hESC"),
        ("ZBTB7A_HepG2_ZBTB7A_HudsonAlpha_B.seq.gz", "ZBTB7A_HepG2_ZBTB7A_HudsonAlpha"),
        ("CTCF_K562/train.fa", "CTCF_K562"),
        ("GATA_A.fa", "GATA_A"),
    ],
)
def test_default_target_label(tmp_path: Path, path: str, expected: str) -> None:
    assert default_target_label(tmp_path / path) == expected


# --------------------------------------------------------------------------- building


def test_build_centre_pads_and_trims(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mixed.fa",
        ">a 1\nACGTAC\n>b 0\nACGT\n>c 1\nAACCGGTTA\n>d 0\nacgta\n>e 1\nTTTTTT\n>f 0\nGGGGGG\n",
    )
    data = read_labelled_fasta(path)
    out = tmp_path / "out" / "mixed.h5"
    report = build_sequence_dataset(out, data, valid=0, test_fraction=0)
    assert isinstance(report, BuildReport)
    assert (report.length, report.n_padded, report.n_trimmed) == (6, 2, 1)
    assert report.counts == {"train": 6}
    seqs, y, headers = stored(out, "train")
    # training rows are stored in a seeded random order; compare by name
    assert sorted(headers) == ["a", "b", "c", "d", "e", "f"]
    by_name = {h: (s, int(v)) for h, s, v in zip(headers, seqs, y[:, 0], strict=True)}
    # 4 -> 6: one N each side; 9 -> 6: drop 1 left, 2 right; 5 -> 6: the extra N goes right
    assert [by_name[h][0] for h in "abcdef"] == [
        "ACGTAC",
        "NACGTN",
        "ACCGGT",
        "ACGTAN",
        "TTTTTT",
        "GGGGGG",
    ]
    assert [by_name[h][1] for h in "abcdef"] == [1, 0, 1, 0, 1, 0]
    with h5py.File(out, "r") as h5:
        assert h5["train_out"].dtype == np.int8
        assert h5.attrs["n_padded"] == 2
        assert h5.attrs["source_train"] == str(path)
    text = str(report)
    assert str(out) in text and "6 sequences of 6 bp" in text
    assert "2 centre-padded" in text and "1 centre-trimmed" in text
    assert report.positive_rates == {"train": [0.5]}

    report = build_sequence_dataset(out, data, length=4, valid=0, test_fraction=0)
    assert (report.n_padded, report.n_trimmed) == (0, 5)
    seqs, _, headers = stored(out, "train")
    by_name = dict(zip(headers, seqs, strict=True))
    # 5 -> 4: the odd base is trimmed from the right
    assert [by_name[h] for h in "abcdef"] == ["CGTA", "ACGT", "CCGG", "ACGT", "TTTT", "GGGG"]


def test_build_splits_with_given_test_and_continuous_targets(tmp_path: Path) -> None:
    rows = "".join(f"s{i}\t{'ACGT' * 3}\t{i / 4}\n" for i in range(20))
    train = read_table(
        write(tmp_path / "train.tsv", "name\tsequence\tsignal\n" + rows),
        name_column="name",
        continuous=True,
    )
    test = read_table(
        write(tmp_path / "test.tsv", "name\tsequence\tsignal\nt1\tAAAAAAAAAAAA\t-0.5\n"),
        name_column="name",
        continuous=True,
    )
    out = tmp_path / "expr.h5"
    report = build_sequence_dataset(out, train, test=test, valid=5, continuous=True)
    assert report.counts == {"train": 15, "valid": 5, "test": 1}
    _, y_test, h_test = stored(out, "test")
    assert h_test == ["t1"] and y_test.tolist() == [[-0.5]]
    values = {}
    for split in ("train", "valid"):
        _, y, headers = stored(out, split)
        values.update(zip(headers, y[:, 0].tolist(), strict=True))
    assert values == {f"s{i}": i / 4 for i in range(20)}
    with h5py.File(out, "r") as h5:
        assert h5["train_out"].dtype == np.float32
    with pytest.raises(InputError, match="not all 0 or 1"):
        build_sequence_dataset(tmp_path / "bad.h5", train)


def test_build_from_files_joins_sources_and_keeps_a_given_test_file(tmp_path: Path) -> None:
    header = "name\tsequence\tsignal\n"
    a = write(tmp_path / "a.tsv", header + "".join(f"a{i}\tACGTACGT\t{i}\n" for i in range(6)))
    b = write(tmp_path / "b.tsv", header + "".join(f"b{i}\tTTTTACGT\t{-i}\n" for i in range(4)))
    test = write(tmp_path / "t.tsv", header + "t0\tGGGGCCCC\t7\n")
    out = tmp_path / "joined.h5"
    report = build_from_files(
        out,
        [a, b],
        test_file=test,
        continuous=True,
        name_column="name",
        label_columns=["signal"],
        valid=2,
        seed=3,
    )
    # 6 + 4 training records, 2 of them held out for validation; the test file as given
    assert report.counts == {"train": 8, "valid": 2, "test": 1}
    _, y_test, h_test = stored(out, "test")
    assert h_test == ["t0"] and y_test.tolist() == [[7.0]]
    values = {}
    for split in ("train", "valid"):
        _, y, headers = stored(out, split)
        values.update(zip(headers, y[:, 0].tolist(), strict=True))
    assert values == {**{f"a{i}": i for i in range(6)}, **{f"b{i}": -i for i in range(4)}}


def test_build_rejects_invalid_sequence_atomically(tmp_path: Path) -> None:
    data = LabelledSequences(
        names=["ok", "broken"],
        seqs=["ACGT", "AC#T"],
        labels=np.array([[1], [0]]),
        target_labels=["t"],
        source="made_by_hand.tsv",
        lines=[2, 3],
    )
    out = tmp_path / "never.h5"
    with pytest.raises(InputError) as info:
        build_sequence_dataset(out, data, valid=0, test_fraction=0)
    message = str(info.value)
    assert "made_by_hand.tsv:3" in message and "'broken'" in message and "'#'" in message
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file left behind


# --------------------------------------------------------------------------- negatives


def test_shuffled_negatives_preserve_dinucleotides() -> None:
    rng = np.random.default_rng(0)
    long_seq = "".join(rng.choice(list("ACGT"), size=300))
    data = LabelledSequences(
        names=["p1", "n1", "p2"],
        seqs=[long_seq, "CCCCCCCC", "ACGTTGCAAC"],
        labels=np.array([[1], [0], [1]]),
        target_labels=["t"],
        source="x.fa",
        lines=[1, 3, 5],
    )
    out = add_shuffled_negatives(data, seed=1)
    assert out.names == ["p1", "n1", "p2", "p1_shuf", "p2_shuf"]
    assert out.labels[:, 0].tolist() == [1, 0, 1, 0, 0]
    assert out.lines == [1, 3, 5, 1, 5]
    for original, shuffled in ((long_seq, out.seqs[3]), ("ACGTTGCAAC", out.seqs[4])):
        assert len(shuffled) == len(original)
        assert dinucleotides(shuffled) == dinucleotides(original)
        assert (shuffled[0], shuffled[-1]) == (original[0], original[-1])
    assert out.seqs[3] != long_seq
    again = add_shuffled_negatives(data, seed=1)
    other = add_shuffled_negatives(data, seed=2)
    assert again.seqs[3] == out.seqs[3]
    assert other.seqs[3] != out.seqs[3]
    assert dinucleotides(other.seqs[3]) == dinucleotides(long_seq)

    multi = LabelledSequences(["a"], ["ACGT"], np.array([[1, 0]]), ["x", "y"], "m.fa", [1])
    with pytest.raises(InputError, match="single target"):
        add_shuffled_negatives(multi, seed=1)


def test_build_with_shuffle_keeps_pairs_in_one_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    records = "".join(f">p{i} 1\n{''.join(rng.choice(list('ACGT'), size=30))}\n" for i in range(40))
    train = read_labelled_fasta(write(tmp_path / "pos.fa", records))
    test = read_labelled_fasta(write(tmp_path / "test.fa", ">q1 1\nACGTACGTTTGACCA\n"))
    out = tmp_path / "pairs.h5"
    report = build_sequence_dataset(
        out, train, test=test, negatives="shuffle", valid=0.25, length=30
    )
    # test.fa has only positives, so it gets its shuffle too; it is padded from 15 to 30
    assert report.counts == {"train": 60, "valid": 20, "test": 2}
    assert report.n_negatives == 41
    assert report.n_padded == 1
    assert report.positive_rates == {"train": [0.5], "valid": [0.5], "test": [0.5]}
    originals = dict(zip(train.names, train.seqs, strict=True))
    for split in ("train", "valid"):
        seqs, y, headers = stored(out, split)
        by_name = dict(zip(headers, seqs, strict=True))
        for name, seq in by_name.items():
            if name.endswith("_shuf"):
                positive = name.removesuffix("_shuf")
                assert positive in by_name  # same split as its positive
                assert dinucleotides(seq) == dinucleotides(originals[positive])
        assert y[:, 0].tolist() == [0.0 if h.endswith("_shuf") else 1.0 for h in headers]
    seqs, _, headers = stored(out, "test")
    assert headers == ["q1", "q1_shuf"]
    assert seqs[0] == "N" * 7 + "ACGTACGTTTGACCA" + "N" * 8


# --------------------------------------------------------------------------- bad input


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_invalid_characters_are_located(tmp_path: Path) -> None:
    fa = write(tmp_path / "bad.fa", ">a 1\nACGT\n>b 0\nACGT\nAC!T\n")
    message = error_of(read_labelled_fasta, fa)
    assert "bad.fa:5" in message and "'b 0'" in message and "'!'" in message
    tsv = write(tmp_path / "bad.tsv", "name\tsequence\ty\nr1\tACGT\t1\nr2\tACZT\t0\n")
    message = error_of(read_table, tsv, name_column="name")
    assert "bad.tsv:3" in message and "'r2'" in message and "'Z'" in message
    db = write(tmp_path / "bad.seq.gz", DEEPBIND_HEADER + "A\te1\tACGT\t1\nA\te2\tAC-T\t1\n")
    message = error_of(read_deepbind, db)
    assert "bad.seq.gz:3" in message and "'e2'" in message and "'-'" in message


def test_empty_files(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.fa", "")
    assert "empty.fa" in error_of(read_labelled_fasta, empty)
    assert "empty" in error_of(read_table, write(tmp_path / "empty.tsv", ""))
    assert "empty" in error_of(read_deepbind, write(tmp_path / "empty.seq.gz", ""))
    assert "empty" in error_of(read_sequences, write(tmp_path / "blank.txt", "\n\n"))
    message = error_of(read_table, write(tmp_path / "header.tsv", "sequence\ty\n"))
    assert "header.tsv" in message and "no rows" in message
    message = error_of(read_deepbind, write(tmp_path / "h.seq.gz", DEEPBIND_HEADER))
    assert "h.seq.gz" in message and "no records" in message


@pytest.mark.parametrize("label", ["2", "x", "", "0.5"])
def test_binary_labels_must_be_0_or_1(tmp_path: Path, label: str) -> None:
    tsv = write(tmp_path / "lab.tsv", f"sequence\ty\nACGT\t1\nACGT\t{label}\n")
    message = error_of(read_table, tsv)
    assert "lab.tsv:3" in message and "not 0 or 1" in message and "'y'" in message
    db = write(tmp_path / "lab.seq.gz", DEEPBIND_HEADER + f"A\te1\tACGT\t{label}\n")
    message = error_of(read_deepbind, db)
    assert "lab.seq.gz:2" in message and "not 0 or 1" in message
    if label:
        fa = write(tmp_path / "lab.fa", f">a 1\nACGT\n>b {label}\nACGT\n")
        message = error_of(read_labelled_fasta, fa)
        assert "lab.fa:3" in message and "not 0 or 1" in message and "'b'" in message


def test_fasta_header_errors(tmp_path: Path) -> None:
    message = error_of(read_labelled_fasta, write(tmp_path / "nolab.fa", ">seq1\nACGT\n"))
    assert "nolab.fa:1" in message and "'seq1'" in message and "'>name 1'" in message
    message = error_of(read_labelled_fasta, write(tmp_path / "n.fa", ">a 1,0\nAC\n>b 1\nAC\n"))
    assert "n.fa:3" in message and "1 label(s)" in message


def test_continuous_labels_must_be_numbers(tmp_path: Path) -> None:
    fa = write(tmp_path / "c.fa", ">a 0.5\nACGT\n>b high\nACGT\n")
    message = error_of(read_labelled_fasta, fa, continuous=True)
    assert "c.fa:3" in message and "'high'" in message and "not a finite number" in message
    tsv = write(tmp_path / "c.csv", "sequence,signal\nACGT,1.5\nACGT,nan\n")
    message = error_of(read_table, tsv, continuous=True)
    assert "c.csv:3" in message and "'nan'" in message


def test_duplicate_names(tmp_path: Path) -> None:
    fa = write(tmp_path / "dup.fa", ">a 1\nACGT\n>b 0\nACGT\n>a 0\nACGT\n")
    message = error_of(read_labelled_fasta, fa)
    assert "dup.fa:5" in message and "'a'" in message and "line 1" in message
    tsv = write(tmp_path / "dup.tsv", "id\tsequence\ty\nx\tAC\t1\ny\tAC\t1\nx\tAC\t0\n")
    message = error_of(read_table, tsv, name_column="id")
    assert "dup.tsv:4" in message and "line 2" in message
    db = write(tmp_path / "dup.seq.gz", DEEPBIND_HEADER + "A\te\tAC\t1\nA\te\tAC\t1\n")
    assert "dup.seq.gz:3" in error_of(read_deepbind, db)
    # unnamed records cannot clash
    assert len(read_labelled_fasta(write(tmp_path / "anon.fa", ">1\nAC\n>1\nAC\n"))) == 2


def test_deepbind_wrong_header(tmp_path: Path) -> None:
    db = write(tmp_path / "hdr.seq.gz", "FoldID\tEventID\tsequence\tBound\nA\te\tAC\t1\n")
    message = error_of(read_deepbind, db)
    assert "hdr.seq.gz:1" in message and "FoldID EventID seq Bound" in message
    db = write(tmp_path / "cols.seq.gz", DEEPBIND_HEADER + "A\te\tAC\n")
    assert "cols.seq.gz:2" in error_of(read_deepbind, db)


def test_table_column_errors(tmp_path: Path) -> None:
    tsv = write(tmp_path / "cols.tsv", "seq\tcell\tK562\nACGT\tliver\t1\n")
    message = error_of(read_table, tsv)
    assert "cols.tsv:1" in message and "'sequence'" in message
    assert "seq, cell, K562" in message
    message = error_of(read_table, tsv, sequence_column="seq", label_columns=["HepG2"])
    assert "'HepG2'" in message and "seq, cell, K562" in message
    message = error_of(read_table, tsv, sequence_column="seq")
    assert "['cell']" in message and "not numeric" in message
    ragged = write(tmp_path / "ragged.tsv", "sequence\ty\nACGT\t1\nACGT\t1\textra\n")
    message = error_of(read_table, ragged)
    assert "ragged.tsv:3" in message and "has 3 column(s) but the header has 2" in message


@pytest.mark.parametrize(
    ("text", "line", "saw", "expected"),
    [
        # a short row used to read as an empty label: "label '' is not 0 or 1"
        ("sequence\tlabel\nACGT\t1\nACGT\nACGT\t0\n", 3, 1, 2),
        ("sequence\tlabel\tname\nACGT\t1\tx\nACGT\t0\n", 3, 2, 3),
        ("sequence\tlabel\nACGT\t1\t\n", 2, 3, 2),  # a trailing tab is a third field
        # blank lines in between do not count, and the line number still counts them
        ("sequence,label\nACGT,1\n\n\nAC\n", 5, 1, 2),
        ('sequence,label\n"AC,GT",1\nACGT,1,0\n', 3, 3, 2),  # quoted comma: one field
    ],
)
def test_ragged_rows_name_the_line_and_both_counts(
    tmp_path: Path, text: str, line: int, saw: int, expected: int
) -> None:
    sep = "," if "," in text.splitlines()[0] else "\t"
    table = write(tmp_path / ("ragged.csv" if sep == "," else "ragged.tsv"), text)
    with pytest.raises(InputError) as info:
        read_table(table)
    assert info.value.line == line
    assert f"has {saw} column(s) but the header has {expected}" in info.value.message


def test_duplicate_column_names(tmp_path: Path) -> None:
    table = write(tmp_path / "dup.tsv", "sequence\ty\ty\nACGT\t1\t0\n")
    with pytest.raises(InputError) as info:
        read_table(table)
    assert info.value.line == 1
    assert "'y' appears twice in the header (columns 2 and 3)" in info.value.message


def test_quoted_fields_and_a_regex_separator(tmp_path: Path) -> None:
    table = write(tmp_path / "q.csv", 'name,sequence,y\n"a,1",ACGT,1\nb,"GG",0\n')
    data = read_table(table, name_column="name")
    assert data.names == ["a,1", "b"]
    assert data.seqs == ["ACGT", "GG"]
    table = write(tmp_path / "multi.txt", "sequence::y\nACGT::1\nGG::0\n")
    data = read_table(table, sep="::")
    assert data.labels[:, 0].tolist() == [1.0, 0.0]


# --------------------------------------------------------------------------- round trips

names_st = st.text(alphabet="abcdefXYZ0123456789_.:-", min_size=1, max_size=12)
seq_st = st.text(alphabet="ACGTNacgtnRYKM", min_size=1, max_size=40)


@st.composite
def labelled(draw: st.DrawFn, continuous: bool) -> tuple[list[str], list[str], np.ndarray]:
    n = draw(st.integers(1, 12))
    t = draw(st.integers(1, 3))
    names = draw(st.lists(names_st, min_size=n, max_size=n, unique=True))
    seqs = draw(st.lists(seq_st, min_size=n, max_size=n))
    if continuous:
        values = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    else:
        values = st.sampled_from([0.0, 1.0])
    labels = np.array(draw(st.lists(values, min_size=n * t, max_size=n * t)), np.float32)
    return names, seqs, labels.reshape(n, t)


def fmt(value: np.float32) -> str:
    return repr(float(value))


@settings(max_examples=40, deadline=None)
@given(records=st.booleans().flatmap(lambda c: st.tuples(st.just(c), labelled(c))))
def test_round_trip_fasta_and_table(records: tuple[bool, tuple]) -> None:
    continuous, (names, seqs, labels) = records
    with tempfile.TemporaryDirectory() as tmp:
        fa = Path(tmp) / "rt.fa"
        fa.write_text(
            "".join(
                f">{n} {','.join(fmt(v) for v in row)}\n{s[:15]}\n{s[15:]}\n"
                for n, s, row in zip(names, seqs, labels, strict=True)
            )
        )
        tsv = Path(tmp) / "rt.tsv"
        columns = [f"target{j}" for j in range(labels.shape[1])]
        tsv.write_text(
            "\t".join(["name", "sequence", *columns])
            + "\n"
            + "".join(
                "\t".join([n, s, *(fmt(v) for v in row)]) + "\n"
                for n, s, row in zip(names, seqs, labels, strict=True)
            )
        )
        from_fasta = read_labelled_fasta(fa, continuous=continuous)
        from_table = read_table(tsv, name_column="name", continuous=continuous)
    for data in (from_fasta, from_table):
        assert data.names == names
        assert data.seqs == [s.upper() for s in seqs]
        np.testing.assert_array_equal(data.labels, labels)
    assert from_table.target_labels == columns


# --------------------------------------------------------------------------- shared data


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder not present")
@pytest.mark.parametrize(
    ("experiment", "positives"),
    [("GABPA_GM12878", 6066), ("SRF_H1-hESC", 4605), ("ZBTB7A_HepG2", 8689)],
)
def test_deepbind_encode_sets(tmp_path: Path, experiment: str, positives: int) -> None:
    folder = SHARED / f"deepbind_encode_{experiment}"
    train = read_sequences(folder / "train_AC.seq.gz")
    test = read_sequences(folder / "test_B.seq.gz")
    assert len(train) == positives and (train.labels == 1).all()
    assert len(test) == 1000 and int(test.labels.sum()) == 500
    out = tmp_path / f"{experiment}.h5"
    report = build_sequence_dataset(out, train, test=test, negatives="shuffle")
    assert report.target_labels == [experiment]
    assert report.length == 101 and (report.n_padded, report.n_trimmed) == (0, 0)
    assert report.counts["train"] + report.counts["valid"] == 2 * positives
    assert report.counts["test"] == 1000
    assert report.positive_rates["test"] == [0.5]
    assert report.n_negatives == positives
    seqs: dict[str, str] = {}
    for split in ("train", "valid"):
        decoded, y, headers = stored(out, split)
        assert y.mean() == 0.5
        seqs.update(zip(headers, decoded, strict=True))
    original = dict(zip(train.names, train.seqs, strict=True))
    for name in train.names[:200]:
        assert dinucleotides(seqs[f"{name}_shuf"]) == dinucleotides(original[name])
        assert seqs[name] == original[name]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder not present")
def test_dhs_table_two_label_columns(tmp_path: Path) -> None:
    folder = SHARED / "dhs_k562_hepg2_celltype_specific"
    cells = ["K562_ENCLB843GMH", "HepG2_ENCLB029COU"]
    parts = [
        read_sequences(
            folder / f"{cell}.train_val.tsv.gz",
            label_columns=cells,
            name_column="dhs_id",
            split_column="data_label",
        )
        for cell in cells
    ]
    assert [len(p) for p in parts] == [10647, 11010]
    assert parts[0].labels.sum(axis=0).tolist() == [10647, 0]
    assert parts[1].labels.sum(axis=0).tolist() == [0, 11010]
    data = concat_labelled(parts)
    report = build_sequence_dataset(tmp_path / "dhs.h5", data)
    assert report.length == 200 and report.target_labels == cells
    assert sum(report.counts.values()) == 21657
    assert report.counts["valid"] == report.counts["test"] == round(0.1 * 21657)
    # counted with awk on the 'chr' column: chr8 514 K562 + 496 HepG2, chr9 509 + 498
    report = build_sequence_dataset(
        tmp_path / "dhs.h5", data, split="chrom", valid_chroms=["chr8"], test_chroms=["chr9"]
    )
    assert report.counts == {"train": 21657 - 1010 - 1007, "valid": 1010, "test": 1007}
    # the files' own labels (README): training 9,769 + 9,833, validation (chr2) 878 + 1,177
    report = build_sequence_dataset(tmp_path / "dhs.h5", data, split="column")
    assert report.counts == {"train": 19602, "valid": 2055}


@settings(max_examples=60, deadline=None)
@given(seq=st.text(alphabet="ACGTN", min_size=1, max_size=60), seed=st.integers(0, 2**32 - 1))
def test_shuffle_property_any_sequence(seq: str, seed: int) -> None:
    data = LabelledSequences(["p"], [seq], np.array([[1]]), ["t"], "p.fa", [1])
    shuffled = add_shuffled_negatives(data, seed=seed).seqs[1]
    assert sorted(shuffled) == sorted(seq)
    assert dinucleotides(shuffled) == dinucleotides(seq)
    assert shuffled[0] == seq[0] and shuffled[-1] == seq[-1]


def test_concat_checks_targets_and_names(tmp_path: Path) -> None:
    a = read_table(write(tmp_path / "a.tsv", "id\tsequence\ty\nr1\tAC\t1\n"), name_column="id")
    b = read_table(write(tmp_path / "b.tsv", "id\tsequence\ty\nr2\tGT\t0\n"), name_column="id")
    joined = concat_labelled([a, b])
    assert joined.names == ["r1", "r2"] and joined.labels.tolist() == [[1], [0]]
    again = read_table(write(tmp_path / "c.tsv", "id\tsequence\ty\nr1\tGG\t0\n"), name_column="id")
    message = error_of(concat_labelled, [a, again])
    assert "c.tsv:2" in message and "'r1'" in message and "a.tsv" in message
    other = read_table(write(tmp_path / "d.tsv", "sequence\tz\nAC\t1\n"))
    assert "differ" in error_of(concat_labelled, [a, other])


# --------------------------------------------------------------------------- splits

# Chromosome, sequence and label of eight rows. By hand, with chr2 for validation and chr3
# for test: train r1 (chr1), r4 (chr12: no prefix match with chr1/chr2), r5 ("1"),
# r8 (chr21); valid r2 (chr2), r7 ("2" is chr2 without its prefix); test r3, r6 (chr3).
CHROM_ROWS = [
    ("r1", "chr1", "AAAAAA", 1),
    ("r2", "chr2", "CCCCCC", 0),
    ("r3", "chr3", "GGGGGG", 1),
    ("r4", "chr12", "TTTTTT", 0),
    ("r5", "1", "ACACAC", 1),
    ("r6", "chr3", "AGAGAG", 0),
    ("r7", "2", "ATATAT", 1),
    ("r8", "chr21", "CGCGCG", 0),
]
EXPECTED_BY_CHROM = {
    "train": {"r1": ("AAAAAA", 1), "r4": ("TTTTTT", 0), "r5": ("ACACAC", 1), "r8": ("CGCGCG", 0)},
    "valid": {"r2": ("CCCCCC", 0), "r7": ("ATATAT", 1)},
    "test": {"r3": ("GGGGGG", 1), "r6": ("AGAGAG", 0)},
}


def chrom_table(path: Path, column: str = "Chrom") -> Path:
    rows = "".join(f"{n}\t{c}\t{s}\t{y}\n" for n, c, s, y in CHROM_ROWS)
    return write(path, f"id\t{column}\tsequence\ty\n" + rows)


def stored_by_name(path: Path, split: str) -> dict[str, tuple[str, int]]:
    seqs, y, headers = stored(path, split)
    return {h: (s, int(v)) for h, s, v in zip(headers, seqs, y[:, 0], strict=True)}


def test_chromosome_split_of_a_table_by_hand(tmp_path: Path) -> None:
    table = chrom_table(tmp_path / "rows.tsv")
    data = read_table(table, name_column="id")
    # 'Chrom' is found as the chromosome column (any case) and is not taken as a label
    assert data.target_labels == ["y"]
    assert data.chroms == [c for _, c, _, _ in CHROM_ROWS]
    out = tmp_path / "chrom.h5"
    report = build_from_files(
        out, [table], name_column="id", split="chrom", valid_chroms=["chr2"], test_chroms=["chr3"]
    )
    assert report.counts == {"train": 4, "valid": 2, "test": 2}
    for split, expected in EXPECTED_BY_CHROM.items():
        assert stored_by_name(out, split) == expected
    assert report.split == "chrom" and report.held_out == {"valid": ["chr2"], "test": ["chr3"]}
    assert "split by chromosome (valid chr2; test chr3; the others train)" in str(report)
    with h5py.File(out, "r") as h5:
        assert h5.attrs["split"] == "chrom"
        assert (h5.attrs["valid_chroms"], h5.attrs["test_chroms"]) == ("chr2", "chr3")
    # with no split option the split stays random, chromosome column or not
    report = build_from_files(
        tmp_path / "random.h5", [table], name_column="id", valid=2, test_fraction=2
    )
    assert report.split == "random" and report.counts == {"train": 4, "valid": 2, "test": 2}


def test_chromosome_split_with_a_test_file_holds_out_only_validation(tmp_path: Path) -> None:
    table = chrom_table(tmp_path / "rows.tsv")
    test = write(tmp_path / "t.tsv", "id\tchr\tsequence\ty\nt1\tchr3\tGGGAAA\t1\n")
    out = tmp_path / "chrom.h5"
    report = build_from_files(
        out,
        [table],
        test_file=test,
        name_column="id",
        split="chrom",
        valid_chroms=["chr2"],
        test_chroms=["chr3"],  # ignored: the test file is the test set
    )
    assert report.counts == {"train": 6, "valid": 2, "test": 1}
    train = {**EXPECTED_BY_CHROM["train"], **EXPECTED_BY_CHROM["test"]}
    assert stored_by_name(out, "train") == train
    assert stored_by_name(out, "valid") == EXPECTED_BY_CHROM["valid"]
    assert stored_by_name(out, "test") == {"t1": ("GGGAAA", 1)}


def test_split_column_values_in_any_case(tmp_path: Path) -> None:
    table = write(
        tmp_path / "own.csv",
        "name,sequence,set,y\n"
        "a,ACGT,train,1\n"
        "b,ACGA,Validation,0\n"
        "c,ACGC,TEST,1\n"
        "d,ACGG,val,0\n"
        "e,ACTT,training,0\n"
        "f,ACCC, Testing ,0\n"
        "g,ACCA,VALID,1\n",
    )
    data = read_table(table, name_column="name", split_column="set")
    assert data.target_labels == ["y"]  # the split column is not a label
    assert data.splits == ["train", "valid", "test", "valid", "train", "test", "valid"]
    out = tmp_path / "own.h5"
    report = build_from_files(out, [table], name_column="name", split_column="set")
    assert report.split == "column"
    assert report.counts == {"train": 2, "valid": 3, "test": 2}
    assert stored_by_name(out, "train") == {"a": ("ACGT", 1), "e": ("ACTT", 0)}
    assert stored_by_name(out, "valid") == {"b": ("ACGA", 0), "d": ("ACGG", 0), "g": ("ACCA", 1)}
    assert stored_by_name(out, "test") == {"c": ("ACGC", 1), "f": ("ACCC", 0)}
    # a file with only train and valid rows gives a dataset without a test split
    two = write(
        tmp_path / "two.tsv", "sequence\tsplit\ty\nACGT\ttrain\t1\nACGA\ttrain\t0\nAAAA\tval\t0\n"
    )
    report = build_from_files(tmp_path / "two.h5", [two], split_column="split")
    assert report.counts == {"train": 2, "valid": 1}
    assert any("no row test" in note for note in report.notes)


def test_unknown_split_value_names_file_line_and_accepted_values(tmp_path: Path) -> None:
    table = write(tmp_path / "bad.tsv", "sequence\tfold\ty\nACGT\ttrain\t1\nACGT\tholdout\t0\n")
    message = error_of(read_table, table, split_column="fold")
    assert "bad.tsv:3" in message and "'holdout'" in message and "'fold'" in message
    assert "train, training, valid, validation, val, test, testing" in message
    message = error_of(read_table, table, split_column="set")
    assert "no split column 'set'" in message and "sequence, fold, y" in message


def test_split_errors(tmp_path: Path) -> None:
    table = chrom_table(tmp_path / "rows.tsv")
    # a held-out chromosome with no records: the message lists the chromosomes present
    message = error_of(
        build_from_files,
        tmp_path / "x.h5",
        [table],
        name_column="id",
        split="chrom",
        valid_chroms=["chr5"],
    )
    assert "rows.tsv" in message and "valid chromosomes (chr5)" in message
    assert "1 (1), 2 (1), chr1 (1), chr2 (1), chr3 (2), chr12 (1), chr21 (1)" in message
    message = error_of(
        build_from_files,
        tmp_path / "x.h5",
        [table],
        name_column="id",
        split="chrom",
        valid_chroms=["chr1", "chr2", "chr12"],
        test_chroms=["chr3", "chr21"],
    )
    assert "train split is empty" in message
    # a chromosome split and a split column: choose one
    message = error_of(
        build_from_files,
        tmp_path / "x.h5",
        [table],
        name_column="id",
        split="chrom",
        split_column="id",
    )
    assert "--valid-chrom/--test-chrom" in message and "--split-column" in message
    assert "choose one" in message
    # a split column and a separate test file
    own = write(tmp_path / "own.tsv", "sequence\tset\ty\nACGT\ttrain\t1\nACGT\ttest\t0\n")
    message = error_of(
        build_from_files, tmp_path / "x.h5", [own], split_column="set", test_file=own
    )
    assert "split column and a separate test file" in message
    # no row marked train
    only = write(tmp_path / "only.tsv", "sequence\tset\ty\nACGT\tvalid\t1\nACGT\ttest\t0\n")
    assert "no row train" in error_of(
        build_from_files, tmp_path / "x.h5", [only], split_column="set"
    )
    assert not (tmp_path / "x.h5").exists()


def test_chromosome_and_split_columns_are_never_labels(tmp_path: Path) -> None:
    table = write(tmp_path / "t.tsv", "chr\tsequence\tset\ty\nchr1\tACGT\ttrain\t1\n")
    message = error_of(read_table, table, label_columns=["y", "chr"])
    assert "t.tsv:1" in message and "'chr' is the chromosome column" in message
    message = error_of(read_table, table, split_column="set", label_columns=["set"])
    assert "'set' is the split column" in message
    named = write(tmp_path / "n.tsv", "where\tsequence\ty\n1\tACGT\t1\n")
    data = read_table(named, chrom_column="where")
    assert data.chroms == ["1"] and data.target_labels == ["y"]
    both = write(tmp_path / "b.tsv", "chr\tChromosome\tsequence\ty\n1\tchr1\tACGT\t1\n")
    message = error_of(read_table, both)
    assert "['chr', 'Chromosome']" in message and "--chrom-column" in message
    assert read_table(both, chrom_column="Chromosome", label_columns=["y"]).chroms == ["chr1"]


def test_records_without_a_chromosome(tmp_path: Path) -> None:
    table = chrom_table(tmp_path / "rows.tsv")
    plain = write(tmp_path / "plain.tsv", "id\tsequence\ty\nq1\tACGTAC\t1\n")
    # each file is checked on its own, so the message names the one without chromosomes
    message = error_of(
        build_from_files, tmp_path / "x.h5", [table, plain], name_column="id", split="chrom"
    )
    assert "plain.tsv" in message and "rows.tsv" not in message
    assert "--chrom-column" in message
    blank = write(tmp_path / "blank.tsv", "chr\tsequence\ty\nchr1\tACGT\t1\n\tACGT\t0\n")
    message = error_of(build_from_files, tmp_path / "x.h5", [blank], split="chrom")
    assert "blank.tsv:3" in message and "no chromosome" in message
    fasta = write(tmp_path / "dmd.fa", ">1\nACGT\n>0\nACGA\n")
    assert read_labelled_fasta(fasta).chroms is None
    message = error_of(build_from_files, tmp_path / "x.h5", [fasta], split="chrom")
    assert "dmd.fa" in message and "'>name::chr1:100-200 1'" in message
    message = error_of(read_sequences, fasta, chrom_column="chr")
    assert "apply to tables" in message and "chr1:100-200" in message


@pytest.mark.parametrize(
    ("name", "chrom"),
    [
        ("chr1:100-200", "chr1"),
        ("chrX:5-10(+)", "chrX"),
        ("chr2:5-10(-)", "chr2"),
        ("peak7::chr2:1000-1200", "chr2"),  # bedtools getfasta -name
        ("peak7::chr2:1000-1200(+)", "chr2"),  # bedtools getfasta -name -s
        ("chr1_KI270706v1_random:1-100", "chr1_KI270706v1_random"),
        ("8:1-2", "8"),
        ("HLA-A*01:01:01:01:1-100", "HLA-A*01:01:01:01"),  # everything before the last ':'
        ("peak7", None),
        ("chr1:100", None),
        ("chr1-100-200", None),
        ("chr1:100-200extra", None),
    ],
)
def test_fasta_header_chromosome(name: str, chrom: str | None) -> None:
    assert header_chromosome(name) == chrom


def test_chromosome_split_of_fasta_with_coordinates(tmp_path: Path) -> None:
    fasta = write(
        tmp_path / "peaks.fa",
        ">p1::chr1:100-106 1\nAAAAAA\n"
        ">p2::chr2:5-11(+) 0\nCCCCCC\n"
        ">chr3:1-7 1\nGGGGGG\n"
        ">chr1:200-206(-) 0\nTTTTTT\n",
    )
    data = read_labelled_fasta(fasta)
    assert data.chroms == ["chr1", "chr2", "chr3", "chr1"]
    out = tmp_path / "fa.h5"
    report = build_from_files(
        out, [fasta], split="chrom", valid_chroms=["chr2"], test_chroms=["chr3"]
    )
    assert report.counts == {"train": 2, "valid": 1, "test": 1}
    assert stored_by_name(out, "train") == {
        "p1::chr1:100-106": ("AAAAAA", 1),
        "chr1:200-206(-)": ("TTTTTT", 0),
    }
    assert stored_by_name(out, "valid") == {"p2::chr2:5-11(+)": ("CCCCCC", 0)}
    assert stored_by_name(out, "test") == {"chr3:1-7": ("GGGGGG", 1)}
    # a record whose name holds no coordinates is named in the message
    mixed = write(tmp_path / "mixed.fa", ">chr1:1-7 1\nAAAAAA\n>peak2 0\nCCCCCC\n")
    message = error_of(build_from_files, tmp_path / "x.h5", [mixed], split="chrom")
    assert "mixed.fa:3" in message and "'peak2'" in message and "no chromosome" in message


def test_chromosomes_follow_subsets_concat_and_shuffles() -> None:
    a = LabelledSequences(["p", "n"], ["ACGT", "AAGT"], np.array([1, 0]), ["t"], "a.fa", [1, 3])
    a.chroms = ["chr1", "chr2"]
    out = add_shuffled_negatives(a, seed=1)
    assert out.names == ["p", "n", "p_shuf"] and out.chroms == ["chr1", "chr2", "chr1"]
    assert a.subset([1]).chroms == ["chr2"]
    b = LabelledSequences(["q"], ["ACGT"], np.array([1]), ["t"], "b.fa", [1])
    joined = concat_labelled([a, b])
    assert joined.chroms == ["chr1", "chr2", ""] and joined.splits is None
    with pytest.raises(ValueError, match="one entry per sequence"):
        LabelledSequences(["q"], ["ACGT"], np.array([1]), ["t"], "b.fa", [1], chroms=[])


# ------------------------------------------------------------- one class only (issue 13)


def test_positives_only_are_refused_with_the_negatives_hint(tmp_path: Path) -> None:
    # DeepBind's training files hold bound sequences only; their test files hold both
    rows = "".join(f"A\te{i}\t{'ACGT' * 5}\t1\n" for i in range(20))
    train = write(tmp_path / "train_AC.seq.gz", DEEPBIND_HEADER + rows)
    test = write(
        tmp_path / "test_B.seq.gz", DEEPBIND_HEADER + "B\tt1\tACGTACGT\t1\nB\tt2\tGGGG\t0\n"
    )
    with pytest.raises(InputError) as info:
        build_from_files(tmp_path / "out.h5", [train], test_file=test)
    assert "has only positives (1) in all 20 training records" in info.value.message
    assert "--negatives shuffle" in (info.value.hint or "")
    assert not (tmp_path / "out.h5").exists()
    report = build_from_files(tmp_path / "out.h5", [train], test_file=test, negatives="shuffle")
    # one shuffle per training positive; the test file has its own negatives, so none there
    assert report.n_negatives == 20


@pytest.mark.parametrize(
    ("text", "fragment", "hint"),
    [
        ("sequence\ty\nACGT\t0\nACGA\t0\nACGG\t0\n", "only negatives (0) in all 3", "other class"),
        # two targets: a shuffled negative would be negative for both, so no such hint
        ("sequence\ta\tb\nACGT\t1\t1\nACGA\t0\t1\n", "'b' has only positives", "'b' out"),
    ],
)
def test_one_class_targets_are_refused(tmp_path: Path, text: str, fragment: str, hint: str) -> None:
    table = write(tmp_path / "t.tsv", text)
    with pytest.raises(InputError) as info:
        build_from_files(tmp_path / "out.h5", [table], valid=0, test_fraction=0)
    assert fragment in info.value.message and hint in (info.value.hint or "")
    assert "--negatives" not in (info.value.hint or "")


def test_the_other_class_missing_from_the_training_split_is_refused(tmp_path: Path) -> None:
    table = write(
        tmp_path / "s.tsv", "sequence\tsplit\ty\nACGT\ttrain\t1\nACGA\ttrain\t1\nAAAA\tval\t0\n"
    )
    with pytest.raises(InputError) as info:
        build_from_files(tmp_path / "out.h5", [table], split_column="split")
    assert "only positives (1) in the 2 records of the training split" in info.value.message
    # continuous targets are not classes: one value everywhere is allowed
    build_from_files(tmp_path / "c.h5", [table], split_column="split", continuous=True)
