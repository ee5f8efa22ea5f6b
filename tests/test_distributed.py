"""Sharded predict and ISM: round-robin merge by hand, simulated ranks, 2 real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import motiflens.prediction as prediction
from motiflens.config import BassetConfig, ModelConfig
from motiflens.data.hdf5 import write_dataset
from motiflens.distributed import (
    Launch,
    Shard,
    merge_units,
    round_robin,
    run_inline,
    run_sharded,
)
from motiflens.errors import InputError
from motiflens.explain.ism import ism_chunks
from motiflens.models import build_model
from motiflens.prediction import predict_file
from motiflens.runs import Run
from motiflens.steps import ism_files
from motiflens.steps.ism_files import write_ism

LENGTH = 30


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, nn.Module]:
    """A tiny Basset with random weights saved as a run directory."""
    torch.manual_seed(0)
    config = ModelConfig(
        name="basset",
        n_targets=2,
        length=LENGTH,
        task="binary",
        arch=BassetConfig(filters=(4, 3), sizes=(5, 3), pools=(2, 2), hidden=(6,)),
    )
    model = build_model(config).eval()
    run_dir = tmp_path_factory.mktemp("run")
    Run(run_dir).save_model(model, config)
    (run_dir / "target_labels.txt").write_text("first\nsecond\n")
    return run_dir, model


def onehot(seq: str) -> np.ndarray:
    """Reference one-hot (4, L), written out independently of the package."""
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, base in enumerate(seq):
        out["ACGT".index(base), j] = 1.0
    return out


def random_seqs(n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=LENGTH)) for _ in range(n)]


def write_fasta(path: Path, seqs: list[str]) -> Path:
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    return path


def simulate_ranks(monkeypatch: pytest.MonkeyPatch, module: object, world: int) -> None:
    """Make ``module.run_sharded`` run ``world`` ranks one after another in this process."""

    def fake(work, merge, *, near, launch=None, device=None):
        return run_inline(work, merge, near=near, world_size=world)

    monkeypatch.setattr(module, "run_sharded", fake)


# ------------------------------------------------------------------ the merge


def test_round_robin_order_by_hand():
    # ranks with 3, 3 and 2 units: units 0..7 are (0,0) (1,0) (2,0) (0,1) (1,1) (2,1) (0,2) (1,2)
    assert list(round_robin([3, 3, 2])) == [
        (0, 0),
        (1, 0),
        (2, 0),
        (0, 1),
        (1, 1),
        (2, 1),
        (0, 2),
        (1, 2),
    ]
    assert list(round_robin([1, 0])) == [(0, 0)]
    assert list(round_robin([0, 0])) == []


def test_shard_owns_every_unit_once():
    shards = [Shard(r, 3, torch.device("cpu"), Path(".")) for r in range(3)]
    for unit in range(10):
        assert sum(s.owns(unit) for s in shards) == 1
        assert shards[unit % 3].owns(unit)
    assert list(shards[1].units(8)) == [1, 4, 7]


def test_merge_units_interleaves_parts_back_into_input_order(tmp_path):
    # input rows r0..r8 in units of sizes 2, 2, 0, 3, 2 (unit 2 had nothing to write)
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("r0\nr1\n" + "" + "r7\nr8\n")  # units 0, 2, 4
    b.write_text("r2\nr3\n" + "r4\nr5\nr6\n")  # units 1, 3
    out = tmp_path / "out.tsv"
    n = merge_units([a, b], [[2, 0, 2], [2, 3]], out, header="h\n")
    assert n == 9
    assert out.read_text() == "h\n" + "".join(f"r{i}\n" for i in range(9))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_launch_from_cli_strings():
    assert Launch.from_cli("2", 1, "ddp", "cpu") == Launch(2, 1, "ddp", "cpu")
    assert Launch.from_cli("auto").devices == "auto"
    assert Launch.from_cli("1").single and not Launch.from_cli("2").single
    assert not Launch(1, 2).single and not Launch(1, 1, "ddp").single


# ------------------------------------------------------- simulated ranks


@pytest.mark.parametrize("world", [2, 3, 7])
def test_predict_sharded_equals_single_and_the_model(run, tmp_path, monkeypatch, world):
    run_dir, model = run
    seqs = random_seqs(17)
    fasta = write_fasta(tmp_path / "in.fa", seqs)
    single = predict_file(run_dir, fasta, tmp_path / "one.tsv", batch_size=4, verbose=False)
    assert single is not None and single.processes == 1
    simulate_ranks(monkeypatch, prediction, world)
    report = predict_file(run_dir, fasta, tmp_path / "many.tsv", batch_size=4, verbose=False)
    assert report is not None and report.n == 17 and report.processes == world
    # same file, byte for byte: rows in input order, same batches, same numbers
    assert (tmp_path / "many.tsv").read_text() == (tmp_path / "one.tsv").read_text()
    table = pd.read_csv(tmp_path / "many.tsv", sep="\t")
    assert list(table.columns) == ["name", "first", "second"]
    assert list(table["name"]) == [f"s{i}" for i in range(17)]
    with torch.no_grad():
        want = torch.sigmoid(model(torch.from_numpy(np.stack([onehot(s) for s in seqs]))))
    np.testing.assert_allclose(table[["first", "second"]], want.numpy(), rtol=1e-5, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if ".shards-" in p.name]  # scratch removed


def test_predict_sharded_dataset_split(run, tmp_path, monkeypatch):
    run_dir, model = run
    seqs = random_seqs(11, seed=2)
    codes = np.array([["ACGT".index(c) for c in s] for s in seqs], dtype=np.uint8)
    data = write_dataset(
        tmp_path / "d.h5",
        {"test": (codes, np.zeros((11, 2), np.int8), [f"t{i}" for i in range(11)])},
        ["first", "second"],
    )
    simulate_ranks(monkeypatch, prediction, 2)
    predict_file(run_dir, data, tmp_path / "p.tsv", batch_size=3, raw=True, verbose=False)
    table = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert list(table["name"]) == [f"t{i}" for i in range(11)]
    with torch.no_grad():
        want = model(torch.from_numpy(np.stack([onehot(s) for s in seqs]))).numpy()
    np.testing.assert_allclose(table[["first", "second"]], want, rtol=1e-5, atol=1e-6)


def test_ism_sharded_equals_single_and_a_hand_loop(run, tmp_path, monkeypatch):
    _, model = run
    seqs = random_seqs(13, seed=3)
    X = np.stack([onehot(s) for s in seqs])
    names = [f"s{i}" for i in range(13)]
    single = write_ism(tmp_path / "one.h5", ism_chunks(model, X, sequences_per_chunk=4), names)
    simulate_ranks(monkeypatch, ism_files, 3)
    out = ism_files.write_ism_sharded(
        tmp_path / "many.h5", model, X, names, ["0", "1"], sequences_per_chunk=4
    )
    assert out == tmp_path / "many.h5"
    with h5py.File(single) as a, h5py.File(out) as b:
        assert [n.decode() for n in b["names"][:]] == names
        for key in ("delta", "reference", "loss", "gain", "positions"):
            np.testing.assert_array_equal(b[key][:], a[key][:], err_msg=key)
        delta = b["delta"][:]
        reference = b["reference"][:]
    # by hand: sequence 9 (rank 2's first chunk), position 7, every base
    with torch.no_grad():
        ref = model(torch.from_numpy(X[9:10]))[0].numpy()
        for base in range(4):
            x = X[9].copy()
            x[:, 7] = 0
            x[base, 7] = 1
            got = model(torch.from_numpy(x[None]))[0].numpy() - ref
            np.testing.assert_allclose(delta[9, base, 7], got, atol=1e-5)
    np.testing.assert_allclose(reference[9], ref, atol=1e-6)


def test_ism_sharded_checks_before_starting(run, tmp_path):
    _, model = run
    X = np.stack([onehot(s) for s in random_seqs(2)])
    with pytest.raises(Exception, match="target"):
        ism_files.write_ism_sharded(tmp_path / "x.h5", model, X, ["a", "b"], ["t"], targets=[5])
    with pytest.raises(Exception, match="names"):
        ism_files.write_ism_sharded(tmp_path / "x.h5", model, X, ["a"], ["0", "1"])
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------- two real processes


def _cli(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("motiflens", path=str(Path(sys.executable).parent))
    assert exe is not None
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.mark.slow
def test_two_cpu_processes_give_the_single_process_files(run, tmp_path):
    """predict and ism with --devices 2 --strategy ddp (gloo) against --devices 1."""
    run_dir, _ = run
    fasta = write_fasta(tmp_path / "in.fa", random_seqs(23, seed=4))
    ddp = ["--devices", "2", "--strategy", "ddp", "--accelerator", "cpu"]
    one = ["--devices", "1", "--accelerator", "cpu"]
    _cli(
        "predict",
        str(run_dir),
        str(fasta),
        "-o",
        str(tmp_path / "one.tsv"),
        "--batch-size",
        "4",
        "--no-progress",
        *one,
    )
    res = _cli(
        "predict",
        str(run_dir),
        str(fasta),
        "-o",
        str(tmp_path / "two.tsv"),
        "--batch-size",
        "4",
        "--no-progress",
        *ddp,
    )
    assert res.stdout.count("predictions  ") == 1  # only rank 0 reports
    assert "computed by 2 processes" in res.stdout
    a = pd.read_csv(tmp_path / "one.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "two.tsv", sep="\t")
    assert list(b["name"]) == [f"s{i}" for i in range(23)] == list(a["name"])
    np.testing.assert_allclose(b[["first", "second"]], a[["first", "second"]], atol=1e-6)

    ism_dir = run_dir / "explain" / "ism"
    _cli("ism", str(run_dir), str(fasta), "-n", "23", "--figures", "1", *one)
    shutil.copy(ism_dir / "ism.h5", tmp_path / "ism_one.h5")
    res = _cli("ism", str(run_dir), str(fasta), "-n", "23", "--figures", "1", *ddp)
    assert res.stdout.count(" of 23 sequence(s)") == 1  # only rank 0 reports
    with h5py.File(tmp_path / "ism_one.h5") as a, h5py.File(ism_dir / "ism.h5") as b:
        assert list(b["names"][:]) == list(a["names"][:])
        for key in ("delta", "reference", "loss", "gain", "positions"):
            np.testing.assert_allclose(b[key][:], a[key][:], atol=1e-6, err_msg=key)
    assert not [p for p in ism_dir.iterdir() if ".shards-" in p.name]


def _rank_and_world(shard: Shard) -> tuple[int, int]:
    return shard.rank, shard.world_size


def _fail_on_rank_one(shard: Shard) -> int:
    if shard.rank == 1:
        raise InputError("bad record", line=7)
    return shard.rank


@pytest.mark.slow
def test_ddp_spawn_from_python_and_an_error_on_one_rank(tmp_path):
    """From Python (no command line to re-run): ddp_spawn; a failing rank stops all."""
    launch = Launch(2, 1, "ddp_spawn", "cpu")
    got = run_sharded(_rank_and_world, list, near=tmp_path / "out", launch=launch)
    assert got == [(0, 2), (1, 2)]
    # rank 1 raises; rank 0 learns it at the gather and stops too (no hang); the spawn
    # launcher reports the first process that ended with an error
    with pytest.raises(Exception, match=r"line 7: bad record"):
        run_sharded(_fail_on_rank_one, list, near=tmp_path / "out", launch=launch)
    assert not list(tmp_path.iterdir())  # scratch directories removed
