"""What a data plugin returns: the split data set and the facts about it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

from plugins.registry import ConfigError

TASKS = ("classification", "regression")


@dataclass
class DataSpec:
    """Facts about a data set that the model and the loss are built from.

    Attributes:
        input_shape: one example's shape, e.g. (8, 8, 1) or (10,).
        task: "classification" or "regression".
        num_classes: classes of a classification task; 0 for regression.
        class_names: the classes' names, in label order.
        num_targets: outputs of a regression task (1 for one target).
        kind: "image", "tabular" or "sequence": what models can take it.
    """

    input_shape: tuple[int, ...]
    task: str
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    num_targets: int = 1
    kind: str = "tabular"

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(d) for d in self.input_shape)
        if self.task not in TASKS:
            raise ConfigError(f"data task '{self.task}' is unknown; valid: {', '.join(TASKS)}")

    def save(self, path: Path) -> None:
        from workflows.atomic import write_text

        write_text(path, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> DataSpec:
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class Splits:
    """A data set split three ways; each split yields unbatched (x, y) pairs."""

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    spec: DataSpec

    def items(self):
        return (("train", self.train), ("val", self.val), ("test", self.test))


def split_arrays(
    x: np.ndarray,
    y: np.ndarray,
    spec: DataSpec,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> Splits:
    """Splits arrays into train/val/test, stratified for classification.

    Args:
        x: inputs, one row per example.
        y: labels (int) or targets (float).
        spec: the data set's spec.
        val_fraction: share of all examples for validation.
        test_fraction: share of all examples for the test.
        seed: the split's random seed.

    Returns:
        The Splits, as tf.data datasets of (x, y).
    """
    for label, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ConfigError(f"data.{label}={value} must be between 0 and 1 (exclusive), e.g. 0.1")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} leaves no "
            "training data; keep their sum below 1"
        )
    stratify = y if spec.task == "classification" else None
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    val_share = val_fraction / (1.0 - test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, random_state=seed,
        stratify=y_rest if stratify is not None else None,
    )

    def as_dataset(a: np.ndarray, b: np.ndarray) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((a, b))

    return Splits(as_dataset(x_train, y_train), as_dataset(x_val, y_val), as_dataset(x_test, y_test), spec)


def to_numpy(ds: tf.data.Dataset, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Materializes an unbatched (x, y) dataset as two arrays."""
    xs, ys = [], []
    for x, y in ds.batch(batch_size):
        xs.append(x.numpy())
        ys.append(y.numpy())
    if not xs:
        raise ConfigError("the data set split is empty; lower data.val_fraction/test_fraction or add data")
    return np.concatenate(xs), np.concatenate(ys)
