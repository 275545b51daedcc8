"""Non-geometric ops and crops: Keras's layers where it has them, each applied with a probability.

Pixel values are taken to be in [0, 1] (what the data plugins produce).
"""

from __future__ import annotations

from typing import Any

from plugins.augmentation import VALUE_RANGE
from plugins.augmentation.warp import FILL, Affine
from plugins.registry import ConfigError, register

CONTEXT = ("seed",)


def _with_probability(layer, probability: float, seed: int):
    from plugins.augmentation._photometric_layers import RandomApply

    return layer if probability >= 1.0 else RandomApply(layer, probability, seed=seed + 10_000)


@register("augmentation", "crop", context=CONTEXT, geometric=True, values=FILL)
def crop(seed: int, padding: float = 0.125, fill_mode: str = "reflect", probability: float = 1.0) -> Affine:
    """Random crop of a padded image, back to its size: a whole-pixel shift of up to ±padding (fraction of the side)."""
    return Affine(
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
) -> Any:
    """Random resized crop (Inception-style): a random area and aspect ratio, resized to the full image."""
    from plugins.augmentation._photometric_layers import RandomResizedCrop

    return _with_probability(RandomResizedCrop(scale, ratio, seed=seed), probability, seed)


@register("augmentation", "brightness", context=CONTEXT)
def brightness(seed: int, factor: float = 0.2, probability: float = 1.0) -> Any:
    """Add a uniform offset in ±factor (of the value range) to every pixel, clipped to [0, 1]."""
    import keras

    return _with_probability(
        keras.layers.RandomBrightness(factor, value_range=VALUE_RANGE, seed=seed), probability, seed
    )


@register("augmentation", "contrast", context=CONTEXT)
def contrast(seed: int, factor: float = 0.2, probability: float = 1.0) -> Any:
    """Scale the deviation from each image's mean by a factor in [1 − factor, 1 + factor], clipped to [0, 1]."""
    import keras

    return _with_probability(keras.layers.RandomContrast(factor, value_range=VALUE_RANGE, seed=seed), probability, seed)


@register("augmentation", "erasing", context=CONTEXT)
def erasing(seed: int, probability: float = 0.5, scale: list[float] = (0.02, 0.2)) -> Any:
    """Random erasing (cutout): blank a random rectangle covering a `scale` share of the image."""
    import keras

    return keras.layers.RandomErasing(
        factor=probability, scale=tuple(scale), fill_value=0.0, value_range=VALUE_RANGE, seed=seed
    )


@register("augmentation", "randaugment", context=CONTEXT)
def randaugment(seed: int, num_ops: int = 2, factor: float = 0.5, probability: float = 1.0) -> Any:
    """RandAugment (Cubuk et al., 2020): `num_ops` random ops per image at magnitude `factor`."""
    import keras

    return _with_probability(
        keras.layers.RandAugment(value_range=VALUE_RANGE, num_ops=num_ops, factor=factor, seed=seed), probability, seed
    )


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
) -> Any:
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
    geometric = Affine(
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
    import keras

    from plugins.augmentation._keras_layers import RandomAffine
    from plugins.augmentation._photometric_layers import RandomScale

    return keras.Sequential(
        [RandomAffine(**geometric.config()), RandomScale(*brightness_range, seed=seed + 1)], name="idg"
    )


# Ops that mix images *and their labels* within a batch: they run online (in tf.data, after the labels are
# made one-hot), and need a loss that takes one-hot labels.
@register("augmentation", "mixup", context=CONTEXT, mixes_labels=True)
def mixup(seed: int, alpha: float = 0.2) -> Any:
    """MixUp (Zhang et al., 2018): convex combinations of image pairs and of their labels.

    The weight of a pair is drawn from Beta(alpha, alpha).
    """
    import keras

    if alpha <= 0:
        raise ConfigError(f"mixup alpha={alpha} must be > 0, e.g. 0.2")
    return keras.layers.MixUp(alpha=alpha, seed=seed)


@register("augmentation", "cutmix", context=CONTEXT, mixes_labels=True)
def cutmix(seed: int, factor: float = 1.0) -> Any:
    """CutMix (Yun et al., 2019): paste a patch of another image; labels mixed by the patch's area."""
    import keras

    if factor <= 0:
        raise ConfigError(f"cutmix factor={factor} must be > 0, e.g. 1.0")
    return keras.layers.CutMix(factor=factor, seed=seed)


def __getattr__(name: str):
    """The Keras layers (RandomApply, RandomResizedCrop, RandomScale), imported on first use (they start TensorFlow)."""
    from plugins.augmentation import _photometric_layers

    try:
        return getattr(_photometric_layers, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
