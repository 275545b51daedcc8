"""What a model's outputs mean, in NumPy (no TensorFlow): class ids from probabilities, one column per class, a
regression's outputs in the target's own units; and a name made safe for a file. Shared by evaluate, insight, predict,
explain and export."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.registry import ConfigError

if TYPE_CHECKING:
    from plugins.data.base import DataSpec


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    """Class ids from the head's probabilities: a threshold of 0.5 for one sigmoid output, else the argmax."""
    return (probs[:, 0] > 0.5).astype(int) if probs.shape[-1] == 1 else probs.argmax(axis=-1)


def per_class(probs: np.ndarray) -> np.ndarray:
    """Probabilities with one column per class: one sigmoid output P(second class) becomes [1 − p, p]."""
    return np.concatenate([1.0 - probs, probs], axis=-1) if probs.shape[-1] == 1 else probs


LOG_MAX = 80.0  # a log-target's prediction is capped here before exp (e^80 ≈ 5.5e34 stays a finite float32)


def unscale_target(values: Any, spec: DataSpec, math_ops: Any = np) -> Any:
    """Regression outputs (or targets) → the target's own units: the card's scaling undone, none when unscaled.

    Args:
        values: NumPy values, or tensors with `math_ops=tf.math` (the SavedModel's signature undoes it so too).
        spec: the data's spec (`scaling`).
        math_ops: where `minimum` and `expm1` come from (a log-target's inverse).
    """
    if spec.scaling and "target_mean" in spec.scaling:
        values = values * spec.scaling["target_std"] + spec.scaling["target_mean"]
    if spec.scaling and spec.scaling.get("target_transform") == "log1p":  # learnt as log(1 + y)
        values = math_ops.expm1(math_ops.minimum(values, LOG_MAX))
    return values


def file_name(name: str, empty: str = "class") -> str:
    """A class's or an input's name as a file name: letters, digits, `-_.` kept, anything else `_`."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or empty


def same_label(predicted: str, given: str) -> bool:
    """A target cell against a class name: equal as text, or as numbers (`1.0` is class `1`)."""
    if predicted == given:
        return True
    try:
        return float(predicted) == float(given)
    except ValueError:
        return False


class Predictions:
    """Writes each prediction's CSV row, and scores them against a table's target cells when it has them.

    Args:
        spec: the model's data spec.
        head: its output head (`plugins.model.head.Head`).
        table: the table predicted on (its target cells are scored), None for files.
    """

    def __init__(self, spec: DataSpec, head, table: Path | None):
        self.spec, self.head, self.table = spec, head, table
        self.classes = spec.class_names or [str(i) for i in range(spec.num_classes)]
        self.classification = spec.task == "classification"
        self.target = spec.target if table is not None else None
        self.correct, self.scored, self.rows, self.errors = 0, 0, 0, []

    def header(self, with_target: bool) -> list[str]:
        header = ["input", "prediction"] + ([f"p_{c}" for c in self.classes] if self.classification else [])
        return header + (["target"] if with_target else [])

    def write(self, writer, names, outputs: np.ndarray, count: int, targets: list[str] | None) -> None:
        extra = [[t] for t in targets] if targets else [[] for _ in range(count)]
        if self.classification:
            probs = np.asarray(self.head.probabilities(outputs))
            labels = [self.classes[i] for i in predicted_classes(probs)]
            for name, label, p, more in zip(names, labels, per_class(probs), extra):
                writer.writerow([str(name), label, *(f"{v:.6g}" for v in p), *more])
            if targets is not None:
                self.correct += sum(same_label(a, b) for a, b in zip(labels, targets))
                self.scored += len(targets)
        else:
            values = unscale_target(outputs.reshape(count, -1)[:, 0], self.spec)
            for name, value, more in zip(names, values, extra):
                writer.writerow([str(name), f"{value:.6g}", *more])
            if targets is not None:
                truth = np.asarray([_target_number(t, self.table, n, self.target) for t, n in zip(targets, names)])
                self.errors += list((values - truth)[np.isfinite(truth)])
        self.rows += count

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"rows": self.rows}
        if self.classification and self.scored:
            result["accuracy"] = self.correct / self.scored
        if self.errors:
            e = np.asarray(self.errors)
            result.update(mae=float(np.abs(e).mean()), rmse=float(np.sqrt((e**2).mean())))
        return result


def _target_number(cell: str, path: Path | None, row: int, column: str | None) -> float:
    """A regression target cell as a number; blank is unscored (NaN); anything else is a one-line error."""
    if not cell:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise ConfigError(
            f"{path}, line {row + 1}, column '{column}': the target is not a number; fix the cell, "
            "leave it blank (not scored), or drop the column"
        ) from None
