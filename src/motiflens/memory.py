"""glibc malloc settings for processes that allocate and free large arrays over and over."""

from __future__ import annotations

import ctypes
import sys


def mallopt(**settings: int) -> bool:
    """Set glibc malloc parameters (``trim_threshold``, ``mmap_threshold``, ``mmap_max``).

    Returns False (and changes nothing) off glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    codes = {"trim_threshold": -1, "mmap_threshold": -3, "mmap_max": -4}
    return all(libc.mallopt(codes[k], v) == 1 for k, v in settings.items())


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory instead of returning it to the kernel.

    Large tensors are otherwise unmapped when freed and re-faulted (zero-filled) every
    step: about 40% of a CPU Basset training step (bench/train_throughput.py), and a
    third of the CPU time of filter influence on the demo model (page faults: 3.3 s ->
    2.0 s). Resident memory then stays at its peak. For processes that compute and end
    (training, the command line's verbs other than ``serve``); a no-op (False) off glibc.
    """
    return mallopt(mmap_max=0, trim_threshold=2**31 - 1)
