"""Geometric augmentation without TensorFlow: one affine warp per image, drawn in NumPy, applied by OpenCV.

Every geometric op (flip, rotation, translation, zoom, shear, crop) builds an `Affine` with one component set, and
`fuse` merges consecutive ones into a single `Affine`: each image is warped once, by the product of its sampled
matrices, where a chain of Keras layers warps it once per op (and ImageDataGenerator once per image in Python).

The warp is OpenCV's `warpAffine` (`warp`: the kernel Albumentations runs; its Python binding releases the GIL,
so a batch's images are warped on a pool of threads). The matrices are drawn from a seed per batch, so a seed gives
the same bytes, in the augment stage's copies (NumPy and OpenCV only: that stage starts no TensorFlow) and in
training's tf.data pipeline, where `RandomAffine` (plugins/augmentation/_keras_layers.py) calls the same code through
one `tf.numpy_function` per batch. TensorFlow's own kernel (`keras.ops.image.affine_transform`) agrees with it to
within OpenCV's 1/32 pixel interpolation grid (tests/plugins/test_affine_opencv.py).

Conventions (ImageDataGenerator's): angles in degrees, positive rotation and shear counter-clockwise; shifts as
fractions of the width/height; zoom factors > 1 enlarge the content.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from plugins.registry import ConfigError, ParamError, did_you_mean

FILL_MODES = ("constant", "nearest", "reflect", "wrap", "mirror")
FILL = {"fill_mode": {"choices": list(FILL_MODES)}}  # declared: refused before Keras (plugins/manifest.json)
COMPONENTS = ("rotation", "shift", "zoom", "shear", "flip")


def numpy_transform(theta, shear, zx, zy, tx, ty, fx, fy, height: int, width: int) -> np.ndarray:
    """The (batch, 6) output → input maps (OpenCV's inverse maps; TensorFlow's kernel takes them with two zeros
    appended), about the image centre: rotation and shear in radians, zooms (> 1 enlarges), shifts in pixels, flips
    as -1."""
    cos, sin = np.cos(theta), np.sin(theta)
    a, b = fx * cos / zx, -fy * (sin + np.tan(shear) * cos) / zx
    c, d = fx * sin / zy, fy * (cos - np.tan(shear) * sin) / zy
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return np.stack([a, b, cx - a * cx - b * cy - tx, c, d, cy - c * cx - d * cy - ty], axis=1)


_BORDERS = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3, "mirror": 4}  # cv2.BORDER_* values
_THREADS = max(1, min(4, os.cpu_count() or 1))
_POOL: ThreadPoolExecutor | None = None


def warp(images: np.ndarray, maps: np.ndarray, fill_mode: str, fill_value: float, interpolation: str) -> np.ndarray:
    """Warps each image (batch, height, width, channels) by its (6,) output → input map with OpenCV.

    Fill modes follow Keras's: `reflect` is OpenCV's BORDER_REFLECT (d c b a | a b c d), `mirror` its
    BORDER_REFLECT_101 (d c b | a b c d), `wrap`, `nearest` (replicate) and `constant` (`fill_value`). The batch is
    split over a pool of threads (OpenCV releases the GIL inside each call).
    """
    import cv2

    global _POOL
    images = np.asarray(images)
    out = np.empty_like(images)
    height, width, channels = images.shape[1:]
    flags = (cv2.INTER_LINEAR if interpolation == "bilinear" else cv2.INTER_NEAREST) | cv2.WARP_INVERSE_MAP
    border = _BORDERS[fill_mode]

    def one(i: int) -> None:
        m = maps[i].reshape(2, 3)
        for c in range(0, channels, 4):  # OpenCV warps up to 4 channels at once
            part = images[i, :, :, c : c + 4]
            warped = cv2.warpAffine(
                part, m, (width, height), flags=flags, borderMode=border, borderValue=(fill_value,) * 4
            )
            out[i, :, :, c : c + 4] = warped.reshape(height, width, -1)

    if len(images) < 8 or _THREADS == 1:  # a pool's hand-off costs more than it gives on a few images
        for i in range(len(images)):
            one(i)
        return out

    def chunk(start: int) -> None:
        for i in range(start, min(start + step, len(images))):
            one(i)

    step = -(-len(images) // _THREADS)
    if _POOL is None:
        _POOL = ThreadPoolExecutor(_THREADS, thread_name_prefix="kerasforge-warp")
    list(_POOL.map(chunk, range(0, len(images), step)))
    return out


class Affine:
    """Random rotation, shifts, zoom, shear and flips, composed into one warp per image (NumPy and OpenCV: no
    TensorFlow; `RandomAffine` is the same as a Keras layer).

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
    >>> op = Affine(rotation=20, width_shift=0.2, height_shift=0.2, horizontal_flip=True, seed=0)
    >>> augmented = op.augment_numpy(images, seed=(0, 1))
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
    ):
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
        self.calls = 0  # batches augmented through __call__: each draws from (seed, calls)

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

    def _fires(self, rng: np.random.Generator, component: str, batch: int) -> np.ndarray:
        p = self.flip_probability if component == "flip" else self.probabilities.get(component, 1.0)
        return np.ones(batch, bool) if p >= 1.0 else rng.random(batch) < p

    def matrices(self, rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
        """The (batch, 6) maps from output pixels to input pixels, drawn from `rng`."""

        def drawn(component: str, low: float, high: float, identity: float) -> np.ndarray:
            value = rng.uniform(low, high, batch)
            return np.where(self._fires(rng, component, batch), value, identity)

        theta = drawn("rotation", -self.rotation, self.rotation, 0.0) * (math.pi / 180)
        shear = drawn("shear", -self.shear, self.shear, 0.0) * (math.pi / 180)
        zx = drawn("zoom", *self.zoom, 1.0)
        zy = drawn("zoom", *self.zoom, 1.0)
        tx = drawn("shift", -self.width_shift, self.width_shift, 0.0) * width
        ty = drawn("shift", -self.height_shift, self.height_shift, 0.0) * height
        ones = np.ones(batch)
        fx = np.where(self._fires(rng, "flip", batch), -1.0, 1.0) if self.horizontal_flip else ones
        fy = np.where(self._fires(rng, "flip", batch), -1.0, 1.0) if self.vertical_flip else ones
        return numpy_transform(theta, shear, zx, zy, tx, ty, fx, fy, height, width)

    def augment_numpy(self, images: np.ndarray, seed) -> np.ndarray:
        """The batch warped, without TensorFlow: its maps drawn from `seed` (an int or a pair), then OpenCV."""
        images = np.asarray(images)
        if not self.components() or len(images) == 0:
            return images
        squeeze = images.ndim == 3  # (batch, height, width): one channel
        if squeeze:
            images = images[..., None]
        rng = np.random.default_rng(np.asarray(seed, np.uint64).ravel().tolist())
        maps = self.matrices(rng, len(images), images.shape[1], images.shape[2])
        out = warp(images, maps, self.fill_mode, self.fill_value, self.interpolation)
        return out[..., 0] if squeeze else out

    def __call__(self, images: np.ndarray, training: bool = True) -> np.ndarray:
        """The batch warped (training) or as it is; each call draws anew from (seed, the number of calls)."""
        if not training:
            return np.asarray(images)
        self.calls += 1
        return self.augment_numpy(images, (self.seed or 0, self.calls))

    def merge(self, other: Affine) -> Affine | None:
        """One op doing both, or None when they overlap or fill differently."""
        if self.components() & other.components() or (self.fill_mode, self.fill_value, self.interpolation) != (
            other.fill_mode,
            other.fill_value,
            other.interpolation,
        ):
            return None
        config = self.config()
        theirs = other.config()
        for key in ("rotation", "width_shift", "height_shift", "shear"):
            config[key] = config[key] or theirs[key]
        config["zoom"] = config["zoom"] if tuple(config["zoom"]) != (1.0, 1.0) else theirs["zoom"]
        for key in ("horizontal_flip", "vertical_flip"):
            config[key] = config[key] or theirs[key]
        if other.horizontal_flip or other.vertical_flip:
            config["flip_probability"] = theirs["flip_probability"]
        config["probabilities"] = {**theirs["probabilities"], **config["probabilities"]}
        return type(self)(**config)

    def config(self) -> dict:
        """The arguments that make this op again."""
        return {
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


def fuse(ops: list[Any]) -> list[Any]:
    """Merges consecutive geometric ops (`Affine`, or `RandomAffine` layers) into one where they do not overlap.

    Example:
    >>> fuse([flip(0), rotation(1), translation(2)])   # one Affine doing all three
    """
    out: list[Any] = []
    for op in ops:
        if out and hasattr(out[-1], "merge") and hasattr(op, "merge") and type(op) is type(out[-1]):
            merged = out[-1].merge(op)
            if merged is not None:
                out[-1] = merged
                continue
        out.append(op)
    return out
