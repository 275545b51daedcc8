"""Regularizer plugins: weight penalties put on every kernel of any model."""

from plugins.regularizer.weight_penalties import attach_to_kernels, kernel_layers

__all__ = ["attach_to_kernels", "kernel_layers"]
