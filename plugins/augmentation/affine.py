"""Geometric augmentation as one projective warp per batch.

Every geometric op (flip, rotation, translation, zoom, shear) is a
`RandomAffine` layer with one component set, and the augmentation pipeline
merges consecutive ones into a single `RandomAffine`: each image is warped
once, by the product of its sampled matrices, with one
`keras.ops.image.affine_transform` call per batch, where a chain of Keras
layers warps it once per op (and ImageDataGenerator once per image in Python).

Conventions (ImageDataGenerator's): angles in degrees, positive rotation and
shear counter-clockwise; shifts as fractions of the width/height; zoom
factors > 1 enlarge the content.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from plugins.registry import ConfigError, ParamError, did_you_mean, register

FILL_MODES = ("constant", "nearest", "reflect", "wrap", "mirror")
FILL = {"fill_mode": {"choices": list(FILL_MODES)}}  # declared: refused before Keras (plugins/manifest.json)
COMPONENTS = ("rotation", "shift", "zoom", "shear", "flip")


def transform(theta, shear, zx, zy, tx, ty, fx, fy, height: int, width: int):
    """The (batch, 8) output → input maps of `keras.ops.image.affine_transform`, about the image centre.

    Args:
        theta: rotation, radians; positive turns the content counter-clockwise on screen.
        shear: shear angle, radians.
        zx, zy: zoom factors (> 1 enlarges the content).
        tx, ty: shifts in pixels.
        fx, fy: -1 to flip that axis, else 1.
        height, width: the image size.
    """
    cos, sin = ops.cos(theta), ops.sin(theta)
    a, b = fx * cos / zx, -fy * (sin + ops.tan(shear) * cos) / zx
    c, d = fx * sin / zy, fy * (cos - ops.tan(shear) * sin) / zy
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    zeros = ops.zeros_like(a)
    return ops.stack([a, b, cx - a * cx - b * cy - tx, c, d, cy - c * cx - d * cy - ty, zeros, zeros], axis=1)


class RandomAffine(keras.layers.Layer):
    """Random rotation, shifts, zoom, shear and flips, composed into one warp per image.

    Each component is applied to an image with its own probability.

    Args:
        rotation: maximum angle, degrees (uniform in ±rotation).
        width_shift: maximum horizontal shift, fraction of the width.
        height_shift: maximum vertical shift, fraction of the height.
        zoom: [low, high] zoom factors (1 is none).
        shear: maximum shear angle, degrees.
        horizontal_flip: flip left-right with probability `flip_probability`.
        vertical_flip: flip up-down with probability `flip_probability`.
        probabilities: {component: probability} for rotation, shift, zoom, shear (default 1).
        flip_probability: the chance of each flip (default 0.5).
        fill_mode: how to fill outside the image: constant, nearest, reflect, wrap, mirror.
        fill_value: the value of `constant` filling.
        interpolation: "bilinear" or "nearest".
        seed: the random seed.

    Example:
    >>> layer = RandomAffine(rotation=20, width_shift=0.2, height_shift=0.2, horizontal_flip=True, seed=0)
    >>> augmented = layer(images, training=True)
    """

    def __init__(
        self,
        rotation: float = 0.0,
        width_shift: float = 0.0,
        height_shift: float = 0.0,
        zoom: tuple[float, float] = (1.0, 1.0),
        shear: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        probabilities: dict | None = None,
        flip_probability: float = 0.5,
        fill_mode: str = "reflect",
        fill_value: float = 0.0,
        interpolation: str = "bilinear",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if fill_mode not in FILL_MODES:
            raise ParamError("fill_mode", f"'{fill_mode}' is unknown; {did_you_mean(fill_mode, FILL_MODES)}")
        if interpolation not in ("bilinear", "nearest"):
            raise ParamError("interpolation", f"'{interpolation}' is unknown; valid: bilinear, nearest")
        zoom = tuple(float(z) for z in zoom)
        if len(zoom) != 2 or not 0 < zoom[0] <= zoom[1]:
            raise ConfigError(f"zoom={list(zoom)} must be [low, high] with 0 < low ≤ high")
        self.rotation, self.width_shift, self.height_shift = float(rotation), float(width_shift), float(height_shift)
        self.zoom, self.shear = zoom, float(shear)
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.probabilities = {k: float(v) for k, v in (probabilities or {}).items()}
        for key, value in [*self.probabilities.items(), ("flip", flip_probability)]:
            if key not in COMPONENTS or not 0.0 <= value <= 1.0:
                raise ConfigError(f"probability of '{key}'={value}: components are {', '.join(COMPONENTS)}, in [0, 1]")
        self.flip_probability = float(flip_probability)
        self.fill_mode, self.fill_value, self.interpolation = fill_mode, float(fill_value), interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def components(self) -> set[str]:
        """The components this layer sets."""
        out = set()
        if self.rotation:
            out.add("rotation")
        if self.width_shift or self.height_shift:
            out.add("shift")
        if self.zoom != (1.0, 1.0):
            out.add("zoom")
        if self.shear:
            out.add("shear")
        if self.horizontal_flip or self.vertical_flip:
            out.add("flip")
        return out

    def _apply(self, component: str, value, identity, batch: int):
        """`value` where the component fires for the image, else `identity`."""
        p = self.flip_probability if component == "flip" else self.probabilities.get(component, 1.0)
        if p >= 1.0:
            return value
        fire = keras.random.uniform((batch,), seed=self.seed_generator) < p
        return ops.where(fire, value, identity)

    def matrices(self, batch: int, height: int, width: int):
        """The (batch, 8) transforms mapping output pixels to input pixels."""
        uniform = lambda low, high: keras.random.uniform((batch,), low, high, seed=self.seed_generator)  # noqa: E731
        zeros, ones = ops.zeros((batch,)), ops.ones((batch,))
        theta = self._apply("rotation", uniform(-self.rotation, self.rotation), zeros, batch) * (math.pi / 180)
        shear = self._apply("shear", uniform(-self.shear, self.shear), zeros, batch) * (math.pi / 180)
        zx = self._apply("zoom", uniform(*self.zoom), ones, batch)
        zy = self._apply("zoom", uniform(*self.zoom), ones, batch)
        tx = self._apply("shift", uniform(-self.width_shift, self.width_shift), zeros, batch) * width
        ty = self._apply("shift", uniform(-self.height_shift, self.height_shift), zeros, batch) * height
        fx = self._apply("flip", -ones, ones, batch) if self.horizontal_flip else ones
        fy = self._apply("flip", -ones, ones, batch) if self.vertical_flip else ones
        return transform(theta, shear, zx, zy, tx, ty, fx, fy, height, width)

    def call(self, images, training=True):
        if not training or not self.components():
            return images
        shape = ops.shape(images)
        transforms = self.matrices(shape[0], images.shape[1], images.shape[2])
        out = ops.image.affine_transform(
            images, transforms, interpolation=self.interpolation, fill_mode=self.fill_mode, fill_value=self.fill_value
        )
        return ops.cast(out, images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def merge(self, other: RandomAffine) -> RandomAffine | None:
        """One layer doing both, or None when they overlap or fill differently."""
        if self.components() & other.components() or (self.fill_mode, self.fill_value, self.interpolation) != (
            other.fill_mode,
            other.fill_value,
            other.interpolation,
        ):
            return None
        config = self.get_config()
        theirs = other.get_config()
        for key in ("rotation", "width_shift", "height_shift", "shear"):
            config[key] = config[key] or theirs[key]
        config["zoom"] = config["zoom"] if tuple(config["zoom"]) != (1.0, 1.0) else theirs["zoom"]
        for key in ("horizontal_flip", "vertical_flip"):
            config[key] = config[key] or theirs[key]
        if other.horizontal_flip or other.vertical_flip:
            config["flip_probability"] = theirs["flip_probability"]
        config["probabilities"] = {**theirs["probabilities"], **config["probabilities"]}
        config.pop("name", None)
        return RandomAffine(**config)

    def get_config(self):
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "width_shift": self.width_shift,
            "height_shift": self.height_shift,
            "zoom": list(self.zoom),
            "shear": self.shear,
            "horizontal_flip": self.horizontal_flip,
            "vertical_flip": self.vertical_flip,
            "probabilities": dict(self.probabilities),
            "flip_probability": self.flip_probability,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }


keras.saving.register_keras_serializable(package="kerasforge.augmentation", name="RandomAffine")(RandomAffine)

_FILL = {"fill_mode": "reflect", "fill_value": 0.0, "interpolation": "bilinear"}
CONTEXT = ("seed",)


@register("augmentation", "flip", context=CONTEXT, geometric=True)
def flip(seed: int, mode: str = "horizontal", probability: float = 0.5) -> RandomAffine:
    """Mirror images: mode horizontal, vertical or horizontal_and_vertical (each axis with `probability`)."""
    if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
        raise ConfigError(f"flip mode '{mode}' is unknown; valid: horizontal, vertical, horizontal_and_vertical")
    return RandomAffine(
        horizontal_flip="horizontal" in mode, vertical_flip="vertical" in mode, flip_probability=probability, seed=seed
    )


@register("augmentation", "rotation", context=CONTEXT, geometric=True, values=FILL)
def rotation(
    seed: int,
    degrees: float = 15.0,
    probability: float = 1.0,
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    interpolation: str = "bilinear",
) -> RandomAffine:
    """Rotate by a uniform angle in ±degrees (counter-clockwise positive)."""
    return RandomAffine(
        rotation=degrees,
        probabilities={"rotation": probability},
        fill_mode=fill_mode,
        fill_value=fill_value,
        interpolation=interpolation,
        seed=seed,
    )


@register("augmentation", "translation", context=CONTEXT, geometric=True, values=FILL)
def translation(
    seed: int,
    width: float = 0.1,
    height: float = 0.1,
    probability: float = 1.0,
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    interpolation: str = "bilinear",
) -> RandomAffine:
    """Shift by uniform fractions of the width and the height (±width, ±height)."""
    return RandomAffine(
        width_shift=width,
        height_shift=height,
        probabilities={"shift": probability},
        fill_mode=fill_mode,
        fill_value=fill_value,
        interpolation=interpolation,
        seed=seed,
    )


@register("augmentation", "zoom", context=CONTEXT, geometric=True, values=FILL)
def zoom(
    seed: int,
    low: float = 0.9,
    high: float = 1.1,
    probability: float = 1.0,
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    interpolation: str = "bilinear",
) -> RandomAffine:
    """Scale the content by uniform factors in [low, high], independently along each axis (> 1 enlarges)."""
    return RandomAffine(
        zoom=(low, high),
        probabilities={"zoom": probability},
        fill_mode=fill_mode,
        fill_value=fill_value,
        interpolation=interpolation,
        seed=seed,
    )


@register("augmentation", "shear", context=CONTEXT, geometric=True, values=FILL)
def shear(
    seed: int,
    degrees: float = 10.0,
    probability: float = 1.0,
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    interpolation: str = "bilinear",
) -> RandomAffine:
    """Shear by a uniform angle in ±degrees."""
    return RandomAffine(
        shear=degrees,
        probabilities={"shear": probability},
        fill_mode=fill_mode,
        fill_value=fill_value,
        interpolation=interpolation,
        seed=seed,
    )


def fuse(layers: list[keras.layers.Layer]) -> list[keras.layers.Layer]:
    """Merges consecutive RandomAffine layers into one where they do not overlap.

    Example:
    >>> fuse([flip(0), rotation(1), translation(2)])   # one RandomAffine doing all three
    """
    out: list[keras.layers.Layer] = []
    for layer in layers:
        if out and isinstance(out[-1], RandomAffine) and isinstance(layer, RandomAffine):
            merged = out[-1].merge(layer)
            if merged is not None:
                out[-1] = merged
                continue
        out.append(layer)
    return out
