"""Data sets that ship with scikit-learn: no download, no network."""

from __future__ import annotations

import numpy as np
from sklearn import datasets

from plugins.data.base import DataSpec, Splits, split_arrays
from plugins.registry import register


@register("data", "digits")
def digits(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """scikit-learn's 1,797 handwritten digits: 8×8 grey images, 10 classes.

    Pixels are scaled from 0–16 to 0–1; the split is stratified.

    Args:
        val_fraction: share of the images kept for validation.
        test_fraction: share of the images kept for the test.
        seed: the split's random seed (the same seed, the same split).

    Returns:
        Splits of (8, 8, 1) float32 images and int32 labels.
    """
    bunch = datasets.load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int32)
    spec = DataSpec(
        input_shape=x.shape[1:], task="classification", num_classes=10,
        class_names=[str(c) for c in bunch.target_names], kind="image",
    )
    return split_arrays(x, y, spec, val_fraction, test_fraction, seed)
