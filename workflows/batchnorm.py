"""Batch-norm statistics that match the trained weights, however short the run.

Keras's BatchNormalization keeps an exponential moving average of the batch
statistics with momentum 0.99: after a few dozen steps it still remembers
its initial values (mean 0, variance 1) and the early, long-gone weights,
so a model that is right in training mode can predict one class in
inference mode — a hand-written Keras script has the same pitfall. After
training, `recalibrate` replaces each trainable BatchNormalization layer's
moving mean and variance by the plain average of its batch statistics over
training batches seen with the final weights ("precise BN": Wu & Johnson,
2021, *Rethinking "Batch" in BatchNorm*). Layers that are not trainable (a
frozen backbone's) are left as they are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

MAX_BATCHES = 200  # enough for stable averages (Wu & Johnson use about 100 batches); bounds the cost on big sets


def batch_norm_layers(model: keras.Model) -> list:
    """The model's trainable BatchNormalization layers, nested models included."""
    import keras

    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def recalibrate(model: keras.Model, batches: tf.data.Dataset, max_batches: int = MAX_BATCHES) -> int:
    """Sets the moving statistics of every trainable BatchNormalization layer to their average over `batches`.

    Args:
        model: a trained model.
        batches: training batches (x, y), as training saw them (shuffled, augmented online).
        max_batches: at most this many batches are used.

    Returns:
        The number of batches averaged over (0 when the model has no batch normalization).

    Example:
    >>> recalibrate(model, train_batches.take(100))
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    seen = 0
    try:
        for x, _ in batches.take(max_batches):
            seen += 1
            for layer in layers:  # momentum (k-1)/k: the k-th batch gets weight 1/k, a running plain average
                layer.momentum = (seen - 1) / seen
            model(x, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return seen


def batches_needed(n_train: int, batch_size: int, max_batches: int = MAX_BATCHES) -> int:
    """How many batches `recalibrate` uses for a training set of `n_train` examples (one pass, at most `max_batches`)."""
    return max(1, min(max_batches, math.ceil(n_train / batch_size)))
