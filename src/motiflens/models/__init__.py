"""Models: Basset and the Deep Motif Dashboard CNN, RNN and CNN-RNN; their weights.

Every model takes one-hot ``(batch, 4, L)`` float32 and returns ``(batch, n_targets)``
logits, and describes itself (:class:`SequenceModel`: ``needs_length``,
``is_recurrent``, ``output_lengths``, ``ism_layers``, ``recurrent_parts``). Conv models
(:class:`FirstConvModel`) also expose ``conv1``, ``first_activation(x)`` and
``forward_from_first_activation(a)``. A new architecture is one module and one
:func:`register_model` call. :func:`build_model` first runs the resource guard
(:func:`check_resources`: parameters, memory, widths against the input length).
"""

from motiflens.models.basset import Basset
from motiflens.models.demo import DeMoCNN, DeMoCNNRNN, DeMoRNN
from motiflens.models.layers import (
    ConvBlock,
    FirstConvModel,
    LSTMReadout,
    RecurrentParts,
    SequenceModel,
)
from motiflens.models.registry import (
    MODELS,
    build_model,
    check_resources,
    estimate_resources,
    load_weights,
    loss_function,
    output_lengths,
    pick_device,
    predict_transform,
    prepared_model,
    register_model,
    save_weights,
)
from motiflens.models.resources import ResourceEstimate

__all__ = [
    "MODELS",
    "Basset",
    "ConvBlock",
    "DeMoCNN",
    "DeMoCNNRNN",
    "DeMoRNN",
    "FirstConvModel",
    "LSTMReadout",
    "RecurrentParts",
    "ResourceEstimate",
    "SequenceModel",
    "build_model",
    "check_resources",
    "estimate_resources",
    "load_weights",
    "loss_function",
    "output_lengths",
    "pick_device",
    "predict_transform",
    "prepared_model",
    "register_model",
    "save_weights",
]
