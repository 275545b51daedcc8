"""The geometric augmentation ops: flip, rotation, translation, zoom, shear. Each builds a `warp.Affine` (NumPy and
OpenCV, no TensorFlow); consecutive ones fuse into one warp per image (`warp.fuse`), and training runs them as one
Keras layer (`_keras_layers.RandomAffine`). See plugins/augmentation/warp.py for the conventions.
"""

from __future__ import annotations

from plugins.augmentation.warp import FILL, Affine
from plugins.registry import ConfigError, register

_FILL = {"fill_mode": "reflect", "fill_value": 0.0, "interpolation": "bilinear"}
CONTEXT = ("seed",)


@register("augmentation", "flip", context=CONTEXT, geometric=True)
def flip(seed: int, mode: str = "horizontal", probability: float = 0.5) -> Affine:
    """Mirror images: mode horizontal, vertical or horizontal_and_vertical (each axis with `probability`)."""
    if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
        raise ConfigError(f"flip mode '{mode}' is unknown; valid: horizontal, vertical, horizontal_and_vertical")
    return Affine(
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
) -> Affine:
    """Rotate by a uniform angle in ±degrees (counter-clockwise positive)."""
    return Affine(
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
) -> Affine:
    """Shift by uniform fractions of the width and the height (±width, ±height)."""
    return Affine(
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
) -> Affine:
    """Scale the content by uniform factors in [low, high], independently along each axis (> 1 enlarges)."""
    return Affine(
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
) -> Affine:
    """Shear by a uniform angle in ±degrees."""
    return Affine(
        shear=degrees,
        probabilities={"shear": probability},
        fill_mode=fill_mode,
        fill_value=fill_value,
        interpolation=interpolation,
        seed=seed,
    )
