"""A table's explanations: each column's Integrated Gradients attribution for a row (`kerasforge explain rows.csv`),
each word's occlusion attribution in a text cell (or a `data=text_folder` model's `.txt` files), and the test
split's permutation importance of the user's columns (the evaluate stage's importance.csv).

- A row: each column's Integrated Gradients attribution, from the training rows' mean (numbers at their mean, no
  category, nothing missing) to the row; a one-hot or missing-indicator column counts once, as the column of the
  user's file it came from (`attributions.csv`, and a bar chart per row, `line_<N>.png`).
- Text: each word's occlusion attribution, the predicted class's probability with the text whole minus without
  that word (token ids are not differentiable, so gradients do not apply), as a small page with the words coloured
  (`line_<N>_<column>.html`) and every word's score in `words.csv`.
- Importance: scikit-learn's `permutation_importance`, each column of the user's file shuffled in turn (a one-hot or
  datetime column counts once, as the column it came from), the drop in accuracy (or R²) averaged over repeats. A
  column that leaks the target ranks first.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.data.attribution import (
    bars_png,
    class_output,
    integrated_gradients,
    prediction,
    randomized,
    rank_correlation,
)
from plugins.data.tabular import table_encoding
from plugins.model.outputs import predicted_classes
from plugins.registry import ConfigError

if TYPE_CHECKING:
    from plugins.data.base import DataSpec

MAX_ROWS = 1000  # table rows explained in one call (each is a path integral of its own)
CHARTS = 50  # bar charts and pages written (the first rows); attributions.csv has every row
MAX_WORDS = 400  # words of one text cell scored by occlusion (each is one more forward pass)
IMPORTANCE_ROWS = 5000  # test rows permutation importance scores (a random sample of larger splits)
REPEATS = 5


def explain_inputs(kind, inputs: list[str], spec) -> tuple[Any, list[int]]:
    """The rows to explain and their lines, checked against the model before TensorFlow starts: `.txt` files for a
    model of one text column (data=text_folder), else one table file's rows."""
    if _reads_one_text(spec) and all(Path(i).suffix.lower() == ".txt" for i in inputs):
        return _text_files(inputs, spec), list(range(1, len(inputs) + 1))
    found = kind.gather(inputs, spec)
    if not spec.table:
        raise ConfigError(
            "this model was trained on a shipped data set's numbers, not on a file's columns; explain "
            "takes the rows of a model trained with data=csv"
        )
    return _table_rows(found.table, spec)


def column_slots(encoding) -> tuple[list[str], list[int], np.ndarray]:
    """The encoded row's slots by the file's column they came from: (columns, each slot's column index, the mask of
    slots Integrated Gradients may move: all but token ids)."""
    from plugins.data.tabular import column_width

    columns = encoding.file_columns
    owner, movable = [], []
    for c in encoding.columns:
        width = column_width(c)
        owner += [columns.index(c.get("source", c["name"]))] * width
        movable += [0.0 if c["type"] == "text" else 1.0] * width
    return columns, owner, np.asarray(movable, np.float32)


