"""The Keras layers behind the non-geometric image ops (plugins/augmentation/photometric.py builds them): imported
when an op is built, so that listing or checking the ops, and the augment stage's geometric copies, start no
TensorFlow."""

from __future__ import annotations

import math

import keras
from keras import ops

from plugins.augmentation import VALUE_RANGE
from plugins.registry import ConfigError


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
