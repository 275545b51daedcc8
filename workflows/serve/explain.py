"""Why the model decided as it did, for one input at a time: `kerasforge explain INPUT… [--model models] --out DIR`.

- An image: Integrated Gradients (Sundararajan et al., 2017) of the predicted class's probability, from a black
  image to the input, as a heatmap over the image (`<image>.png`, titled with the class and its probability).
- A table row: each column's Integrated Gradients attribution, from the training rows' mean (numbers at their
  mean, no category, nothing missing) to the row; a one-hot or missing-indicator column counts once, as the
  column of the user's file it came from (`attributions.csv`, and a bar chart per row, `line_<N>.png`).
- Text (a text column of a table, or the `.txt` files of a `data=text_folder` model): each word's occlusion
  attribution, the predicted class's probability with the text whole minus without that word (token ids are
  not differentiable, so gradients do not apply), as a small page with the words coloured
  (`line_<N>_<column>.html`) and every word's score in `words.csv`.

Every run writes `explanations.csv` (one row per input: the prediction, its probability, and IG's completeness
gap: attributions must add up to f(input) − f(baseline)) into `--out`, atomically: a failed run leaves no part.

The two sanity checks of Adebayo et al. (2018), "Sanity Checks for Saliency Maps", are tested on these
attributions (tests/e2e/test_explain.py): they change when the model's weights are randomized (`--sanity` reports
the rank correlation with a randomized copy's, per input), and on inputs whose answer lies in one column or word
they put most of their mass there; on an image, the most attributed pixel lies in the answer's region, which holds
several times its share of the mass (IG from a black image gives the rest to a noisy background).

    kerasforge explain photos/cat.jpg --out why/
    kerasforge explain new_rows.csv --model models --out why/
"""

from __future__ import annotations

import argparse
import csv
import html
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.registry import ConfigError
from workflows.io.atomic import atomic_dir
from workflows.io.layout import REPO
from workflows.serve.predict import gather, read_card

if TYPE_CHECKING:
    import keras

    from plugins.data.base import DataSpec

STEPS = 32  # Riemann steps of the path integral (trapezoid rule); the completeness gap says when it is too few
MAX_ROWS = 1000  # table rows explained in one call (each is a path integral of its own)
CHARTS = 50  # bar charts and pages written (the first rows); attributions.csv has every row
MAX_WORDS = 400  # words of one text cell scored by occlusion (each is one more forward pass)


