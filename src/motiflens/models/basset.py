"""Basset (Kelley, Snoek & Rinn 2016): conv stack -> dense layers -> one logit per target.

With the defaults at 600 bp the lengths are 600 -> 582 -> 194 -> 184 -> 46 -> 40 -> 10
("valid", the paper and the pretrained model; 200 x 10 = 2000 inputs to the first dense
layer) or 600 -> 200 -> 50 -> 13 ("same"; 2600 inputs).
"""

from __future__ import annotations

import torch
from torch import nn

from motiflens.config import BassetConfig, ModelConfig
from motiflens.models.layers import (
    ConvBlock,
    FirstConvModel,
    Stage,
    check_lengths,
    trace_lengths,
)

_HINT = "use a longer input, padding='same', or smaller kernels/pools"


def basset_stages(arch: BassetConfig) -> list[Stage]:
    """The length-changing layers, named ``conv1``, ``pool1``, ``conv2``, ..."""
    stages = []
    for i, (size, pool) in enumerate(zip(arch.sizes, arch.pools, strict=True), start=1):
        stages.append(Stage(f"conv{i}", "conv", size, arch.padding))
        if pool > 1:
            stages.append(Stage(f"pool{i}", "pool", pool, "ceil"))
    return stages


class DenseBlock(nn.Module):
    """Linear -> [batch norm] -> ReLU -> [dropout]."""

    def __init__(self, n_in: int, n_out: int, *, dropout: float, batch_norm: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.bn = nn.BatchNorm1d(n_out) if batch_norm else nn.Identity()
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.bn(self.linear(x))))

    def layers(self) -> list[nn.Module]:
        """The block as a flat layer list, in order (what fast ISM parses)."""
        return [self.linear, self.bn, self.act, self.drop]


class Basset(FirstConvModel):
    """The Basset network for inputs of exactly ``config.length`` bp.

    Parameters
    ----------
    config
        ``name="basset"`` with ``n_targets`` and ``length`` set.

    Attributes
    ----------
    conv_blocks
        One :class:`~motiflens.models.layers.ConvBlock` per conv layer.
    dense
        One :class:`DenseBlock` per hidden layer.
    output
        Final linear layer to ``n_targets`` logits.
    flatten_size
        Inputs to the first dense layer (filters of the last conv x its output length).
    lengths
        Length after each conv/pool layer, starting with the input length.
    fast_training
        In training mode on CPU, run the conv layers in channels-last memory (see
        :meth:`~motiflens.models.layers.ConvBlock.forward_channels_last`); False gives
        the plain path. Not a setting of the model: it changes speed, not the function.

    Raises
    ------
    ValueError
        A layer would get a non-positive length at ``config.length``.
    """

    arch_config = BassetConfig
    needs_length = True  # the dense layers are sized for one input length

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        arch = config.arch
        if not isinstance(arch, BassetConfig) or config.length is None or not config.n_targets:
            raise ValueError("Basset needs a 'basset' ModelConfig with n_targets and length set")
        self.config = config
        self.lengths = check_lengths("basset", basset_stages(arch), config.length, _HINT)
        self.min_length = config.length
        channels = (4, *arch.filters)
        self.conv_blocks = nn.ModuleList(
            ConvBlock(
                channels[i],
                channels[i + 1],
                arch.sizes[i],
                pool=arch.pools[i],
                dropout=arch.conv_dropout[i],
                padding=arch.padding,
                batch_norm=arch.batch_norm,
                ceil_mode=True,
            )
            for i in range(len(arch.filters))
        )
        self.flatten_size = arch.filters[-1] * self.lengths[-1]
        sizes = (self.flatten_size, *arch.hidden)
        self.dense = nn.ModuleList(
            DenseBlock(
                sizes[i], sizes[i + 1], dropout=arch.hidden_dropout[i], batch_norm=arch.batch_norm
            )
            for i in range(len(arch.hidden))
        )
        self.output = nn.Linear(sizes[-1], config.n_targets)
        self.fast_training = True

    @classmethod
    def output_lengths(cls, config: ModelConfig) -> list[tuple[str, int]]:
        if config.length is None:
            raise ValueError(f"{config.name}: length is not set")
        return trace_lengths(basset_stages(config.arch), config.length)  # type: ignore[arg-type]

    @classmethod
    def length_stages(cls, config: ModelConfig) -> list[Stage]:
        return basset_stages(config.arch)  # type: ignore[arg-type]

    @property
    def first_block(self) -> ConvBlock:
        return self.conv_blocks[0]

    def ism_layers(self) -> list[nn.Module]:
        layers = [mod for block in self.conv_blocks for mod in block.layers()]
        layers.append(nn.Flatten())
        layers += [mod for block in self.dense for mod in block.layers()]
        return [*layers, self.output]

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        # The dense layers fix the length; other lengths would fail deep inside a matmul.
        if x.shape[-1] != self.config.length:
            raise ValueError(
                f"basset: this model takes sequences of exactly {self.config.length} bp, "
                f"got {x.shape[-1]}"
            )

    def forward_from_first_activation(self, a: torch.Tensor) -> torch.Tensor:
        return self.forward_from_block(1, self.first_block.reduce(a))

    def forward_from_block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        for block in self.conv_blocks[i:]:
            h = block(h)
        return self._dense_head(h.flatten(1))

    def _dense_head(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.dense:
            h = block(h)
        return self.output(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.training
            and self.fast_training
            and x.device.type == "cpu"
            and all(block.has_channels_last_path() for block in self.conv_blocks)
        ):
            self.check_input(x)
            # The conv tower as (batch, channels, 1, L) in channels-last memory: the same
            # function to float rounding, about 1.4x faster per training step on CPU
            # (bench/train_throughput.py). Evaluation keeps the plain path, so that
            # forward(x) == forward_from_first_activation(first_activation(x)) exactly.
            h = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            for block in self.conv_blocks:
                h = block.forward_channels_last(h)
            return self._dense_head(h.squeeze(2).flatten(1))
        return super().forward(x)
