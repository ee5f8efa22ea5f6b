"""Damaged or incomplete dataset files end in one InputError naming the file."""

from __future__ import annotations

import errno

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

import motiflens.data.hdf5 as hdf5_module
from motiflens.cli import app
from motiflens.data.hdf5 import (
    SequenceDataset,
    dataset_info,
    read_split,
    target_labels,
    write_dataset,
)
from motiflens.data.preprocess import preprocess_peaks
from motiflens.errors import InputError

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.setenv("MOTIFLENS_DEBUG", "")


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(0)

    def split(n):
        codes = rng.integers(0, 4, (n, 50), dtype=np.uint8)
        return codes, rng.integers(0, 2, (n, 2)), [f"s{i}" for i in range(n)]

    path = tmp_path / "d.h5"
    splits = {"train": split(600), "valid": split(100)}
    write_dataset(path, splits, ["a", "b"])
    return path


def _truncated(dataset, tmp_path):
    path = tmp_path / "trunc.h5"
    path.write_bytes(dataset.read_bytes()[:4000])  # an interrupted copy
    return path


def test_truncated_file_is_an_input_error_everywhere(dataset, tmp_path):
    path = _truncated(dataset, tmp_path)
    for read in (
        dataset_info,
        target_labels,
        lambda p: SequenceDataset(p, "train"),
        lambda p: read_split(p, "train"),
    ):
        with pytest.raises(InputError, match="cannot read it as HDF5") as info:
            read(path)
        assert info.value.path == str(path)
        assert "truncated" in info.value.hint


def test_damaged_data_found_while_reading_is_an_input_error(dataset, tmp_path):
    # the header is intact, the compressed sequence chunks are not
    path = tmp_path / "damaged.h5"
    with h5py.File(dataset, "r") as h5:
        offset = h5["train_in"].id.get_chunk_info(0).byte_offset
    raw = bytearray(dataset.read_bytes())
    raw[offset : offset + 200] = bytes(200)
    path.write_bytes(bytes(raw))
    data = SequenceDataset(path, "train")
    with pytest.raises(InputError, match="cannot read it as HDF5") as info:
        data.__getitems__(list(range(10)))
    assert info.value.path == str(path)


def test_missing_target_labels_fails_when_the_dataset_is_opened(dataset, tmp_path):
    # before: training ran, saved model.safetensors, then died on a KeyError
    path = tmp_path / "nolabels.h5"
    with h5py.File(dataset, "r") as src, h5py.File(path, "w") as dst:
        for key in src:
            if key != "target_labels":
                src.copy(key, dst)
    with pytest.raises(InputError, match="no target_labels"):
        SequenceDataset(path, "train")
    with pytest.raises(InputError, match="no target_labels"):
        target_labels(path)
    assert dataset_info(path)["problems"] == ["no target_labels"]


def test_inconsistent_split_is_named(dataset, tmp_path):
    path = tmp_path / "short.h5"
    with h5py.File(dataset, "r") as src, h5py.File(path, "w") as dst:
        for key in src:
            if key != "train_out":
                src.copy(key, dst)
        dst["train_out"] = src["train_out"][:500]  # 600 sequences, 500 rows of targets
    with pytest.raises(InputError, match="train_in has 600 rows but train_out 500"):
        SequenceDataset(path, "train")


def test_no_validation_split_is_reported_by_info(dataset, tmp_path):
    path = tmp_path / "novalid.h5"
    with h5py.File(dataset, "r") as src, h5py.File(path, "w") as dst:
        for key in src:
            if not key.startswith("valid"):
                src.copy(key, dst)
    assert any("no validation split" in p for p in dataset_info(path)["problems"])
    assert dataset_info(dataset)["problems"] == []


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_dataset_info_cli_on_a_damaged_file(dataset, tmp_path, kind):
    if kind == "truncated":
        path = _truncated(dataset, tmp_path)
    else:  # the HDF5 signature, then noise
        path = tmp_path / "garbage.h5"
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    result = runner.invoke(app, ["dataset", "info", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: ")
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ dataset peaks


@pytest.fixture
def peaks(tmp_path):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 3000))
    lines = [seq[i : i + 60] for i in range(0, len(seq), 60)]
    (tmp_path / "genome.fa").write_text(">chr1\n" + "\n".join(lines) + "\n")
    (tmp_path / "a.bed").write_text("chr1\t100\t200\nchr1\t1000\t1100\nchr1\t2000\t2100\n")
    (tmp_path / "targets.txt").write_text("A\ta.bed\n")
    return tmp_path


@pytest.mark.parametrize("size", [0, -5])
def test_peaks_with_a_bad_size_writes_nothing(peaks, size):
    # before: --size 0 left out.bed and out_act.tsv behind a failed dataset
    before = sorted(p.name for p in peaks.iterdir())
    result = runner.invoke(
        app,
        [
            "dataset",
            "peaks",
            str(peaks / "targets.txt"),
            str(peaks / "genome.fa"),
            str(peaks / "out.h5"),
            "--size",
            str(size),
            "--split",
            "random",
        ],
    )
    assert result.exit_code == 2
    assert f"the region size must be at least 1 bp, got {size}" in result.output
    assert sorted(p.name for p in peaks.iterdir()) == before


def test_peaks_failing_while_writing_the_dataset_leaves_no_tables(peaks, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hdf5_module.DatasetWriter, "write", full)
    before = sorted(p.name for p in peaks.iterdir())
    with pytest.raises(OSError) as info:
        preprocess_peaks(
            peaks / "targets.txt",
            peaks / "genome.fa",
            peaks / "out.h5",
            size=100,
            merge_overlap=20,
            split="random",
            valid=1,
            test=1,
            progress=False,
        )
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(peaks / "out.h5")
    after = sorted(p.name for p in peaks.iterdir() if p.suffix != ".fai")  # pyfaidx's index
    assert after == before
