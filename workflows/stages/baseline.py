"""The classical baseline beside a result: the strongest classical method on the same rows, with a paired verdict.

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

from collections.abc import Callable
from typing import Any

import numpy as np

ALPHA = 0.05
MAX_CODES = 250  # HistGradientBoosting takes at most 255 categories per feature: the rarest share one code
IMBALANCE = 0.25  # the smallest class under this share of the largest: the headline is balanced accuracy
ROUNDS = 9_999  # sign flips of the permutation test: p is resolved to 1e-4
LOWER_IS_BETTER = ("rmse", "mae", "mse")
PIXELS = 16  # an image's side for the pixel baseline: at most 16 × 16 × channels features
PIXEL_ROWS = 10_000  # training images the pixel baseline is fitted on, at most (a stratified draw)


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


def linear(spec, seed: int = 0):
    """TF-IDF (words and word pairs, sublinear counts) per text column, the other columns imputed and scaled or
    one-hot encoded, and a logistic (ridge) regression: scikit-learn's linear model of choice, text or not."""
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
            parts.append((c["input"], OneHotEncoder(handle_unknown="ignore"), [c["name"]]))
    columns = ColumnTransformer(parts)
    if spec.task == "classification":
        return make_pipeline(columns, LogisticRegression(max_iter=2000, random_state=seed))
    return make_pipeline(columns, RidgeCV(alphas=np.logspace(-3, 3, 13)))


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


def _gradient_boosting(train_rows, y_train, spec, seed: int) -> Callable:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    columns = spec.table["columns"]
    kind = HistGradientBoostingClassifier if spec.task == "classification" else HistGradientBoostingRegressor
    model = kind(categorical_features=[c["type"] == "category" for c in columns], random_state=seed)
    model.fit(features(train_rows, columns), y_train)
    return lambda rows: model.predict(features(rows, columns, reference=train_rows))


def _linear(train_rows, y_train, spec, seed: int) -> Callable:
    model = linear(spec, seed).fit(_linear_frame(train_rows, spec), y_train)
    return lambda rows: model.predict(_linear_frame(rows, spec))


