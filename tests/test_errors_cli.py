"""The one error path of the CLI, full disks, and temporary files of dead processes."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import motiflens.data.hdf5 as hdf5_module
from motiflens.cli import app
from motiflens.cli.common import friendly
from motiflens.errors import InputError
from motiflens.files import (
    GuardedFile,
    atomic_path,
    clean_stale,
    final_name,
    staged_folder,
    temp_token,
    write_text_atomic,
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    # `--debug` sets MOTIFLENS_DEBUG for the process; monkeypatch restores it after each test
    monkeypatch.setenv("MOTIFLENS_DEBUG", "")


def _app_raising(err: BaseException) -> typer.Typer:
    """A one-verb app whose verb raises ``err`` through ``friendly``."""
    small = typer.Typer()

    @small.command()
    @friendly
    def verb() -> None:
        raise err

    @small.command()
    def other() -> None:  # a second verb, so `verb` is a subcommand as in motiflens
        pass

    return small


@pytest.mark.parametrize(
    ("err", "code", "lines"),
    [
        (InputError("bad base", path="x.fa", line=3), 2, ["error: x.fa:3: bad base"]),
        (ValueError("n must be positive"), 2, ["error: n must be positive"]),
        (
            OSError(errno.ENOSPC, "No space left on device", "out/d.h5"),
            2,
            ["error: no space left on device writing out/d.h5", "  hint: free some space"],
        ),
        (
            OSError(errno.EDQUOT, "Disk quota exceeded", "out/d.h5"),
            2,
            ["error: disk quota exceeded writing out/d.h5"],
        ),
        (
            # what Lightning's checkpoint copy raises: the second name is the one written
            OSError(errno.ENOSPC, "No space left on device", "/tmp/tmpx", None, "run/last.ckpt"),
            2,
            ["error: no space left on device writing run/last.ckpt"],
        ),
        (
            # HDF5 reports the errno only in its text, and the temporary file's name
            RuntimeError(
                "Can't close dataset (file write failed: filename = "
                f"'out/.d.h5.{temp_token()}.part', errno = 28, error message = "
                "'No space left on device')"
            ),
            2,
            ["error: no space left on device writing out/d.h5"],
        ),
        (PermissionError(errno.EACCES, "Permission denied", "out/d.h5"), 2, None),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "out"), 2, ["error: out: is a dir"]),
        (RuntimeError("boom\nsecond line"), 1, None),
        (KeyboardInterrupt(), 130, ["error: interrupted"]),
    ],
)
def test_one_message_and_exit_code(err, code, lines):
    result = runner.invoke(_app_raising(err), ["verb"])
    assert result.exit_code == code
    text = result.output
    assert "Traceback" not in text
    if lines is None and isinstance(err, PermissionError):
        lines = ["error: out/d.h5: permission denied"]
    if lines is None:  # an unexpected exception: one line naming it, and the way to see more
        lines = [
            "error: internal error: RuntimeError: boom",
            "  rerun with --debug for the traceback",
        ]
        assert "second line" not in text
    for line in lines:
        assert line in text.splitlines() or any(s.startswith(line) for s in text.splitlines())


def test_debug_option_shows_the_exception(tmp_path):
    missing = tmp_path / "missing.h5"
    plain = runner.invoke(app, ["dataset", "info", str(missing)])
    assert plain.exit_code == 2
    assert "dataset file not found" in plain.output
    debug = runner.invoke(app, ["--debug", "dataset", "info", str(missing)])
    # the exception propagates (typer prints its traceback) instead of one message
    assert isinstance(debug.exception, InputError)
    assert os.environ["MOTIFLENS_DEBUG"] == "1"


def test_environment_variable_shows_the_exception(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFLENS_DEBUG", "1")
    result = runner.invoke(app, ["dataset", "info", str(tmp_path / "missing.h5")])
    assert isinstance(result.exception, InputError)


# ------------------------------------------------------------------------ full disk


class _FullAfter(GuardedFile):
    """A GuardedFile on a disk that fills up after ``limit`` bytes."""

    limit = 20_000

    def __init__(self, path):
        super().__init__(path)
        real = self._f
        budget = [self.limit]

        class Raw:
            def write(self, data):
                if budget[0] <= 0:
                    raise OSError(errno.ENOSPC, "No space left on device")
                n = min(len(data), budget[0])
                budget[0] -= n
                return real.write(data[:n])

            def __getattr__(self, name):
                return getattr(real, name)

        self._f = Raw()


def test_simulate_on_a_full_disk_ends_in_one_message_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(hdf5_module, "GuardedFile", _FullAfter)
    (tmp_path / "sim.h5").write_text("the previous file")
    out = tmp_path / "sim.h5"
    result = runner.invoke(app, ["simulate", str(out), "--n-sequences", "3000", "--length", "100"])
    assert result.exit_code == 2, result.output
    assert f"error: no space left on device writing {out}" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.h5"]  # no .part left
    assert out.read_text() == "the previous file"  # what was there before


def test_dataset_sequences_on_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(hdf5_module, "GuardedFile", _FullAfter)
    rows = [f"{'ACGT' * 25}\t{i % 2}" for i in range(2000)]
    (tmp_path / "in.tsv").write_text("sequence\tlabel\n" + "\n".join(rows) + "\n")
    out = tmp_path / "d.h5"
    result = runner.invoke(app, ["dataset", "sequences", str(tmp_path / "in.tsv"), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"no space left on device writing {out}" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tsv"]


def _tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def test_simulate_on_a_real_full_tmpfs_does_not_crash(tmp_path):
    # Before: exit 139 (segmentation fault) after 370 lines of HDF5 errors, and a hidden
    # 1.6 MB .part left on the full disk.
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from motiflens.cli import main; main()",
                "simulate",
                str(disk / "sim.h5"),
                "--n-sequences",
                "20000",
                "--length",
                "200",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"error: no space left on device writing {disk / 'sim.h5'}" in done.stderr
        assert "Traceback" not in done.stderr
        assert "Exception ignored" not in done.stderr
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_atomic_path_names_the_final_file_on_a_full_disk(tmp_path):
    target = tmp_path / "table.tsv"
    with pytest.raises(OSError) as info, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write() raises it
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_guarded_file_keeps_the_first_error_and_reports_it(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"")
    guard = _FullAfter(path)
    assert guard.write(b"x" * 30_000) == 30_000  # the library is told it all went well
    assert guard.tell() == 30_000  # and the position moves on as if it had
    guard.close()
    with pytest.raises(OSError) as info:
        guard.check(tmp_path / "final.h5")
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(tmp_path / "final.h5")
    assert path.stat().st_size == 20_000


# -------------------------------------------------------------------- staged folders


def test_staged_folder_swaps_in_whole_on_success(tmp_path):
    folder = tmp_path / "filters"
    folder.mkdir()
    (folder / "old.tsv").write_text("old")
    with staged_folder(folder) as stage:
        (stage / "new.tsv").write_text("new")
        assert not (folder / "new.tsv").exists()  # nothing visible before the end
    assert sorted(p.name for p in folder.iterdir()) == ["new.tsv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filters"]


def test_staged_folder_keeps_the_old_folder_on_failure(tmp_path):
    folder = tmp_path / "filters"
    folder.mkdir()
    (folder / "old.tsv").write_text("old")
    with pytest.raises(OSError) as info, staged_folder(folder) as stage:
        (stage / "filters.tsv").write_text("half of this run")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.filename == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["old.tsv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filters"]


# ------------------------------------------------------- temporary files of dead runs


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _name_for(pid: int, name: str, suffix: str = ".part") -> str:
    token = temp_token()
    host_and_rand = token.split("@", 1)[1]
    return f".{name}.{pid}@{host_and_rand}{suffix}"


def test_final_name_of_a_temporary_name():
    assert final_name(f"out/.d.h5.{temp_token()}.part") == "out/d.h5"
    assert final_name("out/d.h5") == "out/d.h5"


def test_stale_temporaries_of_dead_processes_go_live_ones_stay(tmp_path):
    dead = _dead_pid()
    stale_file = tmp_path / _name_for(dead, "d.h5")
    stale_dir = tmp_path / _name_for(dead, "filters")
    shards = tmp_path / f".p.tsv.shards-{_name_for(dead, 'x', '')[len('.x.') :]}"
    live = tmp_path / _name_for(os.getppid(), "e.h5")  # pytest's parent is alive
    other_host = tmp_path / f".d.h5.{dead}@some-other-node-0a1b2c3d.part"
    legacy = tmp_path / ".d.h5.0123456789abcdef.part"  # no pid: cannot tell, kept
    user = tmp_path / "d.h5"
    for p in (stale_file, live, other_host, legacy, user):
        p.write_text("x")
    for p in (stale_dir, shards):
        p.mkdir()
        (p / "part").write_text("x")
    removed = clean_stale(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_dir, shards])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (live, other_host, legacy, user)
    )


def test_the_next_write_in_a_folder_cleans_it(tmp_path):
    # before: the .part of a killed run stayed for good, even after a successful rerun
    stale = tmp_path / _name_for(_dead_pid(), "table.tsv")
    stale.write_text("half")
    write_text_atomic(tmp_path / "table.tsv", "whole\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.tsv"]


def test_killed_writer_leaves_a_temporary_the_rerun_removes(tmp_path):
    out = tmp_path / "a.txt"
    code = (
        "import os, signal, sys\n"
        "from motiflens.files import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(out)], check=False, timeout=60)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".a.txt.") and left[0].endswith(".part")
    write_text_atomic(out, "whole\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


# ------------------------------------------------------------------------- filters


def test_filters_on_a_full_disk_keeps_the_previous_outputs(tmp_path, monkeypatch):
    import motiflens.steps.motifs as motifs_step
    from motiflens.config import RunConfig
    from motiflens.training import train
    from tests.test_training import TINY, make_dataset

    data = make_dataset(tmp_path / "d.h5", n=300)
    cfg = RunConfig.from_dict({**TINY, "training": {**TINY["training"], "max_epochs": 1}})
    run = tmp_path / "run"
    train(data, run, cfg, verbose=False)
    args = ["filters", str(run), str(data), "-n", "100", "--no-logos", "--db", "jaspar:2024"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    folder = run / "explain" / "filters"
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert Path("filters.tsv") in before

    def figures_on_a_full_disk(report, out, **kwargs):
        (Path(out) / "ic_influence.png").write_bytes(b"half a figure")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(motifs_step, "filter_figures", figures_on_a_full_disk)
    second = runner.invoke(app, args)
    assert second.exit_code == 2
    assert f"error: no space left on device writing {folder}" in second.output
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before  # the last run's outputs, whole; none of this run's tables
    assert sorted(p.name for p in (run / "explain").iterdir()) == ["filters"]
