"""A user's own CSV file: one row per example, a target column and numeric feature columns."""

from __future__ import annotations

import csv as csv_module
import math
from pathlib import Path

import numpy as np

from plugins.data.base import DataSpec, Splits, split_arrays
from plugins.data.sklearn_datasets import standardize as standardize_splits
from plugins.registry import ConfigError, did_you_mean, register

TASKS = ("regression", "classification")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _number(value: str, path: str, line: int, column: str, fix: str) -> float:
    """A cell as a finite float32 number, or a one-line error naming the file, line and column."""
    where = f"{path}, line {line}, column '{column}'"
    if not value:
        raise ConfigError(f"{where}: the cell is empty; {fix}")
    try:
        number = float(value)
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ConfigError(f"{where}: {shown!r} is not a number; {fix}") from None
    if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise ConfigError(f"{where}: {value!r} is not a finite 32-bit number (training needs finite values); {fix}")
    return number


@register("data", "csv")
def csv(
    path: str,
    target: str,
    features: list[str] | None = None,
    task: str = "regression",
    delimiter: str = ",",
    standardize: bool = True,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Splits:
    """Reads a CSV file with a header row.

    Args:
        path: the file (relative to the repository root; add it to the
            prepare stage's deps in dvc.yaml so that DVC sees it change).
        target: the column to predict.
        features: the input columns (default: every other column); numeric.
        task: "regression" (a numeric target) or "classification" (any
            target values; classes sorted by name).
        delimiter: the field separator.
        standardize: scale features (and a regression target) with training statistics.
        val_fraction: share of the rows kept for validation.
        test_fraction: share of the rows kept for the test.
        seed: the split's random seed.

    Returns:
        Splits of float32 feature rows and float32 targets or int32 class ids.

    Raises:
        ConfigError: a missing file or column, a non-numeric value (its row
            and column named), fewer than two classes.

    Example:
        `python -m workflows.train data=csv data.path=houses.csv data.target=price model=mlp loss=mse`
    """
    if task not in TASKS:
        raise ConfigError(f"data.task='{task}' is unknown; {did_you_mean(task, TASKS)}")
    if features and target in features:
        raise ConfigError(
            f"data.features lists the target '{target}': the model would be given the answer; "
            "drop it from data.features"
        )
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"data.path: no such file '{path}' (relative paths start at the repository root)")
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which would otherwise join the first column's
    # name (a model trained on it would refuse files without one, and the reverse).
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv_module.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, None)
            if not header:
                raise ConfigError(f"{path} is empty; it needs a header row and data rows")
            header = [h.strip() for h in header]
            rows = list(reader)
        except csv_module.Error as err:  # a cell over the csv module's field limit, a NUL byte…
            raise ConfigError(
                f"{path}, line {reader.line_num}: not readable as CSV ({str(err)[:80]}); fix that line"
            ) from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8 CSV") from None
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise ConfigError(
            f"{path}: columns {', '.join(repr(h[:40]) for h in doubled)} appear more than once in the "
            "header; rename them so that each name is one column"
        )
    if len(header) < 2:  # not a table with this delimiter: say so without echoing the file's first line
        raise ConfigError(
            f"{path}: its first line has no '{delimiter}'-separated column names; is it a CSV file "
            "with a header row? (set data.delimiter for another separator)"
        )
    for column in [target, *(features or [])]:
        if column not in header:
            names = [h if len(h) <= 40 else h[:40] + "…" for h in header]
            raise ConfigError(f"{path} has no column '{column}'; {did_you_mean(column, names)}")
    features = features or [h for h in header if h != target]
    if not features:
        raise ConfigError(f"{path} has no feature column besides the target '{target}'")
    columns = {name: header.index(name) for name in [*features, target]}
    x = np.empty((len(rows), len(features)), dtype=np.float32)
    raw_target = []
    for i, row in enumerate(rows):
        line = i + 2  # the header is line 1
        if len(row) != len(header):
            raise ConfigError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        for j, name in enumerate(features):
            x[i, j] = _number(
                row[columns[name]].strip(), path, line, name, "fix it or drop the column from data.features"
            )
        raw_target.append(row[columns[target]].strip())
    if len(rows) < 10:
        raise ConfigError(f"{path} has {len(rows)} data rows; at least 10 are needed to split train/val/test")
    if task == "classification":
        if "" in raw_target:
            raise ConfigError(
                f"{path}, line {raw_target.index('') + 2}, column '{target}': the class label is empty; "
                "fix or drop the row"
            )
        classes = sorted(set(raw_target))
        if len(classes) < 2:
            raise ConfigError(f"{path}: column '{target}' has a single class {classes}; classification needs two")
        y = np.array([classes.index(v) for v in raw_target], dtype=np.int32)
        spec = DataSpec(
            (len(features),),
            "classification",
            len(classes),
            classes,
            kind="tabular",
            features=list(features),
            target=target,
        )
    else:
        y = np.empty(len(rows), dtype=np.float32)
        for i, value in enumerate(raw_target):
            y[i] = _number(
                value, path, i + 2, target, "fix or drop the row (use data.task=classification for class labels)"
            )
        spec = DataSpec(
            (len(features),), "regression", num_targets=1, kind="tabular", features=list(features), target=target
        )
    splits = split_arrays(x, y, spec, val_fraction, test_fraction, seed)
    return standardize_splits(splits, target=task == "regression") if standardize else splits
