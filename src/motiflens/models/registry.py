"""Model name -> class (:func:`register_model`); weights to and from safetensors files.

Adding an architecture: write a :class:`~motiflens.models.SequenceModel` subclass (built
as ``cls(config)``, with its ``arch_config`` dataclass and whatever it can say about
itself: ``needs_length``, ``output_lengths``, ``ism_layers``, ``is_recurrent`` /
``recurrent_parts``), then ``register_model("name", cls)``. The name is then valid in
``model.name`` of a config, and training, prediction, ISM, attributions and the dashboard
take it. Register it at import time of the module that defines it, so that every
process (DDP workers included) that imports the module knows the name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from motiflens.config import ConfigBase, ModelConfig, register_arch
from motiflens.files import atomic_path
from motiflens.models.basset import Basset
from motiflens.models.demo import DeMoCNN, DeMoCNNRNN, DeMoCNNRNNExact, DeMoRNN, DeMoRNNExact
from motiflens.models.layers import SequenceModel
from motiflens.models.resources import ResourceEstimate, check_for, estimate_for

#: Model name -> class. Add to it with :func:`register_model` (which also teaches the
#: config parser the name), not by assignment.
MODELS: dict[str, type[SequenceModel]] = {}


def register_model(name: str, cls: type[SequenceModel]) -> None:
    """Make ``name`` a model name: ``model.name: <name>`` in a config builds ``cls``.

    Parameters
    ----------
    name
        The name configs use (``model.name``).
    cls
        A :class:`~motiflens.models.SequenceModel` subclass built as ``cls(config)``,
        whose ``arch_config`` is the frozen :class:`~motiflens.config.ConfigBase`
        dataclass its ``arch:`` section is read as (every field with a default).

    Raises
    ------
    TypeError
        ``cls`` is not a SequenceModel, or has no ``arch_config`` dataclass.
    ValueError
        ``name`` already names another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, SequenceModel)):
        raise TypeError(f"{name}: a model must be a SequenceModel subclass, got {cls!r}")
    arch = cls.arch_config
    if not (isinstance(arch, type) and issubclass(arch, ConfigBase)):
        raise TypeError(
            f"{name}: {cls.__name__}.arch_config must be a ConfigBase dataclass, got {arch!r}"
        )
    if MODELS.get(name, cls) is not cls:
        raise ValueError(f"model name {name!r} already names {MODELS[name].__name__}")
    register_arch(name, arch)
    MODELS[name] = cls


for _name, _cls in (
    ("basset", Basset),
    ("cnn", DeMoCNN),
    ("rnn", DeMoRNN),
    ("cnn-rnn", DeMoCNNRNN),
    ("rnn-demo", DeMoRNNExact),
    ("cnn-rnn-demo", DeMoCNNRNNExact),
):
    register_model(_name, _cls)


