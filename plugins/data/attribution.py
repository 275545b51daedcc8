"""Attribution methods shared by the data kinds' explanations (`DataKind.explain`): Integrated Gradients
(Sundararajan et al., 2017), the explained output of a model, its randomized copy (Adebayo et al., 2018, "Sanity
Checks for Saliency Maps") and the rank correlation that compares them, and the pictures drawn from them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plugins.model.outputs import per_class, predicted_classes, unscale_target

if TYPE_CHECKING:
    import keras

    from plugins.data.base import DataSpec

STEPS = 32  # Riemann steps of the path integral (trapezoid rule); the completeness gap says when it is too few


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


def prediction(probs: np.ndarray, head, spec: DataSpec) -> tuple[int, str, float]:
    """(class id, its name, its probability) of one example's head output; (0, value, value) for a regression."""
    if spec.task != "classification":
        value = float(unscale_target(np.asarray([probs[0]]), spec)[0])
        return 0, f"{value:.6g}", value
    cls = int(predicted_classes(probs[None])[0])
    names = spec.class_names or [str(i) for i in range(spec.num_classes)]
    return cls, names[cls], float(per_class(probs[None])[0, cls])


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
