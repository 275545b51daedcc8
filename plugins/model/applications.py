"""Keras applications (ResNet50, MobileNetV2, EfficientNetB0) with this project's head.

No pre-trained weights by default; `weights: imagenet` downloads them once
into ~/.keras/models (3-channel images; grey images are repeated to 3
channels), and `weights: path/to/file.h5` loads a weights file of the same
architecture without its top (ImageNet's file placed by hand, or your own
pretraining) with the same input preprocessing. Images smaller than the
architecture's minimum are resized. The base is the model's nested
`keras.Model` layer: `finetune=two_phase` freezes and unfreezes it.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np

from plugins.data.base import DataSpec
from plugins.model.conv import require_image
from plugins.model.head import Head
from plugins.registry import ConfigError, register

MIN_SIZE = 32  # the smallest input keras.applications accept


def _scaling(kind: str) -> list[keras.layers.Layer]:
    """Layers mapping [0, 1] pixels to what the ImageNet weights were trained on (no Lambda: safe to load)."""
    if kind == "mobilenet_v2":
        return [keras.layers.Rescaling(2.0, offset=-1.0, name="to_tf_range")]
    if kind == "efficientnet_b0":
        return [keras.layers.Rescaling(255.0, name="to_0_255")]  # the model normalizes inside
    # ResNet50: "caffe" mode, BGR with the ImageNet means subtracted.
    flip = keras.layers.Conv2D(3, 1, use_bias=False, trainable=False, name="rgb_to_bgr")
    return [
        keras.layers.Rescaling(255.0, name="to_0_255"),
        keras.layers.Normalization(mean=[123.68, 116.779, 103.939], variance=[1.0, 1.0, 1.0], name="imagenet_mean"),
        flip,
    ]


def _weights_file(err: BaseException) -> str:
    """The weights file Keras tried to fetch, named from the failed `keras.utils.get_file` call (its frame's
    `origin`), else from the error's URL."""
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "get_file" and isinstance(frame.f_locals.get("origin"), str):
            origin = frame.f_locals["origin"]
            return f"{origin.rsplit('/', 1)[-1]} (from {origin})"
        tb = tb.tb_next
    found = re.search(r"https?://\S+/([^/\s]+\.h5)", str(err))
    return f"{found.group(1)} (from {found.group(0)})" if found else "its weights file"


def _application(
    kind: str, builder, spec: DataSpec, head: Head, weights: str | None, input_size: int | None, dropout: float
):
    require_image(spec, kind)
    pretrained = weights is not None
    if pretrained and weights != "imagenet":
        if not Path(weights).is_file():
            raise ConfigError(
                f"model.weights='{weights}': no such weights file; valid: null (random), imagenet, or "
                f"the path of a {kind} weights file without top (.h5 or .weights.h5)"
            )
        weights = str(Path(weights).resolve())
    height, width, channels = spec.input_shape
    size = input_size or max(MIN_SIZE, height, width)
    if size < MIN_SIZE:
        raise ConfigError(f"model.input_size={size} is below {MIN_SIZE}, the smallest input of {kind}")
    inputs = keras.Input(spec.input_shape)
    x = inputs
    if (height, width) != (size, size):
        x = keras.layers.Resizing(size, size, name="resize")(x)
    if pretrained:
        if channels == 1:
            x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
        elif channels != 3:
            raise ConfigError(
                f"model.weights={'imagenet' if weights == 'imagenet' else 'a file'} needs 1 or 3 "
                f"channels; the data has {channels}"
            )
        for layer in _scaling(kind):
            x = layer(x)
            if layer.name == "rgb_to_bgr":
                layer.set_weights([np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)])
    shape = tuple(x.shape[1:])
    try:
        base = builder(include_top=False, weights=weights, input_shape=shape, pooling="avg")
    except Exception as err:  # the download of the weights: no network, a proxy, a full disk; a wrong file
        if weights == "imagenet":
            from keras.src.backend.config import keras_home  # where keras.utils.get_file caches (KERAS_HOME)

            file = _weights_file(err)
            raise ConfigError(
                f"model.weights=imagenet: the {kind} weights could not be downloaded ({type(err).__name__}); place "
                f"{file} in {Path(keras_home()) / 'models'}/, or give model.weights the file's path, or use "
                "model.weights=null"
            ) from None
        if pretrained:
            raise ConfigError(
                f"model.weights={weights}: not {kind} weights without top for input {shape} "
                f"({type(err).__name__}: {str(err).splitlines()[0][:150]})"
            ) from None
        raise
    x = base(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name=kind)


def _register(kind: str, builder) -> None:
    def build(
        spec: DataSpec, head: Head, weights: str | None = None, input_size: int | None = None, dropout: float = 0.2
    ) -> keras.Model:
        return _application(kind, builder, spec, head, weights, input_size, dropout)

    build.__doc__ = f"""keras.applications' {builder.__name__} without its top, then this project's head.

    Args:
        spec: the data's spec (images).
        head: the output head.
        weights: null (random initialization), "imagenet" (downloaded once), or the path of a weights file of
            this architecture without top.
        input_size: resize images to input_size × input_size (default: at least {MIN_SIZE}).
        dropout: dropout rate before the head.

    Example:
        `python -m workflows.train model={kind} model.input_size=32`
    """
    build.__name__ = kind
    register("model", kind, context=("spec", "head"), kinds=("image",))(build)


_register("resnet50", keras.applications.ResNet50)
_register("mobilenet_v2", keras.applications.MobileNetV2)
_register("efficientnet_b0", keras.applications.EfficientNetB0)
