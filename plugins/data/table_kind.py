"""Tables (`data=csv`, `data=text_folder`): the kind's classical candidates — gradient boosting and a regularized
linear model on the user's raw cells, TF-IDF + a linear model for a table with text — beside the network."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.data import verdict
from plugins.data.checks import check_unique_header
from plugins.data.kinds import DataKind, Evidence, register_kind
from plugins.data.tabular import MAX_CATEGORIES, table_encoding
from plugins.registry import ConfigError, did_you_mean

if TYPE_CHECKING:
    from plugins.data.base import DataSpec

RIDGE_ALPHAS = np.logspace(-3, 3, 13)  # the linear baseline's ridge penalties (and TabM's linear candidate's)
MAX_CODES = 250  # HistGradientBoosting takes at most 255 categories per feature: the rarest share one code


@register_kind
class TableKind(DataKind):
    """A table's rows (a dict of one raw input per column inside the saved model; `spec.table` is its encoding)."""

    name = "tabular"

    def baseline(self, evidence: Evidence) -> dict[str, Any]:
        rows, spec = evidence.rows, evidence.spec
        if not spec.table or any(rows.get(split) is None for split in ("train", "val", "test")):
            return {}  # a shipped array (diabetes): no raw rows to fit a classical model on
        return {"baseline": compare(rows, evidence.answers, spec, evidence.predicted, evidence.headline)}

    def saved(self, network, spec):
        """The saved model takes raw rows: the table's encoding layers in front of the trained network, and the
        card lists the columns it takes."""
        if not spec.table:
            return network, {}
        encoding = table_encoding(spec)
        return encoding.front(network), {"columns": encoding.describe()}

    def network(self, model, spec):
        return model.layers[-1] if spec.table else model  # the trained network behind the encoding layers

    def saved_inputs(self, x, rows, spec):
        if not spec.table or rows is None:
            return x
        import tensorflow as tf

        return {k: tf.constant(v) for k, v in table_encoding(spec).inputs(rows).items()}

    def insight(self, network, head, spec, rows, y, out, batch):
        """Permutation importance of the user's columns on the test rows (importance.csv and .png)."""
        if spec.table and rows is not None:
            from plugins.data.table_explain import importance

            importance(network, head, spec, rows, np.asarray(y), out, batch)

    def row_batches(self, table: Path, spec, batch_size: int):
        """Rows as the saved model takes them: a table's by column name, cells as they are (its encoding inside);
        a shipped array's (no `spec.table`) as numbers, scaled as training scaled them."""
        if spec.table:
            yield from raw_row_batches(table, spec, batch_size)
            return
        for rows, x, targets in table_batches(table, spec, spec.target, batch_size):
            yield rows, scale(x, spec), targets

    def explain_inputs(self, inputs, spec):
        from plugins.data.table_explain import explain_inputs

        return explain_inputs(self, inputs, spec)

    def explain(self, model, head, what, spec, out, steps, sanity):
        from plugins.data.table_explain import explain_rows

        rows, lines = what
        return explain_rows(model, head, spec, rows, lines, out, steps, sanity)

    def modality(self, spec) -> str | None:
        from plugins.data.tabular import text_columns

        return "text" if text_columns(spec.table) else None  # token ops on the text columns; numbers as they are

    def augmenter(self, layers, spec):
        from plugins.augmentation.text_ops import TextAugmentation, text_slices

        return TextAugmentation(layers, text_slices(spec), name="augmentation") if layers else None

    def preview_figure(self, rows, spec):
        return _text_preview(rows, spec)

    def serving(self, model, spec, outputs):
        """A table's model takes raw rows, one named input per column (strings, blanks and all); TFLite takes the
        encoded rows (`encoded_rows`: it has no string tables). A shipped array (no `spec.table`) is served as
        rows of numbers (the default)."""
        if not spec.table:
            return super().serving(model, spec, outputs)
        import tensorflow as tf

        from plugins.data.kinds import Serving

        core = self.network(model, spec)
        signature = {
            c["input"]: tf.TensorSpec([None, 1], tf.float32 if c["type"] == "number" else tf.string, name=c["input"])
            for c in spec.table["columns"]
        }
        encoded = [tf.TensorSpec([None, *spec.input_shape], tf.float32, name="encoded_rows")]
        return Serving(
            endpoints=[
                ("serving_default", lambda inputs: outputs(model, inputs), [signature]),
                ("encoded_rows", lambda encoded_rows: outputs(core, encoded_rows), encoded),
            ],
            tflite="encoded_rows",
            checked="serving_default",
            network=core,
            inputs=lambda x, rows: table_encoding(spec).inputs(rows),
        )


