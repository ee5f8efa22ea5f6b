"""Saliency maps and attributions: gradients, gradient x input, DeMo, IG, DeepLIFT/SHAP.

Every function takes a model and sequences (one-hot ``(N, 4, L)`` or DNA strings) and
returns NumPy arrays with the target axis last, ``(N, 4, L, T)``; the model's outputs are
logits ``(N, T)``. Attributions are always taken on the
logit (pre-sigmoid) of a target, never on the probability, so that saturation of the
sigmoid does not hide what the model has learnt.

Methods
-------
``"gradient"``
    ``d logit_t / dx`` at the input (Simonyan et al. 2014): one value per base and
    position, whether or not the base is present; corrected by default (below).
``"gradient_x_input"``
    The gradient times the one-hot input: only the observed base keeps a value;
    corrected by default (below).
``"demo"``
    The Deep Motif Dashboard saliency map (Lanchantin et al. 2017,
    ``saliency_map.lua``): the absolute gradient of the loss of the *true* label,
    masked by the input, ``|d loss(y) / dx| * x``. Non-negative; large where the base
    matters for getting the label right.
``"integrated_gradients"``
    Captum's :class:`~captum.attr.IntegratedGradients` (Sundararajan et al. 2017)
    from each reference to the input, averaged over the references ("expected"
    integrated gradients when the references are shuffles).
``"deeplift_shap"``
    DeepLIFT against each reference, averaged over the references: DeepSHAP (Lundberg &
    Lee 2017) with references drawn per sequence. The rules are motiflens' own
    (:mod:`motiflens.explain.deeplift`: rescale rule on element-wise non-linearities,
    DeepSHAP max rule on max-pools and global maxima, rescale and Shapley product rules
    inside LSTMs), because Captum's and tangermeme's module hooks reach neither the DeMo
    CNN's global max nor an LSTM's gates.

Gradient correction
-------------------
A one-hot column lies on the simplex (its four values sum to 1), but the network is a
function of all of ``R^4``. The gradient's component off the simplex, its mean over the
four bases at a position, is no change a sequence can make, and nothing in training
shapes it: it is noise, and gradient x input puts it on the observed base (Majdandzic,
Rajesh & Koo 2023, "Correcting gradient-based interpretations of deep neural networks
for genomics", Genome Biology 24:109). ``"gradient"`` and ``"gradient_x_input"``
therefore subtract, by default (``correct_gradient=True``), the mean over the four bases
from the gradient at every position. The corrected gradient is the hypothetical
contribution of every base against the uniform reference (0.25 everywhere),
``g[b] - sum_c g[c] * 0.25``; corrected gradient x input, ``g[obs] - mean_b g[b]``, is
the first-order estimate of what ISM measures at a position (the observed base's effect
against the mean of the four), and the four values of an ``N`` column add up to 0. On
the test suite's simulated two-motif fixture the correction raises the planted-site
AUROC of gradient x input from 0.935 / 0.945 to 0.959 / 0.958 (CTCF / REST; ISM
0.969 / 0.970). ``correct_gradient=False`` gives the textbook gradient (the multiplier
against the all-zero reference). The DeMo map stays DeMo's, uncorrected. Integrated
gradients and DeepLIFT need no correction: against references whose columns sum to 1
(shuffles, uniform) it leaves their hypothetical contributions unchanged (it shifts them
by the mean times ``1 - sum_c ref[c]``), and against the all-zero reference it would
break completeness.

References for the last two are dinucleotide-shuffled copies of each sequence by default
(:func:`shuffled_references`), so a reference keeps the sequence's composition and
dinucleotide content but loses its motifs.

Hypothetical contributions and their projection
-----------------------------------------------
Integrated gradients and DeepLIFT give a *multiplier* ``m[c, p]`` per base channel and
position (per reference); ``m * (x - ref)`` is non-zero on the observed base and on the
reference's base, which is neither a contribution of the sequence nor readable as a logo.
As DeepLIFT's genomics code, tfmodisco and tangermeme do, motiflens derives from the
multipliers the *hypothetical contribution* of every base ``b`` at every position, had
``b`` been there, ``hyp[b, p] = mean_ref sum_c m[c, p] (onehot(b)[c] - ref[c, p])``, and
its *projection* on the sequence, ``hyp * x``: zero off the observed base, and (since every
column of ``x`` sums to 1, an ``N`` being 0.25 x 4) adding up per position to that
position's contribution ``sum_c m (x - ref)``, so completeness holds for the projection.

:attr:`Attributions.attributions` is the projection for ``gradient_x_input`` (the
gradient is its multiplier against the uniform reference when corrected, the all-zero
reference when not), ``integrated_gradients`` and ``deeplift_shap``, and
:attr:`Attributions.hypothetical` the hypothetical contributions (for
``gradient_x_input``: the gradient itself, corrected by default). ``gradient`` and
``demo`` have no hypothetical contributions (``None``): ``gradient`` is a map of every
base by definition and ``demo`` is masked by the input already.

Completeness
------------
Integrated gradients and DeepLIFT both satisfy *completeness* (summation-to-delta): the
attributions of a sequence add up to ``f(x) - mean_r f(ref_r)``. :func:`attribute`
checks it for every sequence and target against fresh forward passes, reports the
relative error and warns when it is above 1%. For integrated gradients the error is the
integration error (raise ``n_steps``); for DeepLIFT it is float rounding (below 1e-4 on
random and trained Basset, DeMo CNN, RNN and CNN-RNN models) wherever every non-linear
operation has a rule, and the warning names what had none.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.errors import InputError
from motiflens.explain.deeplift import deeplift_multipliers
from motiflens.explain.inputs import SequenceInput, TargetSelection, as_onehot, model_targets
from motiflens.models.registry import pick_device, prepared_model
from motiflens.progress import tqdm
from motiflens.sequence.onehot import decode, one_hot
from motiflens.sequence.shuffle import dinucleotide_shuffle

__all__ = [
    "COMPLETENESS_FLOOR",
    "COMPLETENESS_TOLERANCE",
    "HYPOTHETICAL_METHODS",
    "METHODS",
    "Attributions",
    "attribute",
    "hypothetical_contributions",
    "shuffled_references",
]

Method = Literal["gradient", "gradient_x_input", "demo", "integrated_gradients", "deeplift_shap"]
METHODS: tuple[str, ...] = (
    "gradient",
    "gradient_x_input",
    "demo",
    "integrated_gradients",
    "deeplift_shap",
)
_REFERENCE_METHODS = ("integrated_gradients", "deeplift_shap")
#: Methods with hypothetical contributions (:attr:`Attributions.hypothetical`).
HYPOTHETICAL_METHODS: tuple[str, ...] = ("gradient_x_input", *_REFERENCE_METHODS)
_REFERENCE_KINDS = ("shuffle", "zeros", "uniform")

#: Relative completeness error above which :func:`attribute` warns (1%).
COMPLETENESS_TOLERANCE = 0.01
#: Smallest denominator (in logits) of the relative completeness error: a sequence whose
#: output barely differs from its references' would otherwise give meaningless ratios.
COMPLETENESS_FLOOR = 0.01


class Attributions(NamedTuple):
    """What :func:`attribute` returns.

    Attributes
    ----------
    attributions
        float32, shape ``(N, 4, L, T)``: sequence, base (A, C, G, T), position, and the
        selected targets last, in the order of ``targets`` (``targets=None``: all of
        the model's outputs). For ``gradient_x_input``, ``integrated_gradients`` and
        ``deeplift_shap`` the contributions of the observed bases (``hypothetical * x``,
        zero off the observed base); for ``gradient`` the gradient of every base
        (corrected unless ``correct_gradient=False``); for
        ``demo`` DeMo's map (zero off the observed base).
    method
        The method's name, one of :data:`METHODS`.
    targets
        The target indices attributed (the model outputs of the last axis), in order.
    convergence_delta
        Integrated gradients and DeepLIFT/SHAP only (``None`` otherwise): the relative
        completeness error per sequence and target, shape ``(N, T)``:
        ``|sum(attr) - (f(x) - mean f(ref))| / max(|f(x) - mean f(ref)|, 0.01)``
        with ``f`` the target's logit.
    max_delta
        The largest ``convergence_delta`` (``None`` when there is none); above 0.01 a
        warning was issued.
    hypothetical
        float32, shape ``(N, 4, L, T)``, for the methods of :data:`HYPOTHETICAL_METHODS`
        (``None`` otherwise): the hypothetical contribution of every base at every
        position (module docstring); ``attributions == hypothetical * x``.
    """

    attributions: np.ndarray
    method: str
    targets: list[int]
    convergence_delta: np.ndarray | None = None
    max_delta: float | None = None
    hypothetical: np.ndarray | None = None


# ------------------------------------------------------------------------- references


def shuffled_references(
    X: np.ndarray | torch.Tensor,
    n_shuffles: int = 20,
    *,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Dinucleotide-shuffled copies of each one-hot sequence.

    Each sequence is decoded to a string, shuffled ``n_shuffles`` times with
    :func:`motiflens.sequence.shuffle.dinucleotide_shuffle` (which keeps every
    dinucleotide count and the first and last base) and encoded again. A column that is
    not a clean one-hot (an ``N``, all 0.25) decodes as ``N`` and comes back as all
    0.25, so unknown bases are shuffled along with the rest and kept.

    Parameters
    ----------
    X : array, shape=(N, 4, L) or (4, L)
        One-hot sequences.
    n_shuffles
        Shuffles per sequence.
    random_state
        Seed or numpy Generator. Default is None (fresh entropy).

    Returns
    -------
    numpy.ndarray, shape=(N, n_shuffles, 4, L) or (n_shuffles, 4, L), float32
    """
    arr = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != 4:
        raise InputError(f"expected one-hot sequences of shape (N, 4, L), got {arr.shape}")
    if n_shuffles < 1:
        raise InputError(f"n_shuffles must be at least 1, got {n_shuffles}")
    rng = np.random.default_rng(random_state)
    seqs = decode(arr)
    out = np.empty((arr.shape[0], n_shuffles, 4, arr.shape[2]), dtype=np.float32)
    for i, seq in enumerate(seqs):
        out[i] = one_hot([dinucleotide_shuffle(seq, rng) for _ in range(n_shuffles)])
    return out[0] if single else out


def _references(
    references: str | np.ndarray | torch.Tensor | None,
    X: np.ndarray,
    n_shuffles: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """References ``(N, R, 4, L)`` float32 from the ``references`` argument."""
    n, _, length = X.shape
    if references is None or (isinstance(references, str) and references == "shuffle"):
        return shuffled_references(X, n_shuffles, random_state=rng)
    if isinstance(references, str):
        if references == "zeros":
            return np.zeros((n, 1, 4, length), dtype=np.float32)
        if references == "uniform":
            return np.full((n, 1, 4, length), 0.25, dtype=np.float32)
        raise InputError(
            f"unknown references {references!r}",
            hint=f"choose one of {', '.join(_REFERENCE_KINDS)}, or pass an array",
        )
    ref = references.detach().cpu().numpy() if isinstance(references, torch.Tensor) else references
    ref = np.asarray(ref, dtype=np.float32)
    if ref.ndim == 3:
        ref = ref[:, None]
    if ref.ndim != 4 or ref.shape[0] != n or ref.shape[2:] != (4, length):
        raise InputError(
            f"references must have shape (N, R, 4, L) or (N, 4, L) = ({n}, R, 4, {length}), "
            f"got {tuple(np.shape(references))}"
        )
    return ref


# -------------------------------------------------------------------------- plumbing


def _as_numpy(X: np.ndarray | torch.Tensor) -> np.ndarray:
    arr = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _check_X(model: nn.Module, X: np.ndarray) -> None:
    """InputError unless X (already ``(N, 4, L)``) is finite with a length the model takes."""
    if not np.isfinite(X).all():
        raise InputError("the input holds NaN or infinite values")
    check = getattr(model, "check_input", None)
    if callable(check):
        try:
            check(torch.zeros((1, *X.shape[1:])))
        except ValueError as err:
            config = getattr(model, "config", None)
            length = getattr(config, "length", None)
            hint = f"this model was trained on {length} bp sequences" if length else None
            raise InputError(f"inputs of the wrong length: {err}", hint=hint) from None


def _n_targets(model: nn.Module, length: int, device: torch.device) -> int:
    with torch.no_grad():
        out = model(torch.full((1, 4, length), 0.25, device=device))
    if out.dim() != 2:
        raise InputError(f"the model must return (batch, targets) outputs, got {tuple(out.shape)}")
    return int(out.shape[1])


def _task(model: nn.Module) -> str:
    return str(getattr(getattr(model, "config", None), "task", "binary"))


def _batches(n: int, size: int, verbose: bool, desc: str) -> Iterator[slice]:
    starts = range(0, n, size)
    for start in tqdm(starts, desc=desc, disable=not verbose, leave=False):
        yield slice(start, min(start + size, n))


def _labels_for(
    labels: np.ndarray | torch.Tensor | None, n: int, n_targets: int, targets: list[int]
) -> np.ndarray | None:
    """Labels ``(N, T_sel)`` float32 for the selected targets, or None."""
    if labels is None:
        return None
    y = _as_numpy(labels)
    if y.ndim == 1 and len(targets) == 1:
        y = y[:, None]
    elif y.ndim == 2 and y.shape[1] == n_targets:
        y = y[:, targets]
    else:
        raise InputError(
            f"labels must have shape (N, {n_targets}) (all targets) or (N,) with one target, "
            f"got {y.shape}"
        )
    if y.shape[0] != n:
        raise InputError(f"labels hold {y.shape[0]} rows for {n} sequences")
    return y


# ------------------------------------------------------------------- gradient methods


def _loss(task: str, logit: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Summed per-sequence loss of one target (sequences are independent in eval mode)."""
    if task == "binary":
        return F.binary_cross_entropy_with_logits(logit, y, reduction="sum")
    if task == "regression":
        return F.mse_loss(logit, y, reduction="sum")
    if task == "poisson":
        return F.poisson_nll_loss(logit, y, log_input=True, reduction="sum")
    raise ValueError(f"unknown task {task!r}")


def _gradient_batch(
    model: nn.Module,
    x: torch.Tensor,
    targets: list[int],
    method: str,
    y: torch.Tensor | None,
    task: str,
    correct: bool,
) -> torch.Tensor:
    """``(b, 4, L, T_sel)`` for one batch with one of the three gradient methods.

    For ``gradient_x_input`` the gradient (its hypothetical contributions); the caller
    multiplies by the input. ``correct``: remove the mean over the four bases from the
    gradient at each position (``gradient`` and ``gradient_x_input``; module docstring).
    """
    x = x.detach().requires_grad_(True)
    logits = model(x)
    if method == "demo" and y is None:
        # No labels: Basset/DeMo-style fallback to the model's own prediction.
        pred = logits.detach()[:, targets]
        y = (pred > 0).to(pred.dtype) if task == "binary" else pred
    out = []
    for k, t in enumerate(targets):
        if method == "demo":
            assert y is not None
            scalar = _loss(task, logits[:, t], y[:, k])
        else:
            scalar = logits[:, t].sum()
        (grad,) = torch.autograd.grad(scalar, x, retain_graph=k < len(targets) - 1)
        if method == "demo":
            grad = grad.abs() * x.detach()
        elif correct:
            grad = grad - grad.mean(dim=1, keepdim=True)
        out.append(grad)
    return torch.stack(out, dim=-1)


# ------------------------------------------------------------------ reference methods


def hypothetical_contributions(
    multipliers: np.ndarray | torch.Tensor, references: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """Hypothetical contributions from per-reference multipliers, averaged over references.

    ``hyp[b, p] = mean_r sum_c m_r[c, p] * (onehot(b)[c] - ref_r[c, p])``: what base ``b``
    at position ``p`` would contribute against the references, given the multipliers of
    integrated gradients or DeepLIFT (DeepLIFT's genomics convention, as tfmodisco and
    tangermeme use). ``(hyp * x).sum()`` over bases and positions is
    ``mean_r sum(m_r * (x - ref_r))`` for any ``x`` whose columns sum to 1.

    Parameters
    ----------
    multipliers : array, shape=(..., R, 4, L)
        Multipliers per reference (NumPy or torch).
    references : array, shape=(..., R, 4, L)
        The references they were computed against.

    Returns
    -------
    array, shape=(..., 4, L)
        Of the type of ``multipliers``.
    """
    along_ref = (multipliers * references).sum(-2)[..., None, :]
    return (multipliers - along_ref).mean(-3)


def _ig_multipliers(
    model: nn.Module,
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    targets: list[int],
    n_steps: int,
    batch_size: int,
) -> torch.Tensor:
    """``(P, 4, L, T_sel)``: path integrals of the gradient (IG before ``* (x - ref)``)."""
    try:
        from captum.attr import IntegratedGradients
    except ImportError as err:  # pragma: no cover - captum is a dependency
        raise ImportError(
            "integrated_gradients needs Captum: pip install captum (a motiflens dependency)"
        ) from err
    explainer = IntegratedGradients(model, multiply_by_inputs=False)
    out = []
    for t in targets:
        with warnings.catch_warnings():
            # Captum announces that it made the inputs require gradients: expected.
            warnings.filterwarnings("ignore", message=".*did not already require gradients.*")
            grads = explainer.attribute(
                inputs,
                baselines=baselines,
                target=t,
                n_steps=n_steps,
                method=_ig_rule(n_steps),
                internal_batch_size=max(batch_size, len(inputs)),
            )
        out.append(grads.detach())
    return torch.stack(out, dim=-1)


#: Above this many steps integrated gradients uses the trapezoid rule: Gauss-Legendre
#: nodes cost O(n^3) to compute (5,000 steps take a minute), and on ReLU networks, whose
#: gradient jumps along the path, neither rule converges faster than about 1 / n_steps.
GAUSS_LEGENDRE_MAX_STEPS = 1000


def _ig_rule(n_steps: int) -> str:
    return "gausslegendre" if n_steps <= GAUSS_LEGENDRE_MAX_STEPS else "riemann_trapezoid"


def _reference_batch(
    model: nn.Module,
    method: str,
    x: torch.Tensor,
    refs: torch.Tensor,
    targets: list[int],
    n_steps: int,
    batch_size: int,
) -> tuple[torch.Tensor, set[str]]:
    """Hypothetical contributions ``(b, 4, L, T_sel)`` against each reference, averaged.

    Also the operations DeepLIFT had no rule for (empty for integrated gradients).
    """
    b, r = refs.shape[:2]
    inputs = x[:, None].expand(b, r, *x.shape[1:]).reshape(b * r, *x.shape[1:]).contiguous()
    baselines = refs.reshape(b * r, *x.shape[1:]).contiguous()
    if method == "integrated_gradients":
        multipliers = _ig_multipliers(model, inputs, baselines, targets, n_steps, batch_size)
        unsupported: set[str] = set()
    else:
        multipliers, _, unsupported = deeplift_multipliers(model, inputs, baselines, targets)
    # (b * r, 4, L, T) -> (b, T, r, 4, L): the layout hypothetical_contributions takes
    multipliers = multipliers.reshape(b, r, *x.shape[1:], len(targets)).movedim(-1, 1)
    hyp = hypothetical_contributions(multipliers, refs[:, None])
    return hyp.movedim(1, -1), unsupported


def _forward(model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int) -> np.ndarray:
    outs = []
    with torch.no_grad():
        for sl in _batches(len(x), batch_size, False, ""):
            outs.append(model(torch.from_numpy(x[sl]).to(device)).float().cpu().numpy())
    return np.concatenate(outs)


def _completeness(
    model: nn.Module,
    X: np.ndarray,
    refs: np.ndarray,
    attributions: np.ndarray,
    targets: list[int],
    device: torch.device,
    batch_size: int,
) -> np.ndarray:
    """Relative completeness error ``(N, T_sel)`` (see :class:`Attributions`)."""
    n, r = refs.shape[:2]
    if n == 0:
        return np.zeros((0, len(targets)))
    fx = _forward(model, X, device, batch_size)[:, targets]
    fref = _forward(model, refs.reshape(n * r, *refs.shape[2:]), device, batch_size)
    fref = fref[:, targets].reshape(n, r, len(targets)).mean(axis=1)
    diff = fx.astype(np.float64) - fref
    total = attributions.astype(np.float64).sum(axis=(1, 2))
    return np.abs(total - diff) / np.maximum(np.abs(diff), COMPLETENESS_FLOOR)


# ------------------------------------------------------------------------------ API


def attribute(
    model: nn.Module,
    X: SequenceInput,
    *,
    targets: TargetSelection = None,
    method: Method = "gradient_x_input",
    labels: np.ndarray | torch.Tensor | None = None,
    references: Literal["shuffle", "zeros", "uniform"] | np.ndarray | torch.Tensor | None = None,
    n_shuffles: int = 20,
    n_steps: int = 50,
    correct_gradient: bool = True,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    verbose: bool = False,
    random_state: int | np.random.Generator | None = None,
) -> Attributions:
    """Attribute a model's logits to the bases of one-hot sequences.

    The model is put in eval mode (batch norm uses its running statistics, dropout is
    off) and on ``device`` for the computation; its training mode and device are put
    back afterwards, also when an error is raised. Gradients are taken on the logits.

    Parameters
    ----------
    model : torch.nn.Module
        Takes one-hot ``(batch, 4, L)`` float32 and returns ``(batch, T)`` logits.
    X
        One-hot sequences ``(N, 4, L)`` (channels A, C, G, T; unknown bases 0.25), a DNA
        string or a list of them (:func:`~motiflens.explain.inputs.as_onehot`). Models of
        a fixed length (Basset) need exactly that length.
    targets
        Model outputs to attribute, in the order of the result's last axis: an index or a
        name (``model.target_labels``), a list mixing both, or ``None`` for all targets.
        Default is None.
    method
        ``"gradient"``, ``"gradient_x_input"``, ``"demo"``, ``"integrated_gradients"`` or
        ``"deeplift_shap"``; see the module docstring. Default is ``"gradient_x_input"``.
    labels : array, shape=(N, T) or (N,), optional
        ``"demo"`` only: the true labels whose loss is differentiated, for all ``T``
        targets (as :func:`motiflens.data.hdf5.read_split` returns them) or, with one
        target selected, ``(N,)``. Without labels the model's own prediction stands in
        (``logit > 0`` for binary targets), as when Basset and DeMo explain unlabelled
        sequences; for regression and Poisson targets that makes the loss minimal, so
        pass labels there. Default is None.
    references
        ``"integrated_gradients"`` and ``"deeplift_shap"`` only. ``"shuffle"``
        (``n_shuffles`` dinucleotide shuffles of each sequence, see
        :func:`shuffled_references`), ``"zeros"`` (all-zero one-hot), ``"uniform"``
        (0.25 everywhere), or an array ``(N, R, 4, L)`` (or ``(N, 4, L)``) of
        references per sequence. Attributions are averaged over the references.
        Default is None, meaning ``"shuffle"``.
    n_shuffles
        Shuffled references per sequence. Default is 20.
    n_steps
        Integration points of integrated gradients: Gauss-Legendre up to 1,000, the
        trapezoid rule above. Default is 50. On ReLU/max-pool networks the integrand
        jumps wherever a unit switches on or off along the path, so the completeness
        error falls only about as 1 / n_steps (a small Basset: ~3% at 50 steps, ~0.2% at
        500); raise it if the completeness warning fires.
    correct_gradient
        ``"gradient"`` and ``"gradient_x_input"`` only: subtract the mean over the four
        bases from the gradient at each position, removing its off-simplex component
        (Majdandzic et al. 2023; module docstring). Default is True; False gives the
        textbook gradient. The other methods ignore it.
    batch_size
        Sequences (or sequence-reference pairs, and integration points) per forward
        pass. Default is 64.
    device
        ``"cpu"``, ``"cuda"``, ... Default is None: CUDA if available, else CPU.
    verbose
        Show a progress bar over batches. Default is False.
    random_state
        Seed or numpy Generator for the shuffled references: they are
        ``shuffled_references(X, n_shuffles, random_state=random_state)``. Default is
        None.

    Returns
    -------
    Attributions
        ``attributions (N, 4, L, T)`` (the projection on the observed bases, except for
        ``gradient``), ``method``, ``targets``, ``convergence_delta (N, T)``,
        ``max_delta`` and ``hypothetical (N, 4, L, T)``; see :class:`Attributions`.
        Arrays are float32 NumPy on the CPU.

    Raises
    ------
    InputError
        ``X`` is not ``(N, 4, L)`` (or DNA), has a length the model does not take, a
        target is out of range or unknown, the method or references are unknown, or
        labels do not fit.

    Warns
    -----
    UserWarning
        Integrated gradients or DeepLIFT/SHAP attributions miss completeness by more
        than 1% for some sequence (the largest error is in ``max_delta``).
    """
    if method not in METHODS:
        raise InputError(
            f"unknown attribution method {method!r}", hint=f"choose one of {', '.join(METHODS)}"
        )
    if batch_size < 1 or n_steps < 1 or n_shuffles < 1:
        raise InputError("batch_size, n_steps and n_shuffles must be at least 1")
    x_np = as_onehot(X)
    _check_X(model, x_np)
    rng = np.random.default_rng(random_state)
    dev = pick_device(device)
    n, _, length = x_np.shape
    with contextlib.ExitStack() as stack:
        stack.enter_context(prepared_model(model, dev, freeze=True))
        n_targets = _n_targets(model, length, dev)
        chosen = model_targets(model, targets, n_targets)
        y = _labels_for(labels, n, n_targets, chosen) if method == "demo" else None
        result = np.zeros((n, 4, length, len(chosen)), dtype=np.float32)
        hypothetical = result.copy() if method in HYPOTHETICAL_METHODS else None
        delta, unsupported = None, set()
        if method in _REFERENCE_METHODS:
            refs = _references(references, x_np, n_shuffles, rng)
            per_batch = max(1, batch_size // refs.shape[1])
            for sl in _batches(n, per_batch, verbose, method):
                xb = torch.from_numpy(x_np[sl]).to(dev)
                rb = torch.from_numpy(refs[sl]).to(dev)
                hyp, missing = _reference_batch(model, method, xb, rb, chosen, n_steps, batch_size)
                hypothetical[sl] = hyp.float().cpu().numpy()  # type: ignore[index]
                unsupported |= missing
        else:
            task = _task(model)
            for sl in _batches(n, batch_size, verbose, method):
                xb = torch.from_numpy(x_np[sl]).to(dev)
                yb = None if y is None else torch.from_numpy(y[sl]).to(dev)
                attr = _gradient_batch(model, xb, chosen, method, yb, task, correct_gradient)
                attr = attr.float().cpu().numpy()
                if hypothetical is not None:
                    hypothetical[sl] = attr
                else:
                    result[sl] = attr
        if hypothetical is not None:
            result = hypothetical * x_np[..., None]  # the projection on the observed bases
        if method in _REFERENCE_METHODS:
            delta = _completeness(model, x_np, refs, result, chosen, dev, batch_size)
    max_delta = None
    if delta is not None:
        max_delta = float(delta.max()) if delta.size else 0.0
        if max_delta > COMPLETENESS_TOLERANCE:
            worst = np.unravel_index(int(delta.argmax()), delta.shape)
            if method == "integrated_gradients":
                hint = "raise n_steps"
            elif unsupported:
                hint = (
                    f"DeepLIFT has no rule for {', '.join(sorted(unsupported))} in this model; "
                    "treat these attributions as approximate"
                )
            else:
                hint = (
                    "the model has operations DeepLIFT has no rule for (products of two "
                    "input-dependent values outside an LSTM, in-place or unlisted "
                    "non-linearities, reused inputs); treat these attributions as approximate"
                )
            n_bad = int((delta > COMPLETENESS_TOLERANCE).any(axis=1).sum())
            warnings.warn(
                f"{method}: attributions miss completeness by more than 1% of "
                f"f(x) - mean f(reference) for {n_bad} of {n} sequences, by up to "
                f"{max_delta:.2%} (sequence {worst[0]}, target {chosen[worst[1]]}); {hint}",
                stacklevel=2,
            )
        delta = delta.astype(np.float32)
    return Attributions(result, method, chosen, delta, max_delta, hypothetical)
