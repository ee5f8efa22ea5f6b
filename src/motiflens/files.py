"""Files written whole or not at all, and names safe to use as file names.

Every output of motiflens goes through :func:`atomic_path` (a folder of outputs through
:func:`staged_folder`), so a killed run never leaves a half-written file under the final
name. The temporary names carry the writer's process id and host
(``.<name>.<pid>@<host>-<random>.part``): a later write into the same folder removes the
ones whose process is gone (:func:`clean_stale`), so a ``kill -9`` does not leave them
behind for good.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "DISK_FULL_ERRNOS",
    "GuardedFile",
    "atomic_path",
    "clean_stale",
    "disk_full",
    "disk_full_error",
    "disk_full_target",
    "final_name",
    "open_hdf5_temp_files",
    "safe_name",
    "staged_folder",
    "temp_token",
    "write_text_atomic",
]

#: errno values that mean "the disk (or the user's quota) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

# HDF5 and other C libraries report a failed write as text, not as an errno attribute:
# "... errno = 28, error message = 'No space left on device' ..." (h5py 3, HDF5 1.14).
_DISK_FULL_TEXT = re.compile(
    rf"errno = ({'|'.join(str(e) for e in sorted(DISK_FULL_ERRNOS))})\b"
    r"|No space left on device|Disk quota exceeded"
)
_C_FILENAME = re.compile(r"filename = '([^']+)'")


def _host() -> str:
    """This machine's short host name, reduced to characters safe in a file name."""
    name = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:32] or "host"


_HOST = _host()

# .<name>.<pid>@<host>-<hex>.part (a file or a staged folder), .<name>.<pid>@<host>-<hex>.old
# (a folder being swapped out), .<name>.shards-<pid>@<host>-<hex> (motiflens.distributed).
_TEMP = re.compile(
    r"^\.(?P<name>.+)\.(?:shards-)?(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]+)-[0-9a-f]{8}"
    r"(?:\.part|\.old)?$"
)


def temp_token() -> str:
    """``<pid>@<host>-<8 hex>``: unique, and tells :func:`clean_stale` who wrote it."""
    return f"{os.getpid()}@{_HOST}-{secrets.token_hex(4)}"