def candidates(spec) -> dict[str, Callable]:
    """The classical methods a user would fit on this table, by name: each `fit(train_rows, y_train, spec, seed)`
    returns a function from rows to class ids or values. A table with text gets TF-IDF + a linear model only
    (gradient boosting cannot read words)."""
    if any(c["type"] == "text" for c in spec.table["columns"]):
        return {linear_name(spec): _linear}
    return {"hist_gradient_boosting": _gradient_boosting, linear_name(spec): _linear}


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

    Returns:
        `{"model": <the reference's name>, <its test metrics>, "candidates": {name: {"val_<metric>", <test
        metrics>}}, "verdict", "p_value", "test", "headline", …}`.
    """
    predictions = {}
    for name, fit in candidates(spec).items():
        guess = fit(rows["train"], answers["train"], spec, seed)
        predictions[name] = (guess(rows["val"]), guess(rows["test"]))
    best, on_val = strongest(predictions, answers["val"], metric)
    y_test = answers["test"]
    found = {name: metrics_of(spec.task, y_test, test) for name, (_, test) in predictions.items()}
    out: dict[str, Any] = {"model": best, **found[best], "chosen_on": f"validation {metric}"}
    if spec.task == "classification":  # beside the model's per-class figures (the page flags a missed class)
        from sklearn.metrics import recall_score

        labels = list(range(spec.num_classes))
        recalls = recall_score(y_test, predictions[best][1], labels=labels, average=None, zero_division=0)
        names = spec.class_names or [str(i) for i in labels]
        out["per_class_recall"] = {names[i]: float(r) for i, r in enumerate(recalls)}
    out["candidates"] = {name: {f"val_{metric}": on_val[name], **found[name]} for name in predictions}
    out.update(paired(metric, y_test, predicted, predictions[best][1]))
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


def forecasts(rows, horizon: int) -> dict[str, np.ndarray]:
    """The classical forecasts a series plugin put in a split's rows (`<name>.<step>` columns, one per step
    ahead), by name: (windows, horizon) arrays."""
    names = [c[: -len(".1")] for c in rows.columns if c.endswith(".1")]
    return {
        name: np.column_stack([rows[f"{name}.{h + 1}"].to_numpy(np.float64) for h in range(horizon)]) for name in names
    }


def series_compare(rows: dict[str, Any], answers: dict[str, np.ndarray], spec, predicted: np.ndarray) -> dict[str, Any]:
    """A forecast's classical candidates on the same windows (seasonal naive at each season, last value, ridge on
    the window: whatever the plugin computed), the strongest on the validation windows as the reference, MAE and
    RMSE in the target's units, MASE (Hyndman's in-sample seasonal-naive scale), the model's MAE relative to each
    candidate, and the paired verdict on the MAE against the reference.

    Args:
        rows: the "val" and "test" splits' rows (`<candidate>.<h>` per step ahead).
        answers: the "val" and "test" answers, (windows, horizon), in the target's units.
        spec: the data's spec (its `series`).
        predicted: the model's forecasts on the test windows, the same shape and units.
    """
    horizon = int(spec.series["horizon"])
    scale = float(spec.series["mase_scale"])
    y_val = answers["val"].reshape(len(answers["val"]), horizon)
    y_test = answers["test"].reshape(len(answers["test"]), horizon)
    predicted = predicted.reshape(y_test.shape)
    val, test = forecasts(rows["val"], horizon), forecasts(rows["test"], horizon)
    best, on_val = strongest({name: (val[name], test[name]) for name in test}, y_val, "mae")
    model_mae = score("mae", y_test, predicted)
    out: dict[str, Any] = {"model": best, "season": int(spec.series["season"]), "chosen_on": "validation mae"}
    out["seasons"] = list(spec.series.get("seasons") or [out["season"]])
    out["candidates"] = {}
    for name, guess in test.items():
        mae = score("mae", y_test, guess)
        found = {"val_mae": on_val[name], "mae": mae, "rmse": score("rmse", y_test, guess), "mase": mae / scale}
        found["model_mae_ratio"] = model_mae / mae if mae else None
        out["candidates"][name] = found
    out.update({k: v for k, v in out["candidates"][best].items() if k in ("mae", "rmse", "mase")})
    for name in ("seasonal_naive", "last_value"):  # the ratios users and earlier reports read
        if name in out["candidates"]:
            out[f"mae_vs_{name}"] = out["candidates"][name]["model_mae_ratio"]
    if "last_value" in out["candidates"]:
        out["last_value"] = {k: out["candidates"]["last_value"][k] for k in ("mae", "rmse", "mase")}
    out["model_mase"] = model_mae / scale
    out.update(paired("mae", y_test, predicted, test[best]))
    return out


def downsampled(x: np.ndarray, side: int = PIXELS, chunk: int = 512) -> np.ndarray:
    """Images (n, height, width, channels) as flat rows of block means, at most `side` × `side` × channels: what a
    classical model reads of a picture. Read `chunk` images at a time (a memory-mapped split stays on disk).

    Example:
        >>> downsampled(np.ones((2, 64, 64, 3))).shape
        (2, 768)
    """
    n, h, w = x.shape[:3]
    bh, bw = -(-h // side), -(-w // side)  # block sizes (ceil); the image's edge is repeated to whole blocks
    out = []
    for start in range(0, n, chunk):
        part = np.asarray(x[start : start + chunk], np.float32)
        part = np.pad(part, ((0, 0), (0, -h % bh), (0, -w % bw), (0, 0)), mode="edge")
        rows, cols = part.shape[1] // bh, part.shape[2] // bw
        out.append(part.reshape(len(part), rows, bh, cols, bw, -1).mean(axis=(2, 4)).reshape(len(part), -1))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def pixels_compare(
    images: dict[str, np.ndarray],
    answers: dict[str, np.ndarray],
    spec,
    predicted: np.ndarray,
    metric: str,
    seed: int = 0,
) -> dict[str, Any]:
    """The classical baseline of an image classifier: a logistic regression on downsampled, standardized pixels
    (`downsampled`), fitted on (at most PIXEL_ROWS of) the training images, scored on the test images beside the
    model, with the paired verdict on the headline metric.

    Args:
        images: the "train" and "test" images (n, height, width, channels), memory-mapped or not.
        answers: their class ids.
        spec: the data's spec.
        predicted: the model's class ids on the test images.
        metric: the headline metric (`headline`).
        seed: the draw's and the model's seed.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y_train = np.asarray(answers["train"])
    features = downsampled(images["train"])
    if len(y_train) > PIXEL_ROWS:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(y_train)), train_size=PIXEL_ROWS, random_state=seed, stratify=y_train)
        features, y_train = features[np.sort(keep)], y_train[np.sort(keep)]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1, random_state=seed))
    model.fit(features, y_train)
    guess = model.predict(downsampled(images["test"]))
    y_test = np.asarray(answers["test"])
    out: dict[str, Any] = {"model": "logistic_regression_pixels", **metrics_of("classification", y_test, guess)}
    out["inputs"] = f"{downsampled(images['test'][:1]).shape[1]} pixel values (block means), {len(y_train)} images"
    out.update(paired(metric, y_test, predicted, guess))
    return out
