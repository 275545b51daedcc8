"""Convolutional models for images (height, width, channels)."""

from __future__ import annotations

import keras

from plugins.data.base import DataSpec
from plugins.model.head import Head
from plugins.registry import ConfigError, register


def require_image(spec: DataSpec, model: str) -> None:
    """Refuses data that is not (height, width, channels) images."""
    if len(spec.input_shape) != 3:
        raise ConfigError(
            f"model '{model}' needs images (height, width, channels) but the data's examples have shape "
            f"{spec.input_shape}; use model=mlp or model=linear"
        )


@register("model", "cnn", context=("spec", "head"), kinds=("image",))
def cnn(
    spec: DataSpec,
    head: Head,
    filters: list[int] = (32, 64),
    convs_per_block: int = 2,
    kernel_size: int = 3,
    pooling: str = "max",
    batch_norm: bool | str = True,
    dense: int = 128,
    dropout: float = 0.3,
    activation: str = "relu",
) -> keras.Model:
    """A VGG-style CNN: blocks of convolutions, each block followed by 2×2 pooling.

    Args:
        spec: the data's spec (input shape; images only).
        head: the output head.
        filters: the number of filters of each block.
        convs_per_block: 3×3 convolutions in each block.
        kernel_size: the convolutions' kernel size.
        pooling: "max" or "avg" after each block.
        batch_norm: batch normalization after each convolution (true), none (false), or "group": group
            normalization (8 groups; each image on its own: what DP-SGD, `privacy=dp_sgd`, needs).
        dense: units of the dense layer before the head (0 for none).
        dropout: dropout rate before the head.
        activation: the hidden layers' activation.

    Returns:
        A functional keras.Model.

    Example:
        `python -m workflows.train model=cnn model.filters=[16,32]`
    """
    require_image(spec, "cnn")
    if batch_norm not in (True, False, "group"):
        raise ConfigError(f"model.batch_norm={batch_norm!r}: give true, false or group")
    if pooling not in ("max", "avg"):
        raise ConfigError(f"model.pooling='{pooling}' is unknown; valid: max, avg")
    pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
    inputs = keras.Input(spec.input_shape)
    x = inputs
    for width in filters:
        for _ in range(convs_per_block):
            x = keras.layers.Conv2D(width, kernel_size, padding="same", use_bias=batch_norm is False)(x)
            if batch_norm == "group":
                x = keras.layers.GroupNormalization(groups=8 if width % 8 == 0 else 1)(x)
            elif batch_norm:
                x = keras.layers.BatchNormalization()(x)
            x = keras.layers.Activation(activation)(x)
        if min(x.shape[1], x.shape[2]) >= 2:
            x = pool(2)(x)
    x = keras.layers.Flatten()(x)
    if dense:
        x = keras.layers.Dense(dense, activation=activation)(x)
    x = keras.layers.Dropout(dropout)(x)  # kept at rate 0 so that regularizer.dropout can set it
    return keras.Model(inputs, head.layer()(x), name="cnn")
