"""Deep Motif Dashboard architectures (Lanchantin et al. 2017): CNN, RNN and CNN-RNN.

DeMo ended in a 2-class log-softmax per model; here every architecture ends in one logit
per target, so one model covers many targets and regression.
"""

from __future__ import annotations

import torch
from torch import nn

from motiflens.config import (
    CNNConfig,
    CNNRNNConfig,
    DeMoCNNRNNConfig,
    DeMoRNNConfig,
    ModelConfig,
    RNNConfig,
)
from motiflens.models.layers import (
    ConvBlock,
    FirstConvModel,
    LSTMReadout,
    RecurrentParts,
    SequenceModel,
    Stage,
    check_lengths,
    min_length,
    trace_lengths,
)

_HINT = "use a longer input, padding='same', or smaller kernels/pools"


def _require(config: ModelConfig, arch_type: type, cls: str) -> None:
    if not isinstance(config.arch, arch_type) or not config.n_targets:
        raise ValueError(f"{cls} needs a {config.name!r} ModelConfig with n_targets set")


# -------------------------------------------------------------------------------- CNN


def cnn_stages(arch: CNNConfig) -> list[Stage]:
    """The length-changing layers, named ``conv1``, ``pool1``, ``conv2``, ..."""
    stages = []
    for i, (size, pool) in enumerate(zip(arch.sizes, arch.pools, strict=True), start=1):
        stages.append(Stage(f"conv{i}", "conv", size, arch.padding))
        if pool > 1:
            stages.append(Stage(f"pool{i}", "pool", pool, "floor"))
    return stages


class DeMoCNN(FirstConvModel):
    """Conv layers, a max over all positions, one linear layer; any length >= min_length.

    Defaults at 101 bp: 101 -> 93 -> 46 -> 42 -> 21 -> 19 -> max -> 128 -> n_targets.

    Parameters
    ----------
    config
        ``name="cnn"`` with ``n_targets`` set; ``length`` (if set) is checked.
    """

    arch_config = CNNConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        _require(config, CNNConfig, "DeMoCNN")
        arch: CNNConfig = config.arch  # type: ignore[assignment]
        self.config = config
        stages = cnn_stages(arch)
        self.min_length = min_length(stages)
        self._stages = stages
        if config.length is not None:
            check_lengths("cnn", stages, config.length, _HINT)
        channels = (4, *arch.filters)
        self.conv_blocks = nn.ModuleList(
            ConvBlock(
                channels[i],
                channels[i + 1],
                arch.sizes[i],
                pool=arch.pools[i],
                dropout=arch.dropout[i],
                padding=arch.padding,
            )
            for i in range(len(arch.filters))
        )
        self.output = nn.Linear(arch.filters[-1], config.n_targets)

    @classmethod
    def output_lengths(cls, config: ModelConfig) -> list[tuple[str, int]]:
        if config.length is None:
            raise ValueError(f"{config.name}: length is not set")
        return trace_lengths(cnn_stages(config.arch), config.length)  # type: ignore[arg-type]

    @classmethod
    def length_stages(cls, config: ModelConfig) -> list[Stage]:
        return cnn_stages(config.arch)  # type: ignore[arg-type]

    @property
    def first_block(self) -> ConvBlock:
        return self.conv_blocks[0]

    def ism_layers(self) -> list[nn.Module]:
        layers = [mod for block in self.conv_blocks for mod in block.layers()]
        return [*layers, nn.AdaptiveMaxPool1d(1), nn.Flatten(), self.output]

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() == 3 and x.shape[1] == 4 and x.shape[-1] < self.min_length:
            # Name the layer that runs out of positions.
            check_lengths("cnn", self._stages, x.shape[-1], _HINT)
        super().check_input(x)

    def forward_from_first_activation(self, a: torch.Tensor) -> torch.Tensor:
        return self.forward_from_block(1, self.first_block.reduce(a))

    def forward_from_block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        for block in self.conv_blocks[i:]:
            h = block(h)
        return self.output(h.amax(dim=-1))


