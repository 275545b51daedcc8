"""Fully connected models: they take any input and flatten it."""

from __future__ import annotations

import keras

from plugins.data.base import DataSpec
from plugins.model.head import Head
from plugins.model.text import bag_of_ngrams, has_text
from plugins.registry import ConfigError, register


@register("model", "mlp", context=("spec", "head"))
def mlp(
    spec: DataSpec,
    head: Head,
    units: list[int] = (128, 64),
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> keras.Model:
    """A multi-layer perceptron; a text column is read as a bag of words and n-grams (TF-IDF, in the model).

    Args:
        spec: the data's spec (input shape; a table's text columns).
        head: the output head.
        units: width of each hidden layer.
        activation: the hidden layers' activation.
        dropout: dropout rate after each hidden layer (0 for none).
        batch_norm: batch normalization before each activation.

    Returns:
        A functional keras.Model.

    Example:
        `python -m workflows.train model=mlp model.units=[256,128]`
    """
    inputs = keras.Input(spec.input_shape)
    x = bag_of_ngrams(inputs, spec) if has_text(spec) else keras.layers.Flatten()(inputs)
    for width in units:
        x = keras.layers.Dense(width, use_bias=not batch_norm)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation(activation)(x)
        x = keras.layers.Dropout(dropout)(x)  # kept at rate 0 so that regularizer.dropout can set it
    return keras.Model(inputs, head.layer()(x), name="mlp")


@register("model", "linear", context=("spec", "head"))
def linear(spec: DataSpec, head: Head, kernel_initializer: str = "zeros") -> keras.Model:
    """One Dense layer on the flattened input: linear regression, or logistic/softmax regression for classes.

    The head decides the activation (identity for regression; logits for
    a cross-entropy). Starting from zero weights, as the textbook does.

    Args:
        spec: the data's spec.
        head: the output head.
        kernel_initializer: the weights' initializer ("zeros" as in the textbook).

    Returns:
        A functional keras.Model with one Dense layer.

    Example:
        `python -m workflows.train experiment=classic_linear_gd`
    """
    if has_text(spec):
        raise ConfigError(
            "model 'linear' reads numbers, and this table has a text column; use model=mlp "
            "(a bag of words and n-grams) or model=conv1d"
        )
    inputs = keras.Input(spec.input_shape)
    x = keras.layers.Flatten()(inputs) if len(spec.input_shape) > 1 else inputs
    return keras.Model(inputs, head.layer(kernel_initializer)(x), name="linear")
