"""Weight penalties (L1, L2, L1+L2), applied to every kernel of any model.

The model's builder knows nothing of them: `attach_to_kernels` walks the
built model and gives each layer that has a kernel the penalty, both on the
variable (so training adds it to the loss) and in the layer's config (so
the saved model records it).
"""

from __future__ import annotations

import keras

from plugins.registry import register
from plugins.regularizer.checks import check_strengths


@register("regularizer", "none")
def no_penalty() -> None:
    """No weight penalty."""
    return None


register("regularizer", "l1", check=check_strengths)(keras.regularizers.L1)
register("regularizer", "l2", check=check_strengths)(keras.regularizers.L2)
register("regularizer", "l1l2", check=check_strengths)(keras.regularizers.L1L2)


def kernel_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer, nested ones included, that owns a kernel (Dense, Conv, LSTM…)."""
    layers = [model, *model._flatten_layers(include_self=False, recursive=True)]
    return [layer for layer in layers if hasattr(layer, "kernel_regularizer") and _kernel(layer) is not None]


def _kernel(layer: keras.layers.Layer):
    try:
        return layer.kernel
    except (AttributeError, ValueError):  # not built, or no kernel of its own (a wrapper)
        return None


def attach_to_kernels(model: keras.Model, penalty: keras.regularizers.Regularizer | None) -> int:
    """Puts `penalty` on the kernel of every layer of `model` that has one.

    Args:
        model: a built model.
        penalty: a Keras regularizer, or None for none.

    Returns:
        How many kernels were given the penalty.

    Example:
    >>> attach_to_kernels(model, keras.regularizers.L2(1e-4))
    3
    """
    if penalty is None:
        return 0
    count = 0
    for layer in kernel_layers(model):
        layer.kernel_regularizer = penalty
        _kernel(layer).regularizer = penalty
        count += 1
    return count


@register("regularizer", "ridge", context=("n_train",), check=check_strengths)
def ridge(n_train: int, alpha: float = 1.0) -> keras.regularizers.Regularizer:
    """L2 with scikit-learn's `Ridge(alpha)` meaning: minimizes ‖y − Xw‖² + alpha·‖w‖².

    Keras's loss is a mean, (1/n)‖y − Xw‖² (with loss=mse), so the same
    minimizer needs the penalty (alpha/n)·‖w‖²: `L2(alpha / n_train)`.

    Args:
        n_train: training examples (set by the framework).
        alpha: scikit-learn's alpha.
    """
    return keras.regularizers.L2(alpha / n_train)


@register("regularizer", "lasso", context=("n_train",), check=check_strengths)
def lasso(n_train: int, alpha: float = 1.0) -> keras.regularizers.Regularizer:
    """L1 with scikit-learn's `Lasso(alpha)` meaning: minimizes (1/2n)‖y − Xw‖² + alpha·‖w‖₁.

    Twice that objective is Keras's mean squared error plus 2·alpha·‖w‖₁:
    `L1(2 · alpha)`.

    Args:
        n_train: training examples (set by the framework; unused, kept for symmetry with ridge).
        alpha: scikit-learn's alpha.
    """
    return keras.regularizers.L1(2.0 * alpha)


def set_dropout(model: keras.Model, rate: float) -> int:
    """Sets the rate of every Dropout layer of `model` (the `regularizer.dropout` option).

    Returns:
        How many Dropout layers there were.
    """
    layers = [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.Dropout)
    ]
    for layer in layers:
        layer.rate = float(rate)
    return len(layers)
