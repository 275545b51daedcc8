"""What a model's outputs mean, in NumPy (no TensorFlow): class ids from probabilities, one column per class, a
regression's outputs in the target's own units; and a name made safe for a file. Shared by evaluate, insight, predict,
explain and export."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from plugins.data.base import DataSpec


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    """Class ids from the head's probabilities: a threshold of 0.5 for one sigmoid output, else the argmax."""
    return (probs[:, 0] > 0.5).astype(int) if probs.shape[-1] == 1 else probs.argmax(axis=-1)


def per_class(probs: np.ndarray) -> np.ndarray:
    """Probabilities with one column per class: one sigmoid output P(second class) becomes [1 − p, p]."""
    return np.concatenate([1.0 - probs, probs], axis=-1) if probs.shape[-1] == 1 else probs


def unscale_target(values: np.ndarray, spec: DataSpec) -> np.ndarray:
    """Regression outputs (or targets) → the target's own units: the card's scaling undone, none when unscaled."""
    if spec.scaling and "target_mean" in spec.scaling:
        return values * spec.scaling["target_std"] + spec.scaling["target_mean"]
    return values


def file_name(name: str, empty: str = "class") -> str:
    """A class's or an input's name as a file name: letters, digits, `-_.` kept, anything else `_`."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or empty
