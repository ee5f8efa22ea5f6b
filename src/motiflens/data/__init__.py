"""Datasets: from peaks + genome, labelled sequences or planted motifs to an HDF5 file."""

from motiflens.data.hdf5 import DatasetWriter, SequenceDataset, dataset_info, write_dataset
from motiflens.data.splits import split_by_chromosome, split_random

__all__ = [
    "DatasetWriter",
    "SequenceDataset",
    "dataset_info",
    "split_by_chromosome",
    "split_random",
    "write_dataset",
]
