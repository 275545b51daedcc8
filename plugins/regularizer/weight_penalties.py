"""Weight penalties (L1, L2, L1+L2), applied to every kernel of any model.

The model's builder knows nothing of them: `attach_to_kernels` walks the
built model and gives each layer that has a kernel the penalty, both on the
variable (so training adds it to the loss) and in the layer's config (so
the saved model records it).
"""

from __future__ import annotations

import keras

from plugins.registry import register


@register("regularizer", "none")
def no_penalty() -> None:
    """No weight penalty."""
    return None


register("regularizer", "l1")(keras.regularizers.L1)
register("regularizer", "l2")(keras.regularizers.L2)
register("regularizer", "l1l2")(keras.regularizers.L1L2)


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
