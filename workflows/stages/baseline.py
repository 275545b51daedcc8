"""The classical baseline beside a table's result: gradient boosting on the same rows, with a paired verdict.

What a user would otherwise fit is scikit-learn's `HistGradientBoosting`: it takes
numbers with missing cells and categories as they are. It is fitted on the
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


def fit_predict(train_rows, test_rows, spec, y_train: np.ndarray, seed: int = 0) -> np.ndarray:
    """HistGradientBoosting fitted on the training rows: class ids, or values in the target's units, for the test
    rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

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
        `{"model": "hist_gradient_boosting", <metrics>, "verdict", "p_value", …}`.
    """
    from sklearn import metrics as skm

    guess = fit_predict(train_rows, test_rows, spec, y_train, seed)
    out: dict[str, Any] = {"model": "hist_gradient_boosting"}
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
