"""Label new data with a trained model: `python -m workflows.predict INPUT… [--model models] [--out predictions.csv]`.

INPUT is image files, folders of images (walked recursively) or a CSV file of
feature rows. Images are decoded and resized exactly as the data plugin did
for training (`plugins.data.images.decode_dataset`: the model's size and
colour mode); CSV rows are given in raw units and scaled with the statistics
saved with the model (its card, models/model.json). A CSV's target column,
when present, is not used to predict: it is scored, and the score printed.

Writes, atomically, one CSV row per input: `input` (the file's path, or the
row number of a CSV, 1 for its first data row), `prediction` (the class name,
or the value in the target's units for regression), `p_<class>` for every
class, and `target` when the CSV has one. Inputs stream in batches: memory
stays bounded however many files there are.

    python -m workflows.predict photos/new/ --out labels.csv
    python -m workflows.predict rows.csv --model models --out scored.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.data.kinds import kind_of
from plugins.registry import ConfigError, did_you_mean
from workflows.io.atomic import atomic_path
from workflows.io.card import read_card
from workflows.io.layout import REPO

TABLES = (".csv", ".tsv", ".txt", ".gz", ".parquet", ".pq")  # what predict reads as a table of rows

if TYPE_CHECKING:
    from plugins.data.base import DataSpec


@dataclass
class Inputs:
    """What to predict on: files the model's data kind reads (images, sound…), or one CSV file."""

    files: list[Path]
    table: Path | None = None


def gather(inputs: list[str], spec: DataSpec) -> Inputs:
    """Checks the inputs against what the model takes: files its data kind reads (`DataKind.files`: images,
    sound…; folders walked recursively), or one table of rows.

    Raises:
        ConfigError: a missing path, a folder without such files, files for a model of rows, a table for a model of
            files, several tables, or a file that is neither.
    """
    kind = kind_of(spec)
    files, tables = _listed(inputs, kind.files, kind.noun)
    if kind.files:
        if tables:
            raise ConfigError(
                f"{tables[0]}: this model takes {kind.noun} ({'/'.join(e[1:] for e in kind.files)}), not CSV rows; "
                f"give {kind.noun} or folders of them"
            )
        return Inputs(files)
    if files:
        raise ConfigError(
            f"{files[0]}: this model takes {spec.kind} rows of {spec.input_shape[0]} features, not "
            "files; give a CSV file with its feature columns"
        )
    if len(tables) != 1:
        raise ConfigError(
            f"give one CSV file (got {len(tables)}); this model takes rows of {spec.input_shape[0]} features"
        )
    return Inputs([], tables[0])


def _listed(inputs: list[str], extensions: tuple[str, ...], noun: str) -> tuple[list[Path], list[Path]]:
    """The files with one of `extensions` (folders walked recursively) and the table files among the inputs."""
    files: list[Path] = []
    tables: list[Path] = []
    kinds = "/".join(e[1:] for e in extensions) or "none"
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in extensions and p.is_file())
            if not found:
                raise ConfigError(f"{path}: the folder holds no {noun} ({kinds})")
            files += found
        elif not path.is_file():
            raise ConfigError(f"{path}: no such file or folder")
        elif extensions and path.suffix.lower() in extensions:
            files.append(path)
        elif path.suffix.lower() in TABLES:
            tables.append(path)
        else:
            raise ConfigError(f"{path}: not one of {noun} ({kinds}) nor a CSV file")
    return files, tables


class Progress:
    """A line on stderr about every 2 seconds (and at the end): how many inputs are done."""

    def __init__(self, total: int | None, what: str, quiet: bool = False):
        self.total, self.what, self.quiet = total, what, quiet
        self.done = 0
        self.start = self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if not self.quiet and now - self.last >= 2.0:
            self.last = now
            of = f"/{self.total}" if self.total else ""
            print(
                f"predicted {self.done}{of} {self.what} ({self.done / max(now - self.start, 1e-9):.0f}/s)",
                file=sys.stderr,
            )


def table_batches(
    path: Path, spec: DataSpec, target: str | None, batch_size: int
) -> Iterator[tuple[list[int], np.ndarray, list[str] | None]]:
    """Batches of a CSV's feature rows in raw units (numbers checked, one-line errors), with the target's cells.

    The feature columns are the model's (`spec.features`, by name); a model trained on unnamed features (a shipped
    data set) takes the CSV's columns in order, the target's excepted.
    """
    from plugins.data.checks import check_unique_header
    from plugins.data.csv_files import _number

    with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel's byte-order mark is not a column name
        reader = csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        header = [h.strip() for h in next(reader, None) or []]
        check_unique_header(header, str(path))  # as training refuses it: which of two 'a' columns is the feature?
        columns = _feature_columns(header, spec, target, path)
        target_column = header.index(target) if target and target in header else None
        rows, values, targets = [], [], []
        for i, row in enumerate(reader, start=1):
            if not row:
                continue
            if len(row) != len(header):
                raise ConfigError(f"{path}, line {i + 1}: {len(row)} fields, the header has {len(header)}")
            values.append(
                [_number(row[c].strip(), str(path), i + 1, header[c], "fix the cell or drop the row") for c in columns]
            )
            rows.append(i)
            if target_column is not None:
                targets.append(row[target_column].strip())
            if len(rows) == batch_size:
                yield rows, np.asarray(values, np.float32), (targets if target_column is not None else None)
                rows, values, targets = [], [], []
        if rows:
            yield rows, np.asarray(values, np.float32), (targets if target_column is not None else None)


