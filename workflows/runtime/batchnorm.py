"""Batch-norm statistics that match the trained weights, however short the run.

Keras's BatchNormalization keeps an exponential moving average of the batch
statistics with momentum 0.99: after a few dozen steps it still remembers
its initial values (mean 0, variance 1) and the early, long-gone weights,
so a model that is right in training mode can predict one class in
inference mode — a hand-written Keras script has the same pitfall. After
training, `Recalibration` replaces each trainable BatchNormalization layer's
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
EPOCH_BATCHES = 10  # before each epoch's validation: 10 batches give the curves the saved model's behaviour at a
# tenth of an epoch's cost (50 cost half the training time of a small set); the final recalibration uses MAX_BATCHES


def batch_norm_layers(model: keras.Model) -> list:
    """The model's trainable BatchNormalization layers, nested models included."""
    import keras

    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]


class Recalibration:
    """Sets the moving statistics of every trainable BatchNormalization layer of one model to their average over
    training batches, its compiled statistics function traced once for batches of any size (it runs before every
    epoch's validation, `validate_recalibrated`, and once more at the end).

    Each batch goes through the model in training mode once, with every layer's momentum at 0, so that its moving
    statistics are that batch's; their sum is kept, and the average assigned at the end.

    Example:
    >>> recalibration = Recalibration(model)
    >>> recalibration(train_batches, 10)  # during training: Dropout's random state is put back
    >>> recalibration(train_batches, 200, keep_random_state=False)  # the last
    """

    def __init__(self, model: keras.Model):
        self.model, self.layers = model, batch_norm_layers(model)
        self.seeds = [v for v in model.variables if "seed_generator_state" in v.path]
        self.statistics = None

    def _traced(self, batches: tf.data.Dataset):
        """The statistics function, traced on the first call for the batches' spec (any number of rows): the
        last, smaller batch of a pass runs the same graph."""
        import tensorflow as tf

        if self.statistics is None:
            model, layers = self.model, self.layers

            @tf.function(input_signature=[batches.element_spec[0]])
            def statistics(x):
                model(x, training=True)  # with momentum 0 the moving statistics become this batch's
                return [tf.convert_to_tensor(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)]

            self.statistics = statistics
        return self.statistics

    def __call__(self, batches: tf.data.Dataset, max_batches: int = MAX_BATCHES, keep_random_state: bool = True) -> int:
        """Averages the statistics over at most `max_batches` of `batches` and assigns them; returns how many.
        With `keep_random_state`, Dropout's random state is put back after the batches, so that recalibrating
        during training leaves the training's own random masks (and so its weights) exactly as without it."""
        if not self.layers:
            return 0
        statistics = self._traced(batches)
        momenta = [layer.momentum for layer in self.layers]
        states = [v.numpy() for v in self.seeds] if keep_random_state else []
        seen, sums = 0, None
        try:
            for layer in self.layers:
                layer.momentum = 0.0
            for x, *_ in batches.take(max_batches):
                values = statistics(x)
                sums = values if sums is None else [a + b for a, b in zip(sums, values)]
                seen += 1
        finally:
            for layer, momentum in zip(self.layers, momenta):
                layer.momentum = momentum
            for variable, state in zip(self.seeds, states):  # none kept: nothing put back
                variable.assign(state)
        for i, layer in enumerate(self.layers):
            layer.moving_mean.assign(sums[2 * i] / seen)
            layer.moving_variance.assign(sums[2 * i + 1] / seen)
        return seen


def validate_recalibrated(recalibration: Recalibration, train_batches, val_batches, max_batches: int = EPOCH_BATCHES):
    """A Keras callback that, at each epoch's end, recalibrates the batch-norm statistics on `max_batches` training
    batches and only then validates, putting `val_*` into the epoch's logs — so that the curves, early stopping,
    `reduce_on_plateau` and a search's pruner judge the model as it would be saved, not one whose moving statistics
    lag far behind its weights. Pass it first among the callbacks, and fit without `validation_data`.

    Args:
        recalibration: the model's `Recalibration` (the model being fitted).
        train_batches: training batches (x, y) as training sees them.
        val_batches: the validation batches.
        max_batches: training batches averaged over before each validation.
    """
    import keras

    class ValidateRecalibrated(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            recalibration(train_batches, max_batches)
            evaluated = self.model.evaluate(val_batches, verbose=0, return_dict=True)
            if logs is not None:
                logs.update({f"val_{k}": float(v) for k, v in evaluated.items()})

    return ValidateRecalibrated()


def batches_needed(n_train: int, batch_size: int, max_batches: int = MAX_BATCHES) -> int:
    """How many batches the final recalibration uses for `n_train` training rows: one pass, at most `max_batches`."""
    return max(1, min(max_batches, math.ceil(n_train / batch_size)))
