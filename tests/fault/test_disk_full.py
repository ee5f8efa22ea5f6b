"""Disk full: every big writer ends with exit 2, "no space left" and no temporary left.

Each command runs in a forked child on a small tmpfs in a private mount namespace, so the
kernel's own ENOSPC reaches whichever library writes (HDF5, safetensors, Lightning,
matplotlib). Where namespaces are not allowed (no root, no user namespaces) the test
falls back to an injected ENOSPC at the final rename of every atomic write.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from tests.fault.forked import invoke, run_forked
from tests.fault.inputs import MEME, TINY_YAML, labelled_fasta, tiny_dataset, tiny_run


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disk_full")
    tiny_run(tiny_dataset(root / "sim.h5"), root / "run")
    labelled_fasta(root / "big.fa", 3000, 400)  # a ~5 MB dataset
    (root / "motifs.meme").write_text(MEME)
    (root / "tiny.yaml").write_text(TINY_YAML)
    return root


def _size_kb(path: Path) -> int:
    """KB a copy of ``path`` takes on tmpfs (whole 4 KB pages, one per folder)."""
    pages = sum(-(-p.stat().st_size // 4096) if p.is_file() else 1 for p in path.rglob("*"))
    return 4 * pages + 16


# writer -> (arguments with {full} for the tmpfs and {root} for the inputs, tmpfs KB)
WRITERS = {
    "simulate": (["simulate", "{full}/out.h5", "--n-sequences", "3000", "--length", "200"], 256),
    "dataset sequences": (["dataset", "sequences", "{root}/big.fa", "-o", "{full}/o.h5"], 256),
    "train": (
        [
            "train",
            "{root}/sim.h5",
            "{full}/run",
            "--max-epochs",
            "1",
            "--no-progress",
            "--config",
            "{root}/tiny.yaml",
        ],
        48,
    ),
    "filters": (
        ["filters", "{full}/run", "-n", "40", "--db", "{root}/motifs.meme", "--no-influence"],
        None,  # the run's own size + 24 KB
    ),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_disk_full_is_one_message_and_leaves_no_temporary(inputs, tmp_path, writer, monkeypatch):
    template, size_kb = WRITERS[writer]
    full = tmp_path / "full"
    args = [a.format(full=full, root=inputs) for a in template]
    prepare = None
    if writer == "filters":
        size_kb = _size_kb(inputs / "run") + 24

        def prepare() -> None:
            shutil.copytree(inputs / "run", full / "run")

    outcome = run_forked(args, full, tmpfs_kb=size_kb, prepare=prepare)
    if outcome.unavailable:
        outcome = _injected(args, full, writer, inputs, monkeypatch)
    assert outcome.signal is None, f"{writer} killed by signal {outcome.signal} on a full disk"
    assert not outcome.traceback, outcome.output
    assert outcome.exit_code == 2, outcome.output
    assert "no space left" in outcome.output.lower(), outcome.output
    left = [f for f in outcome.files if any(m in f for m in (".part", ".shards-"))]
    assert left == [], f"temporaries left on the full disk: {left}"


def _injected(args, full: Path, writer: str, inputs: Path, monkeypatch):
    """Fallback without a tmpfs: every rename of a finished temporary fails with ENOSPC."""
    import os

    from tests.fault.forked import Outcome, files_under

    if writer == "filters":
        shutil.copytree(inputs / "run", full / "run")
    full.mkdir(parents=True, exist_ok=True)

    def no_space(src, dst, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(os, "replace", no_space)
    code, output = invoke(args)
    monkeypatch.undo()
    return Outcome(code, None, output, files_under(full))