def explain_rows(
    model, head, spec: DataSpec, rows, lines: list[int], out: Path, steps: int, sanity: bool
) -> list[dict]:
    """attributions.csv (one row per input and column), a bar chart per row, and a page per text cell."""
    from plugins.data.tabular import shorten, texts

    encoding = table_encoding(spec)
    core = model.layers[-1]  # the trained network behind the encoding layers (TableKind.saved)
    columns, owner, movable = column_slots(encoding)
    text_columns = [c["name"] for c in encoding.columns if c["type"] == "text"]
    encoded = encoding.encode(rows)
    probs = np.asarray(head.probabilities(core(encoded, training=False)))
    shuffled = randomized(core) if sanity else None
    summary, long, word_rows = [], [], []
    for i, (line, x, p) in enumerate(zip(lines, encoded, probs)):
        cls, label, prob = prediction(p, head, spec)
        row = {"input": f"line {line}", "prediction": label, "probability": prob}
        per_column = np.zeros(len(columns))
        if movable.any():
            attributions, gap = integrated_gradients(
                class_output(core, head, cls), x, np.zeros_like(x), steps, mask=movable
            )
            np.add.at(per_column, owner, attributions * movable)
            row["completeness_gap"] = gap
            if shuffled is not None:  # compared column by column, as the user reads them (a zero one-hot slot is
                # zero in both models' attributions, whatever their weights: it would only add ties)
                other, _ = integrated_gradients(class_output(shuffled, head, cls), x, np.zeros_like(x), steps, movable)
                other_column = np.zeros(len(columns))
                np.add.at(other_column, owner, other * movable)
                row["randomized_rank_correlation"] = rank_correlation(per_column, other_column)
        for name in text_columns:  # occlusion of each word; the cell's total is its column's attribution
            words, scores = occlusion(model, head, encoding, rows.iloc[[i]], name, cls)
            per_column[columns.index(name)] = float(np.sum(scores))
            word_rows += [
                {"input": f"line {line}", "column": name, "position": k, "word": w, "attribution": f"{v:.6g}"}
                for k, (w, v) in enumerate(zip(words, scores))
            ]
            if i < CHARTS:
                text_page(words, scores, name, f"line {line}: {label} (p={prob:.2f})", out / f"line_{line}_{name}.html")
        values = {c: shorten(texts(rows[c].iloc[[i]]).iloc[0], 80) for c in columns}
        long += [
            {"input": f"line {line}", "feature": c, "value": values[c], "attribution": f"{a:.6g}"}
            for c, a in sorted(zip(columns, per_column), key=lambda t: -abs(t[1]))
        ]
        if i < CHARTS and len(columns) > len(text_columns):
            bars_png(columns, per_column, f"line {line}: {label} (p={prob:.2f})", out / f"line_{line}.png")
        summary.append(row)
    with (out / "attributions.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["input", "feature", "value", "attribution"])
        writer.writeheader()
        writer.writerows(long)
    if text_columns:
        with (out / "words.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["input", "column", "position", "word", "attribution"])
            writer.writeheader()
            writer.writerows(word_rows)
    return summary


def occlusion(model, head, encoding, row, column: str, cls: int) -> tuple[list[str], np.ndarray]:
    """Each word of one text cell and the drop in the predicted class's probability when it is left out."""
    import tensorflow as tf

    from plugins.data.tabular import texts

    words = texts(row[column]).iloc[0].split()[:MAX_WORDS]
    if not words:
        return [], np.zeros(0)
    variants = row.loc[row.index.repeat(len(words) + 1)].copy()
    variants[column] = [" ".join(words)] + [" ".join(words[:k] + words[k + 1 :]) for k in range(len(words))]
    inputs = {k: tf.constant(v) for k, v in encoding.inputs(variants).items()}
    scores = np.asarray(class_output(model, head, cls)(inputs))
    return words, scores[0] - scores[1:]


def text_page(words: list[str], scores: np.ndarray, column: str, title: str, out: Path) -> None:
    """A page of the words, red where a word pushes towards the prediction, blue where it pushes away."""
    top = float(np.abs(scores).max()) if len(scores) else 0.0
    spans = []
    for word, score in zip(words, scores):
        alpha = abs(score) / top if top > 0 else 0.0
        colour = "220,40,40" if score > 0 else "40,90,220"
        spans.append(
            f'<span title="{score:+.4f}" style="background: rgba({colour},{alpha:.2f})">{html.escape(word)}</span>'
        )
    out.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title><style>body{{font:15px/1.9 sans-serif;max-width:50em;margin:2em auto}}"
        "span{padding:1px 2px;border-radius:3px}</style></head><body>"
        f"<h1 style='font-size:1.1em'>{html.escape(title)}</h1><p>Column <b>{html.escape(column)}</b>: each word's "
        "occlusion attribution (probability of the prediction with the word minus without it; red for, blue "
        "against; hover for the value).</p><p>" + " ".join(spans) + "</p></body></html>",
        encoding="utf-8",
    )


def _reads_one_text(spec: DataSpec) -> bool:
    """Whether the model reads one column, of text (data=text_folder's): then `.txt` inputs are texts, not tables."""
    columns = (spec.table or {}).get("columns", [])
    return len(columns) == 1 and columns[0]["type"] == "text"


def _text_files(files: list[str], spec: DataSpec):
    """`.txt` files as rows of a text model's table (its one text column)."""
    import pandas as pd

    column = spec.table["columns"][0]["name"]
    cells = []
    for file in files:
        try:
            cells.append(Path(file).read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{file}: not a readable UTF-8 text file ({type(err).__name__}); convert it") from None
    return pd.DataFrame({column: cells}).astype(object)


def _table_rows(path: Path, spec: DataSpec):
    """The CSV's rows (at most MAX_ROWS) and their lines in the file; the columns are checked first."""
    from plugins.data.tabular import read_table

    encoding = table_encoding(spec)
    rows = read_table(path, nrows=MAX_ROWS + 1).rename(columns=lambda c: str(c).strip())
    if rows.empty:
        raise ConfigError(f"{path}: no data rows below the header")
    if len(rows) > MAX_ROWS:
        raise ConfigError(f"{path} has more than {MAX_ROWS} rows; explain a few rows at a time (head -n 51 {path})")
    encoding.check_columns(rows, str(path))
    encoding.inputs(rows, str(path))  # a word in a number column: a one-line error naming its line
    return rows.reset_index(drop=True), list(range(2, len(rows) + 2))


def _raw_rows_estimator(core, encoding, head, task: str, batch_size: int):
    """The saved table model as a scikit-learn estimator of raw rows (a DataFrame of the file's columns), so that
    `permutation_importance` shuffles the user's columns, not the encoded ones."""
    from sklearn.base import BaseEstimator

    class RawRows(BaseEstimator):
        def __init__(self, core=None, encoding=None, head=None, task="classification", batch_size=256):
            self.core, self.encoding, self.head, self.task, self.batch_size = core, encoding, head, task, batch_size

        def fit(self, x, y=None):  # trained already; scikit-learn's API asks for it
            return self

        def __sklearn_is_fitted__(self):
            return True

        def predict(self, rows):
            encoded = self.encoding.encode(rows)  # ≤ IMPORTANCE_ROWS rows: one direct call, no predict() per shuffle
            outputs = np.concatenate(
                [
                    np.asarray(self.core(encoded[i : i + 4096], training=False))
                    for i in range(0, max(len(encoded), 1), 4096)
                ]
            )
            if self.task == "classification":
                return predicted_classes(np.asarray(self.head.probabilities(outputs)))
            return outputs.reshape(len(rows))

    return RawRows(core, encoding, head, task, batch_size)


def importance(core, head, spec: Any, rows, y: np.ndarray, out_dir: Path, batch_size: int = 256, seed: int = 0):
    """Writes importance.csv (`feature, importance, std`, most important first) and importance.png.

    Args:
        core: the trained network (it reads encoded rows).
        head: its output head.
        spec: the data's spec (its `table`).
        rows: the test split's raw rows.
        y: their class ids, or their (standardized) targets.
        out_dir: where to write.
        batch_size: rows per prediction.
        seed: the shuffles' seed.

    Returns:
        The rows written, as dicts.
    """
    from sklearn.inspection import permutation_importance

    encoding = table_encoding(spec)
    columns = encoding.file_columns
    if len(rows) > IMPORTANCE_ROWS:
        keep = np.random.default_rng(seed).choice(len(rows), IMPORTANCE_ROWS, replace=False)
        rows, y = rows.iloc[np.sort(keep)], y[np.sort(keep)]
    model = _raw_rows_estimator(core, encoding, head, spec.task, batch_size)
    scoring = "accuracy" if spec.task == "classification" else "r2"
    found = permutation_importance(
        model, rows[columns].reset_index(drop=True), y, scoring=scoring, n_repeats=REPEATS, random_state=seed
    )
    table = sorted(
        (
            {"feature": c, "importance": float(m), "std": float(s)}
            for c, m, s in zip(columns, found.importances_mean, found.importances_std)
        ),
        key=lambda r: -r["importance"],
    )
    with (out_dir / "importance.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["feature", "importance", "std"])
        writer.writeheader()
        writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in table)
    _bars(table, scoring, out_dir / "importance.png")
    return table


def _bars(table: list[dict], scoring: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = table[:25][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.2))
    ax.barh([r["feature"] for r in shown], [r["importance"] for r in shown], xerr=[r["std"] for r in shown])
    ax.set_xlabel(f"drop in test {scoring} when the column is shuffled")
    ax.set_title("permutation importance (test rows)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
