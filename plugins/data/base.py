"""What a data plugin returns: the split data set and the facts about it.

A split is either an `(x, y)` pair of NumPy arrays (data that fits in
memory: no TensorFlow needed to prepare it) or an unbatched
`tf.data.Dataset` of `(x, y)` pairs (streamed, e.g. decoded image files).
`as_dataset` and `to_numpy` turn either into what a caller needs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from plugins.registry import ConfigError

if TYPE_CHECKING:
    import tensorflow as tf

Split = Union[tuple[np.ndarray, np.ndarray], "tf.data.Dataset"]

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
        scaling: how raw inputs were scaled, so that new rows can be given in raw units:
            `{"mean": [...], "std": [...]}` per feature (x_scaled = (x − mean) / std), plus
            `target_mean`/`target_std` for a standardized regression target; None when unscaled.
        features: the input columns' names (tabular data), in order.
        target: the target column's name (CSV data): `workflows.predict` scores a CSV that has it.
        table: a table's fitted column encoding (`plugins.data.tabular.TableEncoding`: `columns`, `ignored`);
            the saved model then takes raw rows, a dict of one input per column. None for other data.
        series: a forecasting series' facts (`plugins.data.timeseries`): its time column, window, horizon,
            season, step, the file's columns it reads, and MASE's scale. None for other data.
        audio: a sound's facts (`plugins.data.audio`): `sample_rate` and `clip_seconds`. None for other data.
    """

    input_shape: tuple[int, ...]
    task: str
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    num_targets: int = 1
    kind: str = "tabular"
    scaling: dict | None = None
    features: list[str] = field(default_factory=list)
    target: str | None = None
    table: dict | None = None
    series: dict | None = None
    audio: dict | None = None

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(d) for d in self.input_shape)
        if self.task not in TASKS:
            raise ConfigError(f"data task '{self.task}' is unknown; valid: {', '.join(TASKS)}")

    def to_json(self) -> str:
        """The spec as the prepare stage writes it (spec.json); `load` reads it back."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def load(cls, path: Path) -> DataSpec:
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class Splits:
    """A data set split three ways; each split is an (x, y) pair of arrays or a dataset of (x, y) pairs."""

    train: Split
    val: Split
    test: Split
    spec: DataSpec
    skipped: list[str] = field(default_factory=list)  # input files left out (unreadable): the prepare stage lists them
    # A table's raw rows per split (pandas DataFrames, the user's file's cells): the prepare stage keeps them beside
    # the encoded arrays, for the classical baseline and for scoring the saved model on rows as users give them.
    rows: dict[str, Any] | None = None

    def items(self):
        return (("train", self.train), ("val", self.val), ("test", self.test))


def class_files(
    directory: Path, extensions: tuple[str, ...], noun: str = "images"
) -> tuple[list[str], list[Path], list[int]]:
    """The classes (sub-folders, sorted) of a folder and every file in them with one of `extensions`
    (case-insensitive), with its class id: what `image_folder` and `text_folder` read.

    Raises:
        ConfigError: no such folder, fewer than two class sub-folders, a class sub-folder without such a file.
    """
    if not directory.is_dir():
        raise ConfigError(f"data.directory: no such directory '{directory}' (it needs one sub-folder per class)")
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise ConfigError(
            f"{directory} has {len(classes)} class folder{'s' if len(classes) != 1 else ''} "
            f"({', '.join(classes) or 'none'}); classification needs at least two sub-folders, one per class"
        )
    files, labels = [], []
    for index, name in enumerate(classes):
        found = sorted(p for p in (directory / name).rglob("*") if p.suffix.lower() in extensions and p.is_file())
        if not found:
            raise ConfigError(
                f"class folder '{directory / name}' has no {noun} ({'/'.join(e[1:] for e in extensions)}); "
                "add some or remove the folder"
            )
        files += found
        labels += [index] * len(found)
    return classes, files, labels


def split_indices(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The train/val/test positions of `len(y)` examples: the test share first, then validation from the rest.

    Args:
        y: labels (int) or targets (float), one per example.
        val_fraction: share of all examples for validation.
        test_fraction: share of all examples for the test.
        seed: the split's random seed.
        stratify: keep the classes' proportions in every split (classification).

    Returns:
        The train, val and test index arrays.

    Raises:
        ConfigError: fractions outside (0, 1) or leaving no training data.
        ValueError: scikit-learn's, when a class is too small to stratify.
    """
    for label, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ConfigError(f"data.{label}={value} must be between 0 and 1 (exclusive), e.g. 0.1")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} leaves no "
            "training data; keep their sum below 1"
        )
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    rest, test = train_test_split(
        np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y if stratify else None
    )
    train, val = train_test_split(
        rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed, stratify=y[rest] if stratify else None
    )
    return train, val, test


def split_arrays(
    x: np.ndarray,
    y: np.ndarray,
    spec: DataSpec,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> Splits:
    """Splits arrays into train/val/test, stratified for classification (see `split_indices`).

    Args:
        x: inputs, one row per example.
        y: labels (int) or targets (float).
        spec: the data set's spec.
        val_fraction: share of all examples for validation.
        test_fraction: share of all examples for the test.
        seed: the split's random seed.

    Returns:
        The Splits, as (x, y) pairs of arrays.
    """
    parts = split_indices(y, val_fraction, test_fraction, seed, stratify=spec.task == "classification")
    train, val, test = ((x[i], y[i]) for i in parts)
    return Splits(train, val, test, spec)


def as_dataset(split: Split) -> tf.data.Dataset:
    """A split as an unbatched tf.data.Dataset of (x, y)."""
    import tensorflow as tf

    if isinstance(split, tuple):
        return tf.data.Dataset.from_tensor_slices(split)
    return split


def to_numpy(split: Split, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """A split as two arrays (a dataset is read whole)."""
    if isinstance(split, tuple):
        x, y = (np.asarray(a) for a in split)
        if not len(x):
            raise ConfigError("the data set split is empty; lower data.val_fraction/test_fraction or add data")
        return x, y
    xs, ys = [], []
    for x, y in split.batch(batch_size):
        xs.append(x.numpy())
        ys.append(y.numpy())
    if not xs:
        raise ConfigError("the data set split is empty; lower data.val_fraction/test_fraction or add data")
    return np.concatenate(xs), np.concatenate(ys)


def size(split: Split) -> int:
    """How many examples a split holds."""
    return len(split[0]) if isinstance(split, tuple) else int(split.cardinality())
