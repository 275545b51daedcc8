"""Pre-activation ResNet for small images (He et al., 2016, "Identity Mappings in Deep Residual Networks")."""

from __future__ import annotations

import keras

from plugins.data.base import DataSpec
from plugins.model.conv import require_image
from plugins.model.head import Head
from plugins.registry import ConfigError, register

DEPTHS = (20, 32, 56, 110)


def _preact_block(x, filters: int, stride: int, name: str):
    """BN → ReLU → conv3×3 → BN → ReLU → conv3×3, plus the shortcut (a 1×1 projection when the shape changes)."""
    shortcut = x
    x = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = keras.layers.Activation("relu", name=f"{name}_relu1")(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn2")(x)
    x = keras.layers.Activation("relu", name=f"{name}_relu2")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def resize_input(inputs, spec: DataSpec, size: int | None):
    """Resizes images to size×size (bilinear) when `size` is set and differs from the data's."""
    if size and tuple(spec.input_shape[:2]) != (size, size):
        return keras.layers.Resizing(size, size, name="resize")(inputs)
    return inputs


@register("model", "resnet", context=("spec", "head"), kinds=("image",))
def resnet(
    spec: DataSpec,
    head: Head,
    depth: int = 20,
    width: int = 16,
    input_size: int | None = None,
    dropout: float = 0.0,
) -> keras.Model:
    """A CIFAR-style pre-activation ResNet: 3 stages of (depth − 2) / 6 blocks, width·(1, 2, 4) filters.

    Args:
        spec: the data's spec (images only).
        head: the output head.
        depth: 20, 32, 56 or 110 layers.
        width: filters of the first stage (16 in the paper).
        input_size: resize images to input_size × input_size first (e.g. 32 for 8×8 digits).
        dropout: dropout rate before the head.

    Returns:
        A functional keras.Model.

    Example:
        `python -m workflows.train model=resnet model.depth=20 model.input_size=32`
    """
    require_image(spec, "resnet")
    if depth not in DEPTHS:
        raise ConfigError(
            f"model.depth={depth}: a pre-activation ResNet has depth 6n+2; valid: {', '.join(map(str, DEPTHS))}"
        )
    blocks = (depth - 2) // 6
    inputs = keras.Input(spec.input_shape)
    x = resize_input(inputs, spec, input_size)
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem")(x)
    for stage, filters in enumerate((width, width * 2, width * 4)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 and min(x.shape[1], x.shape[2]) >= 2 else 1
            x = _preact_block(x, filters, stride, f"stage{stage + 1}_block{block + 1}")
    x = keras.layers.BatchNormalization(name="final_bn")(x)
    x = keras.layers.Activation("relu", name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name=f"resnet{depth}")
