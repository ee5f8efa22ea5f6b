"""A bounded pool for the dashboard's heavy requests (explain, predict, curves).

FastAPI runs blocking work in AnyIO's shared thread pool, 40 threads by default. The
explorer serialises the model behind one lock, so 16 concurrent explain requests meant
16 threads parked on that lock, each with its own request in memory, its own malloc
arena and its own OpenMP team once it reached torch: the server's memory grew with the
number of requests in flight, not with the work done. Measured with a 300 bp Basset
(3 x 64 filters, 20 targets; a uvicorn server, 2 CPU cores): 421 -> 805 MB over 500
explain requests at 16 concurrent, 37 threads; the same requests one at a time stay at
450 MB (no leak: tracemalloc finds 0.1 MB more Python objects after 200 requests); with
this pool (2 workers) 421 -> 470 MB and 9 threads, at the same throughput (the model
runs one request at a time either way).

At most ``workers`` computations run at once, in their own threads; up to ``queue``
more wait for a turn; any further request is refused at once with 503 and a
``Retry-After`` estimated from recent durations. The pool serves one event loop (the
server's).

Threads per computation
-----------------------
Each computation runs with ``threads`` torch (OpenMP) threads, by default the CPU cores
shared out among the workers (:func:`threads_per_worker`): torch's default is one
thread per core *per calling thread*, so two workers on two cores ran four OpenMP
threads whose spinning idle teams fought over the cores. Measured on the demo model
(Basset, 200 bp, 5 targets; 2 shared cores under load): one explain took 0.97 s with
2 torch threads against 0.22 s with 1, ISM alone 0.63 s against 0.18 s. The explorer
gives each worker its own copy of the model (:class:`~motiflens.dashboard.explorer.
Explorer`), so the workers compute side by side instead of queueing on one lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from motiflens.cores import cpu_cores

__all__ = [
    "DEFAULT_QUEUE",
    "DEFAULT_WORKERS",
    "Busy",
    "WorkPool",
    "cpu_cores",
    "threads_per_worker",
]

T = TypeVar("T")

#: Heavy computations run at once by default, each on its own copy of the model.
DEFAULT_WORKERS = 2
#: Requests that may wait for a worker by default; more get 503.
DEFAULT_QUEUE = 8


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` computations running at once: the cores
    shared out, at least one each."""
    return max(1, cpu_cores() // max(1, workers))


class Busy(Exception):
    """Every worker is busy and the queue is full.

    Attributes
    ----------
    retry_after
        Seconds after which a retry is likely to be taken (for ``Retry-After``).
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class WorkPool:
    """Run blocking functions in at most ``workers`` threads, with at most ``queue`` waiting.

    Parameters
    ----------
    workers
        Computations run at once (at least 1).
    queue
        Requests that may wait for a worker (0: refuse whenever all workers are busy).
    threads
        Torch threads each computation runs with (default :func:`threads_per_worker`).

    Attributes
    ----------
    pending
        Requests running or waiting now.
    peak
        The most requests ever running at once (for tests and monitoring).
    """

    def __init__(
        self, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE, threads: int | None = None
    ) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0, not {workers} and {queue}")
        self.workers = workers
        self.queue = queue
        self.threads = threads if threads is not None else threads_per_worker(workers)
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, not {self.threads}")
        self.pending = 0
        self.running = 0
        self.peak = 0
        # Mean seconds per computation, updated as they finish (a start guess of 1 s).
        self._mean_seconds = 1.0
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()

    def retry_after(self) -> int:
        """Seconds until the queue has likely moved on by one place."""
        return max(1, math.ceil(self._mean_seconds * self.pending / self.workers))

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread once one is free.

        Raises
        ------
        Busy
            ``workers + queue`` requests are already running or waiting.
        """
        if self.pending >= self.workers + self.queue:
            raise Busy(self.retry_after())
        if self._limiter is None:  # made in the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.workers)
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(self._timed, fn, limiter=self._limiter)
        finally:
            self.pending -= 1

    def _timed(self, fn: Callable[[], T]) -> T:
        import torch  # here, not at import: the CLI imports this module for its defaults

        # Per thread, every time: OpenMP keeps the count in the calling thread's state,
        # and torch.get_num_threads() in a new thread reports the process-wide count, not
        # the all-cores default that thread's products would use.
        torch.set_num_threads(self.threads)
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        began = time.perf_counter()
        try:
            return fn()
        finally:
            seconds = time.perf_counter() - began
            with self._lock:
                self.running -= 1
                self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * seconds
