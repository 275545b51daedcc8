"""Keras's own losses, registered as plugins.

`labels` says what the loss compares the model's outputs with (see
plugins.model.head); `from_logits`, where Keras has it, is supplied by the
framework from the head, never from the config.
"""

from __future__ import annotations

import keras

from plugins.registry import register

register("loss", "sparse_categorical_crossentropy", context=("from_logits",), labels="sparse")(
    keras.losses.SparseCategoricalCrossentropy
)
register("loss", "categorical_crossentropy", context=("from_logits",), labels="one_hot")(
    keras.losses.CategoricalCrossentropy
)
register("loss", "mse", labels="value")(keras.losses.MeanSquaredError)
