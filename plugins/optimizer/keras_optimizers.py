"""Keras's own optimizers, registered as plugins.

Every parameter of the Keras class is configurable (learning_rate,
momentum, clipnorm, weight_decay…); Keras checks the values.
"""

from __future__ import annotations

import keras

from plugins.registry import register

register("optimizer", "sgd")(keras.optimizers.SGD)
register("optimizer", "adam")(keras.optimizers.Adam)
