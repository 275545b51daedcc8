"""The verdict beside a result: the strongest classical method on the same rows, and a paired test that follows the
headline metric. Each data kind (plugins/data/kinds.py) fits its own classical candidates; this module scores them,
chooses the reference on validation and judges the model against it.

What a user would otherwise fit on a table is scikit-learn's `HistGradientBoosting`
(numbers with missing cells and categories as they are) or a regularized linear
model (logistic or ridge regression on imputed, scaled numbers and one-hot
categories); on a table with a text column, TF-IDF of words and word pairs and
a linear model. Each candidate is fitted on the same training rows as the deep
model (the user's cells, not the encoded ones); the one with the better
headline metric on the *validation* rows is the reference, and both are
reported on the test rows. A forecast's candidates are the seasonal naive at
each inferred season, the last value and a ridge regression on the same window
(the data plugin computes their forecasts); the reference is again the best on
validation.

The verdict follows the headline metric (`headline`):
- accuracy: McNemar's exact test on the rows only one of the two gets right;
- balanced accuracy (an imbalanced target: the smallest class under a quarter
  of the largest, where accuracy rewards missing the minority): a paired
  sign-flip permutation test on each row's share of the balanced accuracy;
- RMSE (a regression): a paired sign-flip permutation test on the squared
  errors' differences, so that it follows the mean squared error — not the
  median absolute error, which called a 36 % worse RMSE a tie;
- MAE (a forecast): the same test on each window's absolute errors.
"better" or "worse" when p < ALPHA, else "tie"; the numbers stand beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ALPHA = 0.05
IMBALANCE = 0.25  # the smallest class under this share of the largest: the headline is balanced accuracy
ROUNDS = 9_999  # sign flips of the permutation test: p is resolved to 1e-4
LOWER_IS_BETTER = ("rmse", "mae", "mse")


def headline(task: str, y_train: np.ndarray | None = None, num_classes: int = 0) -> str:
    """The metric a verdict follows: accuracy, or balanced accuracy for an imbalanced target; RMSE for a regression.

    Args:
        task: "classification" or "regression".
        y_train: the training labels (classification): their counts decide whether the target is imbalanced.
        num_classes: the number of classes (a class absent from `y_train` counts as zero examples).
    """
    if task != "classification":
        return "rmse"
    if y_train is None or not len(y_train):
        return "accuracy"
    counts = np.bincount(np.asarray(y_train, np.int64), minlength=max(num_classes, 2))
    return "balanced_accuracy" if counts.min() < IMBALANCE * counts.max() else "accuracy"


def score(metric: str, y: np.ndarray, predicted: np.ndarray) -> float:
    """One headline metric of predictions (class ids or values)."""
    from sklearn import metrics as skm

    if metric == "accuracy":
        return float(skm.accuracy_score(y, predicted))
    if metric == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y, predicted))
    if metric == "rmse":
        return float(np.sqrt(np.mean((np.asarray(predicted, np.float64) - y) ** 2)))
    if metric == "mae":
        return float(np.mean(np.abs(np.asarray(predicted, np.float64) - y)))
    raise ValueError(f"unknown headline metric '{metric}'")


def better(metric: str, a: float, b: float) -> bool:
    """Whether `a` is strictly better than `b` on `metric`."""
    return a < b if metric in LOWER_IS_BETTER else a > b


def sign_flip_test(differences: np.ndarray, rounds: int = ROUNDS, seed: int = 0) -> float:
    """The two-sided p-value of a paired permutation test: under "no difference", each row's difference between
    the two methods is as likely to have the other sign (the two methods' answers swapped on that row).

    Args:
        differences: per row, the first method's share of the statistic minus the second's (the statistic is their
            sum): squared errors for the MSE, 1/(classes × class size) × right for the balanced accuracy.
        rounds: random sign flips.
        seed: the flips' seed (the p-value is reproducible).

    Returns:
        (1 + flips at least as extreme as observed) / (1 + rounds).

    Example:
        >>> sign_flip_test(np.full(30, 1.0)) < 0.001
        True
    """
    d = np.asarray(differences, np.float64).ravel()
    observed = abs(d.sum())
    if not np.any(d):
        return 1.0
    rng = np.random.default_rng(seed)
    extreme, done = 0, 0
    while done < rounds:  # in blocks: memory stays at a few MB whatever the rows
        block = min(rounds - done, max(1, 4_000_000 // len(d)))
        signs = rng.integers(0, 2, size=(block, len(d)), dtype=np.int8) * 2 - 1
        extreme += int(np.sum(np.abs(signs @ d) >= observed * (1 - 1e-12)))
        done += block
    return (1 + extreme) / (1 + rounds)


def paired(metric: str, y: np.ndarray, model: np.ndarray, baseline: np.ndarray) -> dict[str, Any]:
    """The deep model against the baseline on the same rows, by a paired test that follows `metric`.

    Args:
        metric: the headline metric (`headline`): accuracy, balanced_accuracy, rmse or mae.
        y: the answers: class ids, values, or for a forecast (windows, horizon) values.
        model: the model's class ids or values, shaped as `y`.
        baseline: the baseline's, shaped as `y`.

    Returns:
        `{"verdict", "p_value", "test", "headline", "model_value", "baseline_value", "difference"}`; `difference` is
        the model's value relative to the baseline's ((model − baseline) / baseline) for an error, the difference in
        points for a score.
    """
    y = np.asarray(y)
    m_value, b_value = score(metric, y, model), score(metric, y, baseline)
    detail: dict[str, Any]
    if metric == "accuracy":
        from scipy.stats import binomtest

        right_m, right_b = np.asarray(model) == y, np.asarray(baseline) == y
        model_only, base_only = int(np.sum(right_m & ~right_b)), int(np.sum(~right_m & right_b))
        n = model_only + base_only
        p = 1.0 if n == 0 else float(binomtest(min(model_only, base_only), n, 0.5).pvalue)
        detail = {"test": "mcnemar_exact", "model_only_right": model_only, "baseline_only_right": base_only}
    elif metric == "balanced_accuracy":
        counts = np.bincount(y.astype(np.int64))
        weight = 1.0 / (np.count_nonzero(counts) * counts[y.astype(np.int64)])
        d = weight * ((np.asarray(model) == y).astype(np.float64) - (np.asarray(baseline) == y))
        p, detail = sign_flip_test(d), {"test": "paired_permutation_balanced_accuracy"}
    else:
        e_m = np.abs(np.asarray(model, np.float64) - y)
        e_b = np.abs(np.asarray(baseline, np.float64) - y)
        if metric == "rmse":
            d, name = (e_m**2 - e_b**2).reshape(len(y), -1).mean(axis=1), "paired_permutation_squared_errors"
        else:  # one difference per row (a forecast's window): the windows are the paired units
            d, name = (e_m - e_b).reshape(len(y), -1).mean(axis=1), "paired_permutation_abs_errors"
        p, detail = sign_flip_test(d), {"test": name}
    verdict = ("better" if better(metric, m_value, b_value) else "worse") if p < ALPHA else "tie"
    lower = metric in LOWER_IS_BETTER
    difference = ((m_value - b_value) / b_value if b_value else None) if lower else m_value - b_value
    return {
        "verdict": verdict,
        "p_value": p,
        **detail,
        "headline": metric,
        "model_value": m_value,
        "baseline_value": b_value,
        "difference": difference,
    }


def strongest(
    predictions: dict[str, tuple[np.ndarray, np.ndarray]], y_val: np.ndarray, metric: str
) -> tuple[str, dict[str, float]]:
    """The candidate with the best `metric` on the validation rows (the first on a tie), and every candidate's
    validation figure.

    Args:
        predictions: per candidate, its (validation, test) predictions.
        y_val: the validation answers.
        metric: the headline metric.
    """
    on_val = {name: score(metric, y_val, val) for name, (val, _) in predictions.items()}
    best = next(iter(on_val))
    for name, value in on_val.items():
        if better(metric, value, on_val[best]):
            best = name
    return best, on_val


def metrics_of(task: str, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The test metrics of class ids (accuracy, balanced accuracy, macro F1) or of values (MSE, RMSE, MAE, R²)."""
    from sklearn import metrics as skm

    if task == "classification":
        return {
            "accuracy": float(skm.accuracy_score(y, predicted)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
            "macro_f1": float(skm.f1_score(y, predicted, average="macro", zero_division=0)),
        }
    return regression_metrics(y, predicted)


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


def logistic_regression(
    name: str,
    features: dict[str, np.ndarray],
    answers: dict[str, np.ndarray],
    predicted: np.ndarray,
    metric: str,
    c: float = 1.0,
    seed: int = 0,
) -> dict[str, Any]:
    """A standardized logistic regression on a kind's classical features, fitted on the training examples and judged
    beside the model on the test examples: what a user would fit on pixels or on log-mel statistics.

    Args:
        name: the baseline's name in metrics.json (`logistic_regression_pixels`).
        features: the "train" and "test" examples' feature rows.
        answers: their class ids.
        predicted: the model's class ids on the test examples.
        metric: the headline metric (`headline`).
        c: the inverse regularization strength.
        seed: the solver's seed.

    Returns:
        `{"model": name, <test metrics>, "verdict", "p_value", …}`.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=c, random_state=seed))
    guess = model.fit(features["train"], answers["train"]).predict(features["test"])
    y_test = np.asarray(answers["test"])
    return {"model": name, **metrics_of("classification", y_test, guess), **paired(metric, y_test, predicted, guess)}
