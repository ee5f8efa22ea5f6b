"""motiflens: deep learning on regulatory DNA, and a clear view of what the model learned."""

from motiflens.data.hdf5 import SequenceDataset, dataset_info, read_split
from motiflens.errors import InputError
from motiflens.runs import load
from motiflens.sequence.onehot import decode, one_hot, reverse_complement

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "SequenceDataset",
    "__version__",
    "dataset_info",
    "decode",
    "load",
    "one_hot",
    "read_split",
    "reverse_complement",
]
