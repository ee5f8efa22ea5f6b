"""The dataset file: writing (atomically), reading Basset-era layouts, the torch Dataset."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from motiflens.data.hdf5 import (
    ChunkedShuffleSampler,
    DatasetWriter,
    SequenceDataset,
    dataset_info,
    read_split,
    target_labels,
    to_float_onehot,
    write_dataset,
)
from motiflens.errors import InputError

CODE = {"A": 0, "C": 1, "G": 2, "T": 3, "N": 4}


def codes_of(seq: str) -> np.ndarray:
    return np.array([CODE[b] for b in seq], dtype=np.uint8)


def float_onehot(seq: str) -> np.ndarray:
    """Reference: float one-hot with 0.25 for N, written out independently."""
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, b in enumerate(seq):
        if b == "N":
            out[:, j] = 0.25
        else:
            out["ACGT".index(b), j] = 1
    return out


def leftovers(directory: Path) -> list[str]:
    """Temporary files left behind (atomic writes use hidden ``.name.*.part`` names)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def random_seqs(n: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        "".join(rng.choice(list("ACGTN"), size=length, p=[0.24] * 4 + [0.04])) for _ in range(n)
    ]


# --- to_float_onehot -------------------------------------------------------------------


def test_to_float_onehot_storage_forms():
    # column 0: A, column 1: unknown, column 2: T
    compact = np.array([[[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]]], dtype=np.uint8)
    expected = np.array(
        [[[1, 0.25, 0], [0, 0.25, 0], [0, 0.25, 0], [0, 0.25, 1]]], dtype=np.float32
    )
    for raw in (
        compact,
        compact.astype(bool),
        compact[:, :, None, :],  # Basset (N, 4, 1, L)
        compact.astype(bool)[:, :, None, :],
        expected.astype(np.float16)[:, :, None, :],  # Basset float16, N stored as 0.25
        expected,
    ):
        out = to_float_onehot(raw)
        assert out.dtype == np.float32
        assert out.shape == (1, 4, 3)
        np.testing.assert_array_equal(out, expected)


# --- writing and reading ---------------------------------------------------------------

SEQS = {
    "train": ["ACGTN", "NNNNN", "TTTTA", "GACTC"],
    "valid": ["CCCCG"],
    "test": ["AGNTA", "GGGGG"],
}
TARGETS = {
    "train": np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [1, 0, 0]]),
    "valid": np.array([[0, 1, 1]]),
    "test": np.array([[1, 1, 1], [0, 0, 0]]),
}
LABELS = ["ctcf", "gata1", "dnase"]


@pytest.fixture
def dataset(tmp_path) -> Path:
    splits = {
        s: (
            np.stack([codes_of(q) for q in SEQS[s]]),
            TARGETS[s],
            [f"{s}-{i}" for i in range(len(SEQS[s]))],
        )
        for s in SEQS
    }
    return write_dataset(tmp_path / "data.h5", splits, LABELS, attrs={"source": "unit test"})


def test_write_read_round_trip(dataset):
    for split in SEQS:
        x, y, headers = read_split(dataset, split)
        assert x.dtype == np.float32 and y.dtype == np.float32
        np.testing.assert_array_equal(x, np.stack([float_onehot(q) for q in SEQS[split]]))
        np.testing.assert_array_equal(y, TARGETS[split])
        assert headers == [f"{split}-{i}" for i in range(len(SEQS[split]))]
    assert target_labels(dataset) == LABELS


def test_stored_compactly_with_basset_keys(dataset):
    with h5py.File(dataset, "r") as h5:
        for key in (
            "train_in",
            "train_out",
            "valid_in",
            "test_in",
            "test_headers",
            "target_labels",
        ):
            assert key in h5
        assert h5["train_in"].dtype == np.uint8
        assert h5["train_in"].shape == (4, 4, 5)
        assert h5["train_out"].dtype == np.int8
        # N is an all-zero column on disk
        np.testing.assert_array_equal(h5["train_in"][1], np.zeros((4, 5)))
        assert h5.attrs["source"] == "unit test"


def test_continuous_targets_and_empty_split_left_out(tmp_path):
    codes = np.stack([codes_of("ACGT"), codes_of("TTTT")])
    y = np.array([[0.5], [-1.25]])
    path = write_dataset(
        tmp_path / "reg.h5",
        {"train": (codes, y, ["a", "b"]), "valid": (codes[:0], y[:0], [])},
        ["signal"],
        continuous=True,
    )
    with h5py.File(path, "r") as h5:
        assert h5["train_out"].dtype == np.float32
        assert "valid_in" not in h5
    _, yy, _ = read_split(path, "train")
    np.testing.assert_array_equal(yy, [[0.5], [-1.25]])
    with pytest.raises(InputError, match="no 'valid' split"):
        read_split(path, "valid")


