"""The classical baseline beside a table's result: gradient boosting on the same rows, with a paired verdict.

What a user would otherwise fit is scikit-learn's `HistGradientBoosting`: it takes
numbers with missing cells and categories as they are. A table with a text
column gets what a user fits on text instead: TF-IDF of words and word pairs
and a logistic regression (ridge regression for a numeric target), the other
columns imputed, scaled or one-hot encoded beside it. It is fitted on the
same training rows as the deep model (the user's cells, not the encoded
ones), scored on the same test rows, and the two are compared row by row:
McNemar's exact test on which rows each gets right (classes), the Wilcoxon
signed-rank test on the absolute errors (a regression). The verdict is the
deep model's: "better", "worse", or "tie" when the difference could be chance
(p ≥ ALPHA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ALPHA = 0.05
MAX_CODES = 250  # HistGradientBoosting takes at most 255 categories per feature: the rarest share one code


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


def name(spec) -> str:
    """The baseline's name for a table: gradient boosting, or TF-IDF + a linear model when it has text."""
    if any(c["type"] == "text" for c in spec.table["columns"]):
        return "tfidf_logistic_regression" if spec.task == "classification" else "tfidf_ridge"
    return "hist_gradient_boosting"


def tfidf_linear(spec, seed: int = 0):
    """TF-IDF (words and word pairs, sublinear counts) per text column, the other columns imputed and scaled or
    one-hot encoded, and a logistic (ridge) regression: scikit-learn's text classifier of choice."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    for c in spec.table["columns"]:
        if c["type"] == "text":
            parts.append((c["input"], TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), c["name"]))
        elif c["type"] == "number":
            parts.append((c["input"], make_pipeline(SimpleImputer(), StandardScaler()), [c["input"]]))
        else:
            parts.append((c["input"], OneHotEncoder(handle_unknown="ignore"), [c["name"]]))
    columns = ColumnTransformer(parts)
    if spec.task == "classification":
        return make_pipeline(columns, LogisticRegression(max_iter=2000, random_state=seed))
    return make_pipeline(columns, Ridge())


def _text_frame(rows, spec):
    """The rows as the TF-IDF pipeline reads them: texts and categories as strings, numbers as float64 by input
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


