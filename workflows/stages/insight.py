"""What the evaluate stage writes beside the scores, so that a user sees *why*: the mistakes and, for a table, which
columns the model leans on.

- `mistakes.csv`: the test examples the model got most confidently wrong (classes: by the probability it gave
  its wrong answer), or with the largest errors (a regression, in the target's units). Each names its example:
  a table's line in the user's file, or the example's position in the split.
- `mistakes.png` (images): a labelled grid of those examples.
- `importance.csv` and `importance.png` (tables): permutation importance on the test rows through
  scikit-learn's `permutation_importance` — each column of the user's file shuffled in turn (a one-hot or
  datetime column counts once, as the column it came from), the drop in accuracy (or R²) averaged over repeats.
  A column that leaks the target ranks first.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

MISTAKES = 50  # rows of mistakes.csv
IMPORTANCE_ROWS = 5000  # test rows permutation importance scores (a random sample of larger splits)
REPEATS = 5


def mistakes(
    y: np.ndarray, probs: np.ndarray | None, predicted: np.ndarray, spec: Any, examples: list[str], out: Path
) -> list[int]:
    """Writes mistakes.csv; returns the positions of the examples it lists, worst first.

    Args:
        y: the true class ids, or values in the target's units.
        probs: per-class probabilities (classes), or None (a regression).
        predicted: the predicted class ids, or values in the target's units.
        spec: the data's spec (class names).
        examples: each example's name (a line of the user's file, or its position in the split).
        out: the CSV to write.
    """
    if probs is not None:
        names = spec.class_names or [str(i) for i in range(spec.num_classes)]
        wrong = np.flatnonzero(predicted != y)
        confidence = probs[wrong, predicted[wrong]]
        order = wrong[np.argsort(-confidence, kind="stable")][:MISTAKES]
        header = ["example", "actual", "predicted", "p_predicted", "p_actual"]
        rows = [
            [
                examples[i],
                names[int(y[i])],
                names[int(predicted[i])],
                f"{probs[i, predicted[i]]:.4f}",
                f"{probs[i, int(y[i])]:.4f}",
            ]
            for i in order
        ]
    else:
        if np.size(y) != len(examples):  # several outputs per example (a forecast's steps ahead): the first
            y = np.asarray(y).reshape(len(examples), -1)[:, 0]
            predicted = np.asarray(predicted).reshape(len(examples), -1)[:, 0]
        error = predicted - y
        order = np.argsort(-np.abs(error), kind="stable")[:MISTAKES]
        header = ["example", "actual", "predicted", "error"]
        rows = [[examples[i], f"{y[i]:.6g}", f"{predicted[i]:.6g}", f"{error[i]:.6g}"] for i in order]
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return [int(i) for i in order]


def _raw_rows_estimator(core, encoding, head, task: str, batch_size: int):
    """The saved table model as a scikit-learn estimator of raw rows (a DataFrame of the file's columns), so that
    `permutation_importance` shuffles the user's columns, not the encoded ones."""
    from sklearn.base import BaseEstimator

    from workflows.stages.outputs import predicted_classes

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

    from plugins.data.tabular import TableEncoding

    encoding = TableEncoding(**spec.table)
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
