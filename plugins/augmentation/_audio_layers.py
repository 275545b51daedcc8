"""The Keras layers behind plugins/augmentation/audio_ops.py (imported when an op is built: Keras starts TensorFlow)."""

from __future__ import annotations

import keras
from keras import ops


class _WaveOp(keras.layers.Layer):
    """A random op on a batch of waveforms, one draw per clip (training only)."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def draw(self, x, low: float, high: float):
        """One uniform draw in [low, high] per clip, shaped (batch, 1)."""
        return keras.random.uniform((ops.shape(x)[0], 1), low, high, seed=self.generator)

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


class TimeShift(_WaveOp):
    """Moves each clip by up to `max_fraction` of its length, earlier or later; silence fills what is uncovered.

    Example:
        >>> TimeShift(0.5, seed=1)(keras.ops.ones((2, 8)), training=True).shape
        (2, 8)
    """

    def __init__(self, max_fraction: float = 0.1, seed: int | None = None, **kwargs):
        super().__init__(seed, **kwargs)
        self.max_fraction = float(max_fraction)

    def call(self, x, training=False):
        if not training or self.max_fraction == 0:
            return x
        length = ops.shape(x)[1]
        reach = ops.cast(length, "float32") * self.max_fraction
        shift = ops.cast(ops.round(self.draw(x, -1.0, 1.0) * reach), "int32")  # (batch, 1)
        source = ops.arange(length)[None, :] - shift
        inside = ops.logical_and(source >= 0, source < length)
        moved = ops.take_along_axis(x, ops.clip(source, 0, length - 1), axis=1)
        return ops.where(inside, moved, ops.zeros_like(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "max_fraction": self.max_fraction}


class Gain(_WaveOp):
    """Scales each clip by a gain drawn in [-max_db, max_db] decibels (kept within [-1, 1])."""

    def __init__(self, max_db: float = 6.0, seed: int | None = None, **kwargs):
        super().__init__(seed, **kwargs)
        self.max_db = float(max_db)

    def call(self, x, training=False):
        if not training or self.max_db == 0:
            return x
        return ops.clip(x * ops.power(10.0, self.draw(x, -self.max_db, self.max_db) / 20.0), -1.0, 1.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_db": self.max_db}


class Noise(_WaveOp):
    """Adds white noise to each clip at a signal-to-noise ratio drawn in [min_snr_db, max_snr_db] (of that clip's
    own power: a quiet clip gets quiet noise)."""

    def __init__(self, min_snr_db: float = 10.0, max_snr_db: float = 30.0, seed: int | None = None, **kwargs):
        super().__init__(seed, **kwargs)
        self.min_snr_db, self.max_snr_db = float(min_snr_db), float(max_snr_db)

    def call(self, x, training=False):
        if not training:
            return x
        power = ops.mean(ops.square(x), axis=1, keepdims=True)
        snr = ops.power(10.0, self.draw(x, self.min_snr_db, self.max_snr_db) / 10.0)
        noise = keras.random.normal(ops.shape(x), seed=self.generator) * ops.sqrt(power / snr)
        return ops.clip(x + noise, -1.0, 1.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "min_snr_db": self.min_snr_db, "max_snr_db": self.max_snr_db}
