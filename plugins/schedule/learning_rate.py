"""Learning-rate schedules, in epochs; any optimizer takes any of them.

A schedule starts from (or peaks at) the optimizer's `learning_rate` and
is written in epochs; the framework turns epochs into optimizer steps with
`steps_per_epoch`. A builder returns a Keras LearningRateSchedule (given to
the optimizer as its learning rate), a Keras callback (reduce-on-plateau),
or None (constant).
"""

from __future__ import annotations

import keras

from plugins.registry import ConfigError, register

CONTEXT = ("learning_rate", "steps_per_epoch", "epochs")


@register("schedule", "constant", context=CONTEXT)
def constant(learning_rate: float, steps_per_epoch: int, epochs: int) -> None:
    """The optimizer's learning rate throughout."""
    return None


@register("schedule", "exponential", context=CONTEXT)
def exponential(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    decay_rate: float = 0.5,
    decay_epochs: float = 10.0,
    staircase: bool = False,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """lr · decay_rate^(epoch / decay_epochs) (stepwise with `staircase`).

    Example: `schedule=exponential schedule.decay_rate=0.1 schedule.decay_epochs=20`.
    """
    if not 0.0 < decay_rate <= 1.0 or decay_epochs <= 0:
        raise ConfigError("schedule: exponential needs 0 < decay_rate ≤ 1 and decay_epochs > 0")
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay_epochs * steps_per_epoch, decay_rate=decay_rate, staircase=staircase
    )


@register("schedule", "step", context=CONTEXT)
def step(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    boundaries: list[int] = (10, 20),
    factor: float = 0.1,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Piecewise constant: lr until the first boundary epoch, then lr·factor, lr·factor², …

    Example: `schedule=step 'schedule.boundaries=[30,60]' schedule.factor=0.1`.
    """
    if list(boundaries) != sorted(boundaries) or any(b <= 0 for b in boundaries):
        raise ConfigError(f"schedule.boundaries={list(boundaries)} must be increasing positive epochs")
    values = [learning_rate * factor**i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay([int(b * steps_per_epoch) for b in boundaries], values)


@register("schedule", "cosine", context=CONTEXT)
def cosine(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 0.0,
    alpha: float = 0.0,
    warmup_start: float = 0.0,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up from lr·warmup_start to lr over `warmup_epochs`, then cosine decay to lr·alpha at the last epoch.

    Example: `schedule=cosine schedule.warmup_epochs=2`.
    """
    if not 0 <= warmup_epochs < epochs:
        raise ConfigError(f"schedule.warmup_epochs={warmup_epochs} must be in [0, trainer.epochs={epochs})")
    warmup_steps = int(warmup_epochs * steps_per_epoch)
    decay_steps = max(1, epochs * steps_per_epoch - warmup_steps)
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(
            learning_rate * warmup_start,
            decay_steps,
            alpha=alpha,
            warmup_target=learning_rate,
            warmup_steps=warmup_steps,
        )
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=alpha)


@register("schedule", "reduce_on_plateau", context=CONTEXT)
def reduce_on_plateau(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    monitor: str = "val_loss",
    factor: float = 0.5,
    patience: int = 3,
    min_lr: float = 0.0,
    min_delta: float = 1e-4,
) -> keras.callbacks.Callback:
    """Multiplies the rate by `factor` when `monitor` has not improved for `patience` epochs."""
    if not 0.0 < factor < 1.0:
        raise ConfigError(f"schedule.factor={factor} must be in (0, 1)")
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=factor, patience=patience, min_lr=min_lr, min_delta=min_delta
    )