def _feature_columns(header: list[str], spec: DataSpec, target: str | None, path: Path) -> list[int]:
    """The positions of the model's feature columns in a CSV's header: by name, or in order without names."""
    if not header:
        raise ConfigError(f"{path} is empty; it needs a header row and data rows")
    if spec.features:
        missing = [f for f in spec.features if f not in header]
        if missing:
            raise ConfigError(
                f"{path} has no column '{missing[0]}', a feature of this model; "
                f"{did_you_mean(missing[0], header)} (the model takes: {', '.join(spec.features)})"
            )
        return [header.index(f) for f in spec.features]
    columns = [i for i, h in enumerate(header) if h != target]
    if len(columns) != spec.input_shape[0]:
        raise ConfigError(f"{path} has {len(columns)} feature columns; this model takes {spec.input_shape[0]}")
    return columns


def raw_row_batches(
    path: Path, spec: DataSpec, batch_size: int
) -> Iterator[tuple[list[int], dict[str, np.ndarray], list[str] | None]]:
    """Batches of a table's rows as the saved model takes them (its columns by name, cells as they are: blanks,
    strings, unseen categories), with the target's cells when the file has the target column."""
    from plugins.data.checks import check_unique_header
    from plugins.data.tabular import TableEncoding, read_table, texts

    encoding = TableEncoding(**spec.table)
    first = read_table(path, nrows=0)
    header = [str(c).strip() for c in first.columns]
    if not header:
        raise ConfigError(f"{path} is empty; it needs a header row and data rows")
    check_unique_header(header, str(path))
    encoding.check_columns(first.rename(columns=lambda c: str(c).strip()), str(path))
    chunks = (
        read_table(path, chunksize=batch_size) if path.suffix.lower() not in (".parquet", ".pq") else [read_table(path)]
    )
    start = 1
    for chunk in chunks:
        chunk = chunk.rename(columns=lambda c: str(c).strip())
        for i in range(0, len(chunk), batch_size):
            part = chunk.iloc[i : i + batch_size]
            targets = texts(part[spec.target]).tolist() if spec.target in part.columns else None
            yield list(range(start, start + len(part))), encoding.inputs(part, str(path), start + 1), targets
            start += len(part)


MAX_BATCH = 65_536


def check_output(out: Path, inputs: list[Path]) -> None:
    """Refuses, before any work, an output that would replace an input, is a directory, or cannot be written."""
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name, e.g. --out {out / 'predictions.csv'}")
    target = out.resolve()
    if any(Path(p).resolve() == target for p in inputs):
        raise ConfigError(f"--out {out} is one of the inputs: it would be replaced; give another file name")
    parent = target.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: the folder {parent} does not exist")
    import os

    if not os.access(parent, os.W_OK):
        raise ConfigError(f"--out {out}: the folder {parent} is not writable (read-only?); write elsewhere")


def same_label(predicted: str, given: str) -> bool:
    """A target cell against a class name: equal as text, or as numbers (`1.0` is class `1`)."""
    if predicted == given:
        return True
    try:
        return float(predicted) == float(given)
    except ValueError:
        return False


def scale(x: np.ndarray, spec: DataSpec) -> np.ndarray:
    """Raw feature rows → the units the model was trained on (the card's scaling; none when unscaled)."""
    if not spec.scaling:
        return x
    return ((x - np.asarray(spec.scaling["mean"], np.float32)) / np.asarray(spec.scaling["std"], np.float32)).astype(
        np.float32
    )