def build_model(
    config: ModelConfig,
    *,
    check_resources: bool = True,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> SequenceModel:
    """Build an untrained model from its config, after the resource guard accepts it.

    Parameters
    ----------
    config
        ``n_targets`` must be set, and ``length`` too for a model that ``needs_length``
        (Basset).
    check_resources
        Refuse, before allocating anything, a config too big for this machine or with a
        kernel or pool wider than the input (:func:`~motiflens.models.resources.check_resources`).
        False (or ``MOTIFLENS_NO_RESOURCE_CHECK=1``) skips it.
    batch_size
        Training batch size: the memory check then covers a training step (weights,
        gradients, optimizer state, activations), not the weights alone.
    device
        Where the model will run (what memory it is checked against).

    Returns
    -------
    SequenceModel
        Takes one-hot ``(batch, 4, L)`` float32, returns ``(batch, n_targets)`` logits.

    Raises
    ------
    ValueError
        ``n_targets``/``length`` unset.
    InputError
        A layer would get a non-positive length (the message names the layer and the
        lengths), or the resource guard refuses the config (with the figures).
    """
    if config.n_targets is None:
        raise ValueError(
            f"{config.name}: n_targets is not set; it comes from the dataset "
            "(set model.n_targets in the config, or build from a dataset)"
        )
    cls = MODELS[config.name]
    if cls.needs_length and config.length is None:
        raise ValueError(
            f"{config.name}: length is not set; the model is built for one input length "
            "(set model.length, or build from a dataset)"
        )
    check_for(cls, config, batch_size=batch_size, device=device, check=check_resources)
    model = cls(config)
    model.target_labels = [f"target_{i}" for i in range(config.n_targets)]
    return model


def estimate_resources(config: ModelConfig, *, batch_size: int | None = None) -> ResourceEstimate:
    """Parameters and (with ``batch_size`` and ``config.length``) activation memory.

    Built on the meta device: nothing is allocated. See
    :class:`~motiflens.models.resources.ResourceEstimate`.
    """
    return estimate_for(MODELS[config.name], config, batch_size=batch_size)


def check_resources(
    config: ModelConfig,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    check: bool = True,
) -> ResourceEstimate | None:
    """The resource guard: refuse a config too big for the machine, before allocating.

    Refuses (an :class:`~motiflens.errors.InputError` with the figures and the override)
    a conv kernel or pool wider than its input with ``padding: same``, more than
    :data:`~motiflens.models.resources.MAX_PARAMETERS` parameters, or an estimated
    memory (the weights; a training step at ``batch_size``) above
    :data:`~motiflens.models.resources.MEMORY_FRACTION` of the memory of ``device``.
    ``check=False`` or ``MOTIFLENS_NO_RESOURCE_CHECK=1`` skips it (returns None).
    """
    return check_for(MODELS[config.name], config, batch_size=batch_size, device=device, check=check)


def output_lengths(config: ModelConfig) -> list[tuple[str, int]]:
    """Length after each layer at ``config.length``, starting with ``("input", L)``.

    Stops at the first layer whose length is < 1, so the last entry shows where an
    input is too short. RNN models keep the length: ``[("input", L), ("lstm", L)]``.
    The model class computes it (:meth:`~motiflens.models.SequenceModel.output_lengths`).
    """
    if config.length is None:
        raise ValueError(f"{config.name}: length is not set")
    return MODELS[config.name].output_lengths(config)


def loss_function(task: str) -> nn.Module:
    """The training loss on logits for a task.

    ``binary`` -> BCE with logits (multi-label); ``regression`` -> MSE;
    ``poisson`` -> Poisson NLL with the output as log-rate.
    """
    if task == "binary":
        return nn.BCEWithLogitsLoss()
    if task == "regression":
        return nn.MSELoss()
    if task == "poisson":
        return nn.PoissonNLLLoss(log_input=True)
    raise ValueError(f"unknown task {task!r}; choose binary, regression or poisson")


def predict_transform(task: str, logits: torch.Tensor) -> torch.Tensor:
    """Map outputs to predictions: sigmoid probability, the value itself, or the rate."""
    if task == "binary":
        return torch.sigmoid(logits)
    if task == "regression":
        return logits
    if task == "poisson":
        return torch.exp(logits)
    raise ValueError(f"unknown task {task!r}; choose binary, regression or poisson")


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_weights(model: nn.Module, path: str | Path, config: ModelConfig) -> Path:
    """Write a model's weights as safetensors, atomically (no pickle).

    Parameters
    ----------
    model
        The model; its weights are copied to CPU.
    path
        The ``.safetensors`` file to write.
    config
        The config that rebuilds the architecture; checked against the weights first, so
        a config that cannot rebuild the model is caught at save, not at load time.

    Raises
    ------
    ValueError
        The model's weights do not fit the architecture the config describes.
    """
    _check_matches(model, config)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "model": config.name})
    return Path(path)


def _check_matches(model: nn.Module, config: ModelConfig) -> None:
    # Build the architecture on the meta device (no memory) and compare names and shapes,
    # so a config that cannot rebuild the model is caught at save, not at load time.
    with torch.device("meta"):
        reference = build_model(config, check_resources=False)
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if want != have:
        diff = sorted(set(want.items()) ^ set(have.items()))[:5]
        raise ValueError(
            f"the model's weights do not match the {config.name!r} config; "
            f"first differences (name, shape): {diff}"
        )


def load_weights(
    path: str | Path, config: ModelConfig, device: str | torch.device | None = None
) -> SequenceModel:
    """Rebuild a model from its config and a safetensors file, in eval mode.

    Weights are read with ``safetensors`` (no pickle, no ``torch.load``).

    Parameters
    ----------
    path
        A file written by :func:`save_weights`.
    config
        The config the model was saved with.
    device
        Where to put the model; default :func:`pick_device`.

    Raises
    ------
    ValueError
        The weights do not fit the config.
    """
    model = build_model(config)
    state = load_file(str(path), device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path} does not match the {config.name!r} model config: {err}") from None
    return model.to(pick_device(device)).eval()


@contextlib.contextmanager
def prepared_model(
    model: nn.Module, device: str | torch.device | None = None, *, freeze: bool = False
) -> Iterator[torch.device]:
    """Put ``model`` in eval mode on ``device``; restore every module's mode and the device.

    Interpretation runs in eval mode (batch norm on running statistics, dropout off).
    ``device`` defaults to where the weights are. With ``freeze`` the parameters'
    ``requires_grad`` is off meanwhile, so gradients with respect to the input do not pile
    up in the weights' ``.grad``. Everything is restored even when the body raises.

    Yields
    ------
    torch.device
        The device the model is on inside the block.
    """
    first = next(iter(model.parameters()), None)
    home = first.device if first is not None else torch.device("cpu")
    target = home if device is None else pick_device(device)
    modes = {m: m.training for m in model.modules()}
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.to(target)
        model.eval()
        if freeze:
            for p, _ in flags:
                p.requires_grad_(False)
        yield target
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.to(home)
        for module, mode in modes.items():
            module.train(mode)
