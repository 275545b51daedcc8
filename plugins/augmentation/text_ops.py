"""Text augmentation ops: random token dropout and swap, on the token ids of a table's text columns.

A text column is stored as `sequence_length` token ids inside each encoded row
(plugins/data/tabular.py: 0 padding, 1 out of vocabulary, the words first and
then the word n-grams). These ops change the ids of a training batch, never
the numbers beside them, and are registered with `modality="text"`: the
framework applies them to data with text columns only (and the image ops to
images only), online in tf.data or offline as copies.

    kerasforge train data=csv data.path=tweets.csv data.target=device augmentation=text

Each op is a Keras layer on int32 ids `(batch, length)`, random with
`training=True` and seeded by its `seed`; `TextAugmentation` applies a chain of
them to each text column's part of the float32 rows.
"""

from __future__ import annotations

from typing import Any

from plugins.registry import register

CONTEXT = ("seed",)
RATE = {"rate": {"between": [0.0, 1.0]}}


def text_slices(spec) -> list[tuple[int, int]]:
    """Each text column's (first position, length) in a table's encoded rows (the numbers come first)."""
    from plugins.data.tabular import text_columns

    texts = text_columns(spec.table)
    at = spec.input_shape[0] - sum(int(c["sequence_length"]) for c in texts)
    out = []
    for c in texts:
        out.append((at, int(c["sequence_length"])))
        at += int(c["sequence_length"])
    return out


@register("augmentation", "token_dropout", context=CONTEXT, modality="text", values=RATE)
def token_dropout(seed: int, rate: float = 0.1) -> Any:
    """Random token dropout (text only): each word or n-gram of a text is left out with probability `rate`.

    Args:
        seed: the op's seed (given by the framework).
        rate: the probability of dropping each token.

    Returns:
        A `TokenDropout` layer on token ids.
    """
    from plugins.augmentation._text_layers import TokenDropout

    return TokenDropout(rate, seed=seed)


@register("augmentation", "token_swap", context=CONTEXT, modality="text", values=RATE)
def token_swap(seed: int, rate: float = 0.1) -> Any:
    """Random token swap (text only): each token trades places with the next with probability `rate`.

    Args:
        seed: the op's seed (given by the framework).
        rate: the probability that each token swaps with its successor.

    Returns:
        A `TokenSwap` layer on token ids.
    """
    from plugins.augmentation._text_layers import TokenSwap

    return TokenSwap(rate, seed=seed)


def __getattr__(name: str):
    """The Keras layers (TokenDropout, TokenSwap, TextAugmentation), imported on first use: Keras starts TensorFlow."""
    from plugins.augmentation import _text_layers

    try:
        return getattr(_text_layers, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
