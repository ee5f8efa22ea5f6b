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
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

__all__ = ["DEFAULT_QUEUE", "DEFAULT_WORKERS", "Busy", "WorkPool"]

T = TypeVar("T")

#: Heavy computations run at once by default. The explorer holds the model's lock for the
#: model calls, so a second worker only overlaps the rest (parsing, matching, JSON).
DEFAULT_WORKERS = 2
#: Requests that may wait for a worker by default; more get 503.
DEFAULT_QUEUE = 8


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

    Attributes
    ----------
    pending
        Requests running or waiting now.
    peak
        The most requests ever running at once (for tests and monitoring).
    """

    def __init__(self, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0, not {workers} and {queue}")
        self.workers = workers
        self.queue = queue
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
