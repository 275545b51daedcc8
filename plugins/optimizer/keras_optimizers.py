"""The gradient-descent family: Keras's optimizers, plus textbook full-batch `gd`.

Every constructor argument of the Keras class is a parameter (learning_rate,
momentum, weight_decay, clipnorm, clipvalue, global_clipnorm…). The learning
rate given here is the schedule's starting (or peak) rate: see the
`schedule` group.
"""

from __future__ import annotations

import keras

from plugins.optimizer.checks import check_optimizer
from plugins.registry import register

# Keras's optimizers default these to None, which says nothing of their type.
TYPES = {
    "weight_decay": float | None,
    "clipnorm": float | None,
    "clipvalue": float | None,
    "global_clipnorm": float | None,
    "loss_scale_factor": float | None,
    "gradient_accumulation_steps": int | None,
    "ema_overwrite_frequency": int | None,
}


_COMMON = {"types": TYPES, "check": check_optimizer}
register("optimizer", "sgd", **_COMMON)(keras.optimizers.SGD)
register("optimizer", "adam", **_COMMON)(keras.optimizers.Adam)
register("optimizer", "adamw", **_COMMON)(keras.optimizers.AdamW)
register("optimizer", "rmsprop", **_COMMON)(keras.optimizers.RMSprop)
register("optimizer", "adagrad", **_COMMON)(keras.optimizers.Adagrad)
register("optimizer", "nadam", **_COMMON)(keras.optimizers.Nadam)
register("optimizer", "lion", **_COMMON)(keras.optimizers.Lion)


@register("optimizer", "gd", full_batch=True, **_COMMON)
def gd(
    learning_rate: float = 0.01,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
) -> keras.optimizers.Optimizer:
    """Full-batch gradient descent: one step per epoch, on the gradient over the whole training set.

    The textbook algorithm, w ← w − η ∇L(w), with L averaged over every
    training example; `trainer.batch_size` does not apply. Epochs are run in
    groups inside one compiled loop, so thousands of epochs take seconds.

    Args:
        learning_rate: η.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, as Keras's.

    Returns:
        keras.optimizers.SGD without momentum (the trainer feeds it the full batch).
    """
    return keras.optimizers.SGD(
        learning_rate=learning_rate,
        momentum=0.0,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        name="gd",
    )
