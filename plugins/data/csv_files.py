"""A user's own table: a CSV, TSV or Parquet file, one row per example, a target column and any feature columns."""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.data.base import DataSpec, Splits, split_indices
from plugins.data.checks import check_unique_header, inspect_table
from plugins.data.tabular import (
    MAX_CATEGORIES,
    TEXT_DEFAULTS,
    TEXT_RULES,
    TableEncoding,
    infer_task,
    numbers,
    read_table,
    shorten,
    texts,
    type_columns,
    warn,
)
from plugins.registry import ConfigError, check_values, did_you_mean, register

TASKS = ("regression", "classification")
FLOAT32_MAX = float(np.finfo(np.float32).max)


# Its parameters' values, declared once (plugins/manifest.json carries them: refused before anything is imported).
TARGET_TRANSFORMS = ("auto", "none", "log")
VALUES = {
    **TEXT_RULES,
    "task": {"choices": list(TASKS)},
    "max_categories": {"min": 1},
    "target_transform": {"choices": list(TARGET_TRANSFORMS)},
}
SKEWED = 1.0  # target_transform=auto: a positive target whose training skewness exceeds this is learnt as log(1 + y)


@register("data", "csv", values=VALUES, inspect=inspect_table, kind="tabular")
def csv(
    path: str,
    target: str,
    features: list[str] | None = None,
    columns: dict[str, str] | None = None,
    task: str | None = None,
    delimiter: str | None = None,
    max_categories: int = MAX_CATEGORIES,
    standardize: bool = True,
    target_transform: str = "none",
    max_tokens: int = TEXT_DEFAULTS["max_tokens"],
    sequence_length: int = TEXT_DEFAULTS["sequence_length"],
    ngrams: int = TEXT_DEFAULTS["ngrams"],
    standardize_text: str = TEXT_DEFAULTS["standardize"],
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Splits:
    """Reads a table as it comes: strings, blank or `NA` cells, an ID column (see `plugins.data.tabular`).

    The encoding (numbers standardized with a missing indicator, categories one-hot with an out-of-vocabulary
    slot) is fitted on the training rows only and travels inside the saved model, which takes raw rows.

    Args:
        path: a .csv, .tsv (optionally .gz) or .parquet file, relative to the repository root.
        target: the column to predict.
        features: the input columns (default: every other column).
        columns: column types where inference should not decide: `{zip: category, row_id: ignore, review: text}`
            (number | category | datetime | text | ignore).
        task: "classification" or "regression"; null infers it from the target (words, or whole numbers with
            at most 10 distinct values → classification).
        delimiter: the field separator; null: a tab for .tsv, else the header's most frequent of `, ; \\t |`.
        max_categories: one-hot columns per category column; rarer values share the out-of-vocabulary one.
        standardize: a regression target is standardized with the training rows' statistics (metrics are
            reported in the target's own units either way).
        target_transform: a regression target learnt as it is ("none"), as `log(1 + y)` ("log": the loss then
            weighs relative errors), or "auto": as log when it is never negative and skewed (training skewness
            > 1: prices, incomes, counts). Predictions and metrics are in the target's units either way. Not the
            default: on the RMSE the verdict follows, log was worse in 5 of 6 runs measured (two skewed tables,
            3 seeds; README).
        max_tokens: a text column's vocabulary size (words and n-grams), the most frequent in the training rows.
        sequence_length: token ids per text cell; longer cells are cut, shorter ones padded.
        ngrams: a text column's tokens are words and word n-grams up to this length (1: words only).
        standardize_text: how text is cleaned before it is split into words: lower_and_split_punctuation
            (punctuation marks become spaces, as scikit-learn's TF-IDF splits) or one of Keras's
            `TextVectorization` choices (lower_and_strip_punctuation | lower | strip_punctuation | none).
        val_fraction: share of the rows kept for validation.
        test_fraction: share of the rows kept for the test.
        seed: the split's random seed.

    Returns:
        Splits of encoded float32 rows and float32 targets or int32 class ids, with the raw rows beside them.

    Raises:
        ConfigError: a missing file or column, a target with one value, a column of numbers with a word in it.

    Example:
        `kerasforge train data=csv data.path=penguins.csv data.target=species`
    """
    given = {"task": task, "max_categories": max_categories, "max_tokens": max_tokens, "ngrams": ngrams}
    given["target_transform"] = target_transform
    check_values(VALUES, {**given, "sequence_length": sequence_length, "standardize_text": standardize_text}, "data")
    if features and target in features:
        raise ConfigError(
            f"data.features lists the target '{target}': the model would be given the answer; "
            "drop it from data.features"
        )
    text = {"max_tokens": max_tokens, "sequence_length": sequence_length, "ngrams": ngrams}
    text["standardize"] = standardize_text
    df = read_table(path, delimiter)
    df.columns = [str(c).strip() for c in df.columns]
    header = list(df.columns)
    check_unique_header(header, path)
    if len(header) < 2:
        raise ConfigError(
            f"{path}: its first line has one column name; is it a table with a header row? "
            "(set data.delimiter for another separator)"
        )
    for column in [target, *(features or []), *(columns or {})]:
        if column not in header:
            names = [shorten(h) for h in header]
            raise ConfigError(f"{path} has no column '{column}'; {did_you_mean(column, names)}")
    features = list(features or [h for h in header if h != target])
    return from_frame(
        df,
        path,
        target,
        features,
        columns,
        task,
        max_categories,
        standardize,
        val_fraction,
        test_fraction,
        seed,
        text,
        target_transform=target_transform,
    )


def from_frame(
    df,
    path: str,
    target: str,
    features: list[str],
    columns: dict[str, str] | None,
    task: str | None,
    max_categories: int,
    standardize: bool,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    text: dict[str, Any],
    source_files: bool = False,
    target_transform: str = "none",
) -> Splits:
    """A table read (its cells as strings), typed, split and encoded: `csv` once it has read the file, and
    `text_folder` once it has made the table of its files (`source_files`: its `file` column names each row in
    the raw rows kept). Arguments as `csv`'s."""
    if not features:
        raise ConfigError(f"{path} has no feature column besides the target '{target}'")
    df = df[[*features, target]]
    missing_target = df[target].isna()
    if missing_target.all():
        raise ConfigError(f"{path}: the target column '{target}' is empty on every row; choose another data.target")
    if missing_target.any():
        warn(f"{path}: {int(missing_target.sum())} row(s) have no '{target}' value; left out")
        df = df[~missing_target]
    if len(df) < 10:
        raise ConfigError(f"{path} has {len(df)} data rows with a target; at least 10 are needed to split")
    task = task or infer_task(df[target])
    # Typed while the index still counts the file's data rows, so that an error names the cell's own line.
    files = df["file"].to_numpy() if source_files else None  # text_folder: each row's file names it
    types, df = type_columns(df, target, dict(columns or {}), path)
    row_numbers = df.index.to_numpy() + 2  # the user's file's line numbers (the header is line 1)
    df = df.reset_index(drop=True)
    y, spec_fields = _target(df[target], task, path, target)
    parts = split_indices(y, val_fraction, test_fraction, seed, stratify=task == "classification")
    encoding = TableEncoding.fit(df.iloc[parts[0]], types, max_categories, path, text)
    scaling: dict[str, Any] | None = None
    if task == "regression" and _logged(y[parts[0]], target_transform, path, target):
        scaling = {"target_transform": "log1p"}
        y = np.log1p(y.astype(np.float64)).astype(np.float32)
    if task == "regression" and standardize:
        train_y = y[parts[0]]
        scaling = {**(scaling or {}), "target_mean": float(train_y.mean()), "target_std": float(train_y.std()) or 1.0}
        y = ((y - scaling["target_mean"]) / scaling["target_std"]).astype(np.float32)
    spec = DataSpec(
        (encoding.width,),
        task,
        kind="tabular",
        scaling=scaling,
        features=encoding.file_columns,
        target=target,
        table={"columns": encoding.columns, "ignored": encoding.ignored},
        **spec_fields,
    )
    rows: dict[str, Any] = {}
    arrays = []
    for name, index in zip(("train", "val", "test"), parts):
        part = df.iloc[index].reset_index(drop=True)
        part.insert(0, "row", row_numbers[index])
        if files is not None:
            part.insert(1, "file", files[index])
        rows[name] = part
        arrays.append((encoding.encode(part), y[index]))
    return Splits(*arrays, spec, rows=rows)


def _logged(train_y: np.ndarray, transform: str, path: str, target: str) -> bool:
    """Whether a regression target is learnt as log(1 + y) (`target_transform`)."""
    if transform == "none":
        return False
    positive = bool((train_y >= 0).all())
    if transform == "log":
        if not positive:
            raise ConfigError(
                f"{path}: data.target_transform=log needs a target that is never negative, and '{target}' is; "
                "use data.target_transform=none"
            )
        return True
    from scipy.stats import skew  # scikit-learn's own dependency

    return positive and bool(skew(train_y.astype(np.float64)) > SKEWED)


def _target(column, task: str, path: str, target: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The target as class ids (classes sorted: numerically when they are numbers) or float32 values."""
    if task == "classification":
        labels = texts(column)
        as_numbers = numbers(column)
        if as_numbers.notna().all():  # "2" before "10"; "1.0" and "1" are one class
            labels = as_numbers.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
            classes = sorted(set(labels), key=float)
        else:
            classes = sorted(set(labels))
        if len(classes) < 2:
            raise ConfigError(f"{path}: column '{target}' has a single class {classes}; classification needs two")
        index = {c: i for i, c in enumerate(classes)}
        y = labels.map(index).to_numpy(np.int32)
        return y, {"num_classes": len(classes), "class_names": classes, "num_targets": 1}
    values = numbers(column)
    bad = values.isna() | ~np.isfinite(values) | (values.abs() > FLOAT32_MAX)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        cell = str(column.iloc[first])[:40]
        raise ConfigError(
            f"{path}: the target '{target}' has {cell!r}, not a finite number, in data row {first + 1}; fix or "
            "drop the row (use data.task=classification for class labels)"
        )
    if values.nunique() < 2:
        raise ConfigError(f"{path}: the target '{target}' has one value on every row; there is nothing to learn")
    return values.to_numpy(np.float32), {"num_targets": 1}