def test_writer_chunk_by_chunk(tmp_path):
    seqs = random_seqs(10, 7, seed=1)
    codes = np.stack([codes_of(s) for s in seqs])
    y = np.arange(10).reshape(10, 1) % 2
    with DatasetWriter(tmp_path / "c.h5", ["t"], 7, {"train": 10}) as writer:
        writer.write("train", codes[:3], y[:3], ["h"] * 3)
        writer.write("train", codes[3:3], y[3:3], [])  # empty chunk is a no-op
        writer.write("train", codes[3:], y[3:], ["h"] * 7)
    x, yy, _ = read_split(tmp_path / "c.h5", "train")
    np.testing.assert_array_equal(x, np.stack([float_onehot(s) for s in seqs]))
    np.testing.assert_array_equal(yy, y)


def test_writer_rejects_bad_writes(tmp_path):
    with pytest.raises(ValueError, match="unknown splits"):
        DatasetWriter(tmp_path / "x.h5", ["t"], 4, {"training": 1})
    with DatasetWriter(tmp_path / "x.h5", ["t"], 4, {"train": 1}) as writer:
        with pytest.raises(ValueError, match=r"\(1, 5\)"):
            writer.write("train", np.zeros((1, 5), np.uint8), [[1]], ["a"])
        with pytest.raises(ValueError, match="past the declared size"):
            writer.write("train", np.zeros((2, 4), np.uint8), [[1], [0]], ["a", "b"])
        writer.write("train", np.zeros((1, 4), np.uint8), [[1]], ["a"])
    assert (tmp_path / "x.h5").exists()


def test_writer_refuses_to_corrupt_targets_or_headers(tmp_path):
    codes = np.stack([codes_of("ACGT"), codes_of("GGGG")])
    with DatasetWriter(tmp_path / "y.h5", ["a", "b", "c"], 4, {"train": 2}) as writer:
        with pytest.raises(ValueError, match=r"shape \(3, 2\), expected \(2, 3\)"):
            writer.write("train", codes, np.array([[1, 0], [1, 1], [0, 0]]), ["x", "y"])
        with pytest.raises(ValueError, match="0 or 1"):
            writer.write("train", codes, [[1, 0, 0.7], [0, 0, 1]], ["x", "y"])
        with pytest.raises(ValueError, match="0 or 1"):
            writer.write("train", codes, [[1, 0, np.nan], [0, 0, 1]], ["x", "y"])
        with pytest.raises(ValueError, match="1 headers for 2"):
            writer.write("train", codes, [[1, 0, 0], [0, 0, 1]], ["x"])
        writer.write(
            "train", codes, np.array([[True, False, False], [False, False, True]]), ["x", "y"]
        )
    _, y, headers = read_split(tmp_path / "y.h5", "train")
    np.testing.assert_array_equal(y, [[1, 0, 0], [0, 0, 1]])
    assert headers == ["x", "y"]
    # one target: a flat (n,) vector is unambiguous
    with DatasetWriter(tmp_path / "z.h5", ["a"], 4, {"train": 2}, continuous=True) as writer:
        writer.write("train", codes, np.array([0.5, np.nan]), ["x", "y"])
    _, y, _ = read_split(tmp_path / "z.h5", "train")
    np.testing.assert_array_equal(y, [[0.5], [np.nan]])


# --- atomicity -------------------------------------------------------------------------


def test_exception_inside_writer_leaves_nothing(tmp_path):
    dest = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with DatasetWriter(dest, ["t"], 4, {"train": 2}) as writer:
            writer.write("train", np.zeros((1, 4), np.uint8), [[1]], ["a"])
            raise RuntimeError("boom")
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_keyboard_interrupt_inside_writer_leaves_nothing(tmp_path):
    dest = tmp_path / "out.h5"
    with pytest.raises(KeyboardInterrupt):
        with DatasetWriter(dest, ["t"], 4, {"train": 2}):
            raise KeyboardInterrupt
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_failed_write_keeps_existing_destination(tmp_path, dataset):
    before = dataset.read_bytes()
    with pytest.raises(RuntimeError):
        with DatasetWriter(dataset, ["t"], 4, {"train": 1}):
            raise RuntimeError("interrupted")
    assert dataset.read_bytes() == before
    assert leftovers(tmp_path) == []
    x, _, _ = read_split(dataset, "train")  # still the old, readable file
    assert x.shape == (4, 4, 5)


