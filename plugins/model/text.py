"""Models that read text (and series): the encoded row split into its numbers and each text column's token ids.

A table with a text column is encoded (see `plugins.data.tabular`) as one
float32 row: the other columns' numbers first, then each text column's
`sequence_length` token ids (0: padding, 1: out of vocabulary). The models
here take that row apart, embed the tokens, read them (an average: the bag
of n-grams of fastText; a convolution; recurrent layers; attention) and join
what they read with the numbers before the head. `conv1d` and `transformer`
also read a time series' windows, (time, features) as they are.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from plugins.data.base import DataSpec
from plugins.data.tabular import text_columns
from plugins.model.head import Head
from plugins.registry import ConfigError, register


def has_text(spec: DataSpec) -> bool:
    """Whether the data's rows carry token ids of a text column."""
    return bool(text_columns(spec.table))


def split_row(inputs, spec: DataSpec) -> tuple[Any, list[tuple[Any, dict[str, Any]]]]:
    """The encoded row's numbers (None when there are none) and each text column's token ids (int32) with the
    column's description."""
    texts = text_columns(spec.table)
    dense_width = spec.input_shape[0] - sum(int(c["sequence_length"]) for c in texts)
    dense = inputs[:, :dense_width] if dense_width else None
    out, at = [], dense_width
    for c in texts:
        length = int(c["sequence_length"])
        out.append((ops.cast(inputs[:, at : at + length], "int32"), c))
        at += length
    return dense, out


def embedding(c: dict[str, Any], dim: int, vectors: str | None, mask_zero: bool = False) -> keras.layers.Embedding:
    """A text column's embedding: padding, out-of-vocabulary and its vocabulary, initialized from pretrained word
    vectors (a GloVe text file: `word v1 v2 …` per line) when `vectors` names one."""
    size = len(c["vocabulary"]) + 2
    if not vectors:
        return keras.layers.Embedding(size, dim, mask_zero=mask_zero, name=f"{c['input']}.embedding")
    matrix = load_vectors(vectors, c["vocabulary"], dim)
    return keras.layers.Embedding(
        size,
        dim,
        mask_zero=mask_zero,
        embeddings_initializer=keras.initializers.Constant(matrix),
        name=f"{c['input']}.embedding",
    )


def load_vectors(path: str, vocabulary: list[str], dim: int):
    """The embedding matrix for `vocabulary` from a GloVe-format text file; a token it lacks (and the padding and
    out-of-vocabulary rows) start small and random, as Keras's own initializer would start them.

    Raises:
        ConfigError: no such file, or vectors of another width than `dim`.
    """
    from pathlib import Path

    import numpy as np

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"model.vectors: no such file '{path}' (a GloVe text file: one `word v1 v2 …` per line)")
    index = {token: i + 2 for i, token in enumerate(vocabulary)}
    matrix = np.random.default_rng(0).uniform(-0.05, 0.05, (len(vocabulary) + 2, dim)).astype("float32")
    found = 0
    with file.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            word, _, rest = line.rstrip("\n").partition(" ")
            if word not in index:
                continue
            values = np.array(rest.split(), dtype="float32")
            if values.size != dim:
                raise ConfigError(
                    f"{path}, line {number}: a vector of {values.size} numbers, but model.embedding_dim={dim}; "
                    f"set model.embedding_dim={values.size}"
                )
            matrix[index[word]] = values
            found += 1
    print(f"word vectors: {found} of {len(vocabulary)} tokens found in {path}")
    return matrix


def masked_mean(x, tokens):
    """The mean of `x` (batch, time, dim) over the non-padding positions; zeros for an empty text (no NaN)."""
    mask = ops.cast(ops.not_equal(tokens, 0), x.dtype)[..., None]
    return ops.sum(x * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


def join(dense, parts: list) -> Any:
    """The numbers and what was read from each text, side by side."""
    parts = ([dense] if dense is not None else []) + parts
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="joined")(parts)


@keras.saving.register_keras_serializable(package="kerasforge")
class TokenCounts(keras.layers.Layer):
    """How often each token id occurs in each row: (batch, length) ids → (batch, size) counts.

    What `keras.layers.CategoryEncoding(output_mode="count")` computes, but as a segment sum, which TFLite runs
    with its builtin kernels (CategoryEncoding's `DenseBincount` would need TensorFlow's Flex delegate).

    Args:
        size: the number of token ids (vocabulary, padding and out-of-vocabulary).

    Example:
        >>> TokenCounts(4)(keras.ops.convert_to_tensor([[2, 2, 3, 0]])).numpy().tolist()
        [[1.0, 0.0, 2.0, 1.0]]
    """

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, tokens):
        import tensorflow as tf

        tokens = tf.cast(tokens, tf.int32)
        rows = tf.shape(tokens)[0]
        ids = tokens + tf.range(rows)[:, None] * self.size  # each row's own range of ids
        flat = tf.reshape(ids, [-1])
        counts = tf.math.unsorted_segment_sum(tf.ones_like(flat, tf.float32), flat, rows * self.size)
        return tf.reshape(counts, [rows, self.size])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size}


