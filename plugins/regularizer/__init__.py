"""Regularizer plugins: weight penalties put on every kernel of any model.

Beside the penalty, the regularizer section holds two options that any
model takes: `dropout` (the rate of every Dropout layer; null keeps the
model's own) and `early_stopping` (patience, restore_best_weights).
"""

from plugins.regularizer.weight_penalties import attach_to_kernels, kernel_layers, set_dropout

__all__ = ["attach_to_kernels", "kernel_layers", "set_dropout"]
