"""Loss plugins: Keras losses, built with `from_logits` decided by the head."""

from plugins.loss import keras_losses  # noqa: F401  (registers)
