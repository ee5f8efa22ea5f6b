"""Atomic writes: a file appears complete or not at all."""

from __future__ import annotations

import os
import shutil
import stat

import pytest
from toy_models import TOY_ARCHS

from motiflens.config import RunConfig
from motiflens.errors import InputError
from motiflens.files import atomic_path, write_text_atomic
from motiflens.models import build_model
from motiflens.runs import Run


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_renamed_into_place_on_success(tmp_path):
    dest = tmp_path / "metrics.tsv"
    with atomic_path(dest) as tmp:
        assert tmp.parent == dest.parent  # same directory, so the rename is atomic
        assert tmp != dest
        tmp.write_text("auroc\t0.9\n")
        assert not dest.exists()  # nothing at the destination until the block ends
    assert dest.read_text() == "auroc\t0.9\n"
    assert leftovers(tmp_path) == []


def test_replaces_an_existing_file(tmp_path):
    dest = tmp_path / "config.yaml"
    dest.write_text("old")
    with atomic_path(dest) as tmp:
        tmp.write_text("new")
    assert dest.read_text() == "new"


def test_creates_missing_parent_directories(tmp_path):
    dest = tmp_path / "run" / "explain" / "ism" / "scores.tsv"
    with atomic_path(dest) as tmp:
        tmp.write_text("x")
    assert dest.read_text() == "x"


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)])
def test_cleans_up_on_exception_and_keeps_old_file(tmp_path, exc):
    dest = tmp_path / "model.safetensors"
    dest.write_bytes(b"old weights")
    with pytest.raises(type(exc)):
        with atomic_path(dest) as tmp:
            tmp.write_bytes(b"half of the new wei")
            raise exc
    assert dest.read_bytes() == b"old weights"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_cleans_up_on_exception_without_old_file(tmp_path):
    dest = tmp_path / "report.html"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(dest) as tmp:
            tmp.write_text("<html>")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_cleanup_when_the_body_already_removed_the_temporary(tmp_path):
    dest = tmp_path / "x.txt"
    with pytest.raises(ValueError):
        with atomic_path(dest) as tmp:
            tmp.unlink(missing_ok=True)
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_write_text_atomic(tmp_path):
    dest = tmp_path / "a" / "note.txt"
    assert write_text_atomic(dest, "héllo\n") == dest
    assert dest.read_bytes() == "héllo\n".encode()
    assert leftovers(dest.parent) == []


def test_final_file_has_ordinary_permissions(tmp_path):
    # The result should look like any file this process creates (umask applied), not like
    # a private temporary file (0600): run directories are shared and served.
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    dest = tmp_path / "atomic.txt"
    write_text_atomic(dest, "x")
    assert stat.S_IMODE(os.stat(dest).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


# ------------------------------------------------------------ the run's model file


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run directory with a toy Basset saved through Run.save_model (no training)."""
    config = RunConfig.from_dict(
        {
            "model": {
                "name": "basset",
                "n_targets": 2,
                "length": 60,
                "arch": TOY_ARCHS["basset"],
            }
        }
    )
    run = Run(tmp_path_factory.mktemp("saved") / "run")
    run.save_model(build_model(config.model), config)
    return run.path


@pytest.fixture
def run_dir(saved_run, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(saved_run, dest)
    return dest


def test_weights_follow_the_umask_like_every_other_output(run_dir):
    # safetensors writes a private (0600) temporary and renames it: the weights must end
    # like the config written beside them.
    mode = stat.S_IMODE(os.stat(run_dir / "model.safetensors").st_mode)
    assert mode == stat.S_IMODE(os.stat(run_dir / "config.yaml").st_mode)
    assert mode == 0o666 & ~_umask()


def _umask() -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_weights_file_is_one_message(run_dir, damage):
    weights = run_dir / "model.safetensors"
    data = weights.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"x" * 99}
    weights.write_bytes(damaged[damage])
    with pytest.raises(InputError) as err:
        Run(run_dir).model("cpu")
    assert str(err.value).startswith(f"{weights}: not a readable safetensors file")


def test_an_edited_task_names_config_yaml_and_the_field(run_dir):
    config = run_dir / "config.yaml"
    config.write_text(config.read_text().replace("task: binary", "task: regression"))
    with pytest.raises(InputError) as err:
        Run(run_dir).model("cpu")
    assert str(err.value).startswith(
        f"{config}: model.task is 'regression' but the weights in model.safetensors were "
        "trained with model.task 'binary'"
    )


def test_an_architecture_edit_names_the_first_weight_that_differs(run_dir):
    # Without the record of the saved config (a run of an older version) the weights'
    # shapes still tell: the second conv layer has 8 filters, the edit says 9.
    manifest = run_dir / "manifest.json"
    manifest.unlink()
    config = run_dir / "config.yaml"
    config.write_text(config.read_text().replace("filters: [12, 8, 8]", "filters: [12, 9, 8]"))
    with pytest.raises(InputError) as err:
        Run(run_dir).model("cpu")
    message = str(err.value)
    assert message.startswith(f"{config}: the model section does not match the weights")
    assert "is (8," in message and "(9," in message
