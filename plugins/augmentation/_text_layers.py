"""The Keras layers behind plugins/augmentation/text_ops.py (imported when an op is built: Keras starts TensorFlow)."""

from __future__ import annotations

import keras
from keras import ops


class _TokenOp(keras.layers.Layer):
    """A random op on token ids with a probability `rate` and a seed (training only)."""

    def __init__(self, rate: float = 0.1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = float(rate), seed
        self.generator = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class TokenDropout(_TokenOp):
    """Drops each token with probability `rate`; the tokens after it move up, padding fills the end.

    Args:
        rate: the probability of dropping each token.
        seed: the random seed.

    Example:
        >>> TokenDropout(0.5, seed=1)(keras.ops.convert_to_tensor([[5, 6, 7, 0]]), training=True).shape
        (1, 4)
    """

    def call(self, tokens, training=False):
        if not training or self.rate == 0:
            return tokens
        length = ops.shape(tokens)[1]
        keep = ops.logical_and(
            ops.not_equal(tokens, 0), keras.random.uniform(ops.shape(tokens), seed=self.generator) >= self.rate
        )
        positions = ops.arange(length)[None, :]
        order = ops.argsort(ops.where(keep, positions, positions + length), axis=1)  # kept first, in order
        return ops.take_along_axis(ops.where(keep, tokens, ops.zeros_like(tokens)), order, axis=1)


class TokenSwap(_TokenOp):
    """Swaps a token with the next one with probability `rate` (never with padding; no token moves twice).

    Args:
        rate: the probability that each token swaps with its successor.
        seed: the random seed.
    """

    def call(self, tokens, training=False):
        if not training or self.rate == 0:
            return tokens
        batch_width = ops.shape(tokens)
        drawn = keras.random.uniform(batch_width, seed=self.generator) < self.rate
        after = ops.pad(tokens[:, 1:], [[0, 0], [0, 1]])  # each token's successor (0 past the end)
        start = ops.logical_and(drawn, ops.logical_and(ops.not_equal(tokens, 0), ops.not_equal(after, 0)))
        # No overlapping swaps: a start right after another start is dropped (…, i, i+1 would move i+1 twice).
        previous = ops.pad(start[:, :-1], [[0, 0], [1, 0]])
        start = ops.logical_and(start, ops.logical_not(previous))
        ends = ops.pad(start[:, :-1], [[0, 0], [1, 0]])  # the position after each start
        before = ops.pad(tokens[:, :-1], [[0, 0], [1, 0]])
        return ops.where(start, after, ops.where(ends, before, tokens))


class TextAugmentation(keras.layers.Layer):
    """Applies token ops to each text column's part of encoded float32 rows; the other numbers pass unchanged.

    Args:
        token_ops: the ops, applied in order to each text column's ids.
        slices: each text column's (first position, length) in the row.
    """

    def __init__(self, token_ops: list[keras.layers.Layer], slices: list[tuple[int, int]], **kwargs):
        super().__init__(**kwargs)
        self.token_ops, self.slices = list(token_ops), [(int(a), int(n)) for a, n in slices]

    def call(self, rows, training=False):
        parts, at = [], 0
        for start, length in self.slices:
            if start > at:
                parts.append(rows[:, at:start])
            tokens = ops.cast(rows[:, start : start + length], "int32")
            for op in self.token_ops:
                tokens = op(tokens, training=training)
            parts.append(ops.cast(tokens, rows.dtype))
            at = start + length
        if at < ops.shape(rows)[1]:
            parts.append(rows[:, at:])
        return ops.concatenate(parts, axis=1)
