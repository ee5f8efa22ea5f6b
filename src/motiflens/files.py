"""Files written whole or not at all, and names safe to use as file names.

Every output of motiflens goes through :func:`atomic_path`, so a killed run never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


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


def safe_name(name: str, limit: int = 80) -> str:
    """A target or sequence name usable as a file name (the dashboard's app.js mirrors it).

    Letters, digits, ``-``, ``_`` and ``.`` are kept; anything else becomes ``_``.
    """
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:limit]
