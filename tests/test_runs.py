"""Atomic writes: a file appears complete or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from motiflens.files import atomic_path, write_text_atomic


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
