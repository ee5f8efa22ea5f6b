"""motiflens: deep learning on regulatory DNA, and a clear view of what the model learned.

One import for a notebook: ``motiflens.load(run)`` gives a trained model with its target
names, ``motiflens.Run`` the run directory, and the compute API (``predict``,
``saturation_mutagenesis``, ``attribute``, ``temporal_scores``, ...) takes that model and
sequences (strings or one-hot). Run-level jobs that write into a run are in
:mod:`motiflens.steps`. Names are imported on first use, so that ``import motiflens`` (and
the command line) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from motiflens.version import __version__

_EXPORTS = {
    "InputError": "motiflens.errors",
    "Run": "motiflens.runs",
    "load": "motiflens.runs",
    "RunConfig": "motiflens.config",
    "SequenceDataset": "motiflens.data.hdf5",
    "dataset_info": "motiflens.data.hdf5",
    "read_split": "motiflens.data.hdf5",
    "decode": "motiflens.sequence.onehot",
    "one_hot": "motiflens.sequence.onehot",
    "reverse_complement": "motiflens.sequence.onehot",
    "predict_array": "motiflens.prediction",
    "kmer_baseline": "motiflens.baseline",
    "as_onehot": "motiflens.explain",
    "saturation_mutagenesis": "motiflens.explain",
    "attribute": "motiflens.explain",
    "temporal_scores": "motiflens.explain",
    "optimize_class": "motiflens.explain",
    "analyze_filters": "motiflens.explain",
    "insert_motifs": "motiflens.explain",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'motiflens' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
