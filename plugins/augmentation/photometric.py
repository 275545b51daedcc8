"""Non-geometric ops and crops: Keras's layers where it has them, each applied with a probability.

Pixel values are taken to be in [0, 1] (what the data plugins produce).
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from plugins.augmentation.affine import FILL, RandomAffine
from plugins.registry import ConfigError, register

VALUE_RANGE = (0.0, 1.0)
CONTEXT = ("seed",)


@keras.saving.register_keras_serializable(package="kerasforge.augmentation", name="RandomApply")
class RandomApply(keras.layers.Layer):
    """Applies `layer` to each image of a batch with probability `probability` (else leaves it as it is).

    Args:
        layer: any image-to-image Keras layer.
        probability: in [0, 1].
        seed: the random seed.
    """

    def __init__(self, layer: keras.layers.Layer, probability: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"probability={probability} must be in [0, 1]")
        self.layer, self.probability, self.seed = layer, float(probability), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training or self.probability == 0.0:
            return images
        out = ops.cast(self.layer(images, training=True), images.dtype)
        if self.probability >= 1.0:
            return out
        fire = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator) < self.probability
        return ops.where(fire, out, images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "layer": keras.saving.serialize_keras_object(self.layer),
            "probability": self.probability,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasforge.augmentation", name="RandomResizedCrop")
class RandomResizedCrop(keras.layers.Layer):
    """Crops a random area (a `scale` share of the image, aspect `ratio`) and resizes it to the full size.

    One affine warp per batch (the crop box mapped onto the output).
    """

    def __init__(self, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bilinear", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.ratio = tuple(map(float, scale)), tuple(map(float, ratio))
        if not 0 < self.scale[0] <= self.scale[1] <= 1 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ConfigError(
                f"resized_crop: scale={list(self.scale)} must be within (0, 1], ratio={list(self.ratio)} positive"
            )
        self.interpolation, self.seed = interpolation, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        area = keras.random.uniform((batch,), *self.scale, seed=self.seed_generator)
        log_ratio = keras.random.uniform(
            (batch,), math.log(self.ratio[0]), math.log(self.ratio[1]), seed=self.seed_generator
        )
        aspect = ops.exp(log_ratio)
        w = ops.minimum(ops.sqrt(area * aspect), 1.0) * width
        h = ops.minimum(ops.sqrt(area / aspect), 1.0) * height
        x0 = keras.random.uniform((batch,), seed=self.seed_generator) * (width - w)
        y0 = keras.random.uniform((batch,), seed=self.seed_generator) * (height - h)
        zeros = ops.zeros((batch,))
        transforms = ops.stack([w / width, zeros, x0, zeros, h / height, y0, zeros, zeros], axis=1)
        out = ops.image.affine_transform(images, transforms, interpolation=self.interpolation, fill_mode="nearest")
        return ops.cast(out, images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "scale": list(self.scale),
            "ratio": list(self.ratio),
            "interpolation": self.interpolation,
            "seed": self.seed,
        }


def _with_probability(layer, probability: float, seed: int):
    return layer if probability >= 1.0 else RandomApply(layer, probability, seed=seed + 10_000)


@register("augmentation", "crop", context=CONTEXT, geometric=True, values=FILL)
def crop(seed: int, padding: float = 0.125, fill_mode: str = "reflect", probability: float = 1.0) -> RandomAffine:
    """Random crop of a padded image, back to its size: a whole-pixel shift of up to ±padding (fraction of the side)."""
    return RandomAffine(
        width_shift=padding,
        height_shift=padding,
        probabilities={"shift": probability},
        fill_mode=fill_mode,
        interpolation="nearest",
        seed=seed,
    )


@register("augmentation", "resized_crop", context=CONTEXT)
def resized_crop(
    seed: int, scale: list[float] = (0.5, 1.0), ratio: list[float] = (0.75, 1.3333), probability: float = 1.0
) -> keras.layers.Layer:
    """Random resized crop (Inception-style): a random area and aspect ratio, resized to the full image."""
    return _with_probability(RandomResizedCrop(scale, ratio, seed=seed), probability, seed)


@register("augmentation", "brightness", context=CONTEXT)
def brightness(seed: int, factor: float = 0.2, probability: float = 1.0) -> keras.layers.Layer:
    """Add a uniform offset in ±factor (of the value range) to every pixel, clipped to [0, 1]."""
    return _with_probability(
        keras.layers.RandomBrightness(factor, value_range=VALUE_RANGE, seed=seed), probability, seed
    )


@register("augmentation", "contrast", context=CONTEXT)
def contrast(seed: int, factor: float = 0.2, probability: float = 1.0) -> keras.layers.Layer:
    """Scale the deviation from each image's mean by a factor in [1 − factor, 1 + factor], clipped to [0, 1]."""
    return _with_probability(keras.layers.RandomContrast(factor, value_range=VALUE_RANGE, seed=seed), probability, seed)


