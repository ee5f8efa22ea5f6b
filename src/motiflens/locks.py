"""Advisory locks on directories: one writing process at a time, released on any exit.

A writer holds ``<directory>/.lock`` with :func:`fcntl.flock` for as long as it writes.
``flock`` belongs to the open file, so the kernel releases it when the process ends in
any way (``kill -9`` included): a lock is never left behind by a dead process, and no
stale-lock guessing is needed. A second process asking for the directory fails at once
with :class:`DirectoryInUse`, which names the holder (process id, host, command, start
time, as the holder wrote them into the file).

Within one process the lock is reentrant (a step that calls another step, or a
:class:`~motiflens.runs.Run` helper inside a step that holds it, takes it again freely);
it is released when the outermost holder lets go. The file descriptor is not inherited
by programs the process starts (``O_CLOEXEC``): Lightning's re-launched training
processes are helpers of the holder and do not lock (see ``motiflens.runs``).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from motiflens.errors import InputError

log = logging.getLogger(__name__)

#: The lock file inside a locked directory.
LOCK_FILE = ".lock"

# errno values of a file system without flock (some network mounts): writing goes on
# unlocked there, with a warning, rather than not at all.
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


class DirectoryInUse(InputError):
    """Another process holds the directory's lock.

    Attributes
    ----------
    directory
        The locked directory.
    holder
        What the holder wrote into the lock file (``pid``, ``host``, ``command``,
        ``started``); empty when it had not written it yet.
    """

    def __init__(self, directory: Path, holder: dict[str, object], what: str) -> None:
        self.directory = directory
        self.holder = holder
        super().__init__(
            f"{what} {directory} is in use by {_describe(holder)}; "
            "wait for it or use another directory"
        )


def _describe(holder: dict[str, object]) -> str:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return "another process"
    text = f"process {pid}"
    host = holder.get("host")
    if host and host != socket.gethostname():
        text += f" on {host}"
    details = [str(holder["command"])] if holder.get("command") else []
    started = holder.get("started")
    if isinstance(started, str):
        with contextlib.suppress(ValueError):
            when = datetime.datetime.fromisoformat(started)
            details.append(f"started {when:%Y-%m-%d %H:%M:%S} UTC")
    return f"{text} ({', '.join(details)})" if details else text


@dataclass
class _Hold:
    fd: int | None  # None: the file system has no locks; nothing to release
    count: int
    pid: int = 0  # the process that took it (a forked child must not release it)


_held: dict[Path, _Hold] = {}
_guard = threading.Lock()


def _key(directory: Path) -> Path:
    return Path(os.path.realpath(directory))


def _command() -> str:
    """``motiflens train`` style: the program and its verb, never paths or options."""
    if not sys.argv or not sys.argv[0]:
        return "python"
    words = [Path(sys.argv[0]).name]
    if len(sys.argv) > 1 and sys.argv[1].isidentifier():
        words.append(sys.argv[1])
    return " ".join(words)


def _read_holder(fd: int) -> dict[str, object]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        info = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def holds(directory: str | Path) -> bool:
    """Whether this process holds ``directory``'s lock."""
    with _guard:
        return _key(Path(directory)) in _held


def holder(directory: str | Path) -> dict[str, object] | None:
    """Who holds ``directory``'s lock (as :class:`DirectoryInUse` reports it), or None.

    Never takes the lock for long: a free directory is tested and let go at once.
    """
    path = Path(directory) / LOCK_FILE
    if holds(directory):
        return {"pid": os.getpid(), "host": socket.gethostname(), "command": _command()}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def acquire(
    directory: str | Path,
    *,
    what: str = "directory",
    on_acquire: Callable[[Path], object] | None = None,
) -> Callable[[], None]:
    """Take ``directory``'s lock (creating the directory) and return what releases it.

    Parameters
    ----------
    directory
        The directory to lock; created if missing.
    what
        How the message names it (``"run directory"``).
    on_acquire
        Called with the directory when this process takes the lock (not when it takes
        it again): the moment when nothing else writes there, e.g. to clean up after
        dead writers.

    Returns
    -------
    Callable[[], None]
        Releases this hold (once; later calls do nothing). The lock itself goes when the
        last hold of the process is released, or when the process ends.

    Raises
    ------
    DirectoryInUse
        Another process holds it.
    """
    directory = Path(directory)
    key = _key(directory)
    with _guard:
        hold = _held.get(key)
        if hold is not None:
            hold.count += 1
        else:
            _held[key] = _take(directory, what)
    if hold is None and on_acquire is not None:
        try:
            on_acquire(directory)
        except BaseException:
            _release(key)
            raise
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            _release(key)

    return release


def _take(directory: Path, what: str) -> _Hold:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise DirectoryInUse(directory, holder, what) from None
    except OSError as err:
        os.close(fd)
        if err.errno not in _NO_LOCKS:
            raise
        log.warning(
            "%s: the file system has no locks; not protected against a second writer", directory
        )
        return _Hold(None, 1, os.getpid())
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": _command(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    with contextlib.suppress(OSError):  # the lock holds without its description
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    return _Hold(fd, 1, os.getpid())


def _release(key: Path) -> None:
    with _guard:
        hold = _held.get(key)
        if hold is None:
            return
        hold.count -= 1
        if hold.count > 0:
            return
        del _held[key]
    if hold.fd is None:
        return
    if hold.pid == os.getpid():
        with contextlib.suppress(OSError):
            os.ftruncate(hold.fd, 0)  # no description of a holder that is gone
        # LOCK_UN, not just close: a forked child (a data loader worker) shares the open
        # file and would otherwise keep the lock until it exits.
        with contextlib.suppress(OSError):
            fcntl.flock(hold.fd, fcntl.LOCK_UN)
    os.close(hold.fd)  # in a forked child: only its own copy of the descriptor


@contextlib.contextmanager
def locked(
    directory: str | Path,
    *,
    what: str = "directory",
    on_acquire: Callable[[Path], object] | None = None,
) -> Iterator[Path]:
    """Hold ``directory``'s lock for the block (see :func:`acquire`); yields the directory.

    Examples
    --------
    >>> with locked("runs/basset", what="run directory"):
    ...     ...  # no other process writes into runs/basset meanwhile
    """
    release = acquire(directory, what=what, on_acquire=on_acquire)
    try:
        yield Path(directory)
    finally:
        release()
