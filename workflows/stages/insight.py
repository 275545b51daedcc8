"""What the evaluate stage writes beside the scores, so that a user sees *why*: the mistakes and, for a table, which
columns the model leans on.

- `mistakes.csv`: the test examples the model got most confidently wrong (classes: by the probability it gave
  its wrong answer), or with the largest errors (a regression, in the target's units). Each names its example:
  a table's line in the user's file, or the example's position in the split.
- `mistakes.png` (images): a labelled grid of those examples.
- what the data kind adds (`DataKind.insight`): a table's permutation importance of its columns
  (`importance.csv` and `importance.png`, plugins/data/table_explain.py).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

MISTAKES = 50  # rows of mistakes.csv


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