def final_name(name: str) -> str:
    """The file a temporary name stands for (``.x.h5.12@node-0a1b2c3d.part`` -> ``x.h5``).

    Names that are not motiflens temporary names come back unchanged.
    """
    path = Path(name)
    match = _TEMP.match(path.name)
    return str(path.with_name(match["name"])) if match else name


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` left by dead processes.

    Only names made by :func:`temp_token` on this host whose process no longer runs go;
    a temporary of a live writer, or of another machine sharing the file system, stays.
    Returns what was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # another process cleaned it first
            continue
        except OSError:  # not ours to remove (permissions): leave it
            continue
        removed.append(path)
    return removed


def disk_full(err: BaseException) -> bool:
    """Whether ``err`` says the disk or the quota is full (an errno, or C library text)."""
    if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
        return True
    return isinstance(err, OSError | RuntimeError) and bool(_DISK_FULL_TEXT.search(str(err)))


def disk_full_error(err: BaseException, path: str | Path) -> OSError | None:
    """``err`` as ``OSError(ENOSPC or EDQUOT, ..., path)`` if it is a full disk, else None.

    ``path`` is the file meant to be written (the final name, not the temporary one),
    unless ``err`` already names another file.
    """
    if not disk_full(err):
        return None
    code = err.errno if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS else None
    if code is None:
        code = errno.EDQUOT if "quota" in str(err).lower() else errno.ENOSPC
    filename = getattr(err, "filename2", None) or getattr(err, "filename", None)
    if filename is None or _TEMP.match(Path(str(filename)).name):
        filename = str(path)
    return OSError(code, os.strerror(code), str(filename))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same directory so the final ``os.replace`` is atomic.
    On any exception (including KeyboardInterrupt) the temporary file is removed and the
    destination is left as it was; a full disk is raised as ``OSError(ENOSPC, ...)``
    naming ``path``, whatever library reported it. Every write also removes the temporary
    files that dead processes left in that folder (:func:`clean_stale`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent)
    tmp_path = path.parent / f".{path.name}.{temp_token()}.part"
    # Not tempfile.mkstemp: its private 0600 mode would stay on the renamed file. Created with
    # 0666 the umask applies, as for any file the process writes; O_EXCL keeps it unique.
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as err:
        tmp_path.unlink(missing_ok=True)
        full = disk_full_error(err, path)
        if full is not None and full is not err:
            raise full from err
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically and return its path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; swap it in only on success.

    On success the old ``folder`` (if any) is moved aside, the new one renamed into its
    place and the old one removed; on any exception the temporary folder is removed and
    ``folder`` is left as it was. Paths written inside the temporary folder map to the
    final ones with ``folder / p.relative_to(tmp)``.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(folder.parent)
    token = temp_token()
    stage = folder.parent / f".{folder.name}.{token}.part"
    stage.mkdir()
    try:
        yield stage
    except BaseException as err:
        shutil.rmtree(stage, ignore_errors=True)
        full = disk_full_error(err, folder)
        if full is not None and full is not err:
            raise full from err
        raise
    old = folder.parent / f".{folder.name}.{token}.old"
    if folder.exists():
        os.replace(folder, old)
    try:
        os.replace(stage, folder)
    except BaseException:
        if old.exists():  # put the previous outputs back
            os.replace(old, folder)
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


class GuardedFile:
    """A binary file for a C library that must never see one of its writes fail.

    HDF5 does not survive a failed write: after "No space left on device" inside a chunk
    flush its state is broken, and closing the file (or the interpreter's exit closing it)
    crashed the process with a segmentation fault (exit 139). Given this object instead of
    a path (``h5py.File(GuardedFile(tmp), "w")``), HDF5 sees every write succeed; the
    first error is kept in :attr:`error`, and what is written from then on is kept in
    memory (so HDF5 reads back what it wrote) and never reaches the disk. The writer calls
    :meth:`check` after each batch and at the end, and throws the file away on an error.

    Parameters
    ----------
    path
        An existing file, opened for reading and writing without Python's buffer.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.error: OSError | None = None
        self._kept: list[tuple[int, bytes]] = []
        self._f = open(self.path, "r+b", buffering=0)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._f.seek(pos, whence)

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self._end() - self._f.tell())
        buffer = bytearray(size)
        return bytes(buffer[: self.readinto(buffer)])

    def readinto(self, buffer: Any) -> int:
        pos = self._f.tell()
        got = self._f.readinto(buffer) or 0
        if not self._kept:
            return got
        # What the library wrote after the error is read back from memory: HDF5 reads its
        # own metadata again, and garbage there crashed it as surely as a failed write.
        view = memoryview(buffer).cast("B")
        end = pos + len(view)
        for offset, data in self._kept:
            lo, hi = max(offset, pos), min(offset + len(data), end)
            if lo >= hi:
                continue
            if lo - pos > got:
                view[got : lo - pos] = bytes(lo - pos - got)
            view[lo - pos : hi - pos] = data[lo - offset : hi - offset]
            got = max(got, hi - pos)
        self._f.seek(pos + got)
        return got

    def _end(self) -> int:
        size = os.fstat(self._f.fileno()).st_size
        return max([size] + [o + len(d) for o, d in self._kept])

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        pos = self._f.tell()
        done = 0
        if self.error is None:
            try:
                while done < len(view):  # an unbuffered write may be partial
                    done += self._f.write(view[done:]) or 0
            except OSError as err:
                self.error = err
        if done < len(view):
            # kept in memory (only what follows an error, until the writer checks), and
            # the position moved on where the library expects it
            self._kept.append((pos + done, bytes(view[done:])))
            self._f.seek(pos + len(view))
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._f.truncate(size)
            except OSError as err:
                self.error = err
        return self._f.tell() if size is None else size

    def flush(self) -> None:
        """Nothing to do: writes are unbuffered."""

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed

    def check(self, target: str | Path | None = None) -> None:
        """Raise the first write error, naming ``target`` (the final file) or the path.

        A full disk comes out as ``OSError(ENOSPC or EDQUOT, ..., target)``.
        """
        if self.error is None:
            return
        name = str(target if target is not None else self.path)
        full = disk_full_error(self.error, name)
        if full is not None:
            raise full from self.error
        raise OSError(self.error.errno, self.error.strerror, name) from self.error


def open_hdf5_temp_files() -> list[str]:
    """Temporary HDF5 files (motiflens ``.part`` names) that h5py still holds open to write.

    A writer that failed on a full disk without closing its file leaves HDF5 in a state
    where closing it, even at interpreter exit, can crash the process; the command's last
    error handler checks this and then ends without that close. h5py is looked up, never
    imported: if it was not imported, no file can be open.
    """
    h5py = sys.modules.get("h5py")
    if h5py is None:
        return []
    names: list[str] = []
    with contextlib.suppress(Exception):
        for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
            name = fid.name.decode() if isinstance(fid.name, bytes) else str(fid.name)
            if _TEMP.match(Path(name).name) and fid.get_intent() & h5py.h5f.ACC_RDWR:
                names.append(name)
    return names


def disk_full_target(err: BaseException) -> str | None:
    """The file a disk-full error was writing, from its filename or the library's text."""
    # a copy or rename (src -> dst) names the file being written second
    filename = getattr(err, "filename2", None) or getattr(err, "filename", None)
    if filename is None:
        match = _C_FILENAME.search(str(err))
        filename = match[1] if match else None
    return None if filename is None else final_name(str(filename))


def safe_name(name: str, limit: int = 80) -> str:
    """A target or sequence name usable as a file name (the dashboard's app.js mirrors it).

    Letters, digits, ``-``, ``_`` and ``.`` are kept; anything else becomes ``_``.
    """
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:limit]
