"""Optimizer plugins: builders of keras.optimizers.Optimizer."""

from plugins.optimizer import keras_optimizers  # noqa: F401  (registers)
