"""One writer per run directory: the lock, refusing or replacing a run, leftovers of dead runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import pytest
import yaml
from lightning.pytorch.callbacks import Callback
from test_training import make_dataset, tiny
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.errors import InputError
from motiflens.files import temp_token
from motiflens.locks import DirectoryInUse, acquire, holder, locked
from motiflens.runs import Run, holding_run
from motiflens.steps import train

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("lockdata") / "tiny.h5", n=300)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """A finished one-epoch run, copied by the tests that change it."""
    run = tmp_path_factory.mktemp("lockrun") / "run"
    train(dataset, run, tiny(1), verbose=False, log_epochs=False)
    return run


@pytest.fixture
def run_copy(trained, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(trained, dest)
    return dest


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def try_flock(directory: Path) -> int:
    """Exit status of another process taking the lock: 0 free, 1 held (plain fcntl, fast)."""
    code = textwrap.dedent(f"""
        import fcntl, os, sys
        fd = os.open({str(directory / ".lock")!r}, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(1)
    """)
    return subprocess.run([sys.executable, "-c", code], check=False).returncode


@pytest.fixture
def other_process(tmp_path):
    """Start a process that holds a directory's lock (motiflens.locks) until killed."""
    started: list[subprocess.Popen] = []

    def start(directory: Path) -> subprocess.Popen:
        code = textwrap.dedent(f"""
            import sys, time
            from motiflens.locks import acquire
            acquire({str(directory)!r}, what="run directory")
            print("locked", flush=True)
            time.sleep(120)
        """)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------- the lock itself


def test_a_second_process_is_refused_at_once_naming_the_first(tmp_path, other_process):
    proc = other_process(tmp_path / "run")
    with pytest.raises(DirectoryInUse) as err:
        acquire(tmp_path / "run", what="run directory")
    message = str(err.value)
    assert f"run directory {tmp_path / 'run'} is in use by process {proc.pid}" in message
    assert "started 20" in message and "wait for it or use another directory" in message
    assert holder(tmp_path / "run")["pid"] == proc.pid


def test_kill_9_releases_the_lock(tmp_path, other_process):
    proc = other_process(tmp_path / "run")
    assert try_flock(tmp_path / "run") == 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with locked(tmp_path / "run"):  # no stale lock to clear by hand
        assert try_flock(tmp_path / "run") == 1
    assert try_flock(tmp_path / "run") == 0
    assert holder(tmp_path / "run") is None


def test_reentrant_within_a_process_and_released_by_the_outermost(tmp_path):
    with locked(tmp_path):
        with locked(tmp_path):
            assert try_flock(tmp_path) == 1
        assert try_flock(tmp_path) == 1  # the inner release kept it
    assert try_flock(tmp_path) == 0


def test_a_write_helper_holds_the_run_only_while_it_writes(tmp_path, other_process):
    # A notebook's Run keeps no lock between writes, so a command elsewhere can run.
    run = Run(tmp_path / "run")
    run.analysis_dir("ism")
    run.record_step("ism", [])
    assert try_flock(run.path) == 0
    with run.lock():
        run.record_step("ism", [])  # inside a lock: taken again freely
        assert try_flock(run.path) == 1
    assert try_flock(run.path) == 0
    assert Run(run.path).analysis_dir("filters", create=False)  # a read takes nothing
    # ... but a write while another process holds the run fails at once, writing nothing
    proc = other_process(run.path)
    with pytest.raises(DirectoryInUse, match=f"in use by process {proc.pid}"):
        run.record_step("saliency", [])
    assert "saliency" not in run.steps()


def test_a_step_holds_the_run_for_its_whole_length(tmp_path):
    seen = []

    @holding_run
    def step(run: Run) -> None:
        seen.append(try_flock(run.path))
        run.record_step("step", [])  # its own writes take the lock again freely
        seen.append(try_flock(run.path))

    with pytest.raises(InputError, match="run directory not found"):
        step(tmp_path / "run")  # a step reads a trained run: none here, nothing created
    assert not (tmp_path / "run").exists()
    (tmp_path / "run").mkdir()
    step(tmp_path / "run")
    assert seen == [1, 1]
    assert try_flock(tmp_path / "run") == 0
    assert Run(tmp_path / "run").steps()["step"]["outputs"] == []


@pytest.mark.parametrize("verb", ["train", "test", "write"])
def test_commands_refused_while_another_process_writes(
    verb, dataset, run_copy, tmp_path, other_process
):
    proc = other_process(run_copy)
    before = {p: p.stat().st_mtime_ns for p in run_copy.rglob("*") if p.is_file()}
    if verb == "train":
        config = tiny(1).save_yaml(tmp_path / "tiny.yaml")
        args = ["train", str(dataset), str(run_copy), "--overwrite", "--config", str(config)]
    elif verb == "test":
        args = ["test", str(run_copy), "--no-progress", "--no-baseline"]
    if verb == "write":
        with pytest.raises(DirectoryInUse, match=f"in use by process {proc.pid}"):
            Run(run_copy).analysis_dir("ism")
    else:
        out = runner.invoke(app, args)
        assert out.exit_code == 2, out.output
        assert f"is in use by process {proc.pid}" in out.output
        assert "Traceback" not in out.output
    after = {p: p.stat().st_mtime_ns for p in run_copy.rglob("*") if p.is_file()}
    assert after == before  # nothing touched


def test_train_holds_the_run_for_its_whole_length(dataset, tmp_path):
    seen = []

    class Probe(Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            seen.append(try_flock(tmp_path / "run"))

    train(dataset, tmp_path / "run", tiny(2), verbose=False, log_epochs=False, callbacks=[Probe()])
    assert seen == [1, 1]
    assert try_flock(tmp_path / "run") == 0  # and lets go at the end


# --------------------------------------------------------- an existing run directory


def test_train_refuses_an_existing_run(dataset, run_copy):
    weights = (run_copy / "model.safetensors").read_bytes()
    out = runner.invoke(app, ["train", str(dataset), str(run_copy), "--no-progress"])
    assert out.exit_code == 2
    assert "already holds a run" in out.output and "--overwrite" in out.output
    assert (run_copy / "model.safetensors").read_bytes() == weights
    with pytest.raises(InputError, match="exclude each other"):
        train(dataset, run_copy, tiny(1), resume=True, overwrite=True)


def test_overwrite_replaces_the_whole_run(dataset, run_copy):
    (run_copy / "explain" / "ism").mkdir(parents=True)
    (run_copy / "explain" / "ism" / "ism.h5").write_bytes(b"old analysis")
    train(dataset, run_copy, tiny(2), overwrite=True, verbose=False, log_epochs=False)
    assert not (run_copy / "explain").exists()  # analyses of the old model are gone
    assert not (run_copy / ".previous-run").exists()
    assert len((run_copy / "metrics" / "training.tsv").read_text().splitlines()) == 3


class Boom(Callback):
    """Fail in the first epoch (before any checkpoint) or after the first checkpoint."""

    def __init__(self, after_checkpoint: bool) -> None:
        self.after = after_checkpoint

    def on_train_batch_start(self, trainer, pl_module, batch, i):
        if not self.after:
            raise RuntimeError("boom")

    def on_train_epoch_end(self, trainer, pl_module):
        if self.after and trainer.current_epoch == 1:
            raise RuntimeError("boom")


def test_a_failed_overwrite_before_its_first_checkpoint_puts_the_old_run_back(dataset, run_copy):
    before = {p.relative_to(run_copy): p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError, match="boom"):
        train(dataset, run_copy, tiny(3), overwrite=True, verbose=False, callbacks=[Boom(False)])
    after = {p.relative_to(run_copy): p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    assert after == before


def test_a_failed_overwrite_after_a_checkpoint_leaves_a_resumable_new_run(dataset, run_copy):
    with pytest.raises(RuntimeError, match="boom"):
        train(dataset, run_copy, tiny(3), overwrite=True, verbose=False, callbacks=[Boom(True)])
    assert not (run_copy / ".previous-run").exists()
    assert not (run_copy / "manifest.json").exists()  # the old run's is gone with it
    train(dataset, run_copy, tiny(3), resume=True, verbose=False, log_epochs=False)
    assert len((run_copy / "metrics" / "training.tsv").read_text().splitlines()) == 4


@pytest.mark.parametrize("checkpoint", [False, True])
def test_an_overwrite_killed_midway_is_settled_by_the_next_command(run_copy, checkpoint):
    # What `kill -9` leaves: the old run aside, the new one partly written.
    previous = run_copy / ".previous-run"
    previous.mkdir()
    for name in entries(run_copy):
        if name not in (".lock", ".previous-run"):
            os.replace(run_copy / name, previous / name)
    (run_copy / "config.yaml").write_text("the new run's config\n")
    if checkpoint:
        (run_copy / "checkpoints").mkdir()
        (run_copy / "checkpoints" / "last.ckpt").write_bytes(b"new")
    old = entries(previous)
    with Run(run_copy).lock():
        pass
    if checkpoint:  # the new run got far enough to be resumed: it stays
        assert entries(run_copy) == [".lock", "checkpoints", "config.yaml"]
    else:  # it did not: the old run comes back
        assert entries(run_copy) == sorted([".lock", *old])
        assert (run_copy / "config.yaml").read_text().startswith("model:")


def test_a_model_that_cannot_be_built_leaves_nothing(dataset, tmp_path):
    cfg = tiny(1).to_dict()
    cfg["model"]["arch"]["sizes"] = [60, 3]  # a kernel wider than the 40 bp input
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = runner.invoke(app, ["train", str(dataset), str(tmp_path / "r"), "--config", str(path)])
    assert out.exit_code == 2, out.output
    assert not (tmp_path / "r").exists()


def test_a_fresh_run_that_fails_before_its_first_checkpoint_leaves_nothing(dataset, tmp_path):
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "notes.txt").write_text("mine")
    for run in (tmp_path / "new", tmp_path / "existing"):
        with pytest.raises(RuntimeError, match="boom"):
            train(dataset, run, tiny(2), verbose=False, callbacks=[Boom(False)])
    assert not (tmp_path / "new").exists()
    assert entries(tmp_path / "existing") == [".lock", "notes.txt"]


@pytest.mark.parametrize("broken", ["no_labels", "half_valid"])
def test_a_broken_dataset_is_refused_before_anything_is_written(dataset, tmp_path, broken):
    bad = tmp_path / "bad.h5"
    shutil.copy(dataset, bad)
    with h5py.File(bad, "a") as h5:
        del h5["target_labels" if broken == "no_labels" else "valid_out"]
    with pytest.raises(InputError) as err:
        train(bad, tmp_path / "r", tiny(1), verbose=False)
    assert str(bad) in str(err.value)
    assert ("target_labels" if broken == "no_labels" else "valid") in str(err.value)
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------- resume


def test_resume_without_a_checkpoint_writes_nothing(dataset, tmp_path):
    out = runner.invoke(
        app, ["train", str(dataset), str(tmp_path / "none"), "--resume", "--no-progress"]
    )
    assert out.exit_code == 2
    assert "last.ckpt: cannot resume: the run has no checkpoint" in out.output
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_resume_from_a_damaged_checkpoint_is_a_message(dataset, run_copy, damage):
    last = run_copy / "checkpoints" / "last.ckpt"
    data = last.read_bytes()
    last.write_bytes(
        {"garbage": b"not a checkpoint", "truncated": data[:3000], "empty": b""}[damage]
    )
    out = runner.invoke(app, ["train", str(dataset), str(run_copy), "--resume", "--no-progress"])
    assert out.exit_code == 2, out.output
    assert "last.ckpt: not a readable checkpoint" in out.output
    assert "Traceback" not in out.output


def test_resume_with_an_edited_task_names_the_field(dataset, run_copy):
    config = run_copy / "config.yaml"
    config.write_text(config.read_text().replace("task: binary", "task: regression"))
    out = runner.invoke(app, ["train", str(dataset), str(run_copy), "--resume", "--no-progress"])
    assert out.exit_code == 2, out.output
    assert "trained with model.task 'binary', the config says 'regression'" in out.output


# ----------------------------------------------------------- leftovers of dead runs


def test_the_next_command_removes_what_dead_writers_left(run_copy):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs
    host = temp_token().split("@")[1][: -len("-0a1b2c3d")]
    ism = run_copy / "explain" / "ism"
    ism.mkdir(parents=True)
    stale = [
        run_copy / f".model.safetensors.{dead.pid}@{host}-0a1b2c3d.part",
        run_copy / ".tmpAb12Cd",  # safetensors' own temporary
        ism / ".ism.tsv.0123456789abcdef.part",  # the format before process ids
        ism / f".ism.h5.shards-{dead.pid}@{host}-0a1b2c3d",
        ism / ".ism.h5.shards-0123456789ab",
    ]
    for path in stale:
        if "shards" in path.name:
            path.mkdir()
            (path / "rank0.h5").write_bytes(b"x")
        else:
            path.write_bytes(b"x")
    live = ism / f".ism.tsv.{os.getpid()}@{host}-0a1b2c3d.part"  # a live writer's
    live.write_bytes(b"x")
    kept = ism / "ism.h5"
    kept.write_bytes(b"result")
    out = runner.invoke(app, ["test", str(run_copy), "--no-progress", "--no-baseline"])
    assert out.exit_code == 0, out.output
    assert [p for p in stale if p.exists()] == []
    assert live.exists() and kept.read_bytes() == b"result"