def predict(
    inputs: list[str],
    model_dir: Path = REPO.models,
    out: Path = Path("predictions.csv"),
    batch_size: int = 256,
    quiet: bool = False,
) -> dict[str, Any]:
    """Predicts every input and writes one CSV row each (atomically: a failed run leaves no partial file).

    Args:
        inputs: image files, image folders, or one CSV file.
        model_dir: the directory of model.keras and model.json.
        out: the predictions' CSV.
        batch_size: inputs per batch (memory is bounded by it).
        quiet: no progress lines.

    Returns:
        `rows` written and, when a CSV has the target column, the score (`accuracy`, or `mae` and `rmse`).

    Example:
    >>> predict(["photos/new"], Path("models"), Path("labels.csv"))
    {'rows': 120}
    """
    if not 1 <= batch_size <= MAX_BATCH:  # a billion rows at once would not fit in memory: say so first
        raise ConfigError(f"--batch-size {batch_size} must be between 1 and {MAX_BATCH} (default 256)")
    card = read_card(model_dir)
    spec = _spec_of(card, model_dir)
    if spec.series:  # a forecaster: the next `horizon` values after a CSV of recent history
        return forecast(inputs, model_dir, Path(out), spec)
    found = gather(inputs, spec)
    check_output(Path(out), [*found.files, *([found.table] if found.table else [])])
    kind_of(spec).check_files(found.files, spec)  # each file's header, before TensorFlow starts
    if found.table is not None:  # its columns, before TensorFlow starts
        next(
            raw_row_batches(found.table, spec, 1) if spec.table else table_batches(found.table, spec, spec.target, 1),
            None,
        )
    from plugins.model.head import Head  # TensorFlow from here on: the inputs are known to fit the model
    from workflows.stages.evaluate import load_model

    model, _ = load_model(model_dir)
    batches, progress = _input_batches(found, spec, batch_size, quiet)
    scorer = _Scorer(spec, Head(**card["head"]), found.table)
    with atomic_path(out, suffix=".csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        first = True
        for names, x, targets in batches:
            if first:
                writer.writerow(scorer.header(targets is not None))
                first = False
            outputs, count = _outputs(model, x, names)
            scorer.write(writer, names, outputs, count, targets)
            progress.update(count)
        if first:
            raise ConfigError(f"{found.table}: no data rows below the header")
    return scorer.result()


def _spec_of(card: dict[str, Any], model_dir: Path) -> DataSpec:
    from plugins.data.base import DataSpec

    try:
        return DataSpec(**card["spec"])
    except TypeError:
        raise ConfigError(
            f"{Path(model_dir) / 'model.json'} is the card of another kind of model (its spec has "
            "other fields); give --model a directory written by this project's train stage"
        ) from None


def _input_batches(found: Inputs, spec: DataSpec, batch_size: int, quiet: bool):
    """(names, inputs, target cells) batches of the inputs as the model takes them, and their progress line."""
    if found.table is not None and spec.table:  # the model encodes the rows itself
        return raw_row_batches(found.table, spec, batch_size), Progress(None, "rows", quiet)
    if found.table is not None:
        scaled = (
            (rows, scale(x, spec), targets)
            for rows, x, targets in table_batches(found.table, spec, spec.target, batch_size)
        )
        return scaled, Progress(None, "rows", quiet)
    kind = kind_of(spec)
    files = ((names, x, None) for names, x in kind.file_batches(found.files, spec, batch_size))
    return files, Progress(len(found.files), kind.noun, quiet)


def _outputs(model, x, names) -> tuple[np.ndarray, int]:
    """The model's outputs on one batch, and how many examples it held."""
    if isinstance(x, dict):  # strings: as tensors (Keras's array adapter takes no object arrays)
        import tensorflow as tf

        return np.asarray(model({k: tf.constant(v) for k, v in x.items()}, training=False)), len(names)
    return np.asarray(model.predict_on_batch(x)), len(x)


class _Scorer:
    """Writes each prediction's CSV row, and scores them against a table's target cells when it has them."""

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
        from workflows.stages.outputs import per_class, predicted_classes, unscale_target

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


def forecast(inputs: list[str], model_dir: Path, out: Path, spec) -> dict[str, Any]:
    """A forecaster's next `horizon` values after one CSV of recent history (its last `window` rows are read), as
    a CSV of `step, time, forecast` in the target's units."""
    from plugins.data.timeseries import recent_window

    if len(inputs) != 1 or Path(inputs[0]).suffix.lower() not in TABLES:
        raise ConfigError("a forecaster takes one CSV of recent history (the last rows of the series, same columns)")
    x, times = recent_window(str(inputs[0]), spec)
    check_output(out, [Path(inputs[0])])
    from workflows.stages.evaluate import load_model
    from workflows.stages.outputs import unscale_target

    model, _ = load_model(model_dir)
    values = unscale_target(np.asarray(model.predict_on_batch(x)).reshape(-1), spec)
    with atomic_path(out, suffix=".csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "time", "forecast"])
        for h, value in enumerate(values):
            writer.writerow([h + 1, times[h] if times else "", f"{value:.6g}"])
    return {"rows": len(values)}


def main(argv: list[str] | None = None) -> int:
    from workflows.io.console import run_cli

    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(prog="python -m workflows.predict", description=__doc__.splitlines()[0])
        parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, image folders, or a CSV file")
        parser.add_argument("--model", default=str(REPO.models), help="the model's directory (default: models)")
        parser.add_argument("--out", default="predictions.csv", help="the CSV to write (default: predictions.csv)")
        parser.add_argument("--batch-size", type=int, default=256, help="inputs per batch (default: 256)")
        parser.add_argument("--quiet", action="store_true", help="no progress lines")
        parsed = parser.parse_args(args)
        result = predict(parsed.inputs, Path(parsed.model), Path(parsed.out), parsed.batch_size, parsed.quiet)
        scores = "".join(f", {k} {v:.4f}" for k, v in result.items() if k != "rows")
        target = " (scored against the CSV's target column)" if scores else ""
        print(f"wrote {parsed.out}: {result['rows']} predictions{scores}{target}", file=sys.stderr)

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
