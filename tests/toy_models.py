"""One zoo of tiny models and sequence helpers shared by every test folder.

Modelled on tangermeme's ``tests/toy_models.py``: small models whose outputs can be worked
out by hand (``LinearToy``: the logit is a dot product, so its gradient is its weight) and
small random instances of every registered architecture (``toy_model(name)``) with
non-trivial batch-norm statistics, so that folding and fast paths are really exercised.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from motiflens.config import ModelConfig
from motiflens.models import SequenceModel, build_model

# Small architectures of every registered model, sized for 60 bp inputs.
TOY_ARCHS: dict[str, dict] = {
    "basset": {
        "filters": [12, 8, 8],
        "sizes": [5, 4, 3],
        "pools": [2, 2, 2],
        "hidden": [10],
        "padding": "same",
    },
    "cnn": {"filters": [8, 6], "sizes": [5, 3], "pools": [2, 2]},
    "rnn": {"hidden": 6},
    "cnn-rnn": {"filters": 8, "size": 5, "hidden": 6},
}


def random_sequences(n: int, length: int, random_state: int = 0) -> list[str]:
    """``n`` uniform random ACGT strings of ``length`` bases."""
    rng = np.random.default_rng(random_state)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def random_onehot(
    n: int, length: int, random_state: int | np.random.Generator = 0, unknown: int = 0
) -> np.ndarray:
    """``(n, 4, length)`` float32 one-hot of uniform random bases.

    ``unknown`` positions of the first sequence (spread evenly) are N: 0.25 in every channel.
    """
    rng = np.random.default_rng(random_state)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()
    if unknown and n:
        for p in np.linspace(0, length - 1, unknown).astype(int):
            X[0, :, p] = 0.25
    return X


def onehot(seq: str) -> np.ndarray:
    """A reference one-hot ``(4, L)`` written independently of motiflens' encoder."""
    out = np.full((4, len(seq)), 0.25, dtype=np.float32)
    for i, base in enumerate(seq.upper()):
        if base in "ACGT":
            out[:, i] = 0.0
            out["ACGT".index(base), i] = 1.0
    return out


def toy_model(
    name: str,
    *,
    length: int = 60,
    n_targets: int = 3,
    random_state: int = 0,
    arch: dict | None = None,
) -> SequenceModel:
    """A small random model of a registered architecture, eval mode, on the CPU.

    Batch-norm layers get random running statistics and affine weights, so that any code
    that folds or skips them is tested against non-trivial values.
    """
    torch.manual_seed(random_state)
    config = ModelConfig.from_dict(
        {
            "name": name,
            "n_targets": n_targets,
            "length": length,
            "arch": TOY_ARCHS.get(name, {}) if arch is None else arch,
        }
    )
    model = build_model(config)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    return model.eval()


class LinearToy(nn.Module):
    """``logit_t = sum(W_t * x) + b_t``: its gradient with respect to the input is ``W_t``."""

    def __init__(self, length: int, n_targets: int = 2, random_state: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(random_state)
        self.weight = nn.Parameter(torch.randn(n_targets, 4, length, generator=gen))
        self.bias = nn.Parameter(torch.randn(n_targets, generator=gen))
        self.target_labels = [f"target_{i}" for i in range(n_targets)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nal,tal->nt", x, self.weight) + self.bias
