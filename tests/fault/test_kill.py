"""``kill -9`` at random moments of every writer: old file or complete new one, never half.

Each writer runs once to completion (the "old" outputs), then again in forked children
killed with SIGKILL at seeded random moments of its run. After each kill every output
is either byte-for-byte the old one or a complete new one; a final rerun succeeds and
leaves no temporary of the killed runs behind.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file

from tests.fault.forked import invoke, run_forked, temporaries
from tests.fault.inputs import labelled_fasta, plain_fasta, tiny_dataset, tiny_run

KILLS = 3  # moments per writer


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill")
    tiny_run(tiny_dataset(root / "sim.h5"), root / "run")
    plain_fasta(root / "seqs.fa", 40)
    labelled_fasta(root / "big.fa", 1500, 300)
    return root


def _h5_complete(n: int) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        with h5py.File(path, "r") as f:
            total = sum(f[f"{s}_in"].shape[0] for s in ("train", "valid", "test") if f"{s}_in" in f)
            assert total == n
            assert f["target_labels"].shape[0] > 0

    return check


def _tsv_rows(n: int) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        lines = path.read_text().splitlines()
        assert len(lines) == n + 1 and all("\t" in ln for ln in lines)

    return check


def _safetensors(path: Path) -> None:
    assert load_file(str(path))


def _ckpt(path: Path) -> None:
    assert zipfile.is_zipfile(path) and zipfile.ZipFile(path).testzip() is None


def _ism_h5(path: Path) -> None:
    with h5py.File(path, "r") as f:
        assert len(f.keys()) > 0


# writer -> (arguments, {output relative to the case folder: validity check})
WRITERS: dict[str, tuple[list[str], dict[str, Callable[[Path], None]]]] = {
    "simulate": (
        ["simulate", "{d}/out.h5", "--n-sequences", "2000", "--length", "200"],
        {"out.h5": _h5_complete(2000)},
    ),
    "dataset sequences": (
        ["dataset", "sequences", "{root}/big.fa", "-o", "{d}/o.h5"],
        {"o.h5": _h5_complete(1500)},
    ),
    "train": (
        # continues the one-epoch run for two more epochs; the run is restored before each try
        ["train", "{root}/sim.h5", "{d}/run", "--resume", "--max-epochs", "3", "--no-progress"],
        {"run/model.safetensors": _safetensors, "run/checkpoints/last.ckpt": _ckpt},
    ),
    "predict": (
        ["predict", "{d}/run", "{root}/seqs.fa", "-o", "{d}/p.tsv", "--no-progress"],
        {"p.tsv": _tsv_rows(40)},
    ),
    "ism": (
        ["ism", "{d}/run", "{root}/seqs.fa", "-n", "20", "--figures", "1"],
        {"run/explain/ism/ism.h5": _ism_h5, "run/explain/ism/ism.tsv": lambda p: None},
    ),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_kill_9_leaves_old_or_new_never_half(inputs, tmp_path, writer):
    template, outputs = WRITERS[writer]
    d = tmp_path
    args = [a.format(d=d, root=inputs) for a in template]

    def restore() -> None:
        """A fresh copy of the run (train rewrites it; the others add to it)."""
        shutil.rmtree(d / "run", ignore_errors=True)
        shutil.copytree(inputs / "run", d / "run")

    restore()
    start = time.monotonic()
    code, output = invoke(args)
    duration = time.monotonic() - start
    assert code == 0, output
    if writer == "train":
        restore()
    old = {name: (d / name).read_bytes() for name in outputs}

    rng = np.random.default_rng(sum(map(ord, writer)))
    for i, moment in enumerate(rng.uniform(0.05, 1.0, KILLS) * duration):
        if writer == "train" and i:
            restore()  # keep the last try's leftovers for the rerun below
        outcome = run_forked(args, d, kill_after=float(moment))
        for name, check in outputs.items():
            path = d / name
            if not path.exists():
                pytest.fail(f"{writer} killed after {moment:.2f} s: {name} is gone")
            if path.read_bytes() == old[name]:
                continue
            try:
                check(path)
            except Exception as exc:
                pytest.fail(f"{writer} killed after {moment:.2f} s: {name} is half-written ({exc})")
        assert outcome.exit_code in (None, 0), outcome.output

    code, output = invoke(args)
    assert code == 0, output
    left = temporaries(d)
    assert left == [], f"temporaries of the killed runs left after a successful rerun: {left}"
