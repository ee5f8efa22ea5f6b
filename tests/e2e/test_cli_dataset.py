"""The dataset verbs from the command line: output files, printed summaries, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.data.hdf5 import SequenceDataset, read_split

runner = CliRunner()


@pytest.fixture
def peaks_inputs(tmp_path):
    rng = np.random.default_rng(3)
    with open(tmp_path / "genome.fa", "w") as fh:
        for name in ("chr1", "chr2", "chr8"):
            fh.write(f">{name}\n")
            seq = "".join(rng.choice(list("ACGT"), 5000))
            fh.writelines(seq[i : i + 50] + "\n" for i in range(0, len(seq), 50))
    (tmp_path / "a.bed").write_text("chr1\t1000\t1200\nchr2\t3000\t3100\nchr8\t2000\t2300\n")
    (tmp_path / "b.bed").write_text("chr1\t1050\t1250\nchr1\t4000\t4100\n")
    (tmp_path / "targets.txt").write_text("cellA a.bed\ncellB b.bed\n")
    return tmp_path


def test_dataset_peaks_then_info(peaks_inputs):
    tmp = peaks_inputs
    result = runner.invoke(
        app,
        [
            "dataset",
            "peaks",
            str(tmp / "targets.txt"),
            str(tmp / "genome.fa"),
            str(tmp / "d.h5"),
            "--size",
            "300",
            "--merge-overlap",
            "100",
            "--valid-chrom",
            "chr8",
            "--test-chrom",
            "chr2",
        ],
    )
    assert result.exit_code == 0, result.output
    # chr1 peaks at mid 1100 and 1150 merge (overlap 250 >= 100); chr1:4050 stays alone
    assert "5 peaks from 2 targets -> 4 regions (1 merges" in result.output
    assert "train 2, valid 1, test 1" in result.output
    ds = SequenceDataset(tmp / "d.h5", "train")
    assert len(ds) == 2 and ds[0][0].shape == (4, 300)

    info = runner.invoke(app, ["dataset", "info", str(tmp / "d.h5")])
    assert info.exit_code == 0, info.output
    assert "2 targets" in info.output
    # train: the merged region is active in both targets, chr1:4050 only in cellB
    line = next(ln for ln in info.output.splitlines() if ln.strip().startswith("cellA"))
    assert line.split()[1:] == ["0.500", "1.000", "1.000"]


def test_bad_bed_is_a_message_not_a_traceback(peaks_inputs):
    tmp = peaks_inputs
    (tmp / "b.bed").write_text("chr1\t1050\t1250\nchr1\tten\t4100\n")
    result = runner.invoke(
        app,
        ["dataset", "peaks", str(tmp / "targets.txt"), str(tmp / "genome.fa"), str(tmp / "d.h5")],
    )
    assert result.exit_code == 2
    assert "b.bed:2" in result.output and "must be integers" in result.output
    assert not (tmp / "d.h5").exists()


def test_info_on_a_non_hdf5_file(tmp_path):
    (tmp_path / "x.h5").write_text("not hdf5")
    result = runner.invoke(app, ["dataset", "info", str(tmp_path / "x.h5")])
    assert result.exit_code == 2
    assert "not an HDF5 file" in result.output


def test_dataset_sequences_from_fasta(tmp_path):
    (tmp_path / "s.fa").write_text(">1\nACGTAC\n>0\nacg\n>1\nTTTTTTTT\n")
    result = runner.invoke(
        app,
        [
            "dataset",
            "sequences",
            str(tmp_path / "s.fa"),
            "-o",
            str(tmp_path / "s.h5"),
            "--length",
            "6",
            "--valid",
            "0",
            "--test",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 centre-padded with N, 1 centre-trimmed" in result.output
    x, y, _ = read_split(tmp_path / "s.h5", "train")
    assert sorted(y[:, 0].tolist()) == [0.0, 1.0, 1.0]
    # 'acg' padded to 6: one N on the left, two on the right -> columns of 0.25
    padded = x[y[:, 0] == 0][0]
    assert np.allclose(padded[:, 0], 0.25) and np.allclose(padded[:, 4:], 0.25)
    assert padded[:, 1:4].argmax(axis=0).tolist() == [0, 1, 2]


@pytest.fixture
def chrom_table(tmp_path):
    # by hand, with --valid-chrom chr2 --test-chrom chr3: train r1 r4 r5, valid r2 r6, test r3
    rows = [
        ("r1", "chr1", "train", "AAAAAA", 1),
        ("r2", "chr2", "valid", "CCCCCC", 0),
        ("r3", "chr3", "test", "GGGGGG", 1),
        ("r4", "chr12", "train", "TTTTTT", 0),
        ("r5", "chr1", "validation", "ACACAC", 1),
        ("r6", "2", "Test", "AGAGAG", 0),
    ]
    text = "id\tCHR\tset\tsequence\ty\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows)
    (tmp_path / "rows.tsv").write_text(text)
    return tmp_path / "rows.tsv"


def sequences(*args):
    return runner.invoke(app, ["dataset", "sequences", *map(str, args)])


def stored_names(path, split):
    return sorted(read_split(path, split)[2])


def test_dataset_sequences_chromosome_split(chrom_table, tmp_path):
    out = tmp_path / "chrom.h5"
    options = ["--valid-chrom", "chr2", "--test-chrom", "chr3", "--label-column", "y"]
    result = sequences(chrom_table, "-o", out, "--name-column", "id", *options)
    assert result.exit_code == 0, result.output
    assert "split by chromosome (valid chr2; test chr3; the others train)" in result.output
    assert stored_names(out, "train") == ["r1", "r4", "r5"]
    assert stored_names(out, "valid") == ["r2", "r6"]
    assert stored_names(out, "test") == ["r3"]


def test_dataset_sequences_split_column(chrom_table, tmp_path):
    out = tmp_path / "own.h5"
    result = sequences(chrom_table, "-o", out, "--name-column", "id", "--split-column", "set")
    # no --label-column: CHR (chromosome) and set (split) are not labels, y is the only one
    assert result.exit_code == 0, result.output
    assert "split as the file's split column says" in result.output
    assert "1 target (y)" in result.output
    assert stored_names(out, "train") == ["r1", "r4"]
    assert stored_names(out, "valid") == ["r2", "r5"]
    assert stored_names(out, "test") == ["r3", "r6"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--valid-chrom", "chr2", "--split-column", "set"], "choose one"),
        (["--test-chrom", "chr3", "--valid", "0.2"], "--valid/--test set the sizes"),
        (["--valid-chrom", "chr5"], "valid chromosomes (chr5)"),
        (["--test-chrom", "chr3", "--test-file", "{table}"], "--test-file were both given"),
        (["--split-column", "id"], "split 'r1' in column 'id' is not one of"),
    ],
)
def test_dataset_sequences_split_errors(chrom_table, tmp_path, options, message):
    options = [o.replace("{table}", str(chrom_table)) for o in options]
    common = ["--name-column", "id", "--label-column", "y"]
    result = sequences(chrom_table, "-o", tmp_path / "x.h5", *common, *options)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "x.h5").exists()
