"""The resource guard: what a model config will cost, worked out before anything is allocated.

A typo in a config (``filters: [1000000000, ...]``, ``hidden: [1e9]``, a kernel of
10^6 on 100 bp) used to start an allocation of hundreds of GB, or a convolution that ran
for over ten minutes and ignored SIGTERM. :func:`~motiflens.models.check_resources` (and
:func:`~motiflens.models.build_model`, which calls it) refuses such a config at once,
with the figures, before the model exists: it builds the model on PyTorch's
``meta`` device (shapes only, no memory, no arithmetic) to count its parameters and the
activations of one batch, and compares them with the memory of the machine.

The limits and why:

- :data:`MAX_PARAMETERS` (500 million): the largest published sequence-to-function
  networks (Enformer ~250 M, Borzoi ~190 M parameters) fit twice over; Basset has 4.1 M.
  A mistyped width (10^9 filters) lands far above it.
- :data:`MEMORY_FRACTION` (0.8) of the memory that the job may use (host RAM, or the
  cgroup limit of a container or a SLURM job when lower; the GPU's memory when training
  on one): the rest is for what the estimate leaves out (a dataset of up to 2 GB held in
  memory, the framework, the operating system). The estimate is a floor, so a config
  above the line would not have run anyway.
- A convolution wider than the sequence it reads (with ``padding: same``, otherwise the
  length arithmetic already refuses it) or a pool wider than its input: it would read
  mostly padding, and costs kernel x length operations per filter.

Every check is skipped with ``check=False`` (``build_model(..., check_resources=False)``)
or the environment variable :data:`ENV_OVERRIDE` set to ``1`` (the CLI's
``--no-resource-check``), which reaches DDP workers and tuning trials too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from motiflens.config import ModelConfig
from motiflens.errors import InputError
from motiflens.models.layers import SequenceModel, Stage

#: More parameters than this are refused (see the module docstring for why 500 M).
MAX_PARAMETERS = 500_000_000
#: A config whose estimated memory exceeds this fraction of the available memory is refused.
MEMORY_FRACTION = 0.8
#: Set to 1 to skip every check (the CLI's ``--no-resource-check`` sets it).
ENV_OVERRIDE = "MOTIFLENS_NO_RESOURCE_CHECK"
#: Bytes per parameter while training: weights, gradients and up to two optimizer states
#: (Adam's two moments; RMSprop keeps one), all float32.
TRAINING_BYTES_PER_PARAMETER = 16
#: Forward activations are kept for the backward pass, and the backward pass makes
#: gradients of the same size: a step holds about twice the forward activations. The
#: resulting estimate against the peak RSS of building the model and two Adam steps on
#: CPU (one thread, growth of ru_maxrss, 10 targets): Basset 600 bp batch 128: 817 MB
#: estimated, 604 MB measured; cnn 1000 bp batch 256: 1361 / 829; rnn 600 bp batch 256:
#: 551 / 504; cnn-rnn 600 bp batch 256: 871 / 1044. The real peak is 0.6-1.2x the
#: estimate: the guard is for configs that are off by orders of magnitude.
ACTIVATION_FACTOR = 2

_OVERRIDE_HINT = "or pass --no-resource-check (MOTIFLENS_NO_RESOURCE_CHECK=1) to try anyway"


def checks_disabled() -> bool:
    """True when :data:`ENV_OVERRIDE` is set to a true value (1, true, yes)."""
    return os.environ.get(ENV_OVERRIDE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ResourceEstimate:
    """What a model config costs in float32.

    Attributes
    ----------
    parameters
        Number of parameters (weights and biases; batch-norm statistics excluded).
    batch_size
        The batch the activation figures are for (None: not estimated).
    activation_bytes
        Outputs of every layer in one forward pass of ``batch_size`` sequences of
        ``config.length`` (None when either is unknown).
    largest_parameters
        ``(layer name, parameters)`` of the layer with the most parameters.
    largest_activation
        ``(layer name, bytes)`` of the layer with the largest output (None: not estimated).
    """

    parameters: int
    batch_size: int | None = None
    activation_bytes: int | None = None
    largest_parameters: tuple[str, int] = ("", 0)
    largest_activation: tuple[str, int] | None = None

    @property
    def parameter_bytes(self) -> int:
        """The weights alone (4 bytes each)."""
        return 4 * self.parameters

    @property
    def training_bytes(self) -> int:
        """Weights, gradients, optimizer states and (when known) a step's activations."""
        activations = ACTIVATION_FACTOR * (self.activation_bytes or 0)
        return TRAINING_BYTES_PER_PARAMETER * self.parameters + activations


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``820 MB``, ``12 kB`` (powers of 1000, as a person reads them)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{int(n)} B"


