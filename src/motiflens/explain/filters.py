"""What the first-layer filters learned: PWMs from activating sites, and influence.

Basset's ``basset_motifs.py`` and ``basset_motifs_infl.py`` (reference §1.6):

- a filter's PWM is built from every window of the filter's width whose activation
  (after the first ReLU, before pooling) exceeds ``mean + 0.5 * (max - mean)`` over all
  sequences and positions;
- a filter's influence is what happens to the output when its activation is replaced, at
  every position of every sequence, by its mean activation.

Influence runs the network after layer 1 only, on the layer-1 activations computed once.
For a plain conv stack (Basset, DeMo CNN) it goes further: nullifying filter ``f``
changes layer 2's input in one channel, so layer 2's pre-activation changes by a
one-channel convolution (conv and eval-mode batch norm are affine), and only layers 3 and
up run per filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from motiflens.errors import InputError
from motiflens.files import atomic_path
from motiflens.models.layers import ConvBlock, FirstConvModel
from motiflens.models.registry import prepared_model
from motiflens.motifs.compare import tomtom
from motiflens.motifs.meme import write_meme
from motiflens.motifs.pwm import Motif, counts_to_probs, information_content, trim
from motiflens.sequence.onehot import reverse_complement

# Activations held at once while nullifying: (filters in a chunk) x (batch) x layer size.
_CHUNK_ELEMENTS = 1 << 24


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


def _batches(X: np.ndarray, batch_size: int, device: torch.device, desc: str, progress: bool):
    for start in tqdm(
        range(0, len(X), batch_size), desc=desc, unit="batch", disable=not progress, leave=False
    ):
        yield torch.as_tensor(X[start : start + batch_size], dtype=torch.float32, device=device)


def filter_stats(
    model: nn.Module,
    X: np.ndarray,
    *,
    threshold: float = 0.5,
    batch_size: int = 100,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> FilterStats:
    """Activation statistics and activating sites of every first-layer filter.

    Parameters
    ----------
    model
        A model with a first convolution (:func:`first_conv_model`).
    X
        ``(N, 4, L)`` one-hot sequences (Basset analyses 1000 test sequences).
    threshold
        A window activates filter ``f`` when its activation exceeds
        ``mean_f + threshold * (max_f - mean_f)`` (Basset's ``-a``, default 0.5).
    batch_size
        Sequences per forward pass.
    device
        Where to compute; default where the model is.
    progress
        Show progress bars.

    Returns
    -------
    FilterStats
        With "same" padding, windows that would reach into the padding are skipped (as
        Basset does), so every site is a real k-mer of the sequence. A filter that never
        activates has ``max == 0`` and no sites.
    """
    model = first_conv_model(model)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[1] != 4 or len(X) == 0:
        raise InputError(f"expected one-hot sequences (N, 4, L), got shape {X.shape}")
    conv = model.conv1
    n_filters, _, width = conv.weight.shape
    left, right = model.conv1_padding
    length = X.shape[-1]
    with torch.no_grad(), prepared_model(model, device) as dev:
        total = torch.zeros(n_filters, dtype=torch.float64, device=dev)
        total_sq = torch.zeros_like(total)
        peak = torch.zeros_like(total)
        positions = 0
        for x in _batches(X, batch_size, dev, "filter statistics", progress):
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
        for x in _batches(X, batch_size, dev, "filter sites", progress):
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
    X: np.ndarray,
    *,
    batch_size: int = 100,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """``(F,)`` each filter's mean first-layer activation over all sequences and positions."""
    return filter_stats(model, X, batch_size=batch_size, device=device, progress=False).mean


@dataclass(frozen=True)
class FilterInfluence:
    """What nullifying each first-layer filter does to the model's output.

    Attributes
    ----------
    targets
        ``(F, T)`` target influence, Basset's definition: (mean original logit - mean
        logit with the filter nullified) / variance of the original logit, over the
        sequences. Positive: the filter raises that target's prediction.
    loss
        ``(F,)`` increase in the loss (summed over targets) per sequence, or None without
        labels.
    method
        ``"fast"`` (layer 2 updated by a one-channel convolution) or ``"rest"`` (the network
        after layer 1 rerun per filter).
    """

    targets: np.ndarray
    loss: np.ndarray | None
    method: str

    @property
    def sum_of_squares(self) -> np.ndarray:
        """``(F,)`` mean over targets of the squared target influence (the paper's measure)."""
        return np.mean(self.targets**2, axis=1)


def _fast_path_ok(model: FirstConvModel) -> bool:
    blocks = getattr(model, "conv_blocks", None)
    if blocks is None or len(blocks) < 2:
        return False
    if not all(isinstance(b, ConvBlock) for b in blocks[:2]):
        return False
    if not isinstance(blocks[1].bn, nn.Identity | nn.BatchNorm1d):
        return False
    return type(model).forward_from_block is not FirstConvModel.forward_from_block


def _bn_scale(block: ConvBlock) -> torch.Tensor | None:
    """Per-channel scale of the block's eval-mode batch norm (None without one)."""
    bn = block.bn
    if isinstance(bn, nn.Identity):
        return None
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or not bn.track_running_stats:
        raise NotImplementedError("batch norm without running statistics")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    return scale


class _Nullifier:
    """Logits of a batch with each of a chunk of filters nullified, two ways."""

    def __init__(self, model: FirstConvModel, means: torch.Tensor, method: str) -> None:
        self.model = model
        self.means = means
        self.method = method
        if method == "fast":
            block = model.conv_blocks[1]
            self.block2 = block
            self.scale = _bn_scale(block)
            self.weight2 = block.conv.weight  # (C2, F, k)

    def base(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.model.first_activation(x)
        state = {"a": a}
        if self.method == "fast":
            h1 = self.model.first_block.reduce(a)
            state["h1"] = h1
            state["z2"] = self.block2.pre_activation(h1)
            state["logits"] = self.model.forward_from_block(
                2, self.block2.reduce(self.block2.act(state["z2"]))
            )
        else:
            state["logits"] = self.model.forward_from_first_activation(a)
        return state

    def chunk_size(self, state: dict[str, torch.Tensor]) -> int:
        per_filter = state["z2"][0].numel() if self.method == "fast" else state["a"][0].numel()
        return max(1, _CHUNK_ELEMENTS // (per_filter * len(state["a"])))

    def nullified(self, state: dict[str, torch.Tensor], filters: list[int]) -> torch.Tensor:
        """``(G, B, T)`` logits with filter ``filters[g]`` nullified."""
        a = state["a"]
        B, G = a.shape[0], len(filters)
        idx = torch.as_tensor(filters, device=a.device)
        if self.method == "rest":
            edited = a.unsqueeze(0).repeat(G, 1, 1, 1)  # (G, B, F, L1)
            edited[torch.arange(G, device=a.device), :, idx, :] = self.means[idx][:, None, None]
            return self.model.forward_from_first_activation(edited.flatten(0, 1)).view(G, B, -1)
        h1, z2 = state["h1"], state["z2"]
        # Pooling a constant gives the constant, so the pooled channel becomes the mean.
        delta = self.means[idx][None, :, None] - h1[:, idx, :]  # (B, G, Lp)
        weight = self.weight2[:, idx, :].transpose(0, 1).reshape(-1, 1, self.weight2.shape[-1])
        dz = F.conv1d(self.block2.pad(delta), weight, groups=G)  # (B, G*C2, L2)
        dz = dz.view(B, G, -1, dz.shape[-1])
        if self.scale is not None:
            dz = dz * self.scale[None, None, :, None]
        z = (z2.unsqueeze(1) + dz).transpose(0, 1).flatten(0, 1)  # (G*B, C2, L2)
        h2 = self.block2.reduce(self.block2.act(z))
        return self.model.forward_from_block(2, h2).view(G, B, -1)


def _per_sequence_loss(task: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Loss summed over targets, one value per sequence (broadcasts over leading dims)."""
    if task == "binary":
        loss = F.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="none")
    elif task == "regression":
        loss = (logits - y) ** 2
    elif task == "poisson":
        loss = F.poisson_nll_loss(logits, y.expand_as(logits), log_input=True, reduction="none")
    else:
        raise ValueError(f"unknown task {task!r}")
    return loss.sum(dim=-1)


def filter_influence(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    means: np.ndarray | None = None,
    filters: list[int] | None = None,
    method: str = "auto",
    batch_size: int = 100,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> FilterInfluence:
    """Filter influence by nullification (Basset's ``basset_motifs_infl``).

    Parameters
    ----------
    model
        A model with a first convolution.
    X
        ``(N, 4, L)`` one-hot sequences.
    y
        ``(N, T)`` labels for the loss influence (optional).
    means
        ``(F,)`` the value each filter is set to; default its mean activation over ``X``
        (all sequences and positions; Basset used the batch's, with one batch of 1000).
    filters
        Filters to nullify (default all); rows of the result follow this order.
    method
        ``"fast"``, ``"rest"`` or ``"auto"`` (fast for plain conv stacks).
    batch_size
        Sequences per pass.
    device
        Where to compute.
    progress
        Show a progress bar.

    Returns
    -------
    FilterInfluence
    """
    model = first_conv_model(model)
    X = np.asarray(X, dtype=np.float32)
    n_filters = model.conv1.weight.shape[0]
    chosen = list(range(n_filters)) if filters is None else [int(f) for f in filters]
    if any(not 0 <= f < n_filters for f in chosen):
        raise InputError(f"filter indices must lie in 0..{n_filters - 1}")
    if means is None:
        means = filter_means(model, X, batch_size=batch_size, device=device)
    if method == "auto":
        method = "fast" if _fast_path_ok(model) else "rest"
    if method == "fast" and not _fast_path_ok(model):
        raise ValueError(f"{type(model).__name__}: the fast path needs a plain conv stack")
    task = model.config.task
    n = len(X)
    with torch.no_grad(), prepared_model(model, device) as dev:
        nullifier = _Nullifier(
            model, torch.as_tensor(means, dtype=torch.float32, device=dev), method
        )
        T = model.config.n_targets
        sum_orig = torch.zeros(T, dtype=torch.float64, device=dev)
        sum_orig_sq = torch.zeros_like(sum_orig)
        sum_null = torch.zeros(len(chosen), T, dtype=torch.float64, device=dev)
        loss_gain = torch.zeros(len(chosen), dtype=torch.float64, device=dev)
        bar = tqdm(total=n * len(chosen), desc="filter influence", unit="seq x filter",
                   disable=not progress, unit_scale=True)  # fmt: skip
        for start in range(0, n, batch_size):
            x = torch.as_tensor(X[start : start + batch_size], device=dev)
            state = nullifier.base(x)
            logits = state["logits"]
            sum_orig += logits.double().sum(0)
            sum_orig_sq += (logits.double() ** 2).sum(0)
            yb = (
                None
                if y is None
                else torch.as_tensor(y[start : start + batch_size], dtype=torch.float32, device=dev)
            )
            base_loss = None if yb is None else _per_sequence_loss(task, logits, yb)
            step = nullifier.chunk_size(state)
            for c in range(0, len(chosen), step):
                group = chosen[c : c + step]
                out = nullifier.nullified(state, group)  # (G, B, T)
                sum_null[c : c + len(group)] += out.double().sum(1)
                if yb is not None:
                    null_loss = _per_sequence_loss(task, out, yb)  # (G, B)
                    loss_gain[c : c + len(group)] += (null_loss - base_loss).double().sum(1)
                bar.update(len(x) * len(group))
        bar.close()
        mean_orig = sum_orig / n
        var_orig = sum_orig_sq / n - mean_orig**2
        mean_null = sum_null / n
        with np.errstate(divide="ignore", invalid="ignore"):
            targets = ((mean_orig - mean_null) / var_orig).cpu().numpy()
    targets = np.where(np.isfinite(targets), targets, 0.0)
    loss = None if y is None else (loss_gain / n).cpu().numpy()
    return FilterInfluence(targets=targets, loss=loss, method=method)


def naive_filter_influence(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    means: np.ndarray,
    filters: list[int] | None = None,
    batch_size: int = 100,
) -> FilterInfluence:
    """Reference: one full forward pass per filter with its activation replaced by a hook.

    Slow by design; for tests and ``bench/`` only.
    """
    model = first_conv_model(model)
    n_filters = model.conv1.weight.shape[0]
    chosen = list(range(n_filters)) if filters is None else list(filters)
    task = model.config.task
    X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y_t = None if y is None else torch.as_tensor(np.asarray(y, dtype=np.float32))

    def run(hook=None) -> torch.Tensor:
        handle = model.first_block.act.register_forward_hook(hook) if hook else None
        try:
            return torch.cat(
                [model(X_t[s : s + batch_size]) for s in range(0, len(X_t), batch_size)]
            )
        finally:
            if handle is not None:
                handle.remove()

    with torch.no_grad(), prepared_model(model, "cpu"):
        orig = run().double()
        rows, losses = [], []
        for f in chosen:

            def hook(_module, _inputs, output, f=f):
                output = output.clone()
                output[:, f, :] = float(means[f])
                return output

            null = run(hook).double()
            rows.append((orig.mean(0) - null.mean(0)) / orig.var(0, unbiased=False))
            if y_t is not None:
                losses.append(
                    (
                        _per_sequence_loss(task, null, y_t) - _per_sequence_loss(task, orig, y_t)
                    ).mean()
                )
    targets = torch.stack(rows).numpy()
    loss = None if y_t is None else torch.stack(losses).numpy()
    return FilterInfluence(targets=np.where(np.isfinite(targets), targets, 0.0), loss=loss,
                           method="naive")  # fmt: skip


# ------------------------------------------------------------------ motifs and the report


@dataclass
class FilterReport:
    """Everything ``motiflens filters`` computes, ready to be written or shown.

    Attributes
    ----------
    stats
        Activation statistics and site counts.
    motifs
        The PWM of every filter with enough sites (id ``filter<f>``; trimmed of
        low-information ends when asked), in filter order.
    matches
        Every TomTom match at ``q <= q_threshold`` (columns of
        :func:`motiflens.motifs.compare.tomtom` plus ``filter``).
    table
        One row per filter: ``filter, sites, consensus, ic, act_mean, act_std, match_id,
        match_name, match_q, match_offset, match_strand, influence, influence_ss``.
    influence
        Nullification influence, or None when it was not computed.
    target_labels
        Names of the model's outputs.
    database
        The motifs the filters were compared with (only those matched are kept).
    """

    stats: FilterStats
    motifs: list[Motif]
    matches: pd.DataFrame
    table: pd.DataFrame
    influence: FilterInfluence | None
    target_labels: list[str]
    database: list[Motif]


def filter_motifs(
    stats: FilterStats, *, min_sites: int = 10, trim_ic: float | None = 0.2
) -> list[Motif]:
    """PWMs of the filters with at least ``min_sites`` activating sites.

    With ``trim_ic`` the low-information ends (per-position IC below it) are cut off, as
    Basset's ``-t`` does; a filter with nothing left is dropped.
    """
    out = []
    pwms = stats.pwms()
    for f in np.flatnonzero(stats.sites >= min_sites):
        probs = pwms[f]
        if trim_ic is not None:
            start, end = trim(probs, min_ic=trim_ic)
            if end <= start:
                continue
            probs = probs[:, start:end]
        out.append(Motif(f"filter{f}", f"filter{f}", probs, nsites=int(stats.sites[f])))
    return out


def analyze_filters(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    target_labels: list[str],
    database: list[Motif] | None = None,
    q_threshold: float = 0.1,
    threshold: float = 0.5,
    min_sites: int = 10,
    trim_ic: float | None = 0.2,
    influence: bool = True,
    batch_size: int = 100,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> FilterReport:
    """Filters -> PWMs -> TomTom matches -> influence, Basset's motif analysis in one call.

    Parameters
    ----------
    model
        A model whose first layer is a convolution.
    X, y
        ``(N, 4, L)`` sequences (Basset: 1000 test sequences) and optional labels (for the
        loss influence).
    target_labels
        Names of the outputs.
    database
        Known motifs to match against (:func:`motiflens.motifs.databases.load_database`);
        None skips matching.
    q_threshold
        TomTom q-value threshold (Basset: 0.1).
    threshold
        Activation threshold fraction (see :func:`filter_stats`).
    min_sites
        Filters with fewer activating sites get no PWM and no match (reported, not matched).
    trim_ic
        Trim PWM ends below this information content before matching (None: keep all).
    influence
        Also compute nullification influence.
    batch_size, device, progress
        Computation settings.
    """
    stats = filter_stats(
        model, X, threshold=threshold, batch_size=batch_size, device=device, progress=progress
    )
    motifs = filter_motifs(stats, min_sites=min_sites, trim_ic=trim_ic)
    matches = pd.DataFrame()
    if database and motifs:
        matches = tomtom(motifs, database, thresh=q_threshold)
        matches.insert(0, "filter", [int(m[len("filter") :]) for m in matches["query_id"]])
    infl = None
    if influence:
        infl = filter_influence(
            model, X, y, means=stats.mean, batch_size=batch_size, device=device,
            progress=progress,
        )  # fmt: skip
    table = _filters_table(stats, motifs, matches, infl)
    kept = set(matches["target_id"]) if len(matches) else set()
    return FilterReport(
        stats=stats, motifs=motifs, matches=matches, table=table, influence=infl,
        target_labels=list(target_labels),
        database=[m for m in (database or []) if m.id in kept],
    )  # fmt: skip


def _filters_table(
    stats: FilterStats,
    motifs: list[Motif],
    matches: pd.DataFrame,
    infl: FilterInfluence | None,
) -> pd.DataFrame:
    by_filter = {int(m.id[len("filter") :]): m for m in motifs}
    best = (
        matches.sort_values(["filter", "q_value", "p_value"]).groupby("filter").head(1)
        if len(matches)
        else pd.DataFrame(columns=["filter"])
    ).set_index("filter")
    rows = []
    for f in range(len(stats.sites)):
        motif = by_filter.get(f)
        row = {
            "filter": f,
            "sites": int(stats.sites[f]),
            "consensus": motif.consensus() if motif else "",
            "ic": float(information_content(motif.probs).sum()) if motif else 0.0,
            "act_mean": float(stats.mean[f]),
            "act_std": float(stats.std[f]),
            "match_id": "", "match_name": "", "match_q": np.nan,
            "match_offset": np.nan, "match_strand": "",
        }  # fmt: skip
        if f in best.index:
            b = best.loc[f]
            row.update(match_id=b["target_id"], match_name=b["target_name"],
                       match_q=float(b["q_value"]), match_offset=int(b["offset"]),
                       match_strand=b["strand"])  # fmt: skip
        row["influence"] = (
            float(infl.loss[f]) if infl is not None and infl.loss is not None else np.nan
        )
        row["influence_ss"] = float(infl.sum_of_squares[f]) if infl is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def write_filter_tables(report: FilterReport, out: str | Path) -> list[Path]:
    """``filters.tsv``, ``filters.meme``, ``matches.tsv``, ``matched.meme`` and
    ``influence_targets.tsv`` into ``out`` (atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with atomic_path(out / "filters.tsv") as tmp:
        report.table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    written.append(out / "filters.tsv")
    names = dict(zip(report.table["filter"], report.table["match_name"], strict=True))
    named = [
        Motif(m.id, names.get(int(m.id[len("filter") :])) or m.id, m.probs, m.nsites)
        for m in report.motifs
    ]
    written.append(write_meme(named, out / "filters.meme", background=report.stats.background))
    cols = ["filter", "target_id", "target_name", "offset", "overlap", "strand",
            "p_value", "e_value", "q_value"]  # fmt: skip
    matches = report.matches[cols] if len(report.matches) else pd.DataFrame(columns=cols)
    with atomic_path(out / "matches.tsv") as tmp:
        matches.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    written.append(out / "matches.tsv")
    written.append(write_meme(report.database, out / "matched.meme"))
    if report.influence is not None:
        infl = pd.DataFrame(report.influence.targets, columns=report.target_labels)
        infl.insert(0, "filter", np.arange(len(infl)))
        with atomic_path(out / "influence_targets.tsv") as tmp:
            infl.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        written.append(out / "influence_targets.tsv")
    return written


def _core(motif: Motif, min_ic: float = 1.0) -> str:
    """Consensus of the informative core: positions below ``min_ic`` bits are N, ends cut."""
    return motif.consensus(min_ic=min_ic).strip("N")


def _within(long: str, short: str, mismatches: int = 1) -> bool:
    """``short`` aligns inside ``long`` with at most ``mismatches``.

    An N in ``short`` matches anything; an N in ``long`` against a base of ``short`` is a
    mismatch (otherwise a gappy core would contain every short motif).
    """
    for i in range(len(long) - len(short) + 1):
        pairs = zip(long[i : i + len(short)], short, strict=True)
        if sum(b != "N" and a != b for a, b in pairs) <= mismatches:
            return True
    return False


def same_family(a: Motif, b: Motif) -> bool:
    """Whether two database motifs stand for the same binding preference.

    True for the same matrix (any version: MA0139.1 ~ MA0139.2), the same TF name, or the
    same informative core: the consensus of the positions with >= 1 bit, ends trimmed, of
    one lies within the other's on either strand (exactly; one mismatch allowed from 8
    informative bases on), the shorter having at least 5 informative bases and at least
    half as many as the longer. This accepts, say, FOS::JUN for FOSL2 (both TGA.TCA).
    """
    if a.id.split(".")[0] == b.id.split(".")[0] or a.name.upper() == b.name.upper():
        return True
    short, long = sorted((_core(a), _core(b)), key=len)
    informative = len(short) - short.count("N")
    # Cores of similar size only: a 6-mer lies, with a mismatch, inside many long ZNF cores.
    if informative < 5 or 2 * informative < len(long) - long.count("N"):
        return False
    allowed = 0 if informative < 8 else 1
    return _within(long, short, allowed) or _within(long, reverse_complement(short), allowed)


def planted_recovery(report: FilterReport, planted: list[Motif]) -> pd.DataFrame:
    """Which planted motifs some filter recovered (simulated data).

    A planted motif is recovered when a filter's best TomTom match (at the report's q-value
    threshold) is that motif or one of its family (:func:`same_family`).

    Returns
    -------
    pandas.DataFrame
        One row per planted motif: ``motif_id``, ``motif_name``, ``recovered``, ``filter``
        (the best such filter, by q-value), ``match_id``, ``match_name``, ``q_value``,
        ``n_filters`` (how many filters recovered it).
    """
    table = report.table[report.table["match_id"].astype(bool)]
    database = {m.id: m for m in report.database}
    rows = []
    for motif in planted:
        hits = [
            r for r in table.itertuples()
            if r.match_id in database and same_family(database[r.match_id], motif)
        ]  # fmt: skip
        best = min(hits, key=lambda r: r.match_q) if hits else None
        rows.append({
            "motif_id": motif.id, "motif_name": motif.name, "recovered": best is not None,
            "filter": best.filter if best else -1, "match_id": best.match_id if best else "",
            "match_name": best.match_name if best else "",
            "q_value": best.match_q if best else np.nan, "n_filters": len(hits),
        })  # fmt: skip
    return pd.DataFrame(rows)
