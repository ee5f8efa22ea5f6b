"""Tiny inputs for the fault suite: a simulated dataset, a one-epoch run, FASTA, MEME."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiflens.config import RunConfig
from motiflens.data.simulate import simulate
from motiflens.steps import train

# 8 filters of width 9, one dense layer of 8: trains an epoch on 300 sequences in ~1 s
TINY_CONFIG = {
    "model": {
        "name": "basset",
        "arch": {"filters": [8], "sizes": [9], "pools": [4], "hidden": [8], "batch_norm": False},
    },
    "training": {"max_epochs": 1, "batch_size": 64, "patience": 1, "seed": 1},
}
TINY_YAML = (
    "model:\n  name: basset\n  arch: {filters: [8], sizes: [9], pools: [4], hidden: [8], "
    "batch_norm: false}\ntraining: {max_epochs: 1, batch_size: 64, patience: 1, seed: 1}\n"
)
LENGTH = 100

MEME = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.25 C 0.25 G 0.25 T 0.25

MOTIF M1 one
letter-probability matrix: alength= 4 w= 3 nsites= 10 E= 0
1.0 0.0 0.0 0.0
0.0 1.0 0.0 0.0
0.0 0.0 1.0 0.0
"""


def tiny_dataset(path: Path, n: int = 300) -> Path:
    simulate(path, n_sequences=n, length=LENGTH, seed=1, progress=False)
    return path


def tiny_run(dataset: Path, run_dir: Path) -> Path:
    # on the CPU: a CUDA context in this process could not be used by the forked children
    train(dataset, run_dir, RunConfig.from_dict(TINY_CONFIG), accelerator="cpu", verbose=False)
    return run_dir


def random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def labelled_fasta(path: Path, n: int, length: int, seed: int = 0) -> Path:
    """``>name label`` records, labels alternating 0/1."""
    rng = np.random.default_rng(seed)
    path.write_text("".join(f">r{i} {i % 2}\n{random_dna(rng, length)}\n" for i in range(n)))
    return path


def plain_fasta(path: Path, n: int, length: int = LENGTH, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("".join(f">s{i}\n{random_dna(rng, length)}\n" for i in range(n)))
    return path


def genome(path: Path, seed: int = 3) -> dict[str, str]:
    """A three-chromosome genome of 3 kb each; returns the sequences."""
    rng = np.random.default_rng(seed)
    chroms = {name: random_dna(rng, 3000) for name in ("chr1", "chr2", "chr8")}
    with open(path, "w") as fh:
        for name, seq in chroms.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    return chroms
