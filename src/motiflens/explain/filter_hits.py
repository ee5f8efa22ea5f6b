"""Where each first-layer filter fires: the activating sites one by one.

:func:`~motiflens.explain.filter_activations.filter_stats` sums the activating windows
into PWMs; this lists them (sequence, position, activation) with the same threshold and
the same rule for windows near the ends, so a genome track of the sites shows exactly the
windows a filter's PWM was built from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from motiflens.explain.filter_activations import FilterStats, first_conv_model
from motiflens.explain.inputs import SequenceInput, as_onehot
from motiflens.models.registry import prepared_model
from motiflens.progress import tqdm

__all__ = ["filter_hits"]


def filter_hits(
    model: nn.Module,
    X: SequenceInput,
    stats: FilterStats,
    *,
    batch_size: int = 100,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> pd.DataFrame:
    """Every window whose activation exceeds its filter's threshold.

    Parameters
    ----------
    model
        A model with a first convolution.
    X
        ``(N, 4, L)`` one-hot sequences or DNA strings.
    stats
        The filters' statistics (:func:`~motiflens.explain.filter_activations.filter_stats`
        of the same model); ``stats.threshold`` is the cut, and a filter that never
        activates (``stats.max <= 0``) has no sites.
    batch_size, device, verbose
        Computation settings.

    Returns
    -------
    pandas.DataFrame
        Columns ``sequence`` (row of ``X``), ``filter``, ``position`` (0-based first base
        of the window in the sequence) and ``activation``, ordered by sequence, position,
        filter. Windows that would reach into the "same" padding are left out, as in
        :func:`~motiflens.explain.filter_activations.filter_stats`.
    """
    model = first_conv_model(model)
    X = as_onehot(X)
    width = model.conv1.weight.shape[-1]
    left, _ = model.conv1_padding
    first, last = left, left + X.shape[-1] - width
    parts = []
    with torch.no_grad(), prepared_model(model, device) as dev:
        cut = torch.as_tensor(stats.threshold, device=dev)
        live = torch.as_tensor(stats.max > 0, device=dev)
        for lo in tqdm(
            range(0, len(X), batch_size), desc="filter hits", disable=not verbose, leave=False
        ):
            x = torch.as_tensor(X[lo : lo + batch_size], dtype=torch.float32, device=dev)
            a = model.first_activation(x)[:, :, first : last + 1]
            hit = (a > cut.to(a.dtype)[None, :, None]) & live[None, :, None]
            seq, filt, pos = (t.cpu().numpy() for t in torch.nonzero(hit, as_tuple=True))
            parts.append(
                pd.DataFrame(
                    {
                        "sequence": seq + lo,
                        "filter": filt,
                        "position": pos,
                        "activation": a[hit].double().cpu().numpy(),
                    }
                )
            )
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if table.empty:
        return pd.DataFrame(
            {
                "sequence": np.zeros(0, np.int64),
                "filter": np.zeros(0, np.int64),
                "position": np.zeros(0, np.int64),
                "activation": np.zeros(0),
            }
        )
    table = table.astype({"sequence": np.int64, "filter": np.int64, "position": np.int64})
    return table.sort_values(["sequence", "position", "filter"], ignore_index=True)
