"""Text columns: recognised, vectorized by the same Keras layer in prepare and in the saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plugins.data.tabular import TableEncoding, type_columns


def reviews(n: int = 60) -> pd.DataFrame:
    words = ["great", "awful", "plot", "acting", "slow", "fun", "boring", "loved", "hated", "music"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, 6)) + f" #{i}" for i in range(n)]
    texts[3] = ""  # an empty cell: all padding
    city = rng.choice(["New York", "Paris"], n)  # words with spaces that repeat: a category, not text
    return pd.DataFrame({"review": texts, "city": city, "stars": rng.integers(1, 6, n).astype(str)})


def test_free_text_is_told_from_a_category_with_spaces():
    types, _ = type_columns(reviews(), "stars", {}, "r.csv")
    assert types == {"review": "text", "city": "category"}


def test_the_prepared_tokens_are_what_the_saved_models_layers_compute():
    import keras

    df = reviews()
    types, typed = type_columns(df, "stars", {}, "r.csv")
    encoding = TableEncoding.fit(typed, types, text={"sequence_length": 12, "ngrams": 2})
    text = [c for c in encoding.columns if c["type"] == "text"][0]
    assert encoding.columns[-1] is text and encoding.width == 3 + 12  # text last: one-hot city (2 + OOV), tokens
    again = TableEncoding.fit(typed, types, text={"sequence_length": 12, "ngrams": 2})
    assert again.columns[-1]["vocabulary"] == text["vocabulary"]  # ties sorted: the same vocabulary every run
    encoded = encoding.encode(typed)
    assert not encoded[3, 3:].any()  # the empty review: all padding
    model = encoding.front(keras.Sequential([keras.layers.Identity()]))
    inputs = {k: keras.ops.convert_to_tensor(v) for k, v in encoding.inputs(df).items()}
    assert np.array_equal(np.asarray(model(inputs)), encoded)