def test_close_with_incomplete_split_raises_and_leaves_nothing(tmp_path):
    dest = tmp_path / "short.h5"
    writer = DatasetWriter(dest, ["t"], 4, {"train": 3, "test": 1})
    writer.write("train", np.zeros((2, 4), np.uint8), [[1], [0]], ["a", "b"])
    writer.write("test", np.zeros((1, 4), np.uint8), [[1]], ["c"])
    with pytest.raises(ValueError, match="not completely written") as info:
        writer.close()
    assert "train" in str(info.value) and "(2, 3)" in str(info.value)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_incomplete_split_in_with_block_raises(tmp_path):
    dest = tmp_path / "short.h5"
    with pytest.raises(ValueError, match="not completely written"):
        with DatasetWriter(dest, ["t"], 4, {"train": 3}) as writer:
            writer.write("train", np.zeros((1, 4), np.uint8), [[1]], ["a"])
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_failure_while_opening_leaves_nothing(tmp_path):
    # an attribute h5py cannot store fails inside the constructor, before any `with`
    # (the traceback is kept alive, as a debugger or a logging handler would: cleanup must
    # not wait for the half-built writer to be garbage-collected)
    dest = tmp_path / "attrs.h5"
    with pytest.raises(TypeError) as info:
        DatasetWriter(dest, ["t"], 4, {"train": 1}, attrs={"bad": object()})
    assert info.tb is not None
    assert not dest.exists()
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="bogus") as info:
        DatasetWriter(dest, ["t"], 4, {"train": 1}, compression="bogus")
    assert leftovers(tmp_path) == []


# --- Basset-era files ------------------------------------------------------------------


@pytest.fixture(params=["float16", "bool"])
def basset_file(request, tmp_path) -> tuple[Path, dict]:
    """A file laid out as Basset's seq_hdf5.py wrote it: (N, 4, 1, L), test headers only."""
    seqs = {"train": ["ACGTN", "NACGT", "GGGTT"], "test": ["TTNAA", "CAGTC"]}
    targets = {"train": np.array([[1, 0], [1, 1], [0, 0]]), "test": np.array([[0, 1], [1, 1]])}
    path = tmp_path / f"basset_{request.param}.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("target_labels", data=np.array([b"8988T", b"A549"]))
        for split, ss in seqs.items():
            x = np.stack([float_onehot(s) for s in ss])[:, :, None, :]
            if request.param == "float16":
                x = x.astype(np.float16)  # N kept as 0.25
            else:
                x = x == 1  # bool: N becomes an all-zero column
            h5.create_dataset(f"{split}_in", data=x)
            h5.create_dataset(f"{split}_out", data=targets[split].astype(bool))
        h5.create_dataset("test_headers", data=np.array([b"chr1:1-6(+)", b"chr2:5-10(+)"]))
    return path, {"seqs": seqs, "targets": targets}


def test_basset_file_reads_through_read_split(basset_file):
    path, truth = basset_file
    for split in ("train", "test"):
        x, y, headers = read_split(path, split)
        assert x.shape == (len(truth["seqs"][split]), 4, 5)
        np.testing.assert_array_equal(x, np.stack([float_onehot(s) for s in truth["seqs"][split]]))
        np.testing.assert_array_equal(y, truth["targets"][split])
        if split == "test":
            assert headers == ["chr1:1-6(+)", "chr2:5-10(+)"]
        else:
            assert headers == ["train_0", "train_1", "train_2"]
    assert target_labels(path) == ["8988T", "A549"]


def test_basset_file_reads_through_sequence_dataset(basset_file):
    path, _ = basset_file
    ds = SequenceDataset(path, "train")
    assert len(ds) == 3 and ds.length == 5 and ds.n_targets == 2
    x, y = ds[1]
    assert x.dtype == torch.float32 and x.shape == (4, 5)
    np.testing.assert_array_equal(x.numpy(), float_onehot("NACGT"))
    np.testing.assert_array_equal(y.numpy(), [1, 1])
    items = ds.__getitems__([2, 0])
    np.testing.assert_array_equal(items[0][0].numpy(), float_onehot("GGGTT"))
    np.testing.assert_array_equal(items[1][0].numpy(), float_onehot("ACGTN"))
    info = dataset_info(path)
    assert info["layout"] == "(N, 4, 1, L)"
    assert info["length"] == 5
    assert info["splits"]["train"]["positive_rate"] == pytest.approx([2 / 3, 1 / 3])
    assert info["splits"]["test"]["positive_rate"] == pytest.approx([0.5, 1.0])


