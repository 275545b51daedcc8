"""The gradient-descent family: Keras's optimizers, plus textbook full-batch `gd`.

Every constructor argument of the Keras class is a parameter (learning_rate,
momentum, weight_decay, clipnorm, clipvalue, global_clipnorm…). The learning
rate given here is the schedule's starting (or peak) rate: see the
`schedule` group.
"""

from __future__ import annotations

import keras

from plugins.registry import ConfigError, register

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


def check_optimizer(params: dict, where: str) -> None:
    """Refuses values Keras would take but that cannot train (or that it only fails on later)."""
    if params["learning_rate"] <= 0:
        raise ConfigError(f"{where}.learning_rate={params['learning_rate']} must be > 0, e.g. 0.001")
    momentum = params.get("momentum")
    if momentum is not None and not 0.0 <= momentum < 1.0:
        raise ConfigError(f"{where}.momentum={momentum} must be in [0, 1), e.g. 0.9")
    for key in ("clipnorm", "clipvalue", "global_clipnorm"):
        if params.get(key) is not None and params[key] <= 0:
            raise ConfigError(f"{where}.{key}={params[key]} must be > 0 (or null for no clipping)")
    if params.get("clipnorm") is not None and params.get("global_clipnorm") is not None:
        raise ConfigError(f"{where}: set clipnorm or global_clipnorm, not both")
    if params.get("weight_decay") is not None and params["weight_decay"] < 0:
        raise ConfigError(f"{where}.weight_decay={params['weight_decay']} must be ≥ 0")
    for key in ("beta_1", "beta_2", "rho"):
        if key in params and not 0.0 <= params[key] < 1.0:
            raise ConfigError(f"{where}.{key}={params[key]} must be in [0, 1)")


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
