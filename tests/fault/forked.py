"""Run a CLI command in a forked child: killed at a chosen moment, or on a small tmpfs.

A fork of the test process starts in milliseconds with torch and motiflens already
imported, and still is a process of its own: it can die by a signal (a segfault shows as
one), be sent ``SIGKILL`` half-way through a write, or enter a private mount namespace
whose small tmpfs fills up - a real ``ENOSPC`` from the kernel, whatever library writes.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from motiflens.cli import app

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_REC = 16384
MS_PRIVATE = 1 << 18

# temporaries of an interrupted write: atomic_path's ".name.<hex>.part", sharded outputs'
# ".name.shards-<hex>"
TEMP_MARKERS = (".part", ".shards-")


@dataclass(frozen=True)
class Outcome:
    """How a forked command ended."""

    exit_code: int | None  # None: killed by a signal
    signal: int | None
    output: str
    files: list[str]  # files under the watched folder afterwards (relative)
    unavailable: str | None = None  # why the tmpfs could not be set up

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.output


def invoke(args: list[str]) -> tuple[int, str]:
    """Run the CLI in this process: (exit code, stdout + stderr); 1 on an uncaught error."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(result.exception))
    return result.exit_code, output


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def temporaries(root: Path) -> list[str]:
    """Leftover temporaries of interrupted writes under ``root``."""
    return [f for f in files_under(root) if any(m in f for m in TEMP_MARKERS)]


def _mount_tmpfs(path: Path, size_kb: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS if uid == 0 else CLONE_NEWUSER | CLONE_NEWNS
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if uid != 0:  # an unprivileged user namespace: stay the same user inside it
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_kb}k".encode()
    if libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", 0, opts) != 0:
        raise OSError(ctypes.get_errno(), "mount tmpfs")


def run_forked(
    args: list[str],
    watch: Path,
    *,
    tmpfs_kb: int | None = None,
    prepare=None,
    kill_after: float | None = None,
    timeout: float = 120.0,
) -> Outcome:
    """Run ``motiflens ARGS`` in a child process.

    Parameters
    ----------
    watch
        Folder whose files are listed afterwards (inside the child when it is a tmpfs,
        which disappears with the child's mount namespace).
    tmpfs_kb
        Mount a tmpfs of this size on ``watch`` first (private to the child).
    prepare
        Called in the child after the mount, before the command (e.g. copy a run in).
    kill_after
        Send SIGKILL to the command after this many seconds.
    """
    if torch.cuda.is_initialized():  # a forked child cannot use its parent's CUDA context
        pytest.skip("CUDA is initialized in this process; forked children could not use it")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_fd)
        report: dict = {}
        try:
            if tmpfs_kb is not None:
                try:
                    _mount_tmpfs(watch, tmpfs_kb)
                except OSError as exc:
                    report["unavailable"] = f"no tmpfs here: {exc}"
                    raise
            if prepare is not None:
                prepare()
            if kill_after is None and tmpfs_kb is not None:
                # the command in a grandchild, so that a crash still lets this process list
                # the tmpfs before the namespace goes
                out_r, out_w = os.pipe()
                gpid = os.fork()
                if gpid == 0:
                    os.close(out_r)
                    os.close(write_fd)  # else a hung grandchild keeps the test's read open
                    # a hang shows its stack (on stderr) and ends before the test's timeout
                    faulthandler.dump_traceback_later(max(1.0, timeout - 10), exit=True)
                    code, output = invoke(args)
                    os.write(out_w, json.dumps([code, output]).encode())
                    os._exit(0)
                os.close(out_w)
                data = b""
                while chunk := os.read(out_r, 1 << 16):
                    data += chunk
                _, status = os.waitpid(gpid, 0)
                if os.WIFSIGNALED(status):
                    report.update(signal=os.WTERMSIG(status), output="")
                else:
                    code, output = json.loads(data)
                    report.update(exit_code=code, output=output)
            else:
                code, output = invoke(args)
                report.update(exit_code=code, output=output)
            report["files"] = files_under(watch) if watch.exists() else []
        except BaseException as exc:
            report.setdefault("output", f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            os.write(write_fd, json.dumps(report).encode())
        sys.stdout.flush()
        os._exit(0)
    os.close(write_fd)
    status = _wait(pid, kill_after, timeout)
    data = b""
    while chunk := os.read(read_fd, 1 << 16):
        data += chunk
    os.close(read_fd)
    if os.WIFSIGNALED(status):
        return Outcome(None, os.WTERMSIG(status), "", files_under(watch) if watch.exists() else [])
    report = json.loads(data or b"{}")
    return Outcome(
        report.get("exit_code"),
        report.get("signal"),
        report.get("output", ""),
        report.get("files", []),
        report.get("unavailable"),
    )


def _wait(pid: int, kill_after: float | None, timeout: float) -> int:
    start = time.monotonic()
    killed = False
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            return status
        elapsed = time.monotonic() - start
        if (kill_after is not None and elapsed >= kill_after and not killed) or elapsed > timeout:
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.005)
