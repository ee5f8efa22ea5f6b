"""Class optimization (DeMo §2.7): for each target, the input a model scores highest.

Each selected target gets its own inputs (``n_sequences`` independent starts), all
optimised together as one batch: in eval mode the starts do not interact, so this is the
same as one optimisation per target and start. Results keep the project's axis order,
start first and target last (``matrix (n, 4, L, T)``, ``scores (n, T)``), and the starts
of each target are ranked by the model's score, best first.

Two methods:

``"sequence"`` (the default)
    Constrained to valid DNA: a free parameter ``θ`` of shape ``(n, 4, L)`` gives a soft
    one-hot ``softmax(θ / τ)``; the model sees its hard one-hot (the argmax at every
    position) in the forward pass and the gradient flows through the soft one
    (straight-through), with the temperature ``τ`` annealed geometrically from 1 to 0.1.
    Maximises ``S`` with RMSprop (learning rate 0.05, alpha 0.99, eps 1e-8); the penalty
    ``λ‖X‖²`` is constant on one-hot inputs and is left out. Keeps the best sequence each
    chain visited. Its matrix is then the model's *preference* at every position of that
    sequence (:func:`preference_matrix`): every single-base substitution is scored (ISM,
    :func:`~motiflens.explain.ism.saturation_mutagenesis`), the logit changes ``Δ`` are
    scaled so that the largest loss of any one substitution is ``ln 100``, and each
    position's four become probabilities ``softmax``. A position the model ignores is
    uniform, so the motif stands out from the background. The scaling plays the part of
    DeMo's division by the global maximum: a designed sequence carries several copies of
    the motif (8 bp ETS sites 3-5 times over, on a DeMo CNN trained on GABPA), so one
    substitution costs little (at most 0.5-1.6 of a logit of 3.3-3.9 there) and the
    unscaled ``softmax(Δ)`` stays below 0.2 bits everywhere: a blank logo. The scale
    says nothing of how much the model cares; the score does.

``"demo"`` (DeMo's procedure)
    Start from a continuous input ``X ~ U[0, 1)`` of shape ``(1, 4, L)`` and minimise
    ``-S(X) + λ‖X‖²`` with RMSprop (learning rate 0.05, alpha 0.99, eps 1e-8, λ 0.009, 1000
    steps), then turn ``X`` into a probability matrix as DeMo did: clamp to [0, 1],
    divide by the global maximum, add 0.01 everywhere, and normalise each position to sum
    to 1 (:func:`normalize_demo`). The result is a ``(4, L)`` matrix to draw as a logo or
    write as a MEME motif; it is not a sequence the model has seen. On a DeMo CNN trained
    on GABPA ChIP-seq its most probable sequence scored 0.384 and its logo showed no ETS
    motif, where ``"sequence"`` scored 0.98-0.996 (issue 12): a continuous input lets
    the model reach a high score off the one-hot simplex, with no motif.

Both methods then mark the *motif window* of every matrix (:func:`motif_window`): the
run of informative positions (at least 0.2 bits, gaps shorter than 3 positions bridged)
with the most information, at most ``motif_width`` long. That window, not the whole
input, is the motif to compare with a database (:func:`~motiflens.motifs.compare.tomtom`):
a 101 bp matrix is mostly background, and a designed sequence often carries the motif
twice, head to head; a query holding both copies matched the planted SPI1 at q = 0.2
where either copy alone matched at q < 1e-5.

The score ``S`` is the target's **logit** by default. DeMo's models ended in a two-class
log-softmax and DeMo minimised the NLL of the positive class, ``-log p(positive)``;
motiflens models have one logit per target, and for a binary target ``log sigmoid(z)`` is the
exact counterpart of DeMo's log-softmax (``score="log_prob"``). The logit is the
class-model convention of Simonyan et al. (unnormalised class score): it does not
saturate once the input is confidently positive, so the motif keeps sharpening against
the penalty instead of stopping at "just positive enough".
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motiflens.explain.inputs import TargetSelection, model_targets
from motiflens.explain.ism import saturation_mutagenesis
from motiflens.files import atomic_path
from motiflens.models import predict_transform, prepared_model
from motiflens.motifs.meme import write_meme as write_meme_file
from motiflens.motifs.pwm import MIN_IC, Motif, information_content, trim
from motiflens.progress import tqdm

__all__ = [
    "ClassOptimization",
    "motif_window",
    "normalize_demo",
    "optimize_class",
    "preference_matrix",
    "write_fasta",
    "write_meme",
]

ALPHABET = "ACGT"
DEMO_PSEUDOCOUNT = 0.01
#: Widest motif window (bp). JASPAR's CTCF core is 15-19 bp and REST's 20-21; 24 holds
#: either with room for a few flanking columns, which trimming removes again.
MOTIF_WIDTH = 24
#: Odds that the largest single-substitution loss of a designed sequence stands for
#: (:func:`preference_matrix`).
PREFERENCE_ODDS = 100.0


class ClassOptimization(NamedTuple):
    """What :func:`optimize_class` found: ``n`` independent starts per target.

    The starts of each target are ranked by the model's logit on their ``sequences``,
    best first: ``[0, ..., k]`` is target ``k``'s best result.

    Attributes
    ----------
    matrix
        ``(n, 4, L, T)`` float32 probability matrices (columns sum to 1).
        ``"sequence"``: the model's preference at each position of the designed sequence
        (:func:`preference_matrix`). ``"demo"``: DeMo's probability matrix of each
        optimised input (:func:`normalize_demo`).
    sequences
        ``n`` lists of ``T`` DNA strings (``sequences[i][k]``: start ``i`` of target
        ``k``). ``"sequence"``: the designed sequences; ``"demo"``: the most probable base
        at each position of each matrix (A where a column is uniform).
    scores
        ``(n, T)`` float32: the model's prediction for each target on its ``sequences``
        (after the task's transform, e.g. a probability, when the model has a
        ``config.task``; the logit otherwise).
    history
        ``(n_steps, n, T)`` float32: the objective minimised at each step (before the
        step's update), per start and target.
    targets
        The model outputs of the last axis, in order.
    window
        ``(n, 2, T)`` int64: the motif window of each matrix, 0-based ``start`` and
        exclusive ``end`` (:func:`motif_window`); :meth:`motif` cuts it out.
    """

    matrix: np.ndarray
    sequences: list[list[str]]
    scores: np.ndarray
    history: np.ndarray
    targets: list[int]
    window: np.ndarray

    def motif(self, k: int = 0, start: int = 0) -> np.ndarray:
        """The ``(4, w)`` motif window of column ``k`` of the target axis, one start.

        ``start=0`` (the default) is the target's best start.
        """
        lo, hi = (int(v) for v in self.window[start, :, k])
        return self.matrix[start, :, lo:hi, k]


def normalize_demo(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """DeMo's post-processing of an optimised input into a probability matrix.

    Clamp to [0, 1], divide by the global maximum (of each input, when given several),
    add 0.01 to every entry, and divide each position by its sum. An input that clamps
    to all zeros becomes uniform.

    Parameters
    ----------
    x
        ``(4, L)`` or ``(n, 4, L)``.

    Returns
    -------
    numpy.ndarray
        Same shape, float32, each column summing to 1.
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = np.clip(arr.astype(np.float64), 0.0, 1.0)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != 4:
        raise ValueError(f"expected a (4, L) or (n, 4, L) matrix, got {np.shape(x)}")
    peak = arr.max(axis=(1, 2), keepdims=True)
    arr = np.divide(arr, peak, out=np.zeros_like(arr), where=peak > 0)
    arr = arr + DEMO_PSEUDOCOUNT
    arr = (arr / arr.sum(axis=1, keepdims=True)).astype(np.float32)
    return arr[0] if single else arr


def preference_matrix(delta: np.ndarray, max_odds: float = PREFERENCE_ODDS) -> np.ndarray:
    """Probabilities from the logit change of every single-base substitution.

    ``Δ`` is first scaled so that its largest loss, ``max(-Δ)`` over the bases and
    positions of one sequence, becomes ``ln(max_odds)``; then column ``j`` is
    ``softmax(Δ[:, j])``. A column whose three substitutions each lose that most reads
    ``max_odds : 1 : 1 : 1``; a position the model ignores (``Δ = 0``) is uniform, as is a
    sequence where no substitution loses anything.

    Parameters
    ----------
    delta
        ``(4, L)`` or ``(n, 4, L)`` logit changes of one target
        (:attr:`~motiflens.explain.ism.ISMResult.delta`; the reference base's slot is 0).
    max_odds
        Odds of the best base against a substitution with the sequence's largest loss.
        Default is 100 (the strongest column holds about 1.8 bits).

    Returns
    -------
    numpy.ndarray
        Same shape, float32, each column summing to 1.
    """
    d = np.asarray(delta, dtype=np.float64)
    if d.ndim not in (2, 3) or d.shape[-2] != 4:
        raise ValueError(f"expected (4, L) or (n, 4, L) logit changes, got {d.shape}")
    if max_odds <= 1:
        raise ValueError(f"max_odds must be > 1, got {max_odds}")
    loss = np.maximum(-d.min(axis=(-2, -1), keepdims=True), 0.0)
    scale = np.divide(np.log(max_odds), loss, out=np.zeros_like(loss), where=loss > 1e-12)
    d = d * scale
    e = np.exp(d - d.max(axis=-2, keepdims=True))  # shifted: no overflow
    return (e / e.sum(axis=-2, keepdims=True)).astype(np.float32)


def motif_window(
    matrix: np.ndarray, width: int = MOTIF_WIDTH, min_ic: float = MIN_IC, max_gap: int = 2
) -> tuple[int, int]:
    """Where the motif lies in a long probability matrix.

    Positions of at least ``min_ic`` bits are informative; informative positions at most
    ``max_gap`` uninformative positions apart form one run. A run longer than ``width``
    is cut to its ``width`` consecutive positions of highest total information content,
    trimmed of ends below ``min_ic``. The window is the run with the highest total
    information content (the first on ties); with no informative position, the first
    ``width`` positions.

    Parameters
    ----------
    matrix
        ``(4, L)`` probabilities (columns sum to 1).
    width
        Widest window. Default 24.
    min_ic
        Information content (bits) of an informative position. Default 0.2 (Basset's
        trimming cut).
    max_gap
        Longest run of uninformative positions inside a motif. Default 2.

    Returns
    -------
    tuple of int
        0-based ``(start, end)``, ``end`` exclusive, ``end > start``.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    ic = information_content(matrix)
    informative = np.flatnonzero(ic >= min_ic)
    if informative.size == 0:
        return 0, min(width, ic.size)
    # split where the next informative position is more than max_gap + 1 away
    breaks = np.flatnonzero(np.diff(informative) > max_gap + 1) + 1
    best, best_total = (0, 0), -1.0
    for run in np.split(informative, breaks):
        lo, hi = int(run[0]), int(run[-1]) + 1
        if hi - lo > width:
            totals = np.convolve(ic[lo:hi], np.ones(width), mode="valid")
            start = lo + int(np.argmax(totals))
            a, b = trim(np.asarray(matrix)[:, start : start + width], min_ic)
            lo, hi = start + a, start + b
        total = float(ic[lo:hi].sum())
        if total > best_total:
            best, best_total = (lo, hi), total
    return best


def _objective_score(logits: torch.Tensor, score: str) -> torch.Tensor:
    if score == "logit":
        return logits
    if score == "log_prob":
        return F.logsigmoid(logits)
    raise ValueError(f"unknown score {score!r}; choose 'logit' or 'log_prob'")


def _generator(random_state: int | torch.Generator | None) -> torch.Generator:
    if isinstance(random_state, torch.Generator):
        return random_state
    gen = torch.Generator()
    if random_state is None:
        gen.seed()  # fresh entropy for this generator only; the global RNG is untouched
    else:
        gen.manual_seed(int(random_state))
    return gen


def _decode(onehot: torch.Tensor) -> list[str]:
    idx = onehot.argmax(dim=1).cpu().numpy()
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[idx]
    return [row.tobytes().decode("ascii") for row in letters]


def optimize_class(
    model: nn.Module,
    *,
    targets: TargetSelection = None,
    length: int | None = None,
    method: Literal["sequence", "demo"] = "sequence",
    n_steps: int = 1000,
    lr: float = 0.05,
    weight_decay: float = 0.009,
    n_sequences: int = 4,
    score: Literal["logit", "log_prob"] = "logit",
    temperature: tuple[float, float] = (1.0, 0.1),
    motif_width: int = MOTIF_WIDTH,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    verbose: bool = False,
    random_state: int | torch.Generator | None = None,
) -> ClassOptimization:
    """For each target, find the input that maximises its score (class optimization).

    See the module docstring for the two methods, the motif window and the choice of
    score. There is no ``X``: the inputs are what is optimised, from random starts.

    Parameters
    ----------
    model
        Takes ``(batch, 4, L)`` float32 and returns ``(batch, T)`` logits. It runs in eval
        mode (dropout off, batch norm on its running statistics); its mode, device and
        parameters' ``requires_grad`` are restored afterwards.
    targets
        The targets to maximise, each on inputs of its own: an index or a name
        (``model.target_labels``), a list mixing both, or ``None`` for all targets.
        Default is None.
    length
        Input length. Default is ``model.config.length``.
    method
        ``"sequence"`` (valid one-hot sequences and the model's preference matrix around
        them; the default) or ``"demo"`` (continuous input, DeMo's procedure).
    n_steps
        Optimizer steps. Default is 1000 (DeMo).
    lr
        RMSprop learning rate. Default is 0.05 (DeMo).
    weight_decay
        λ in ``-S(X) + λ‖X‖²`` (``"demo"`` only). Default is 0.009 (DeMo).
    n_sequences
        Independent starts per target, optimised together as one batch and ranked by
        score. Default is 4 (DeMo used one).
    score
        ``"logit"`` (default) or ``"log_prob"`` (``log sigmoid(logit)``, DeMo's log-softmax
        for a binary target).
    temperature
        ``(start, end)`` of the softmax temperature, annealed geometrically
        (``"sequence"`` only). Default is ``(1.0, 0.1)``.
    motif_width
        Widest motif window (bp; see :func:`motif_window`). Default is 24.
    batch_size
        Mutants per chunk of the preference matrix (``"sequence"`` only; as in
        :func:`~motiflens.explain.ism.saturation_mutagenesis`).
    device
        Where to run; default the device the model's weights are on.
    verbose
        Show a progress bar over steps. Default is False.
    random_state
        Seed (or a CPU ``torch.Generator``) for the starting point. Default is None
        (fresh randomness).

    Returns
    -------
    ClassOptimization
        ``matrix (n, 4, L, T)``, ``sequences`` (``n`` x ``T``), ``scores (n, T)``,
        ``history (n_steps, n, T)``, ``targets``, ``window (n, 2, T)``; starts ranked
        best first.

    Raises
    ------
    ValueError
        Unknown method or score, no length, bad step counts, temperatures or motif
        width, or ``score="log_prob"`` for a non-binary task.
    InputError
        A target that is out of range or not a name of the model's outputs.

    Examples
    --------
    >>> result = optimize_class(model, targets="CTCF", random_state=0)
    >>> logo = result.matrix[0, :, :, 0]  # best start of CTCF, (4, L)
    >>> motif = result.motif(0)  # its motif window, (4, w): compare with JASPAR
    """
    if method not in ("sequence", "demo"):
        raise ValueError(f"unknown method {method!r}; choose 'sequence' or 'demo'")
    _objective_score(torch.zeros(1), score)  # fail early on an unknown score
    if n_steps < 1 or n_sequences < 1:
        raise ValueError(f"n_steps and n_sequences must be >= 1, got {n_steps}, {n_sequences}")
    if motif_width < 1:
        raise ValueError(f"motif_width must be >= 1, got {motif_width}")
    config = getattr(model, "config", None)
    length = length if length is not None else getattr(config, "length", None)
    if length is None or length < 1:
        raise ValueError("the input length is not known: pass length=")
    task = getattr(config, "task", None)
    if score == "log_prob" and task not in (None, "binary"):
        raise ValueError(f"score='log_prob' needs a binary target; this model's task is {task}")
    if method == "sequence" and min(temperature) <= 0:
        raise ValueError(f"temperatures must be positive, got {temperature}")
    gen = _generator(random_state)
    # cuDNN's LSTM has no backward in eval mode; the native kernels do.
    has_rnn = any(isinstance(m, nn.RNNBase) for m in model.modules())

    with contextlib.ExitStack() as stack:
        dev = stack.enter_context(prepared_model(model, device, freeze=True))
        if has_rnn and dev.type == "cuda":
            stack.enter_context(torch.backends.cudnn.flags(enabled=False))
        with torch.no_grad():
            n_outputs = int(model(torch.full((1, 4, length), 0.25, device=dev)).shape[1])
        chosen = model_targets(model, targets, n_outputs)
        t = len(chosen)
        # Row i * T + k is start i of target k: one batch for every target and start.
        rows = torch.as_tensor(chosen, device=dev).repeat(n_sequences)
        run = _optimize_demo if method == "demo" else _optimize_sequence
        onehot, matrix, history = run(
            model,
            rows,
            shape=(n_sequences * t, 4, length),
            n_steps=n_steps,
            lr=lr,
            weight_decay=weight_decay,
            score=score,
            temperature=temperature,
            device=dev,
            generator=gen,
            verbose=verbose,
        )
        with torch.no_grad():
            logits = _pick(model(onehot), rows)
            preds = predict_transform(task, logits) if task is not None else logits
        if method == "sequence":
            matrix = _preferences(model, onehot, chosen, batch_size, dev, verbose)
    seqs = _decode(onehot)
    # Rank each target's starts by the logit of their sequence, best first (stable: ties
    # keep the order of the random starts).
    order = np.argsort(-logits.float().cpu().numpy().reshape(n_sequences, t), axis=0, kind="stable")
    matrix = np.moveaxis(matrix.reshape(n_sequences, t, 4, length), 1, -1)
    matrix = np.take_along_axis(matrix, order[:, None, None, :], axis=0)
    history = history.reshape(n_steps, n_sequences, t)
    scores = preds.float().cpu().numpy().reshape(n_sequences, t)
    window = np.array(
        [
            [motif_window(matrix[i, :, :, k], motif_width) for k in range(t)]
            for i in range(n_sequences)
        ],
        dtype=np.int64,
    )
    return ClassOptimization(
        matrix=np.ascontiguousarray(matrix),
        sequences=[[seqs[order[i, k] * t + k] for k in range(t)] for i in range(n_sequences)],
        scores=np.take_along_axis(scores, order, axis=0),
        history=np.take_along_axis(history, order[None], axis=1),
        targets=chosen,
        window=np.ascontiguousarray(window.transpose(0, 2, 1)),
    )


def _preferences(
    model: nn.Module,
    onehot: torch.Tensor,
    chosen: list[int],
    batch_size: int | None,
    device: torch.device,
    verbose: bool,
) -> np.ndarray:
    """``(n * T, 4, L)`` preference matrices: row ``i * T + k`` for its own target ``k``."""
    t = len(chosen)
    with warnings.catch_warnings():
        # A few sequences: the naive computation costs little, and saying so is noise.
        warnings.filterwarnings("ignore", message="ISM: using naive")
        delta = saturation_mutagenesis(
            model,
            onehot.detach().cpu().numpy(),
            targets=chosen,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
        ).delta  # (n * T, 4, L, T): every row against every chosen target
    own = delta[np.arange(delta.shape[0]), :, :, np.arange(delta.shape[0]) % t]
    return preference_matrix(own)


def _pick(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``logits[r, rows[r]]``: each row's own target."""
    return logits.gather(1, rows[:, None])[:, 0]


def _optimize_demo(
    model: nn.Module,
    rows: torch.Tensor,
    *,
    shape: tuple[int, int, int],
    n_steps: int,
    lr: float,
    weight_decay: float,
    score: str,
    device: torch.device,
    generator: torch.Generator,
    verbose: bool,
    **_: object,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    x = torch.rand(shape, generator=generator).to(device).requires_grad_(True)
    opt = torch.optim.RMSprop([x], lr=lr, alpha=0.99, eps=1e-8)
    history = np.empty((n_steps, shape[0]), np.float32)
    for step in tqdm(range(n_steps), disable=not verbose, desc="class optimization"):
        opt.zero_grad(set_to_none=True)
        s = _objective_score(_pick(model(x), rows), score)
        loss = -s + weight_decay * x.square().sum(dim=(1, 2))
        # The starts are independent (eval mode), so the sum's gradient is each one's own.
        loss.sum().backward()
        opt.step()
        history[step] = loss.detach().cpu().numpy()
    matrix = normalize_demo(x.detach())
    best = torch.from_numpy(matrix).argmax(dim=1)
    onehot = F.one_hot(best, 4).transpose(1, 2).to(device=device, dtype=torch.float32)
    return onehot, matrix, history


def _optimize_sequence(
    model: nn.Module,
    rows: torch.Tensor,
    *,
    shape: tuple[int, int, int],
    n_steps: int,
    lr: float,
    score: str,
    temperature: tuple[float, float],
    device: torch.device,
    generator: torch.Generator,
    verbose: bool,
    **_: object,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    t_start, t_end = temperature
    theta = torch.randn(shape, generator=generator).to(device).requires_grad_(True)
    opt = torch.optim.RMSprop([theta], lr=lr, alpha=0.99, eps=1e-8)
    history = np.empty((n_steps, shape[0]), np.float32)
    best_score = torch.full((shape[0],), -math.inf, device=device)
    best = torch.zeros(shape, device=device)
    for step in tqdm(range(n_steps), disable=not verbose, desc="sequence design"):
        tau = t_start * (t_end / t_start) ** (step / max(n_steps - 1, 1))
        soft = torch.softmax(theta / tau, dim=1)
        hard = F.one_hot(soft.argmax(dim=1), 4).transpose(1, 2).to(soft.dtype)
        x = hard + soft - soft.detach()  # the value of `hard`, the gradient of `soft`
        opt.zero_grad(set_to_none=True)
        s = _objective_score(_pick(model(x), rows), score)
        (-s).sum().backward()
        opt.step()
        history[step] = (-s).detach().cpu().numpy()
        with torch.no_grad():
            better = s.detach() > best_score
            best_score = torch.where(better, s.detach(), best_score)
            best[better] = hard[better]
    return best, best.cpu().numpy().astype(np.float32), history


# ------------------------------------------------------------------------------ files


def write_meme(
    matrices: np.ndarray | Sequence[np.ndarray],
    path: str | Path,
    name: str | Sequence[str] = "motif",
    *,
    background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
    nsites: int = 20,
) -> Path:
    """Write probability matrices as a MEME (version 4, minimal) motif file, atomically.

    A matrix-level front end to :func:`motiflens.motifs.write_meme`, which writes the file.

    Parameters
    ----------
    matrices
        One ``(4, L)`` matrix, an ``(n, 4, L)`` array, or a list of ``(4, L_i)``
        matrices; rows A, C, G, T; every column must sum to 1 (within 1e-3).
    path
        Output file (``.meme``).
    name
        One name per motif, or one name for all (numbered ``name_1``, ``name_2``, ...
        when there are several). Whitespace becomes ``_``.
    background
        Background letter frequencies (A, C, G, T). Default uniform.
    nsites
        The ``nsites=`` field (a nominal site count; MEME tools use it for pseudocounts).
        Default is 20.

    Returns
    -------
    Path
        ``path``.
    """
    if isinstance(matrices, np.ndarray) and matrices.ndim == 2:
        mats = [matrices]
    else:
        mats = [np.asarray(m) for m in matrices]
    if isinstance(name, str):
        names = [name] if len(mats) == 1 else [f"{name}_{i + 1}" for i in range(len(mats))]
    else:
        names = list(name)
    if len(names) != len(mats):
        raise ValueError(f"{len(mats)} matrices but {len(names)} names")
    motifs = []
    for mat, motif_name in zip(mats, names, strict=True):
        if not str(motif_name).strip():
            raise ValueError("a motif name must not be empty")
        motifs.append(Motif(str(motif_name), str(motif_name), mat, nsites=nsites))
    return write_meme_file(motifs, path, background)


def write_fasta(
    sequences: Sequence[str],
    path: str | Path,
    names: Sequence[str] | None = None,
    descriptions: Sequence[str] | None = None,
) -> Path:
    """Write sequences as FASTA (one line per sequence), atomically.

    Parameters
    ----------
    sequences
        DNA strings.
    path
        Output file.
    names
        Record names (no whitespace); default ``seq_1``, ``seq_2``, ...
    descriptions
        Text after the name on each header line (e.g. ``"score=0.98"``).

    Returns
    -------
    Path
        ``path``.
    """
    seqs = list(sequences)
    names = [f"seq_{i + 1}" for i in range(len(seqs))] if names is None else list(names)
    descs = [""] * len(seqs) if descriptions is None else list(descriptions)
    if not len(names) == len(descs) == len(seqs):
        raise ValueError(
            f"{len(seqs)} sequences but {len(names)} names and {len(descs)} descriptions"
        )
    lines = []
    for seq, rec, desc in zip(seqs, names, descs, strict=True):
        if not rec or re.search(r"\s", rec):
            raise ValueError(f"FASTA record names must be non-empty without spaces: {rec!r}")
        lines += [f">{rec} {desc}".rstrip(), seq]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return Path(path)
