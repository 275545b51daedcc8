"""Augmentation plugins: image ops, chained by the augmentation config."""

from plugins.augmentation import image_ops  # noqa: F401  (registers)
