"""Data sets that ship with scikit-learn: no download, no network.

scikit-learn is imported where a data set is loaded, not at the top: the config check lists the data plugins
(the check stage, every `dvc repro`) and needs no scikit-learn (0.9 s of its 1.3 s).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from plugins.data.base import DataSpec, Splits, split_arrays
from plugins.registry import register


@register("data", "digits", task="classification", kind="image")
def digits(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0, keep: dict | None = None) -> Splits:
    """scikit-learn's 1,797 handwritten digits: 8×8 grey images, 10 classes.

    Pixels are scaled from 0–16 to 0–1; the split is stratified.

    Args:
        val_fraction: share of the images kept for validation.
        test_fraction: share of the images kept for the test.
        seed: the split's random seed (the same seed, the same split).
        keep: an imbalanced variant: the share of each named class's training and validation images kept,
            e.g. `data.keep={3:0.1,8:0.1}` (the test split keeps them all, so that per-class recall stays measurable).

    Returns:
        Splits of (8, 8, 1) float32 images and int32 labels.
    """
    from sklearn import datasets  # see the module's doc: not at the top

    bunch = datasets.load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int32)
    spec = DataSpec(
        input_shape=x.shape[1:],
        task="classification",
        num_classes=10,
        class_names=[str(c) for c in bunch.target_names],
        kind="image",
    )
    splits = split_arrays(x, y, spec, val_fraction, test_fraction, seed)
    return subsample_classes(splits, keep) if keep else splits


def subsample_classes(splits: Splits, keep: dict[str, float]) -> Splits:
    """Keeps the first ⌈share × count⌉ training and validation rows of each named class (the split's order is already
    random); the test split is left whole."""
    import math

    from plugins.registry import ParamError, did_you_mean

    names = splits.spec.class_names
    for name, share in keep.items():
        if str(name) not in names:
            raise ParamError("keep", f"the data has no class '{name}'; {did_you_mean(str(name), names)}")
        if not 0.0 < float(share) <= 1.0:
            raise ParamError(f"keep.{name}", f"{share} must be a share in (0, 1]")

    def thin(split):
        x, y = split
        mask = np.ones(len(y), bool)
        for name, share in keep.items():
            rows = np.flatnonzero(y == names.index(str(name)))
            mask[rows[math.ceil(float(share) * len(rows)) :]] = False
        return x[mask], y[mask]

    return Splits(thin(splits.train), thin(splits.val), splits.test, splits.spec)


def standardize(splits: Splits, target: bool) -> Splits:
    """Scales features (and, for regression, the target) to zero mean and unit variance.

    The statistics are the training split's only.
    """
    from plugins.data.base import to_numpy

    x, y = to_numpy(splits.train)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    y_mean, y_std = (float(y.mean()), float(y.std()) or 1.0) if target else (0.0, 1.0)

    def scale(ds):
        xs, ys = to_numpy(ds)
        xs = ((xs - mean) / std).astype(np.float32)
        ys = ((ys - y_mean) / y_std).astype(np.float32) if target else ys
        return xs, ys

    scaling = {"mean": mean.astype(float).tolist(), "std": std.astype(float).tolist()}
    if target:
        scaling.update(target_mean=y_mean, target_std=y_std)
    spec = dataclasses.replace(splits.spec, scaling=scaling)  # travels with the model (its card holds the spec)
    return Splits(scale(splits.train), scale(splits.val), scale(splits.test), spec)


@register("data", "diabetes", task="regression", kind="tabular")
def diabetes(
    val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0, standardize_target: bool = True
) -> Splits:
    """scikit-learn's diabetes regression: 442 patients, 10 features, disease progression after a year.

    Features are standardized with the training split's mean and standard
    deviation; so is the target unless `standardize_target` is false.

    Args:
        val_fraction: share of the rows kept for validation.
        test_fraction: share of the rows kept for the test.
        seed: the split's random seed.
        standardize_target: scale the target too (metrics are then in standard deviations).

    Returns:
        Splits of (10,) float32 rows and float32 targets.
    """
    from sklearn import datasets  # see the module's doc: not at the top

    bunch = datasets.load_diabetes(scaled=False)
    x, y = bunch.data.astype(np.float32), bunch.target.astype(np.float32)
    spec = DataSpec(input_shape=(x.shape[1],), task="regression", num_targets=1, kind="tabular")
    return standardize(split_arrays(x, y, spec, val_fraction, test_fraction, seed), standardize_target)


@register("data", "breast_cancer", task="classification", kind="tabular")
def breast_cancer(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """scikit-learn's breast cancer diagnosis: 569 tumours, 30 features, two classes (binary losses).

    Features are standardized with the training split's statistics.

    Returns:
        Splits of (30,) float32 rows and int32 labels (0 malignant, 1 benign).
    """
    from sklearn import datasets  # see the module's doc: not at the top

    bunch = datasets.load_breast_cancer()
    x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int32)
    spec = DataSpec((x.shape[1],), "classification", 2, [str(n) for n in bunch.target_names], kind="tabular")
    return standardize(split_arrays(x, y, spec, val_fraction, test_fraction, seed), target=False)
