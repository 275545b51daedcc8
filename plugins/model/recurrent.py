"""Recurrent models: stacked LSTM/GRU over (time, features) sequences, a text's tokens, or an image's rows."""

from __future__ import annotations

import keras

from plugins.data.base import DataSpec
from plugins.model.head import Head
from plugins.model.text import embedding, has_text, join, split_row
from plugins.registry import ConfigError, register


def _stack(kind, x, units, bidirectional: bool, dropout: float, name: str):
    for i, width in enumerate(units):
        layer = kind(width, return_sequences=i < len(units) - 1, dropout=dropout, name=f"{name}{i + 1}")
        x = keras.layers.Bidirectional(layer, name=f"bi_{name}{i + 1}")(x) if bidirectional else layer(x)
    return x


def _recurrent(kind, spec: DataSpec, head: Head, units, bidirectional, dropout, name, embedding_dim, vectors):
    shape = spec.input_shape
    if has_text(spec):  # each text's tokens embedded (padding masked), read, and joined with the row's numbers
        inputs = keras.Input(shape)
        dense, texts = split_row(inputs, spec)
        read = []
        for tokens, c in texts:
            embedded = embedding(c, embedding_dim, vectors, mask_zero=True)(tokens)
            read.append(_stack(kind, embedded, units, bidirectional, dropout, f"{c['input']}.{name}"))
        x = keras.layers.Dropout(dropout)(join(dense, read))
        return keras.Model(inputs, head.layer()(x), name=name)
    if len(shape) not in (2, 3):
        raise ConfigError(
            f"model '{name}' needs sequences (time, features) or images (height, width, channels) but the data's "
            f"examples have shape {shape}; use model=mlp or model=linear"
        )
    inputs = keras.Input(shape)
    x = keras.layers.Reshape((shape[0], shape[1] * shape[2]), name="rows")(inputs) if len(shape) == 3 else inputs
    x = keras.layers.Dropout(dropout)(_stack(kind, x, units, bidirectional, dropout, name))
    return keras.Model(inputs, head.layer()(x), name=name)


@register("model", "lstm", context=("spec", "head"))
def lstm(
    spec: DataSpec,
    head: Head,
    units: list[int] = (64,),
    bidirectional: bool = False,
    dropout: float = 0.0,
    embedding_dim: int = 64,
    vectors: str | None = None,
) -> keras.Model:
    """Stacked LSTM over a series' window, a text's tokens, or an image's rows (8×8 digits: 8 steps of 8 pixels).

    Args:
        spec: the data's spec: (time, features) sequences, a table with text columns, or images.
        head: the output head.
        units: the width of each stacked layer.
        bidirectional: read the sequence both ways.
        dropout: dropout on each layer's inputs and before the head.
        embedding_dim: a text column's token embedding width.
        vectors: a GloVe-format file of pretrained word vectors for text columns (`embedding_dim` must match).

    Example:
        `python -m workflows.train model=lstm 'model.units=[64,64]' model.bidirectional=true`
    """
    return _recurrent(keras.layers.LSTM, spec, head, units, bidirectional, dropout, "lstm", embedding_dim, vectors)


@register("model", "gru", context=("spec", "head"))
def gru(
    spec: DataSpec,
    head: Head,
    units: list[int] = (64,),
    bidirectional: bool = False,
    dropout: float = 0.0,
    embedding_dim: int = 64,
    vectors: str | None = None,
) -> keras.Model:
    """Stacked GRU over a series' window, a text's tokens, or an image's rows. Arguments as `lstm`."""
    return _recurrent(keras.layers.GRU, spec, head, units, bidirectional, dropout, "gru", embedding_dim, vectors)