@register("augmentation", "erasing", context=CONTEXT)
def erasing(seed: int, probability: float = 0.5, scale: list[float] = (0.02, 0.2)) -> keras.layers.Layer:
    """Random erasing (cutout): blank a random rectangle covering a `scale` share of the image."""
    return keras.layers.RandomErasing(
        factor=probability, scale=tuple(scale), fill_value=0.0, value_range=VALUE_RANGE, seed=seed
    )


@register("augmentation", "randaugment", context=CONTEXT)
def randaugment(seed: int, num_ops: int = 2, factor: float = 0.5, probability: float = 1.0) -> keras.layers.Layer:
    """RandAugment (Cubuk et al., 2020): `num_ops` random ops per image at magnitude `factor`."""
    return _with_probability(
        keras.layers.RandAugment(value_range=VALUE_RANGE, num_ops=num_ops, factor=factor, seed=seed), probability, seed
    )


@keras.saving.register_keras_serializable(package="kerasforge.augmentation", name="RandomScale")
class RandomScale(keras.layers.Layer):
    """Multiplies each image by a uniform factor in [low, high], clipped to [0, 1].

    ImageDataGenerator's `brightness_range`.
    """

    def __init__(self, low: float, high: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.seed = float(low), float(high), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        factor = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), self.low, self.high, seed=self.seed_generator)
        return ops.cast(ops.clip(images * factor, *VALUE_RANGE), images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high, "seed": self.seed}


@register("augmentation", "idg", context=CONTEXT, geometric=True, values=FILL)
def idg(
    seed: int,
    rotation_range: float = 0.0,
    width_shift_range: float = 0.0,
    height_shift_range: float = 0.0,
    zoom_range: Any = 0.0,  # a float z, or [low, high]
    shear_range: float = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    brightness_range: list[float] | None = None,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> keras.layers.Layer:
    """ImageDataGenerator's augmentation arguments, one to one, as one fused warp (plus brightness).

    `ImageDataGenerator(rotation_range=20, width_shift_range=0.2, horizontal_flip=True)`
    becomes `{name: idg, rotation_range: 20, width_shift_range: 0.2, horizontal_flip: true}`.
    Meanings as there: degrees; shifts as fractions of the size; `zoom_range` z
    or [low, high] (factors < 1 zoom in); shear in degrees; flips with
    probability 0.5; `brightness_range` [low, high] multiplies the pixels;
    `fill_mode` and `cval` for the outside.
    """
    for key, value in (("width_shift_range", width_shift_range), ("height_shift_range", height_shift_range)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(
                f"idg {key}={value}: give a fraction of the image size in [0, 1) (pixel counts are not supported)"
            )
    try:
        low, high = (
            (1.0 - zoom_range, 1.0 + zoom_range) if isinstance(zoom_range, (int, float)) else map(float, zoom_range)
        )
    except (TypeError, ValueError):
        raise ConfigError(f"idg zoom_range={zoom_range!r} must be a number or [low, high]") from None
    if not 0 < low <= high:
        raise ConfigError(f"idg zoom_range={zoom_range} must give 0 < low ≤ high")
    # ImageDataGenerator scales coordinates by z (z < 1 enlarges the content); RandomAffine scales content.
    geometric = RandomAffine(
        rotation=rotation_range,
        width_shift=width_shift_range,
        height_shift=height_shift_range,
        zoom=(1.0 / high, 1.0 / low),
        shear=shear_range,
        horizontal_flip=horizontal_flip,
        vertical_flip=vertical_flip,
        fill_mode=fill_mode,
        fill_value=cval,
        seed=seed,
    )
    if not brightness_range:
        return geometric
    return keras.Sequential([geometric, RandomScale(*brightness_range, seed=seed + 1)], name="idg")


# Ops that mix images *and their labels* within a batch: they run online (in tf.data, after the labels are
# made one-hot), and need a loss that takes one-hot labels.
@register("augmentation", "mixup", context=CONTEXT, mixes_labels=True)
def mixup(seed: int, alpha: float = 0.2) -> keras.layers.Layer:
    """MixUp (Zhang et al., 2018): convex combinations of image pairs and of their labels.

    The weight of a pair is drawn from Beta(alpha, alpha).
    """
    if alpha <= 0:
        raise ConfigError(f"mixup alpha={alpha} must be > 0, e.g. 0.2")
    return keras.layers.MixUp(alpha=alpha, seed=seed)


@register("augmentation", "cutmix", context=CONTEXT, mixes_labels=True)
def cutmix(seed: int, factor: float = 1.0) -> keras.layers.Layer:
    """CutMix (Yun et al., 2019): paste a patch of another image; labels mixed by the patch's area."""
    if factor <= 0:
        raise ConfigError(f"cutmix factor={factor} must be > 0, e.g. 1.0")
    return keras.layers.CutMix(factor=factor, seed=seed)
