"""Stored per-sequence results, whatever analysis made them, as the dashboard shows them.

Every analysis that keeps arrays per sequence (ISM, attributions, temporal scores, ...)
stores them in the one convention of :mod:`motiflens.results`, and the run lists them
(:meth:`motiflens.runs.Run.results`). This module knows no analysis: it sends each
array of one sequence and one target with its axes, and the page draws it by its axes
(``(base, position)`` a heat map or an attribution bar chart, ``(position,)`` and
``(step,)`` a line, ``()`` a number).

A result is named by its file's path relative to the run directory (its ``id``); only
files the run lists are ever opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motiflens.errors import InputError
from motiflens.results import ONEHOT, POSITIONS, StoredResult, read_sequence
from motiflens.runs import Run, as_run
from motiflens.sequence.onehot import decode

__all__ = ["MAX_NAMES", "report_results", "result_entry", "result_sequence", "results_list"]

#: Sequence names listed per result file at most (any other is reachable by its index).
MAX_NAMES = 5000
#: Significant digits sent per array (relative to its largest value).
DIGITS = 6


def _stored(run: Run) -> list[tuple[str, StoredResult]]:
    """``(analysis, result)`` for every stored result file of the run."""
    results = run.results()
    found = []
    for analysis in run.analyses():
        folder = run.analysis_dir(analysis, create=False).resolve()
        found += [(analysis, r) for r in results if r.path.resolve().is_relative_to(folder)]
    return found


def result_entry(run: Run, analysis: str, info: StoredResult) -> dict[str, Any]:
    """What the result list says of one file (JSON-able)."""
    return {
        "id": run.relative(info.path),
        "analysis": analysis,
        "file": info.path.name,
        "kind": info.kind,
        "n": len(info.names),
        "names": info.names[:MAX_NAMES],
        "targets": info.target_labels,
        "arrays": {name: list(axes) for name, axes in info.arrays.items()},
        "params": info.params,
        "has_onehot": info.has_onehot,
    }


def results_list(run: Run | str | Path) -> dict[str, Any]:
    """Every stored result of the run: ``{"results": [entry, ...]}`` (see :func:`result_entry`).

    A run whose results cannot be read gets ``{"results": [], "error": message}``.
    """
    run = as_run(run)
    try:
        return {"results": [result_entry(run, a, r) for a, r in _stored(run)]}
    except (InputError, OSError, KeyError, ValueError) as err:
        return {"results": [], "error": f"cannot read the stored results: {err}"}


def _find(run: Run, result_id: str) -> tuple[str, StoredResult]:
    for analysis, info in _stored(run):
        if run.relative(info.path) == result_id:
            return analysis, info
    raise KeyError(result_id)


def _pick(value: str | int | None, names: Sequence[str], what: str) -> int:
    """A name, or else a 0-based index, -> index (``None`` -> 0)."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value in names:
        return list(names).index(value)
    text = str(value).strip()
    if text.isdigit() and int(text) < len(names):
        return int(text)
    raise InputError(
        f"no {what} {value!r} in this result ({len(names)} stored)",
        hint=f"give a {what} name or a 0-based index below {len(names)}",
    )


def _rounded(values: np.ndarray) -> Any:
    """``values`` rounded to :data:`DIGITS` significant digits of its largest entry."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    decimals = DIGITS - 1 - int(np.floor(np.log10(top))) if top > 0 else DIGITS
    rounded = np.round(values, max(decimals, 0))
    return rounded.item() if rounded.ndim == 0 else rounded.tolist()


def result_sequence(
    run: Run | str | Path,
    result_id: str,
    sequence: str | int | None = None,
    target: str | int | None = None,
) -> dict[str, Any]:
    """Every array of one stored sequence and one target, with the axes left to draw.

    Parameters
    ----------
    run
        The run.
    result_id
        The result file's path relative to the run (``id`` of :func:`results_list`).
    sequence, target
        A name, or else a 0-based index; default the first.

    Returns
    -------
    dict
        ``id``, ``analysis``, ``kind``, ``params``, ``sequence`` (its name), ``index``,
        ``n``, ``target`` and ``target_index`` (``None`` when the file has no target
        axis), ``bases`` (the stored sequence as letters, else ``None``), ``positions``
        (0-based positions of a windowed position axis, else ``None``) and ``arrays``:
        name -> ``{"axes": [...], "values": nested lists}`` with the sequence and target
        axes removed.

    Raises
    ------
    KeyError
        The run lists no result of that id.
    InputError
        No such sequence or target in it.
    """
    run = as_run(run)
    analysis, info = _find(run, result_id)
    i = _pick(sequence, info.names, "sequence")
    k = _pick(target, info.target_labels, "target") if info.target_labels else None
    values = read_sequence(info.path, i, target=k)
    onehot = values.pop(ONEHOT, None)
    positions = values.pop(POSITIONS, None)
    arrays = {}
    for name, axes in info.arrays.items():
        left = [a for a in axes[1:] if not (a == "target" and k is not None)]
        arrays[name] = {"axes": left, "values": _rounded(values[name])}
    return {
        "id": result_id,
        "analysis": analysis,
        "kind": info.kind,
        "params": info.params,
        "sequence": info.names[i],
        "index": i,
        "n": len(info.names),
        "target": info.target_labels[k] if k is not None else None,
        "target_index": k,
        "bases": str(decode(onehot)) if onehot is not None else None,
        "positions": positions.tolist() if positions is not None else None,
        "arrays": arrays,
    }


def report_results(
    run: Run | str | Path, *, sequences: int = 3, targets: Sequence[str] | None = None
) -> dict[str, Any]:
    """The stored results for the report: the first ``sequences`` of each file, each target.

    Parameters
    ----------
    sequences
        Stored sequences per result file included (the first ones).
    targets
        Target names included where a file has them (default: every target).

    Returns
    -------
    dict
        ``{"results": [entry, ...], "data": {id: {index: {target: view}}}}``: each entry
        lists only the included sequences and targets; a view is what
        :func:`result_sequence` returns (target key ``""`` for a file without targets).
    """
    run = as_run(run)
    listed = results_list(run)
    data: dict[str, Any] = {}
    for entry in listed["results"]:
        entry["names"] = entry["names"][:sequences]
        # A file none of whose targets was chosen still shows its first one.
        keep = [t for t in entry["targets"] if targets is None or t in targets]
        keep = keep or entry["targets"][:1]
        entry["targets"] = keep
        views: dict[str, Any] = {}
        for i in range(len(entry["names"])):
            views[str(i)] = {
                t: result_sequence(run, entry["id"], i, t or None) for t in keep or [""]
            }
        data[entry["id"]] = views
    return {**listed, "data": data}
