"""What a data plugin's files say before anything is imported: the header and a sample, without Keras or TensorFlow.

A newcomer's mistakes with their own file — a path or column typo, a task that does not fit the target — need only
the config, the file's header and a sample of its target to be answered. Each function here takes the data
section's parameters (as configured: defaults may be absent), raises `ConfigError` with one line naming the fix, and
returns the facts the other checks need: `{"task": …}`. `plugins/manifest.json` names them (`"inspect"`), so that
`plugins.manifest.inspect` runs them before TensorFlow starts; the plugins' builders read the whole file later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugins.registry import ConfigError, did_you_mean

SAMPLE_ROWS = 20_000  # rows of the target read to tell its task
MANY_VALUES = 50  # a target of numbers with more distinct values than this, taken for classes, is named a regression


def check_unique_header(header: list[str], path: str) -> None:
    """Refuses a header that names a column twice (`a,b,a`; pandas reads it as `a, b, a.1`): which one is meant?

    Raises:
        ConfigError: the repeated names, and the fix.
    """
    seen = [h.rsplit(".", 1)[0] if _mangled(h) and h.rsplit(".", 1)[0] in header else h for h in header]
    doubled = sorted({h for h in seen if seen.count(h) > 1})
    if doubled:
        raise ConfigError(
            f"{path}: columns {', '.join(repr(h[:40]) for h in doubled)} appear more than once in the "
            "header; rename them so that each name is one column"
        )


def _mangled(name: str) -> bool:
    """pandas renames a repeated header `a` to `a.1`, `a.2`…"""
    return name.rsplit(".", 1)[-1].isdigit() and "." in name


def _header(path: str, delimiter: str | None) -> list[str]:
    from plugins.data.tabular import read_table

    return [str(c).strip() for c in read_table(path, delimiter, nrows=0).columns]


def _has(header: list[str], columns: list[str], path: str, what: str = "") -> None:
    from plugins.data.tabular import shorten

    for column in columns:
        if column not in header:
            names = [shorten(h) for h in header]
            raise ConfigError(f"{path} has no column '{column}'{what}; {did_you_mean(column, names)}")


def inspect_table(params: dict[str, Any], where: str = "data") -> dict[str, Any]:
    """`data=csv`: the file exists and reads as a table, every named column is in its header (closest names first),
    and the task fits a sample of the target: classes for words, a regression for many distinct numbers.

    Args:
        params: the data section's parameters (`path`, `target`, `features`, `columns`, `task`, `delimiter`).
        where: the config path, for messages.

    Returns:
        `{"task": "classification" | "regression"}`.

    Raises:
        ConfigError: one line (no such file, a missing column, a task the target cannot have).

    Example:
        >>> inspect_table({"path": "penguins.csv", "target": "species"})  # doctest: +SKIP
        {'task': 'classification'}
    """
    from plugins.data.tabular import infer_task, numbers, read_table

    path, target = str(params["path"]), str(params["target"])
    delimiter = params.get("delimiter")
    header = _header(path, delimiter)
    check_unique_header(header, path)
    if len(header) < 2:
        raise ConfigError(
            f"{path}: its first line has one column name; is it a table with a header row? "
            "(set data.delimiter for another separator)"
        )
    _has(header, [target, *(params.get("features") or []), *(params.get("columns") or {})], path)
    sample = read_table(path, delimiter, nrows=SAMPLE_ROWS)
    sample.columns = [str(c).strip() for c in sample.columns]
    column = sample[target].dropna() if target in sample.columns else sample.iloc[:, 0].dropna()
    if column.empty:
        return {"task": params.get("task")}
    inferred = infer_task(column)
    task = params.get("task") or inferred
    values = numbers(column)
    if task == "regression" and values.isna().any():
        word = str(column[values.isna()].iloc[0])[:40]
        raise ConfigError(
            f"{where}.task=regression, but {path}'s '{target}' has words ({word!r}): set data.task=classification "
            "(or leave data.task unset: it follows the target)"
        )
    distinct = int(values.nunique()) if values.notna().all() else 0
    if task == "classification" and params.get("task") and distinct > MANY_VALUES:
        fractional = bool((values != values.round()).any())
        raise ConfigError(
            f"{where}.task=classification, but {path}'s '{target}' has {distinct} distinct "
            f"{'fractional ' if fractional else ''}values in its first {len(column)} rows: a regression? set "
            "data.task=regression (or leave it unset: it follows the target)"
        )
    return {"task": task}


def inspect_series(params: dict[str, Any], where: str = "data") -> dict[str, Any]:
    """`data=timeseries`: the file exists, and the target, time and feature columns are in its header.

    Returns:
        `{"task": "regression"}`.
    """
    path = str(params["path"])
    header = _header(path, params.get("delimiter"))
    time = params.get("time")
    _has(header, [str(params["target"]), *(params.get("features") or []), *([time] if time else [])], path)
    return {"task": "regression"}


def inspect_folder(params: dict[str, Any], where: str = "data") -> dict[str, Any]:
    """`data=image_folder` / `data=text_folder`: the folder exists and holds at least two class sub-folders.

    Returns:
        `{"task": "classification", "num_classes": n}`.
    """
    directory = Path(str(params["directory"]))
    if not directory.is_dir():
        hint = " (a file: give the folder that holds one sub-folder per class)" if directory.is_file() else ""
        raise ConfigError(
            f"{where}.directory: no such directory '{directory}'{hint}; it needs one sub-folder per class"
        )
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise ConfigError(
            f"{directory} has {len(classes)} class folder{'s' if len(classes) != 1 else ''} "
            f"({', '.join(classes) or 'none'}); classification needs at least two sub-folders, one per class"
        )
    return {"task": "classification", "num_classes": len(classes)}