def format_count(n: int) -> str:
    """``4.1 million``, ``2 billion``, ``9,923``."""
    for word, scale in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {word}"
    return f"{n:,}"


def layer_name(name: str) -> str:
    """A module path as a person reads it: ``conv_blocks.1.conv`` -> ``conv2``."""
    match = re.fullmatch(r"conv_blocks\.(\d+)(\..*)?", name)
    if match:
        return f"conv{int(match.group(1)) + 1}"
    match = re.fullmatch(r"dense\.(\d+)(\..*)?", name)
    if match:
        return f"hidden layer {int(match.group(1)) + 1}"
    return {"conv.conv": "conv1", "rnn.fwd": "the LSTM", "rnn.bwd": "the backward LSTM"}.get(
        name, name
    )


# ---------------------------------------------------------------------- estimates


def _lstm_output(module: nn.LSTM, x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """A meta stand-in for an LSTM's output (``(output, (h, c))``, the same shapes).

    PyTorch's meta LSTM walks every time step: 5 s for one 600 bp batch.
    """
    directions = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
    shape = (batch, steps) if module.batch_first else (steps, batch)
    out = torch.empty(*shape, directions * hidden, device=x.device)
    state = torch.empty(module.num_layers * directions, batch, hidden, device=x.device)
    return out, (state, state)


def _lstm_kept(module: nn.LSTM, output: torch.Tensor) -> int:
    """Floats an LSTM's training forward keeps: per step, layer and direction the four
    gates, the cell and the hidden state (6 x hidden)."""
    directions = 2 if module.bidirectional else 1
    per_step = 6 * module.hidden_size * module.num_layers * directions
    return per_step * output.shape[0] * output.shape[1]


def _parameters(model: nn.Module) -> tuple[int, tuple[str, int]]:
    """Total parameters and the module (by name) that owns the most directly."""
    per_module: dict[str, int] = {}
    for name, param in model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else name
        per_module[owner] = per_module.get(owner, 0) + param.numel()
    total = sum(per_module.values())
    largest = max(per_module.items(), key=lambda kv: kv[1], default=("", 0))
    return total, largest


@contextmanager
def _stand_in_lstms(model: nn.Module) -> Iterator[None]:
    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    for lstm in lstms:
        lstm.forward = (  # type: ignore[method-assign]
            lambda x, hx=None, lstm=lstm: _lstm_output(lstm, x)
        )
    try:
        yield
    finally:
        for lstm in lstms:
            del lstm.forward


def _activations(
    model: nn.Module, length: int, batch_size: int
) -> tuple[int, tuple[str, int] | None]:
    """Bytes of every leaf layer's output in one forward pass on the meta device."""
    sizes: dict[str, int] = {}

    def record(name: str, module: nn.Module, inputs: tuple, output: object) -> None:
        first = output[0] if isinstance(output, tuple) else output
        # Dropout passes its input through in eval mode but makes a new tensor in training.
        fresh = isinstance(module, nn.Dropout) or not any(first is x for x in inputs)
        if not isinstance(first, torch.Tensor) or not fresh:
            return  # nothing new (Identity)
        kept = _lstm_kept(module, first) if isinstance(module, nn.LSTM) else first.numel()
        sizes[name] = sizes.get(name, 0) + 4 * int(kept)

    hooks = [
        module.register_forward_hook(lambda m, i, o, name=name: record(name, m, i, o))
        for name, module in model.named_modules()
        if isinstance(module, nn.LSTM) or not any(True for _ in module.children())
    ]
    try:
        # Eval mode: the plain path of every layer (Basset's channels-last training path
        # calls functions, which hooks do not see); the shapes are the same.
        with _stand_in_lstms(model), torch.no_grad():
            model.eval()(torch.zeros(batch_size, 4, length, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    largest = max(sizes.items(), key=lambda kv: kv[1], default=None)
    return sum(sizes.values()), largest


def estimate_for(
    cls: type[SequenceModel], config: ModelConfig, *, batch_size: int | None = None
) -> ResourceEstimate:
    """Parameters and activation memory of ``cls(config)``, with nothing allocated.

    Parameters
    ----------
    cls
        The model class (``MODELS[config.name]``).
    config
        The model config; activations need ``config.length``.
    batch_size
        Sequences per batch for the activation estimate; None skips it.

    Returns
    -------
    ResourceEstimate

    Raises
    ------
    ValueError
        The model cannot be built from ``config`` (its own message).
    """
    with torch.device("meta"):
        model = cls(config)
    parameters, largest = _parameters(model)
    activation_bytes, largest_activation = None, None
    if batch_size is not None and config.length is not None:
        activation_bytes, largest_activation = _activations(model, config.length, batch_size)
    return ResourceEstimate(parameters, batch_size, activation_bytes, largest, largest_activation)


# ------------------------------------------------------------------------ limits


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (containers, SLURM jobs), if any."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            return int(text)
    return None


def available_memory(device: str | torch.device = "cpu") -> tuple[int, str]:
    """Bytes a job may use on ``device`` and the words that name them.

    CPU: the physical memory, or the cgroup limit when lower. CUDA: the GPU's memory
    (this initialises CUDA, so only call it when the job is about to use the GPU).
    """
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return props.total_memory, f"GPU {index} ({props.name}) has"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _cgroup_limit()
    if limit is not None and limit < total:
        return limit, "this job may use"
    return total, "this machine has"


# ------------------------------------------------------------------------ checks


def _arch_summary(config: ModelConfig) -> str:
    fields = config.arch.to_dict() if config.arch is not None else {}
    shown = {k: v for k, v in fields.items() if k in ("filters", "sizes", "hidden", "size")}
    text = ", ".join(
        f"{k} {list(v) if isinstance(v, tuple | list) else v}" for k, v in shown.items()
    )
    return f"{config.name} ({text})" if text else config.name


def check_widths(cls: type[SequenceModel], config: ModelConfig) -> None:
    """Refuse a convolution or pool wider than the sequence it reads at ``config.length``.

    Uses the model's :meth:`~motiflens.models.SequenceModel.length_stages`; a model that
    does not describe them, or a config without a length, is not checked.

    Raises
    ------
    InputError
        Naming the layer, its width and its input length.
    """
    if config.length is None:
        return
    stages: list[Stage] | None = cls.length_stages(config)
    length = config.length
    for stage in stages or []:
        after = stage.apply(length)
        if after < 1:
            return  # the model's own length check names this layer and the lengths
        if stage.width > length:
            what = "kernel" if stage.kind == "conv" else "pool width"
            raise InputError(
                f"{config.name}: {stage.name} {what} {stage.width:,} is larger than its input "
                f"({length:,} positions at input length {config.length:,}); it would read "
                "mostly padding",
                hint=f"use a {what} of at most {length:,} or longer sequences, {_OVERRIDE_HINT}",
            )
        length = after


def check_for(
    cls: type[SequenceModel],
    config: ModelConfig,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    check: bool = True,
) -> ResourceEstimate | None:
    """Refuse a model config too big for this machine, before anything is allocated.

    Checks, in order: conv and pool widths against the input length
    (:func:`check_widths`), the parameter count against :data:`MAX_PARAMETERS`, and the
    memory (the weights alone without ``batch_size``; a training step with it) against
    :data:`MEMORY_FRACTION` of :func:`available_memory`.

    Parameters
    ----------
    cls, config
        The model class and its config.
    batch_size
        Training batch size: the memory check is then for a training step.
    device
        Where the model will run (``"cpu"`` or a CUDA device).
    check
        False skips every check (as does :data:`ENV_OVERRIDE`), returning None.

    Returns
    -------
    ResourceEstimate or None
        The estimate (None when skipped).

    Raises
    ------
    InputError
        The config is refused; the message gives the figures and the override.
    """
    if not check or checks_disabled():
        return None
    check_widths(cls, config)
    estimate = estimate_for(cls, config, batch_size=batch_size)
    what = _arch_summary(config)
    layer, layer_params = estimate.largest_parameters
    biggest = (
        f"; the largest layer, {layer_name(layer)}, has {format_count(layer_params)}"
        if layer
        else ""
    )
    hint = f"lower the sizes in the model config, {_OVERRIDE_HINT}"
    if estimate.parameters > MAX_PARAMETERS:
        raise InputError(
            f"{what} would have {format_count(estimate.parameters)} parameters "
            f"({format_bytes(estimate.parameter_bytes)} of weights){biggest}; "
            f"the limit is {format_count(MAX_PARAMETERS)}",
            hint=hint,
        )
    memory, owner = available_memory(device)
    if estimate.activation_bytes is None:
        need, purpose = estimate.parameter_bytes, "for the weights"
    else:
        need = estimate.training_bytes
        purpose = f"to train at batch size {batch_size}"
        if estimate.largest_activation is not None:
            name, size = estimate.largest_activation
            biggest += f", and the largest output, {layer_name(name)}'s, takes {format_bytes(size)}"
    if need > MEMORY_FRACTION * memory:
        raise InputError(
            f"{what} would need about {format_bytes(need)} {purpose} "
            f"({format_count(estimate.parameters)} parameters{biggest}); "
            f"{owner} {format_bytes(memory)}",
            hint=hint,
        )
    return estimate