# --- SequenceDataset -------------------------------------------------------------------

N_BIG = 300
LEN_BIG = 6


@pytest.fixture
def big(tmp_path) -> tuple[Path, list[str]]:
    """300 sequences; the target is the row number, so every item names its own row."""
    seqs = random_seqs(N_BIG, LEN_BIG, seed=2)
    codes = np.stack([codes_of(s) for s in seqs])
    y = np.arange(N_BIG, dtype=np.float32)[:, None]
    path = write_dataset(
        tmp_path / "big.h5",
        {"train": (codes, y, [str(i) for i in range(N_BIG)])},
        ["row"],
        continuous=True,
    )
    return path, seqs


def test_getitem(big):
    path, seqs = big
    ds = SequenceDataset(path, "train")
    assert len(ds) == N_BIG and ds.length == LEN_BIG and ds.n_targets == 1
    for i in (0, 17, N_BIG - 1, -1):
        x, y = ds[i]
        row = i % N_BIG
        np.testing.assert_array_equal(x.numpy(), float_onehot(seqs[row]))
        assert y.item() == row
    for bad in (N_BIG, -N_BIG - 1):
        with pytest.raises(IndexError):
            ds[bad]


@pytest.mark.parametrize("in_memory", [False, True])
@pytest.mark.parametrize(
    "indices",
    [
        [5, 3, 3, 9, 4],  # unsorted, duplicates, close together (one slice read)
        [299, 0, 150, 0, 299],  # far apart (read run by run)
        [201, 0, 1, 2, 200, 150, 1],  # far apart, with runs of consecutive rows
        [42],
        list(range(N_BIG))[::-1],
    ],
)
def test_getitems_unsorted_and_duplicates(big, indices, in_memory):
    path, seqs = big
    ds = SequenceDataset(path, "train", in_memory=in_memory)
    items = ds.__getitems__(indices)
    assert len(items) == len(indices)
    for (x, y), i in zip(items, indices, strict=True):
        np.testing.assert_array_equal(x.numpy(), float_onehot(seqs[i]))
        assert y.item() == i


@pytest.mark.parametrize("in_memory", [False, True])
def test_getitems_negative_and_out_of_range(big, in_memory):
    path, seqs = big
    ds = SequenceDataset(path, "train", in_memory=in_memory)
    for indices, rows in (([-1, 5], [299, 5]), ([-1, 299], [299, 299]), ([-300, 2], [0, 2])):
        items = ds.__getitems__(indices)
        assert [int(y.item()) for _, y in items] == rows
        np.testing.assert_array_equal(items[0][0].numpy(), float_onehot(seqs[rows[0]]))
    assert ds.__getitems__([]) == []
    for indices in ([5, 300], [298, 301], [-301]):
        with pytest.raises(IndexError, match="out of range"):
            ds.__getitems__(indices)


def test_missing_split_lists_present_ones(dataset):
    with pytest.raises(InputError) as info:
        SequenceDataset(dataset, "validation")
    assert "'validation'" in str(info.value)
    assert "['train', 'valid', 'test']" in str(info.value)


def test_not_hdf5_and_missing_file(tmp_path):
    text = tmp_path / "peaks.bed"
    text.write_text("chr1\t1\t2\n")
    for call in (lambda p: read_split(p, "train"), SequenceDataset, dataset_info):
        with pytest.raises(InputError, match="not an HDF5 file"):
            call(text)
        with pytest.raises(InputError, match="not found"):
            call(tmp_path / "missing.h5")


def test_pickles_after_use(big):
    path, seqs = big
    ds = SequenceDataset(path, "train")
    ds[3]  # opens the file
    clone = pickle.loads(pickle.dumps(ds))
    x, y = clone[7]
    np.testing.assert_array_equal(x.numpy(), float_onehot(seqs[7]))
    assert y.item() == 7


