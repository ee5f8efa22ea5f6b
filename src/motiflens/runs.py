"""Run-directory helpers: atomic file writes so a killed run never leaves half a file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from motiflens.errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same directory so the final ``os.replace`` is atomic.
    On any exception (including KeyboardInterrupt) the temporary file is removed and the
    destination is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.parent / f".{path.name}.{secrets.token_hex(8)}.part"
    # Not tempfile.mkstemp: its private 0600 mode would stay on the renamed file. Created with
    # 0666 the umask applies, as for any file the process writes; O_EXCL keeps it unique.
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically and return its path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


MANIFEST = "manifest.json"


def record_step(run_dir: str | Path, step: str, outputs: list[str], **info: object) -> Path:
    """Add one step (what ran, when, what it wrote) to the run directory's manifest.

    ``manifest.json`` lists every analysis a run has, so later commands (and the
    dashboard) know what exists without guessing from file names.
    """
    import datetime
    import json
    import sys

    from motiflens import __version__

    run_dir = Path(run_dir)
    path = run_dir / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {"steps": {}}
    manifest["motiflens_version"] = __version__
    manifest["steps"][step] = {
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else "python API",
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "outputs": outputs,
        **info,
    }
    return write_text_atomic(path, json.dumps(manifest, indent=2, default=str) + "\n")


def read_manifest(run_dir: str | Path) -> dict:
    """The run directory's manifest (empty steps when there is none)."""
    import json

    path = Path(run_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {"steps": {}}


def training_dataset(run_dir: str | Path) -> Path:
    """The dataset file a run was trained on, as its manifest records it.

    Raises
    ------
    InputError
        The manifest does not record one (give the data explicitly then).
    """
    trained_on = read_manifest(run_dir).get("steps", {}).get("train", {}).get("dataset")
    if trained_on is None:
        raise InputError(
            "no data given and the run does not record its training dataset",
            path=run_dir,
            hint="pass the dataset file (or sequences) explicitly",
        )
    return Path(trained_on)
