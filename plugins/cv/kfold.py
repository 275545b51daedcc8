"""k-fold cross-validation over the prepared training and validation rows (scikit-learn's splitters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plugins.registry import ConfigError, ParamError, register


@dataclass(frozen=True)
class Folds:
    """A cross-validation plan: `split(y)` gives the (train, val) positions of each fold among len(y) rows."""

    split: Callable[[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]


@register("cv", "none")
def none() -> None:
    """No cross-validation: the data plugin's one train/val split."""
    return None


@register("cv", "kfold", values={"folds": {"min": 2}})
def kfold(folds: int = 5, stratified: bool = True, seed: int = 0) -> Folds:
    """k folds of the training and validation rows; each fold validates on one part and trains on the others.

    Args:
        folds: how many folds (≥ 2).
        stratified: keep the classes' proportions in every fold (classification; regression folds are plain).
        seed: the shuffle's seed.

    Returns:
        The Folds plan.

    Example:
        `python -m workflows.train cv=kfold cv.folds=5` (metrics: the mean over the folds, and their spread)
    """
    if folds < 2:
        raise ParamError("folds", f"{folds} must be at least 2")

    def split(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import KFold, StratifiedKFold

        y = np.asarray(y)
        if folds > len(y):
            raise ConfigError(
                f"cv.folds={folds} is more than the {len(y)} training and validation rows: each fold "
                f"needs one row at least; lower cv.folds (at most {len(y)})"
            )
        classes = np.issubdtype(y.dtype, np.integer)
        splitter = (StratifiedKFold if stratified and classes else KFold)(folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y if classes else None))

    return Folds(split)
