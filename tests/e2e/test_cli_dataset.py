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
