"""Progress bars that suit where the output goes: a bar on a terminal, plain lines in a log.

On a terminal, :class:`tqdm` is tqdm (``tqdm.auto``: the widget in a notebook). Where the
bar's stream is not a terminal (``nohup``, SLURM, a pipe, a file) tqdm would write a
carriage-return frame ten times a second, which a log keeps as one endless line or as
thousands of lines. There :class:`tqdm` writes one plain line each time the loop passes
another :data:`LINE_EVERY_PERCENT` percent (one line a :data:`LINE_EVERY_SECONDS`
when the total is unknown), and one at the end::

    ISM:   0% 0/2000 [00:00<?, ?seq/s]
    ISM:   5% 100/2000 [00:12<03:48, 8.33seq/s]
    ...
    ISM: 100% 2000/2000 [04:01<00:00, 8.30seq/s]

Swap ``from tqdm.auto import tqdm`` for ``from motiflens.progress import tqdm``; every
argument and method stays the same.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from tqdm.auto import tqdm as _auto_tqdm

#: Without a terminal, a line each time the loop passes another this many percent.
LINE_EVERY_PERCENT = 5
#: Without a terminal and without a known total, a line at most this often.
LINE_EVERY_SECONDS = 60.0

# tqdm.auto is the notebook widget inside Jupyter (whose streams are no terminal either,
# yet show a bar well) and the plain terminal bar elsewhere.
IN_NOTEBOOK = any(cls.__module__ == "tqdm.notebook" for cls in _auto_tqdm.__mro__)


def interactive(stream: IO[str] | None = None) -> bool:
    """True when a progress bar drawn on ``stream`` (default stdout) is seen as one.

    That is on a terminal, or in a notebook; not in a log file, a pipe or a batch job.
    """
    if IN_NOTEBOOK:
        return True
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class tqdm(_auto_tqdm):
    """:class:`tqdm.auto.tqdm` on a terminal; plain lines every few percent elsewhere.

    Takes every argument tqdm takes. The stream is ``file`` (default stderr, as tqdm).
    """

    _plain = False  # set before tqdm's __init__ draws for the first time
    # No monitor thread (it only lowers miniters of bars that stall): a process with a
    # second Python thread is one that modisco-lite will not fork in, so its kernels
    # would compile on every run instead of once into numba's cache.
    monitor_interval = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        stream = kwargs.get("file", args[4] if len(args) > 4 else None)
        self._plain = not interactive(sys.stderr if stream is None else stream)
        self._last_bucket = -1
        self._last_line_t = -float("inf")
        self._last_line_n: float | None = None
        super().__init__(*args, **kwargs)

    def _line(self) -> None:
        """Write the bar's current state as one plain line."""
        state = dict(self.format_dict)
        state["ncols"] = 0  # the figures without the bar itself
        self.fp.write(self.format_meter(**state) + "\n")
        self.fp.flush()
        self._last_line_t = time.monotonic()
        self._last_line_n = self.n

    def display(self, msg: str | None = None, pos: int | None = None, **kwargs: Any) -> bool:
        if not self._plain:  # the notebook's display takes more keywords
            return super().display(msg, pos, **kwargs)
        if msg is not None:  # a request to clear the bar: nothing to clear in a log
            return False
        if self.total:
            bucket = int(100 * self.n / self.total) // LINE_EVERY_PERCENT
            if bucket <= self._last_bucket:
                return False
            self._last_bucket = bucket
        elif time.monotonic() - self._last_line_t < LINE_EVERY_SECONDS:
            return False
        self._line()
        return True

    def clear(self, nolock: bool = False) -> None:
        if not self._plain:
            super().clear(nolock)
        # a line in a log is not erased (tqdm.write calls this around its message)

    def close(self) -> None:
        if not self._plain or getattr(self, "disable", True):
            super().close()
            return
        shown = getattr(self, "last_print_t", self.start_t) >= self.start_t + self.delay
        # The last line even with leave=False: a log whose bar stops at 40% reads as a
        # crash; there is no bar to take away.
        if shown and self._last_line_n != self.n:
            self._ema_dt = lambda: None  # the overall rate, as tqdm's own last frame
            self._line()
        self.leave = False  # tqdm's close then only "clears", which draws nothing here
        super().close()