def features(rows, columns: list[dict[str, Any]], reference=None) -> np.ndarray:
    """The rows as gradient boosting's matrix: numbers as they are (NaN when missing), categories as codes in order
    of frequency in `reference` (the training rows), unseen values as missing."""
    from plugins.data.tabular import TableEncoding, frequency_order, texts

    reference = rows if reference is None else reference
    out = np.empty((len(rows), len(columns)), np.float64)
    for j, c in enumerate(columns):
        if c["type"] == "number":
            out[:, j] = TableEncoding.values(rows, c).to_numpy(np.float64)
        else:
            codes = {value: min(i, MAX_CODES) for i, value in enumerate(frequency_order(reference[c["name"]]))}
            out[:, j] = texts(rows[c["name"]]).map(lambda v, codes=codes: codes.get(v, np.nan)).to_numpy(np.float64)
    return out


def linear_name(spec) -> str:
    """The linear candidate's name: TF-IDF + a linear model for a table with text, else a plain linear model."""
    text = any(c["type"] == "text" for c in spec.table["columns"])
    if spec.task == "classification":
        return "tfidf_logistic_regression" if text else "logistic_regression"
    return "tfidf_ridge" if text else "ridge"


def linear(spec, seed: int = 0, balanced: bool = False):
    """TF-IDF (words and word pairs, sublinear counts) per text column, the other columns imputed and scaled or
    one-hot encoded, and a logistic (ridge) regression: scikit-learn's linear model of choice, text or not
    (`balanced`: the classes weighed equally, as for a balanced-accuracy headline)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    for c in spec.table["columns"]:
        if c["type"] == "text":
            parts.append((c["input"], TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), c["name"]))
        elif c["type"] == "number":
            parts.append((c["input"], make_pipeline(SimpleImputer(), StandardScaler()), [c["input"]]))
        else:
            # The network's own cut (its encoding keeps a column's MAX_CATEGORIES most frequent values): one-hot
            # of 4,044 tail numbers made RidgeCV densify 235,000 × 4,300 numbers (8 GB, two minutes) on the flights.
            rare = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES + 1)
            parts.append((c["input"], rare, [c["name"]]))
    columns = ColumnTransformer(parts)
    if spec.task == "classification":
        weights = "balanced" if balanced else None
        return make_pipeline(columns, LogisticRegression(max_iter=2000, random_state=seed, class_weight=weights))
    return make_pipeline(columns, RidgeCV(alphas=RIDGE_ALPHAS))


def _linear_frame(rows, spec):
    """The rows as the linear pipeline reads them: texts and categories as strings, numbers as float64 by input
    name (a datetime's parts too)."""
    import pandas as pd

    from plugins.data.tabular import TableEncoding, texts

    out = {}
    for c in spec.table["columns"]:
        if c["type"] == "number":
            out[c["input"]] = TableEncoding.values(rows, c).to_numpy(np.float64)
        else:
            out[c["name"]] = texts(rows[c["name"]]).to_numpy(object)
    return pd.DataFrame(out)


def _gradient_boosting(train_rows, y_train, spec, seed: int, balanced: bool = False) -> Callable:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    columns = spec.table["columns"]
    categorical = [c["type"] == "category" for c in columns]
    if spec.task == "classification":
        weights = "balanced" if balanced else None
        model = HistGradientBoostingClassifier(
            categorical_features=categorical, random_state=seed, class_weight=weights
        )
    else:
        model = HistGradientBoostingRegressor(categorical_features=categorical, random_state=seed)
    model.fit(features(train_rows, columns), y_train)
    return lambda rows: model.predict(features(rows, columns, reference=train_rows))


def _linear(train_rows, y_train, spec, seed: int, balanced: bool = False) -> Callable:
    model = linear(spec, seed, balanced).fit(_linear_frame(train_rows, spec), y_train)
    return lambda rows: model.predict(_linear_frame(rows, spec))


def candidates(spec) -> dict[str, Callable]:
    """The classical methods a user would fit on this table, by name: each `fit(train_rows, y_train, spec, seed,
    balanced)` returns a function from rows to class ids or values. A table with text gets TF-IDF + a linear model only
    (gradient boosting cannot read words)."""
    if any(c["type"] == "text" for c in spec.table["columns"]):
        return {linear_name(spec): _linear}
    return {"hist_gradient_boosting": _gradient_boosting, linear_name(spec): _linear}


def compare(
    rows: dict[str, Any],
    answers: dict[str, np.ndarray],
    spec,
    predicted: np.ndarray,
    metric: str,
    seed: int = 0,
) -> dict[str, Any]:
    """The strongest classical candidate on a table (chosen on validation), its test metrics under the deep
    model's names, every candidate's figures, and the paired verdict on the headline metric.

    Args:
        rows: the raw rows of the "train", "val" and "test" splits (the user's cells).
        answers: the same splits' class ids or values (the target's units).
        spec: the data's spec (its `table` columns, its task).
        predicted: the deep model's class ids or values (the target's units) on the test rows.
        metric: the headline metric (`headline`).
        seed: the candidates' random seed.

    When the headline is balanced accuracy (an imbalanced target), the candidates weigh the classes equally
    (`class_weight="balanced"`), as a user who cares for the minority would fit them.

    Returns:
        `{"model": <the reference's name>, <its test metrics>, "candidates": {name: {"val_<metric>", <test
        metrics>}}, "verdict", "p_value", "test", "headline", …}`.
    """
    predictions = {}
    for name, fit in candidates(spec).items():
        guess = fit(rows["train"], answers["train"], spec, seed, metric == "balanced_accuracy")
        predictions[name] = (guess(rows["val"]), guess(rows["test"]))
    best, on_val = verdict.strongest(predictions, answers["val"], metric)
    y_test = answers["test"]
    found = {name: verdict.metrics_of(spec.task, y_test, test) for name, (_, test) in predictions.items()}
    out: dict[str, Any] = {"model": best, **found[best], "chosen_on": f"validation {metric}"}
    if spec.task == "classification":  # beside the model's per-class figures (the page flags a missed class)
        from sklearn.metrics import recall_score

        labels = list(range(spec.num_classes))
        recalls = recall_score(y_test, predictions[best][1], labels=labels, average=None, zero_division=0)
        names = spec.class_names or [str(i) for i in labels]
        out["per_class_recall"] = {names[i]: float(r) for i, r in enumerate(recalls)}
    out["candidates"] = {name: {f"val_{metric}": on_val[name], **found[name]} for name in predictions}
    out.update(verdict.paired(metric, y_test, predicted, predictions[best][1]))
    return out


def _text_preview(rows: list[np.ndarray], spec: Any, words: int = 14):
    """A figure of the first text column of each example, as its words: the original, then each augmented copy."""
    import matplotlib.pyplot as plt

    from plugins.augmentation.text_ops import text_slices
    from plugins.data.tabular import text_columns

    column = text_columns(spec.table)[0]
    start, length = text_slices(spec)[0]
    vocabulary = ["", "[UNK]", *column["vocabulary"]]

    def said(row) -> str:
        ids = [int(i) for i in row[start : start + length] if int(i) > 0][:words]
        return " ".join(vocabulary[i] if i < len(vocabulary) else "[UNK]" for i in ids)

    lines = []
    for example in range(len(rows[0])):
        lines += [f"{'original' if r == 0 else f'augmented {r}'}: {said(rows[r][example])}" for r in range(len(rows))]
        lines.append("")
    fig, ax = plt.subplots(figsize=(10, 0.18 * len(lines) + 0.4), dpi=100)
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", family="monospace", fontsize=7)
    ax.axis("off")
    fig.suptitle(f"text augmentation preview: column '{column['name']}' (first {words} tokens)", fontsize=9)
    return fig


def table_batches(
    path: Path, spec: DataSpec, target: str | None, batch_size: int
) -> Iterator[tuple[list[int], np.ndarray, list[str] | None]]:
    """Batches of a CSV's feature rows in raw units (numbers checked, one-line errors), with the target's cells.

    The feature columns are the model's (`spec.features`, by name); a model trained on unnamed features (a shipped
    data set) takes the CSV's columns in order, the target's excepted.
    """
    from plugins.data.csv_files import _number

    with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel's byte-order mark is not a column name
        reader = csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        header = [h.strip() for h in next(reader, None) or []]
        check_unique_header(header, str(path))  # as training refuses it: which of two 'a' columns is the feature?
        columns = _feature_columns(header, spec, target, path)
        target_column = header.index(target) if target and target in header else None
        rows, values, targets = [], [], []
        for i, row in enumerate(reader, start=1):
            if not row:
                continue
            if len(row) != len(header):
                raise ConfigError(f"{path}, line {i + 1}: {len(row)} fields, the header has {len(header)}")
            values.append(
                [_number(row[c].strip(), str(path), i + 1, header[c], "fix the cell or drop the row") for c in columns]
            )
            rows.append(i)
            if target_column is not None:
                targets.append(row[target_column].strip())
            if len(rows) == batch_size:
                yield rows, np.asarray(values, np.float32), (targets if target_column is not None else None)
                rows, values, targets = [], [], []
        if rows:
            yield rows, np.asarray(values, np.float32), (targets if target_column is not None else None)


def _feature_columns(header: list[str], spec: DataSpec, target: str | None, path: Path) -> list[int]:
    """The positions of the model's feature columns in a CSV's header: by name, or in order without names."""
    if not header:
        raise ConfigError(f"{path} is empty; it needs a header row and data rows")
    if spec.features:
        missing = [f for f in spec.features if f not in header]
        if missing:
            raise ConfigError(
                f"{path} has no column '{missing[0]}', a feature of this model; "
                f"{did_you_mean(missing[0], header)} (the model takes: {', '.join(spec.features)})"
            )
        return [header.index(f) for f in spec.features]
    columns = [i for i, h in enumerate(header) if h != target]
    if len(columns) != spec.input_shape[0]:
        raise ConfigError(f"{path} has {len(columns)} feature columns; this model takes {spec.input_shape[0]}")
    return columns


def raw_row_batches(
    path: Path, spec: DataSpec, batch_size: int
) -> Iterator[tuple[list[int], dict[str, np.ndarray], list[str] | None]]:
    """Batches of a table's rows as the saved model takes them (its columns by name, cells as they are: blanks,
    strings, unseen categories), with the target's cells when the file has the target column."""
    from plugins.data.tabular import read_table, texts

    encoding = table_encoding(spec)
    first = read_table(path, nrows=0)
    header = [str(c).strip() for c in first.columns]
    if not header:
        raise ConfigError(f"{path} is empty; it needs a header row and data rows")
    check_unique_header(header, str(path))
    encoding.check_columns(first.rename(columns=lambda c: str(c).strip()), str(path))
    chunks = (
        read_table(path, chunksize=batch_size) if path.suffix.lower() not in (".parquet", ".pq") else [read_table(path)]
    )
    start = 1
    for chunk in chunks:
        chunk = chunk.rename(columns=lambda c: str(c).strip())
        for i in range(0, len(chunk), batch_size):
            part = chunk.iloc[i : i + batch_size]
            targets = texts(part[spec.target]).tolist() if spec.target in part.columns else None
            yield list(range(start, start + len(part))), encoding.inputs(part, str(path), start + 1), targets
            start += len(part)


def scale(x: np.ndarray, spec: DataSpec) -> np.ndarray:
    """Raw feature rows → the units the model was trained on (the card's scaling; none when unscaled)."""
    if not spec.scaling:
        return x
    return ((x - np.asarray(spec.scaling["mean"], np.float32)) / np.asarray(spec.scaling["std"], np.float32)).astype(
        np.float32
    )
