"""Activations of the first-layer filters: statistics and activating sites (Basset).

Basset's ``basset_motifs.py`` (reference §1.6): a filter's PWM is built from every window
of the filter's width whose activation (after the first ReLU, before pooling) exceeds
``mean + 0.5 * (max - mean)`` over all sequences and positions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.errors import InputError
from motiflens.explain.inputs import SequenceInput, as_onehot
from motiflens.models.layers import FirstConvModel
from motiflens.models.registry import prepared_model
from motiflens.motifs.pwm import counts_to_probs
from motiflens.progress import tqdm

__all__ = ["FilterStats", "filter_means", "filter_stats", "first_conv_model"]


def first_conv_model(model: nn.Module) -> FirstConvModel:
    """``model`` itself when its first layer is a convolution whose output can be edited.

    Raises
    ------
    InputError
        For models without a first convolution (the DeMo RNN reads one-hot input with
        an LSTM directly: it has no filters).
    """
    if not isinstance(model, FirstConvModel):
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        raise InputError(
            f"the {name!r} model's first layer is not a convolution, so it has no filters "
            "to turn into motifs",
            hint="filters, influence and filter tracks need a basset, cnn or cnn-rnn model",
        )
    return model


@dataclass(frozen=True)
class FilterStats:
    """Activation statistics and activating-site base counts of the first-layer filters.

    Attributes
    ----------
    counts
        ``(F, 4, width)`` summed one-hot of every activating window (an unknown base adds
        0.25 to each of the four), no pseudocount.
    sites
        ``(F,)`` number of activating windows.
    mean, std, max
        ``(F,)`` activation statistics over all sequences and positions.
    threshold
        ``(F,)`` the activation a window had to exceed.
    n_sequences
        Sequences analysed.
    background
        ``(4,)`` base frequencies of the analysed sequences (pseudocount 1 per base), the
        background Basset wrote into its filter MEME file.
    """

    counts: np.ndarray
    sites: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    max: np.ndarray
    threshold: np.ndarray
    n_sequences: int
    background: np.ndarray

    @property
    def width(self) -> int:
        return self.counts.shape[-1]

    def pwms(self, pseudocount: float = 1.0) -> np.ndarray:
        """``(F, 4, width)`` probabilities: ``(counts + pseudocount) / (sites + 4 pseudocount)``.

        Basset's ``make_filter_pwm`` with its pseudocount of 1 per base and position.
        """
        return np.stack([counts_to_probs(c, pseudocount) for c in self.counts])


def _batches(
    X: np.ndarray, batch_size: int, device: torch.device, desc: str, verbose: bool
) -> Iterator[torch.Tensor]:
    for start in tqdm(
        range(0, len(X), batch_size), desc=desc, unit="batch", disable=not verbose, leave=False
    ):
        yield torch.as_tensor(X[start : start + batch_size], dtype=torch.float32, device=device)


def filter_stats(
    model: nn.Module,
    X: SequenceInput,
    *,
    threshold: float = 0.5,
    batch_size: int = 100,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> FilterStats:
    """Activation statistics and activating sites of every first-layer filter.

    Parameters
    ----------
    model
        A model with a first convolution (:func:`first_conv_model`).
    X
        ``(N, 4, L)`` one-hot sequences or DNA strings (Basset analyses 1000 test
        sequences).
    threshold
        A window activates filter ``f`` when its activation exceeds
        ``mean_f + threshold * (max_f - mean_f)`` (Basset's ``-a``, default 0.5).
    batch_size
        Sequences per forward pass.
    device
        Where to compute; default where the model is.
    verbose
        Show progress bars. Default is False.

    Returns
    -------
    FilterStats
        With "same" padding, windows that would reach into the padding are skipped (as
        Basset does), so every site is a real k-mer of the sequence. A filter that never
        activates has ``max == 0`` and no sites.
    """
    model = first_conv_model(model)
    X = as_onehot(X)
    if len(X) == 0:
        raise InputError("no sequences to analyse")
    conv = model.conv1
    n_filters, _, width = conv.weight.shape
    left, right = model.conv1_padding
    length = X.shape[-1]
    with torch.no_grad(), prepared_model(model, device) as dev:
        total = torch.zeros(n_filters, dtype=torch.float64, device=dev)
        total_sq = torch.zeros_like(total)
        peak = torch.zeros_like(total)
        positions = 0
        for x in _batches(X, batch_size, dev, "filter statistics", verbose):
            a = model.first_activation(x).double()
            total += a.sum(dim=(0, 2))
            total_sq += (a * a).sum(dim=(0, 2))
            peak = torch.maximum(peak, a.amax(dim=(0, 2)))
            positions += a.shape[0] * a.shape[2]
        mean = total / positions
        std = (total_sq / positions - mean * mean).clamp_min(0).sqrt()
        cut = mean + threshold * (peak - mean)

        counts = torch.zeros(n_filters, 4, width, dtype=torch.float64, device=dev)
        sites = torch.zeros(n_filters, dtype=torch.float64, device=dev)
        # Window j of the padded input covers padded columns j .. j+width-1; keep those
        # inside the real sequence, i.e. left <= j <= left + length - width.
        first, last = left, left + length - width
        for x in _batches(X, batch_size, dev, "filter sites", verbose):
            a = model.first_activation(x)
            hit = (a > cut.to(a.dtype)[None, :, None]) & (peak[None, :, None] > 0)
            hit = hit[:, :, first : last + 1].to(x.dtype)
            windows = F.pad(x, (left, right)).unfold(2, width, 1)[:, :, first : last + 1]
            counts += torch.einsum("bfl,bclw->fcw", hit, windows).double()
            sites += hit.sum(dim=(0, 2)).double()
    return FilterStats(
        counts=counts.cpu().numpy(),
        sites=sites.cpu().numpy().round().astype(np.int64),
        mean=mean.cpu().numpy(),
        std=std.cpu().numpy(),
        max=peak.cpu().numpy(),
        threshold=cut.cpu().numpy(),
        n_sequences=len(X),
        background=(X.sum(axis=(0, 2), dtype=np.float64) + 1) / (X.shape[0] * X.shape[2] + 4),
    )


def filter_means(
    model: nn.Module,
    X: SequenceInput,
    *,
    batch_size: int = 100,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """``(F,)`` each filter's mean first-layer activation over all sequences and positions."""
    return filter_stats(model, X, batch_size=batch_size, device=device).mean
