"""Recurrent models: stacked LSTM/GRU over (time, features) sequences; images are read row by row."""

from __future__ import annotations

import keras

from plugins.data.base import DataSpec
from plugins.model.head import Head
from plugins.registry import ConfigError, register


def _recurrent(kind, spec: DataSpec, head: Head, units, bidirectional: bool, dropout: float, name: str):
    shape = spec.input_shape
    if len(shape) not in (2, 3):
        raise ConfigError(
            f"model '{name}' needs sequences (time, features) or images (height, width, channels) but the data's "
            f"examples have shape {shape}; use model=mlp or model=linear"
        )
    inputs = keras.Input(shape)
    x = keras.layers.Reshape((shape[0], shape[1] * shape[2]), name="rows")(inputs) if len(shape) == 3 else inputs
    for i, width in enumerate(units):
        layer = kind(width, return_sequences=i < len(units) - 1, dropout=dropout, name=f"{name}{i + 1}")
        x = keras.layers.Bidirectional(layer, name=f"bi_{name}{i + 1}")(x) if bidirectional else layer(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name=name)


@register("model", "lstm", context=("spec", "head"))
def lstm(
    spec: DataSpec, head: Head, units: list[int] = (64,), bidirectional: bool = False, dropout: float = 0.0
) -> keras.Model:
    """Stacked LSTM; an image is a sequence of its rows (8×8 digits: 8 steps of 8 pixels).

    Args:
        spec: the data's spec: (time, features) sequences or images.
        head: the output head.
        units: the width of each stacked layer.
        bidirectional: read the sequence both ways.
        dropout: dropout on each layer's inputs and before the head.

    Example:
        `python -m workflows.train model=lstm 'model.units=[64,64]' model.bidirectional=true`
    """
    return _recurrent(keras.layers.LSTM, spec, head, units, bidirectional, dropout, "lstm")


@register("model", "gru", context=("spec", "head"))
def gru(
    spec: DataSpec, head: Head, units: list[int] = (64,), bidirectional: bool = False, dropout: float = 0.0
) -> keras.Model:
    """Stacked GRU; an image is a sequence of its rows. Arguments as `lstm`."""
    return _recurrent(keras.layers.GRU, spec, head, units, bidirectional, dropout, "gru")
