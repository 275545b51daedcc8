"""Label new data with a trained model: `python -m workflows.predict INPUT… [--model models] [--out predictions.csv]`.

INPUT is what the model's data kind reads (`DataKind.gather`, `file_batches`,
`row_batches`): image or sound files and folders of them (walked recursively),
read exactly as the data plugin read them for training, or a CSV file of rows
in raw units (the model encodes or scales them itself; a forecaster's CSV is
its recent history). A CSV's target column, when present, is not used to
predict: it is scored, and the score printed.

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
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.data.kinds import kind_of
from plugins.registry import ConfigError
from workflows.io.atomic import atomic_path
from workflows.io.card import read_card
from workflows.io.layout import REPO

if TYPE_CHECKING:
    from plugins.data.base import DataSpec


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


def predict(
    inputs: list[str],
    model_dir: Path = REPO.models,
    out: Path = Path("predictions.csv"),
    batch_size: int = 256,
    quiet: bool = False,
) -> dict[str, Any]:
    """Predicts every input and writes one CSV row each (atomically: a failed run leaves no partial file).

    Args:
        inputs: what the model's data kind takes: image or sound files and folders, or one CSV file of rows (a
            forecaster: of recent history).
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
    kind = kind_of(spec)
    found = kind.gather(inputs, spec)
    check_output(Path(out), [*found.files, *([found.table] if found.table else [])])
    kind.check_files(found.files, spec)  # each file's header, before TensorFlow starts
    if found.table is not None:  # its columns, before TensorFlow starts
        next(kind.row_batches(found.table, spec, 1), None)
    from plugins.model.head import Head  # TensorFlow from here on: the inputs are known to fit the model
    from workflows.stages.evaluate import load_model

    model, _ = load_model(model_dir)
    if found.table is not None:
        batches, progress = kind.row_batches(found.table, spec, batch_size), Progress(None, "rows", quiet)
    else:
        files = ((names, x, None) for names, x in kind.file_batches(found.files, spec, batch_size))
        batches, progress = files, Progress(len(found.files), kind.noun, quiet)
    written = kind.predictions(spec, Head(**card["head"]), found.table)
    with atomic_path(out, suffix=".csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        first = True
        for names, x, targets in batches:
            if first:
                writer.writerow(written.header(targets is not None))
                first = False
            outputs, count = _outputs(model, x, names)
            written.write(writer, names, outputs, count, targets)
            progress.update(count)
        if first:
            raise ConfigError(f"{found.table}: no data rows below the header")
    return written.result()


def _spec_of(card: dict[str, Any], model_dir: Path) -> DataSpec:
    from plugins.data.base import DataSpec

    try:
        return DataSpec(**card["spec"])
    except TypeError:
        raise ConfigError(
            f"{Path(model_dir) / 'model.json'} is the card of another kind of model (its spec has "
            "other fields); give --model a directory written by this project's train stage"
        ) from None


def _outputs(model, x, names) -> tuple[np.ndarray, int]:
    """The model's outputs on one batch, and how many examples it held."""
    if isinstance(x, dict):  # strings: as tensors (Keras's array adapter takes no object arrays)
        import tensorflow as tf

        return np.asarray(model({k: tf.constant(v) for k, v in x.items()}, training=False)), len(names)
    return np.asarray(model.predict_on_batch(x)), len(x)


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