@pytest.mark.parametrize(
    ("in_memory", "context"), [(False, "fork"), (True, "fork"), (False, "spawn")]
)
def test_dataloader_with_workers(big, in_memory, context):
    path, seqs = big
    ds = SequenceDataset(path, "train", in_memory=in_memory)
    ds[0]  # the parent has the file open before the workers start
    sampler = ChunkedShuffleSampler(len(ds), block=32, window=2, seed=3)
    loader = DataLoader(
        ds, batch_size=16, sampler=sampler, num_workers=2, multiprocessing_context=context
    )
    rows = []
    for x, y in loader:
        assert x.shape[1:] == (4, LEN_BIG)
        for xi, yi in zip(x, y, strict=True):
            row = int(yi.item())
            np.testing.assert_array_equal(xi.numpy(), float_onehot(seqs[row]))
            rows.append(row)
    assert sorted(rows) == list(range(N_BIG))
    assert rows != list(range(N_BIG))


# --- ChunkedShuffleSampler -------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "block", "window"), [(1000, 64, 4), (257, 256, 8), (5, 2, 1), (0, 4, 2)]
)
def test_sampler_is_a_permutation_that_changes_by_epoch(n, block, window):
    sampler = ChunkedShuffleSampler(n, block=block, window=window, seed=11)
    first = list(sampler)
    assert len(sampler) == n
    assert sorted(first) == list(range(n))
    assert list(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == list(range(n))
    if n > 10:
        assert second != first
        assert first != list(range(n))
    # locality: the draws fall into consecutive runs, each covering whole blocks, at most
    # `window` of them (a short last block makes runs shorter than window * block)
    pos = 0
    while pos < n:
        blocks, drawn, rows = set(), 0, 0
        while True:
            b = first[pos] // block
            pos += 1
            if b not in blocks:
                blocks.add(b)
                rows += min(block, n - b * block)
            drawn += 1
            assert len(blocks) <= window
            if drawn == rows and (len(blocks) == window or pos == n):
                break


def test_sampler_seeds_differ():
    a = list(ChunkedShuffleSampler(500, block=50, seed=1))
    b = list(ChunkedShuffleSampler(500, block=50, seed=2))
    assert a != b


# --- dataset_info ----------------------------------------------------------------------


def test_dataset_info_rates_by_hand(dataset):
    info = dataset_info(dataset)
    assert info["targets"] == LABELS
    assert info["length"] == 5
    assert info["layout"] == "(N, 4, L)"
    assert info["attrs"]["source"] == "unit test"
    train = info["splits"]["train"]
    assert train["n"] == 4
    assert train["shape"] == (4, 4, 5)
    # columns of TARGETS["train"]: 1,0,1,1 / 0,0,1,0 / 1,1,0,0
    assert train["positive_rate"] == pytest.approx([0.75, 0.25, 0.5])
    assert info["splits"]["valid"]["positive_rate"] == pytest.approx([0.0, 1.0, 1.0])
    assert info["splits"]["test"]["positive_rate"] == pytest.approx([0.5, 0.5, 0.5])


def test_dataset_info_attributes_are_plain_python(tmp_path):
    codes = np.stack([codes_of("ACG")] * 2)
    attrs = {"valid_chroms": ["chr8", "chrX"], "sizes": [3, 4], "fraction": 0.5, "name": "x"}
    path = write_dataset(
        tmp_path / "a.h5", {"train": (codes, [[0], [1]], ["a", "b"])}, ["t"], attrs=attrs
    )
    with h5py.File(path, "a") as h5:
        h5.attrs["raw"] = np.bytes_(b"bytes")
        h5.attrs["flag"] = np.bool_(True)
    got = dataset_info(path)["attrs"]
    assert got["valid_chroms"] == ["chr8", "chrX"]
    assert got["sizes"] == [3, 4] and type(got["sizes"][0]) is int
    assert got["fraction"] == 0.5 and type(got["fraction"]) is float
    assert got["name"] == "x"
    assert got["raw"] == "bytes"
    assert got["flag"] is True


def test_dataset_info_continuous_mean(tmp_path):
    codes = np.stack([codes_of("ACGT")] * 4)
    y = np.array([[1.0, -2.0], [3.0, 0.0], [0.5, 2.0], [0.5, 4.0]])
    path = write_dataset(
        tmp_path / "r.h5", {"test": (codes, y, list("abcd"))}, ["a", "b"], continuous=True
    )
    entry = dataset_info(path)["splits"]["test"]
    assert "positive_rate" not in entry
    assert entry["mean"] == pytest.approx([1.25, 1.0])