def bag_of_ngrams(inputs, spec: DataSpec) -> Any:
    """The n-gram model's reading (Google's text-classification guide; fastText's bag): each text as the TF-IDF
    vector of its words and n-grams — counts, sublinear (log 1 + n), times the inverse document frequencies of
    the training rows, L2-normalized, as scikit-learn's `TfidfVectorizer(sublinear_tf=True)` — beside the row's
    numbers. Computed in the model from the token ids, so that a row stays `sequence_length` numbers on disk."""
    dense, texts = split_row(inputs, spec)
    return join(dense, [tfidf(tokens, c) for tokens, c in texts])


def tfidf(tokens, c: dict[str, Any]) -> Any:
    """One text column's token ids → its TF-IDF vector (see `bag_of_ngrams`)."""
    counts = TokenCounts(len(c["vocabulary"]) + 2, name=f"{c['input']}.counts")(tokens)
    weighted = ops.log1p(counts) * ops.convert_to_tensor([0.0, *c["idf"]], "float32")  # padding weighs 0
    return keras.layers.UnitNormalization(name=f"{c['input']}.tfidf")(weighted)


def _text_only(spec: DataSpec, name: str) -> None:
    if not has_text(spec) and len(spec.input_shape) != 2:
        raise ConfigError(
            f"model '{name}' reads text columns or (time, features) series, but the data's examples have shape "
            f"{spec.input_shape}; use model=mlp, or model=cnn for images"
        )


@register("model", "conv1d", context=("spec", "head"))
def conv1d(
    spec: DataSpec,
    head: Head,
    filters: list[int] = (128,),
    kernel_size: int = 5,
    embedding_dim: int = 64,
    vectors: str | None = None,
    dropout: float = 0.1,
) -> keras.Model:
    """A 1-D convolutional network: over a text's embedded tokens, or over a series' window; max-pooled.

    Args:
        spec: the data's spec: a table with text columns, or (time, features) windows.
        head: the output head.
        filters: filters of each convolution (kernel `kernel_size`, ReLU).
        kernel_size: the convolutions' width, in tokens or time steps.
        embedding_dim: the tokens' embedding width.
        vectors: a GloVe-format file of pretrained word vectors (`embedding_dim` must match).
        dropout: before the head.

    Example:
        `kerasforge train data=csv data.path=reviews.csv data.target=stars model=conv1d`
    """
    _text_only(spec, "conv1d")
    inputs = keras.Input(spec.input_shape)

    def read(x):
        for i, width in enumerate(filters):
            x = keras.layers.Conv1D(width, kernel_size, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        return keras.layers.GlobalMaxPooling1D()(x)

    if has_text(spec):
        dense, texts = split_row(inputs, spec)
        x = join(dense, [read(embedding(c, embedding_dim, vectors)(tokens)) for tokens, c in texts])
    else:
        x = read(inputs)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name="conv1d")


@register("model", "transformer", context=("spec", "head"))
def transformer(
    spec: DataSpec,
    head: Head,
    blocks: int = 2,
    heads: int = 4,
    embedding_dim: int = 64,
    feed_forward: int = 128,
    vectors: str | None = None,
    dropout: float = 0.1,
) -> keras.Model:
    """A small Transformer encoder: learned positions, `blocks` of self-attention (Keras's `MultiHeadAttention`)
    and a feed-forward layer, each with a residual and layer normalization; the mean over the positions.

    Args:
        spec: the data's spec: a table with text columns, or (time, features) windows.
        head: the output head.
        blocks: encoder blocks.
        heads: attention heads per block.
        embedding_dim: the tokens' (or time steps') width inside the encoder.
        feed_forward: the hidden width of each block's feed-forward layer.
        vectors: a GloVe-format file of pretrained word vectors (`embedding_dim` must match).
        dropout: in each block and before the head.

    Example:
        `kerasforge train data=csv data.path=tickets.csv data.target=queue model=transformer model.blocks=1`
    """
    _text_only(spec, "transformer")
    inputs = keras.Input(spec.input_shape)

    def encode(x, tokens, name):
        length = x.shape[1]
        positions = keras.layers.Embedding(length, embedding_dim, name=f"{name}.positions")(ops.arange(length))
        x = x + positions
        mask = None if tokens is None else ops.not_equal(tokens, 0)[:, None, :]
        for i in range(blocks):
            attended = keras.layers.MultiHeadAttention(
                heads, embedding_dim // heads or 1, dropout=dropout, name=f"{name}.attention{i + 1}"
            )(x, x, attention_mask=mask)
            x = keras.layers.LayerNormalization(name=f"{name}.norm{i + 1}a")(x + attended)
            hidden = keras.layers.Dense(feed_forward, activation="relu", name=f"{name}.ff{i + 1}")(x)
            hidden = keras.layers.Dropout(dropout)(keras.layers.Dense(embedding_dim, name=f"{name}.out{i + 1}")(hidden))
            x = keras.layers.LayerNormalization(name=f"{name}.norm{i + 1}b")(x + hidden)
        return masked_mean(x, tokens) if tokens is not None else ops.mean(x, axis=1)

    if has_text(spec):
        dense, texts = split_row(inputs, spec)
        x = join(dense, [encode(embedding(c, embedding_dim, vectors)(t), t, c["input"]) for t, c in texts])
    else:
        x = encode(keras.layers.Dense(embedding_dim, name="steps")(inputs), None, "series")
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name="transformer")
