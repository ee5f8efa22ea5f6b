"""Model name -> class; weights to and from safetensors files (no pickle)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from motiflens.config import ModelConfig
from motiflens.files import atomic_path
from motiflens.models.basset import Basset, basset_stages
from motiflens.models.demo import DeMoCNN, DeMoCNNRNN, DeMoRNN, cnn_stages
from motiflens.models.layers import SequenceModel, trace_lengths

MODELS: dict[str, type[SequenceModel]] = {
    "basset": Basset,
    "cnn": DeMoCNN,
    "rnn": DeMoRNN,
    "cnn-rnn": DeMoCNNRNN,
}


def build_model(config: ModelConfig) -> SequenceModel:
    """Build an untrained model from its config.

    Parameters
    ----------
    config
        ``n_targets`` must be set, and ``length`` too for Basset.

    Returns
    -------
    SequenceModel
        Takes one-hot ``(batch, 4, L)`` float32, returns ``(batch, n_targets)`` logits.

    Raises
    ------
    ValueError
        ``n_targets``/``length`` unset, or a layer would get a non-positive length (the
        message names the layer and the lengths).
    """
    if config.n_targets is None:
        raise ValueError(
            f"{config.name}: n_targets is not set; it comes from the dataset "
            "(set model.n_targets in the config, or build from a dataset)"
        )
    if config.name == "basset" and config.length is None:
        raise ValueError(
            "basset: length is not set; the dense layers need it "
            "(set model.length, or build from a dataset)"
        )
    model = MODELS[config.name](config)
    model.target_labels = [f"target_{i}" for i in range(config.n_targets)]
    return model


def output_lengths(config: ModelConfig) -> list[tuple[str, int]]:
    """Length after each layer at ``config.length``, starting with ``("input", L)``.

    Stops at the first layer whose length is < 1, so the last entry shows where an
    input is too short. RNN models keep the length: ``[("input", L), ("lstm", L)]``.
    """
    if config.length is None:
        raise ValueError(f"{config.name}: length is not set")
    length = config.length
    if config.name == "basset":
        return trace_lengths(basset_stages(config.arch), length)  # type: ignore[arg-type]
    if config.name == "cnn":
        return trace_lengths(cnn_stages(config.arch), length)  # type: ignore[arg-type]
    if config.name == "cnn-rnn":
        return [("input", length), ("conv1", length), ("lstm", length)]
    return [("input", length), ("lstm", length)]


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
        reference = build_model(config)
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
