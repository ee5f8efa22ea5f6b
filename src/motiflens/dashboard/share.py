"""What a run shows to others: its paths relative to the run, no author's directories.

The manifest records each step's full command line (``sys.argv``) and the files it read
as they were given, often absolute (``/home/alice/project/data/k562.h5``). The run
directory on disk keeps them (``motiflens`` itself reads the dataset path back); what
the dashboard serves and what the report embeds goes through :func:`shareable`:

- a path inside the run directory becomes relative to it (``metrics/test.tsv``);
- the run directory itself becomes its name;
- any other absolute path (``/...`` or ``~/...``) becomes its file name;
- a command keeps its verb and options: the program becomes its name
  (``/opt/venv/bin/motiflens`` -> ``motiflens``) and its paths are rewritten as above.

A path that holds a space was already split by the manifest's ``" ".join(sys.argv)``:
its first part is rewritten, the rest stays as the words it became.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from motiflens.runs import Run, as_run

__all__ = ["shareable", "shareable_command", "shareable_path", "shareable_text"]

# An absolute POSIX path or a ~/ path, not part of a URL, a relative path or a word
# (the character before it is none of those that would make it so).
_ABSOLUTE = re.compile(r"(?<![\w.:/\\<>~-])(?:~/|/)[^\s'\"`,;()<>\[\]{}]*")


def _roots(run: Run) -> list[Path]:
    """The run directory as given, made absolute and with links resolved."""
    roots = [Path(os.path.abspath(run.path))]
    try:
        resolved = run.path.resolve()
    except (OSError, RuntimeError):
        return roots
    return roots if resolved in roots else [*roots, resolved]


def shareable_path(path: str, run: Run | str | Path) -> str:
    """One absolute path as others may see it (see the module docstring).

    Examples
    --------
    >>> shareable_path("/home/a/runs/k562/metrics/test.tsv", "/home/a/runs/k562")
    'metrics/test.tsv'
    >>> shareable_path("/home/a/data/k562.h5", "/home/a/runs/k562")
    'k562.h5'
    """
    run = as_run(run)
    trail = "/" if path.endswith("/") and len(path) > 1 else ""
    candidate = Path(os.path.normpath(os.path.expanduser(path)))
    for root in _roots(run):
        try:
            inside = candidate.relative_to(root)
        except ValueError:
            continue
        return root.name if str(inside) == "." else str(PurePosixPath(inside)) + trail
    return PurePosixPath(path.rstrip("/")).name + trail if path.strip("/~") else path


def shareable_text(text: str, run: Run | str | Path) -> str:
    """``text`` with every absolute path in it rewritten by :func:`shareable_path`."""
    run = as_run(run)
    return _ABSOLUTE.sub(lambda m: shareable_path(m.group(), run), text)


def shareable_command(command: str, run: Run | str | Path) -> str:
    """A recorded command line reduced to program name, verb and options, paths rewritten.

    Examples
    --------
    >>> shareable_command("/opt/venv/bin/motiflens test /home/a/runs/k562 --data /d/x.h5",
    ...                   "/home/a/runs/k562")
    'motiflens test k562 --data x.h5'
    """
    program, _, rest = command.strip().partition(" ")
    if "/" in program:
        program = PurePosixPath(program).name
    return shareable_text(f"{program} {rest}".strip(), run)


def shareable(value: Any, run: Run | str | Path) -> Any:
    """A JSON-able value with every string made shareable (``command`` entries by
    :func:`shareable_command`, every other string by :func:`shareable_text`)."""
    run = as_run(run)

    def walk(v: Any, key: str | None = None) -> Any:
        if isinstance(v, dict):
            return {k: walk(x, str(k)) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return shareable_command(v, run) if key == "command" else shareable_text(v, run)
        return v

    return walk(value)
