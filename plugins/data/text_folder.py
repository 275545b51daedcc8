"""A folder of text files, one sub-folder per class: what `keras.utils.text_dataset_from_directory` reads.

    reviews/
      negative/  0001.txt  0002.txt …
      positive/  0001.txt …

Each file is one example: its text becomes one text column of a table (the
sub-folder its class), which then goes the way of `data=csv`'s tables — the
vocabulary fitted on the training files only, `TextVectorization` inside the
saved model (which takes raw strings), TF-IDF + logistic regression beside the
result. Files are read as UTF-8; a file that is not is a one-line error naming
it (or skipped, listed, with `on_bad_file=skip`).
"""

from __future__ import annotations

from pathlib import Path

from plugins.data.base import Splits, class_files
from plugins.data.checks import inspect_folder
from plugins.data.csv_files import from_frame
from plugins.data.tabular import MAX_CATEGORIES, TEXT_DEFAULTS, TEXT_RULES
from plugins.registry import ConfigError, check_values, register

BAD_FILE = ("fail", "skip")
VALUES = {**TEXT_RULES, "on_bad_file": {"choices": list(BAD_FILE)}}  # declared once (plugins/manifest.json)


@register("data", "text_folder", task="classification", values=VALUES, inspect=inspect_folder, kind="tabular")
def text_folder(
    directory: str,
    extensions: list[str] = (".txt",),
    max_tokens: int = TEXT_DEFAULTS["max_tokens"],
    sequence_length: int = TEXT_DEFAULTS["sequence_length"],
    ngrams: int = TEXT_DEFAULTS["ngrams"],
    standardize_text: str = TEXT_DEFAULTS["standardize"],
    on_bad_file: str = "fail",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Splits:
    """Text files in one sub-folder per class, as a table of one text column (`text`) and its class (`label`).

    Args:
        directory: the folder of class sub-folders, relative to the repository root.
        extensions: the files read (others are left alone), case-insensitive.
        max_tokens: the vocabulary's size (words and n-grams), the most frequent in the training files.
        sequence_length: token ids per file; a longer text is cut, a shorter one padded.
        ngrams: tokens are words and word n-grams up to this length (1: words only).
        standardize_text: as `data=csv`'s.
        on_bad_file: "fail" (a one-line error naming the file) or "skip" (left out, listed by the prepare stage)
            for a file that is not UTF-8.
        val_fraction: share of the files kept for validation.
        test_fraction: share of the files kept for the test.
        seed: the split's random seed.

    Returns:
        Splits as `data=csv`'s, whose raw rows carry each file's path (`file`).

    Example:
        `kerasforge train data=text_folder data.directory=reviews`
    """
    import pandas as pd

    text = {"max_tokens": max_tokens, "sequence_length": sequence_length, "ngrams": ngrams}
    check_values(VALUES, {**text, "standardize_text": standardize_text, "on_bad_file": on_bad_file}, "data")
    text["standardize"] = standardize_text
    classes, files, labels = class_files(Path(directory), tuple(e.lower() for e in extensions), "text files")
    rows, skipped = [], []
    for file, label in zip(files, labels):
        try:
            rows.append((str(file), file.read_bytes().decode("utf-8"), classes[label]))
        except UnicodeDecodeError as err:
            if on_bad_file == "fail":
                raise ConfigError(
                    f"{file}: not UTF-8 text (byte {err.start}); convert it (iconv -f latin1 -t utf-8) or set "
                    "data.on_bad_file=skip"
                ) from None
            skipped.append(str(file))
    if not rows:
        raise ConfigError(f"{directory}: no file in its class sub-folders is UTF-8 text")
    df = pd.DataFrame(rows, columns=["file", "text", "label"]).astype(object)
    splits = from_frame(
        df,
        directory,
        "label",
        ["file", "text"],
        {"file": "ignore", "text": "text"},
        "classification",
        MAX_CATEGORIES,
        False,
        val_fraction,
        test_fraction,
        seed,
        text,
        source_files=True,
    )
    splits.skipped = skipped
    return splits
