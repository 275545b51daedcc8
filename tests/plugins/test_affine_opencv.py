"""The geometric ops' OpenCV kernel (plugins/augmentation/affine.py: `warp`) against TensorFlow's warp and NumPy.

Tolerance: OpenCV interpolates on a grid of 1/32 pixel (TensorFlow exactly), so on a smooth image the two agree to
a small fraction of the image's range; pixels whose source lies within 2 pixels of the border are set aside (the
fill modes meet the interpolation there differently by a pixel's fraction).
"""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from plugins.augmentation._keras_layers import RandomAffine
from plugins.augmentation.warp import FILL_MODES, numpy_transform, warp


def smooth(batch: int = 6, size: int = 40, channels: int = 3) -> np.ndarray:
    """Images with structure at every scale a warp moves: gradients, a disc and a sine pattern, in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    out = []
    for i in range(batch):
        disc = ((x - 0.3 - 0.05 * i) ** 2 + (y - 0.6) ** 2 < 0.05).astype(float)
        channels_ = [x, y * (1 - x), 0.5 + 0.5 * np.sin(6 * x + 4 * y + i), disc, x * y][:channels]
        out.append(np.stack(channels_, -1))
    return np.asarray(out, np.float32)


def maps(batch: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta, shear = rng.uniform(-0.4, 0.4, batch), rng.uniform(-0.2, 0.2, batch)
    zx, zy = rng.uniform(0.8, 1.25, batch), rng.uniform(0.8, 1.25, batch)
    tx, ty = rng.uniform(-4, 4, batch), rng.uniform(-4, 4, batch)
    fx = np.where(rng.random(batch) < 0.5, -1.0, 1.0)
    return numpy_transform(theta, shear, zx, zy, tx, ty, fx, np.ones(batch), size, size)


def interior(m: np.ndarray, size: int, margin: float = 2.0) -> np.ndarray:
    """Output pixels whose source lies at least `margin` pixels inside the image."""
    y, x = np.mgrid[0:size, 0:size]
    sx = m[0] * x + m[1] * y + m[2]
    sy = m[3] * x + m[4] * y + m[5]
    return (sx >= margin) & (sx <= size - 1 - margin) & (sy >= margin) & (sy <= size - 1 - margin)


@pytest.mark.parametrize("fill_mode", [m for m in FILL_MODES if m != "mirror"])  # TensorFlow's has no mirror
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_opencv_agrees_with_tensorflows_warp(fill_mode, interpolation):
    images, m = smooth(), maps(6, 40)
    ours = warp(images, m, fill_mode, 0.25, interpolation)
    eight = np.concatenate([m, np.zeros((len(m), 2))], axis=1).astype(np.float32)
    theirs = np.asarray(
        ops.image.affine_transform(images, eight, interpolation=interpolation, fill_mode=fill_mode, fill_value=0.25)
    )
    for i in range(len(images)):
        inside = interior(m[i], 40)
        diff = np.abs(ours[i] - theirs[i])[inside]
        if interpolation == "bilinear":
            assert diff.max() < 0.02 and diff.mean() < 0.002, (i, diff.max(), diff.mean())
        else:  # a source pixel exactly between two: either may be taken
            assert (diff > 1e-6).mean() < 0.02, (i, (diff > 1e-6).mean())
    whole = np.abs(ours - theirs)
    assert whole.mean() < (0.01 if interpolation == "bilinear" else 0.03)  # borders too, on the whole


def test_flips_and_quarter_turns_are_numpys_exactly():
    images = smooth(4, 33, 3)
    size, one, zero = 33, np.ones(4), np.zeros(4)
    flipped = warp(
        images, numpy_transform(zero, zero, one, one, zero, zero, -one, one, size, size), "reflect", 0, "bilinear"
    )
    assert np.array_equal(flipped, images[:, :, ::-1])
    upside = warp(
        images, numpy_transform(zero, zero, one, one, zero, zero, one, -one, size, size), "reflect", 0, "bilinear"
    )
    assert np.array_equal(upside, images[:, ::-1])
    turned = warp(
        images,
        numpy_transform(np.pi / 2 * one, zero, one, one, zero, zero, one, one, size, size),
        "constant",
        0,
        "nearest",
    )
    assert np.array_equal(turned, np.rot90(images, k=1, axes=(1, 2)))  # counter-clockwise on screen


@pytest.mark.parametrize(
    ("fill_mode", "pad"), [("reflect", "symmetric"), ("mirror", "reflect"), ("wrap", "wrap"), ("nearest", "edge")]
)
def test_a_whole_pixel_shift_fills_as_numpy_pads(fill_mode, pad):
    images = smooth(2, 20)
    one, zero = np.ones(2), np.zeros(2)
    shifted = warp(
        images, numpy_transform(zero, zero, one, one, 5 * one, -3 * one, one, one, 20, 20), fill_mode, 0, "bilinear"
    )
    padded = np.pad(images, ((0, 0), (5, 5), (5, 5), (0, 0)), mode=pad)
    assert np.allclose(shifted, padded[:, 5 + 3 : 5 + 3 + 20, 5 - 5 : 5 - 5 + 20], atol=1e-6)


def test_more_than_four_channels_and_one_channel_and_uint8():
    images = smooth(3, 24, 5)
    m = maps(3, 24, seed=1)
    five = warp(images, m, "reflect", 0, "bilinear")
    parts = np.concatenate(
        [warp(images[..., :4], m, "reflect", 0, "bilinear"), warp(images[..., 4:], m, "reflect", 0, "bilinear")], -1
    )
    assert np.array_equal(five, parts)
    gray = (images[..., :1] * 255).astype(np.uint8)
    out = warp(gray, m, "reflect", 0, "bilinear")
    assert out.dtype == np.uint8 and out.shape == gray.shape


def test_a_seed_gives_the_same_bytes_on_and_off_tensorflow():
    import tensorflow as tf

    layer = RandomAffine(rotation=15, width_shift=0.1, height_shift=0.1, horizontal_flip=True, seed=3)
    images = smooth(16, 32)
    a, b = layer.augment_numpy(images, (7, 9)), layer.augment_numpy(images, (7, 9))
    assert np.array_equal(a, b) and not np.array_equal(a, layer.augment_numpy(images, (7, 10)))
    inside = tf.numpy_function(lambda x, s: layer.augment_numpy(x, s), [images, tf.constant([7, 9])], tf.float32)
    assert np.array_equal(np.asarray(inside), a)

    def run(layer: RandomAffine) -> np.ndarray:
        batches = tf.data.Dataset.from_tensor_slices(images).batch(8).map(lambda x: layer(x, training=True))
        return np.concatenate(list(batches.as_numpy_iterator()))

    out = run(RandomAffine(rotation=15, width_shift=0.1, height_shift=0.1, horizontal_flip=True, seed=3))
    again = run(RandomAffine(rotation=15, width_shift=0.1, height_shift=0.1, horizontal_flip=True, seed=3))
    assert out.shape == images.shape and not np.array_equal(out, images)
    assert np.array_equal(out, again)  # seeded: the same batches in tf.data, run after run


def test_the_threaded_batch_equals_image_by_image():
    images, m = smooth(40, 32), maps(40, 32, seed=5)
    whole = warp(images, m, "reflect", 0, "bilinear")
    one_by_one = np.concatenate([warp(images[i : i + 1], m[i : i + 1], "reflect", 0, "bilinear") for i in range(40)])
    assert np.array_equal(whole, one_by_one)