# -------------------------------------------------------------------------------- RNN


class DeMoRNN(SequenceModel):
    """(Bi)LSTM on the one-hot sequence, time-mean, linear; any length >= 1.

    Parameters
    ----------
    config
        ``name="rnn"`` with ``n_targets`` set.
    """

    arch_config = RNNConfig
    is_recurrent = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        _require(config, RNNConfig, "DeMoRNN")
        arch: RNNConfig = config.arch  # type: ignore[assignment]
        self.config = config
        self.min_length = 1
        self.rnn = LSTMReadout(
            4,
            arch.hidden,
            arch.layers,
            arch.bidirectional,
            arch.dropout,
            pool=arch.pool,
            forget_bias=arch.forget_bias,
        )
        self.output = nn.Linear(self.rnn.out_features, config.n_targets)

    @classmethod
    def output_lengths(cls, config: ModelConfig) -> list[tuple[str, int]]:
        if config.length is None:
            raise ValueError(f"{config.name}: length is not set")
        return [("input", config.length), ("lstm", config.length)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.output(self.rnn(x))

    def recurrent_parts(self) -> RecurrentParts:
        def features(x: torch.Tensor) -> torch.Tensor:
            self.check_input(x)
            return x

        return RecurrentParts(features, self.rnn, self.output)


# ---------------------------------------------------------------------------- CNN-RNN


class DeMoCNNRNN(FirstConvModel):
    """One length-keeping conv layer -> ReLU -> (bi)LSTM time-mean -> linear; any length >= 1.

    The conv is zero-padded ``(k-1)//2`` left and ``k//2`` right, so the LSTM sees one
    step per input position. For DeMo's temporal scores over prefixes, run the conv once
    and the rest on prefixes of its output:
    ``model.forward_from_first_activation(model.first_activation(x)[..., :t])``.

    Parameters
    ----------
    config
        ``name="cnn-rnn"`` with ``n_targets`` set.
    """

    arch_config = CNNRNNConfig
    is_recurrent = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        _require(config, CNNRNNConfig, "DeMoCNNRNN")
        arch: CNNRNNConfig = config.arch  # type: ignore[assignment]
        self.config = config
        self.min_length = 1
        self.conv = ConvBlock(4, arch.filters, arch.size, dropout=arch.conv_dropout, padding="same")
        self.rnn = LSTMReadout(
            arch.filters,
            arch.hidden,
            arch.layers,
            arch.bidirectional,
            arch.dropout,
            pool=arch.pool,
            forget_bias=arch.forget_bias,
        )
        self.output = nn.Linear(self.rnn.out_features, config.n_targets)

    @classmethod
    def output_lengths(cls, config: ModelConfig) -> list[tuple[str, int]]:
        if config.length is None:
            raise ValueError(f"{config.name}: length is not set")
        length = config.length
        return [("input", length), ("conv1", length), ("lstm", length)]

    @classmethod
    def length_stages(cls, config: ModelConfig) -> list[Stage]:
        return [Stage("conv1", "conv", config.arch.size, "same")]  # type: ignore[union-attr]

    @property
    def first_block(self) -> ConvBlock:
        return self.conv

    def forward_from_first_activation(self, a: torch.Tensor) -> torch.Tensor:
        return self.output(self.rnn(self.first_block.reduce(a)))

    def recurrent_parts(self) -> RecurrentParts:
        def features(x: torch.Tensor) -> torch.Tensor:
            return self.first_block.reduce(self.first_activation(x))

        return RecurrentParts(features, self.rnn, self.output)


# ------------------------------------------------------------------ DeMo exactly


class DeMoRNNExact(DeMoRNN):
    """DeMo's RNN as published (``rnn-demo``): the LSTM outputs averaged over time."""

    arch_config = DeMoRNNConfig


class DeMoCNNRNNExact(DeMoCNNRNN):
    """DeMo's CNN-RNN as published (``cnn-rnn-demo``): the LSTM outputs averaged over time."""

    arch_config = DeMoCNNRNNConfig