def fit_predict(train_rows, test_rows, spec, y_train: np.ndarray, seed: int = 0) -> np.ndarray:
    """The baseline (`name`) fitted on the training rows: class ids, or values in the target's units, for the
    test rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if name(spec) != "hist_gradient_boosting":
        model = tfidf_linear(spec, seed).fit(_text_frame(train_rows, spec), y_train)
        return model.predict(_text_frame(test_rows, spec))
    columns = spec.table["columns"]
    categorical = [c["type"] == "category" for c in columns]
    x_train, x_test = features(train_rows, columns), features(test_rows, columns, reference=train_rows)
    if spec.task == "classification":
        model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
    else:
        model = HistGradientBoostingRegressor(categorical_features=categorical, random_state=seed)
    return model.fit(x_train, y_train).predict(x_test)


def paired(model_errors: np.ndarray, baseline_errors: np.ndarray, task: str) -> dict[str, Any]:
    """The deep model against the baseline on the same rows: the p-value and the verdict.

    Args:
        model_errors: per test row, whether the model is wrong (classes) or its absolute error (regression).
        baseline_errors: the same for the baseline.
        task: "classification" or "regression".
    """
    from scipy.stats import binomtest, wilcoxon

    if task == "classification":
        model_only = int(np.sum(~model_errors.astype(bool) & baseline_errors.astype(bool)))
        base_only = int(np.sum(model_errors.astype(bool) & ~baseline_errors.astype(bool)))
        n = model_only + base_only
        p = 1.0 if n == 0 else float(binomtest(min(model_only, base_only), n, 0.5).pvalue)
        better = model_only > base_only
        detail = {"test": "mcnemar_exact", "model_only_right": model_only, "baseline_only_right": base_only}
    else:
        diff = model_errors - baseline_errors
        p = 1.0 if not np.any(diff) else float(wilcoxon(model_errors, baseline_errors).pvalue)
        better = float(np.mean(model_errors)) < float(np.mean(baseline_errors))
        detail = {"test": "wilcoxon_abs_errors"}
    verdict = ("better" if better else "worse") if p < ALPHA else "tie"
    return {"verdict": verdict, "p_value": p, **detail}


def compare(train_rows, test_rows, spec, y_train, y_test, predicted, seed: int = 0) -> dict[str, Any]:
    """The baseline's metrics under the deep model's names, and the paired verdict.

    Args:
        train_rows: the training split's raw rows; `y_train` their class ids or values (the target's units).
        test_rows: the test split's raw rows; `y_test` theirs.
        spec: the data's spec (its `table` columns, its task).
        predicted: the deep model's class ids or values (the target's units) on the test rows.
        seed: the baseline's random seed.

    Returns:
        `{"model": "hist_gradient_boosting" (or "tfidf_logistic_regression"), <metrics>, "verdict", …}`.
    """
    from sklearn import metrics as skm

    guess = fit_predict(train_rows, test_rows, spec, y_train, seed)
    out: dict[str, Any] = {"model": name(spec)}
    if spec.task == "classification":
        out["accuracy"] = float(skm.accuracy_score(y_test, guess))
        out["macro_f1"] = float(skm.f1_score(y_test, guess, average="macro", zero_division=0))
        out.update(paired(predicted != y_test, guess != y_test, "classification"))
    else:
        out.update(regression_metrics(y_test, guess))
        out.update(paired(np.abs(predicted - y_test), np.abs(guess - y_test), "regression"))
    return out


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (in the units of `y`)."""
    from sklearn import metrics as skm

    mse = float(skm.mean_squared_error(y, predicted))
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(skm.mean_absolute_error(y, predicted)),
        "r2": float(skm.r2_score(y, predicted)),
    }


def series_compare(rows, spec, y_test: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """A forecast's classical baselines on the same test windows: the seasonal naive (the verdict's reference) and
    the last value, MAE and RMSE in the target's units, MASE (Hyndman's in-sample seasonal-naive scale), the
    model's MAE relative to each, and the paired verdict against the seasonal naive.

    Args:
        rows: the test split's rows (`seasonal_naive.<h>`, `last_value.<h>` per step ahead).
        spec: the data's spec (its `series`).
        y_test: the test answers, (windows, horizon), in the target's units.
        predicted: the model's forecasts, the same shape and units.
    """
    horizon = int(spec.series["horizon"])
    scale = float(spec.series["mase_scale"])
    y_test = y_test.reshape(len(y_test), horizon)
    predicted = predicted.reshape(y_test.shape)
    model_errors = np.abs(predicted - y_test).mean(axis=1)
    out: dict[str, Any] = {"model": "seasonal_naive", "season": int(spec.series["season"])}
    for name in ("seasonal_naive", "last_value"):
        guess = np.column_stack([rows[f"{name}.{h + 1}"].to_numpy(np.float64) for h in range(horizon)])
        errors = np.abs(guess - y_test)
        mae = float(errors.mean())
        found = {"mae": mae, "rmse": float(np.sqrt(np.mean((guess - y_test) ** 2))), "mase": mae / scale}
        if name == "seasonal_naive":
            out.update(found)
            out.update(paired(model_errors, errors.mean(axis=1), "regression"))
        else:
            out["last_value"] = found
    model_mae = float(model_errors.mean())
    out["model_mase"] = model_mae / scale
    out["mae_vs_seasonal_naive"] = model_mae / out["mae"] if out["mae"] else None
    out["mae_vs_last_value"] = model_mae / out["last_value"]["mae"] if out["last_value"]["mae"] else None
    return out