def integrated_gradients(
    f, x: np.ndarray, baseline: np.ndarray, steps: int = STEPS, mask: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Integrated Gradients of a scalar function of one input, along the straight path from `baseline` to `x`.

    Args:
        f: a function of a batch (a tensor) returning one scalar per example (the explained output).
        x: one input, without a batch axis.
        baseline: the reference input (the same shape): the attribution explains f(x) − f(baseline).
        steps: intervals of the path (the gradients are averaged with the trapezoid rule).
        mask: where the path moves (1) or stays at `x` (0): parts that are not differentiable (token ids).

    Returns:
        The attributions (the shape of `x`) and the completeness gap: |Σ attributions − (f(x) − f(baseline))|,
        relative to |f(x) − f(baseline)| (or absolute when that is near 0).

    Example:
    >>> attributions, gap = integrated_gradients(lambda t: model(t)[:, 3], image, np.zeros_like(image))
    """
    import tensorflow as tf

    x = np.asarray(x, np.float32)
    baseline = np.asarray(baseline, np.float32)
    if mask is not None:
        baseline = np.where(mask > 0, baseline, x)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32).reshape(-1, *([1] * x.ndim))
    path = tf.constant(baseline[None] + alphas * (x - baseline)[None])
    with tf.GradientTape() as tape:
        tape.watch(path)
        values = f(path)
    grads = tape.gradient(values, path).numpy()
    average = (grads[:-1] + grads[1:]).mean(axis=0) / 2.0  # the trapezoid rule over the path
    attributions = (x - baseline) * average
    change = float(values[-1] - values[0])
    gap = abs(float(attributions.sum()) - change)
    return attributions, gap / abs(change) if abs(change) > 1e-3 else gap


def class_output(model, head, cls: int):
    """f(batch) → the probability the model gives class `cls` (or the value, for a regression)."""

    def f(batch):
        out = head.probabilities(model(batch, training=False))
        if head.task != "classification":
            return out[:, 0]
        if out.shape[-1] == 1:  # one sigmoid output: P(second class)
            return out[:, 0] if cls == 1 else 1.0 - out[:, 0]
        return out[:, cls]

    return f


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    """The same architecture with freshly initialized weights (Adebayo et al.'s model-randomization check)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two attributions' magnitudes (1: the same order of importance)."""
    from scipy.stats import spearmanr

    value = spearmanr(np.abs(np.ravel(a)), np.abs(np.ravel(b))).statistic
    return float(value) if np.isfinite(value) else 0.0


def _prediction(probs: np.ndarray, head, spec: DataSpec) -> tuple[int, str, float]:
    """(class id, its name, its probability) of one example's head output; (0, value, value) for a regression."""
    from workflows.stages.outputs import per_class, predicted_classes, unscale_target

    if spec.task != "classification":
        value = float(unscale_target(np.asarray([probs[0]]), spec)[0])
        return 0, f"{value:.6g}", value
    cls = int(predicted_classes(probs[None])[0])
    names = spec.class_names or [str(i) for i in range(spec.num_classes)]
    return cls, names[cls], float(per_class(probs[None])[0, cls])


def explain_images(model, head, spec: DataSpec, files: list[Path], out: Path, steps: int, sanity: bool) -> list[dict]:
    """A heatmap PNG per image; returns one summary row per image."""
    from plugins.data.image_kind import image_batches
    from workflows.stages.outputs import file_name

    rows, shuffled = [], randomized(model) if sanity else None
    for names, x in image_batches(files, spec, 32):
        probs = np.asarray(head.probabilities(model(x, training=False)))
        for name, image, p in zip(names, x, probs):
            cls, label, prob = _prediction(p, head, spec)
            attributions, gap = integrated_gradients(class_output(model, head, cls), image, np.zeros_like(image), steps)
            row = {"input": str(name), "prediction": label, "probability": prob, "completeness_gap": gap}
            if shuffled is not None:
                other, _ = integrated_gradients(class_output(shuffled, head, cls), image, np.zeros_like(image), steps)
                row["randomized_rank_correlation"] = rank_correlation(attributions.sum(-1), other.sum(-1))
            png = out / f"{file_name(str(Path(name).with_suffix('')), 'input')}.png"
            heatmap_png(image, attributions, f"{label} (p={prob:.2f})", png)
            rows.append(row)
    return rows


def heatmap(attributions: np.ndarray) -> np.ndarray:
    """Per-pixel importance in [0, 1]: |attribution| summed over channels, clipped at its 99th percentile."""
    magnitude = np.abs(attributions).sum(axis=-1)
    top = np.percentile(magnitude, 99) or magnitude.max() or 1.0
    return np.clip(magnitude / top, 0.0, 1.0)


def heatmap_png(image: np.ndarray, attributions: np.ndarray, title: str, out: Path) -> None:
    """The image beside itself under the heatmap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gray = image[..., 0] if image.shape[-1] == 1 else image.mean(-1)
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    axes[0].imshow(
        gray if image.shape[-1] == 1 else np.clip(image, 0, 1), cmap="gray" if image.shape[-1] == 1 else None
    )
    axes[0].set_title("input", fontsize=9)
    axes[1].imshow(gray, cmap="gray")
    axes[1].imshow(heatmap(attributions), cmap="inferno", alpha=0.6)
    axes[1].set_title(f"Integrated Gradients: {title}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)


def column_slots(encoding) -> tuple[list[str], list[int], np.ndarray]:
    """The encoded row's slots by the file's column they came from: (columns, each slot's column index, the mask of
    slots Integrated Gradients may move: all but token ids)."""
    from plugins.data.tabular import _width

    columns = encoding.file_columns
    owner, movable = [], []
    for c in encoding.columns:
        width = _width(c)
        owner += [columns.index(c.get("source", c["name"]))] * width
        movable += [0.0 if c["type"] == "text" else 1.0] * width
    return columns, owner, np.asarray(movable, np.float32)


def explain_rows(
    model, head, spec: DataSpec, rows, lines: list[int], out: Path, steps: int, sanity: bool
) -> list[dict]:
    """attributions.csv (one row per input and column), a bar chart per row, and a page per text cell."""
    from plugins.data.tabular import TableEncoding, shorten, texts

    encoding = TableEncoding(**spec.table)
    core = model.layers[-1]  # the trained network behind the encoding layers (workflows/stages/train.py)
    columns, owner, movable = column_slots(encoding)
    text_columns = [c["name"] for c in encoding.columns if c["type"] == "text"]
    encoded = encoding.encode(rows)
    probs = np.asarray(head.probabilities(core(encoded, training=False)))
    shuffled = randomized(core) if sanity else None
    summary, long, word_rows = [], [], []
    for i, (line, x, p) in enumerate(zip(lines, encoded, probs)):
        cls, label, prob = _prediction(p, head, spec)
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


def bars_png(columns: list[str], values: np.ndarray, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(np.abs(values))[-25:]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(order) + 1.2))
    ax.barh([columns[k] for k in order], values[order], color=["#c33" if values[k] > 0 else "#36c" for k in order])
    ax.set_xlabel("Integrated Gradients attribution (towards the prediction > 0)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)


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


def explain(
    inputs: list[str],
    model_dir: Path = REPO.models,
    out: Path = Path("explanations"),
    steps: int = STEPS,
    sanity: bool = False,
) -> list[dict[str, Any]]:
    """Explains each input's prediction and writes the results into `out` (replaced as a whole, atomically).

    Args:
        inputs: image files or folders (an image model), one CSV file of rows (a table model), or `.txt` files
            (a text_folder model).
        model_dir: the directory of model.keras and model.json.
        out: the folder to write.
        steps: Integrated Gradients' steps.
        sanity: also explain with a randomized copy of the model and report the rank correlation per input.

    Returns:
        One summary row per input (as explanations.csv).

    Example:
    >>> explain(["photos/cat.jpg"], Path("models"), Path("why"))
    [{'input': 'photos/cat.jpg', 'prediction': 'cat', 'probability': 0.97, 'completeness_gap': 0.004}]
    """
    from plugins.data.base import DataSpec

    if not 4 <= steps <= 512:
        raise ConfigError(f"--steps {steps} must be between 4 and 512 (default {STEPS})")
    if Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the explanations")
    card = read_card(model_dir)
    spec = DataSpec(**card["spec"])
    if spec.series:
        raise ConfigError("explain takes images, table rows or text; a forecaster's windows are not explained yet")
    images, rows, lines = _inputs(inputs, spec)
    from plugins.model.head import Head
    from workflows.stages.evaluate import load_model

    model, _ = load_model(model_dir)
    head = Head(**card["head"])
    with atomic_dir(Path(out)) as tmp:
        if images:
            summary = explain_images(model, head, spec, images, tmp, steps, sanity)
        else:
            summary = explain_rows(model, head, spec, rows, lines, tmp, steps, sanity)
        fields = list(dict.fromkeys(k for row in summary for k in row))
        with (tmp / "explanations.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()} for row in summary
            )
    return summary


def _inputs(inputs: list[str], spec: DataSpec) -> tuple[list[Path], Any, list[int]]:
    """What to explain, checked against the model before TensorFlow starts: (image files, table rows, their lines)."""
    if _reads_one_text(spec) and all(Path(i).suffix.lower() == ".txt" for i in inputs):
        return [], _text_files(inputs, spec), list(range(1, len(inputs) + 1))
    found = gather(inputs, spec)
    if found.table is None:
        return found.files, None, []
    if not spec.table:
        raise ConfigError(
            "this model was trained on a shipped data set's numbers, not on a file's columns; explain "
            "takes the rows of a model trained with data=csv"
        )
    rows, lines = _table_rows(found.table, spec)
    return [], rows, lines


def _table_rows(path: Path, spec: DataSpec):
    """The CSV's rows (at most MAX_ROWS) and their lines in the file; the columns are checked first."""
    from plugins.data.tabular import TableEncoding, read_table

    encoding = TableEncoding(**spec.table)
    rows = read_table(path, nrows=MAX_ROWS + 1).rename(columns=lambda c: str(c).strip())
    if rows.empty:
        raise ConfigError(f"{path}: no data rows below the header")
    if len(rows) > MAX_ROWS:
        raise ConfigError(f"{path} has more than {MAX_ROWS} rows; explain a few rows at a time (head -n 51 {path})")
    encoding.check_columns(rows, str(path))
    encoding.inputs(rows, str(path))  # a word in a number column: a one-line error naming its line
    return rows.reset_index(drop=True), list(range(2, len(rows) + 2))


def main(argv: list[str] | None = None) -> int:
    from workflows.io.console import run_cli

    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(
            prog="kerasforge explain",
            description=__doc__.split("\n\n")[0],
            epilog="Attributions: Integrated Gradients for images and table columns, occlusion for text's words.",
        )
        parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images or folders, one CSV, or .txt files")
        parser.add_argument("--model", default=str(REPO.models), help="the model's directory (default: models)")
        parser.add_argument("--out", default="explanations", help="the folder to write (default: explanations)")
        parser.add_argument("--steps", type=int, default=STEPS, help=f"Integrated Gradients' steps ({STEPS})")
        parser.add_argument(
            "--sanity", action="store_true", help="also compare with a randomized copy of the model (Adebayo et al.)"
        )
        ns = parser.parse_args(args)
        summary = explain(ns.inputs, Path(ns.model), Path(ns.out), ns.steps, ns.sanity)
        print(f"wrote {ns.out}/: {len(summary)} explanation(s) (explanations.csv)", file=sys.stderr)

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
