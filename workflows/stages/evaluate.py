"""Stage 4, evaluate: test metrics and plots of the trained model.

`kerasforge stage evaluate --params params.yaml` reads models/ and the held-out
split (`evaluate.split`, the test split by default), and writes, atomically:
- eval/metrics.json: `accuracy`, `loss`, per-class precision/recall/F1 and
  the parameter count (classification); `mse`, `rmse`, `mae`, `r2` in the
  target's own units (regression; `loss` stays the training loss, on the
  standardized target); for a table, `baseline`: HistGradientBoosting fitted
  on the same raw training rows, scored on the same test rows, with a paired
  verdict (the data kind's: plugins/data/kinds.py), and the saved model scored on the raw rows;
- eval/plots/confusion.json (classification): (actual, predicted) rows for
  DVC's confusion template; eval/plots/predictions.json (regression): the
  test rows' (actual, predicted) targets in the target's units, for DVC's
  scatter template;
- eval/plots/sklearn/{roc,precision_recall,calibration}/<class>.json
  (classification): ROC, precision–recall and calibration curves, through
  DVCLive's sklearn plots (the files `Live.log_sklearn_plot` writes): one curve for the positive
  class of a binary task, one per class (one-vs-rest) otherwise; `roc_auc`
  and `average_precision` (macro) in metrics.json;
- the model's cost beside its accuracy: `size_bytes` (model.keras),
  `latency_ms` (median time of one example, batch 1) and `throughput`
  (examples per second at batch 256), measured on the machine that evaluated.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins import load_plugins
from plugins.data import verdict
from plugins.data.kinds import Evidence, kind_of
from plugins.model.outputs import file_name, per_class, predicted_classes, unscale_target
from plugins.registry import ConfigError
from workflows.config.experiment import Experiment
from workflows.io.atomic import atomic_dir, write_json
from workflows.io.card import WITHOUT_PRIVACY, model_digest, read_card
from workflows.io.datastore import load_arrays, load_rows
from workflows.io.layout import REPO, Layout

if TYPE_CHECKING:  # TensorFlow is imported where it is used, after the command line has started it quietly
    import keras

    from plugins.data.base import DataSpec, Split


def load_model(model_dir: Path = REPO.models) -> tuple[keras.Model, dict[str, Any]]:
    """The saved model (safe mode: no arbitrary code) and its card."""
    model_dir = Path(model_dir)
    if not (model_dir / "model.keras").exists():
        raise ConfigError(f"{model_dir / 'model.keras'} does not exist; run the train stage first (dvc repro train)")
    card = read_card(model_dir)  # another program's model.json beside model.keras: one line, before TensorFlow
    import keras

    load_plugins()  # registers the custom Keras objects (losses, layers) a saved model may use
    try:
        model = keras.models.load_model(model_dir / "model.keras", safe_mode=True)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise ConfigError(
            f"{model_dir} does not hold a readable model ({type(err).__name__}: truncated or not "
            "written by the train stage); rerun training (dvc repro -f train)"
        ) from None
    return model, card


def classification_metrics(y: np.ndarray, probs: np.ndarray, spec: DataSpec) -> tuple[dict[str, Any], list[dict]]:
    """Accuracy, per-class precision/recall/F1 and the confusion rows."""
    from sklearn import metrics as skm

    predicted = predicted_classes(probs)
    labels = list(range(spec.num_classes))
    names = spec.class_names or [str(i) for i in labels]
    report = skm.classification_report(
        y, predicted, labels=labels, target_names=names, output_dict=True, zero_division=0
    )
    per_class = {
        name: {k: round(float(report[name][k]), 6) for k in ("precision", "recall", "f1-score", "support")}
        for name in names
    }
    out = {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "per_class": per_class,
    }
    confusion = [{"actual": names[int(a)], "predicted": names[int(p)]} for a, p in zip(y, predicted)]
    return out, confusion


MODE_GAP = 0.2  # training-mode accuracy this much above inference-mode accuracy, on the same rows, is a warning
TRAIN_ROWS = 2000  # training rows (a seeded sample) scored for the mode gap and the membership audit


CURVES = ("roc", "precision_recall", "calibration")


def curves(y: np.ndarray, probs: np.ndarray, names: list[str], out_dir: Path) -> dict[str, float]:
    """Writes ROC, precision-recall and calibration curves through DVCLive's sklearn plots into
    out_dir/plots/sklearn/<kind>/ (the files `Live.log_sklearn_plot` writes, without a `Live`: no repository
    lookup, no git handles, for a figure that is only files).

    Returns:
        The macro ROC AUC and average precision (one-vs-rest over the classes present in `y`).
    """
    from dvclive.plots import SKLEARN_PLOTS
    from sklearn import metrics as skm

    probs = per_class(probs)
    classes = [1] if len(names) == 2 else [k for k in range(len(names)) if 0 < (y == k).sum() < len(y)]
    plots_dir = str(out_dir / "plots")
    aucs, precisions = [], []
    for k in classes:
        truth, score = (y == k).astype(int), probs[:, k].astype(np.float64)
        if truth.min() == truth.max():
            continue  # one class only in this split: no curve
        for kind in CURVES:
            extra = {"drop_intermediate": True} if kind == "roc" else {}
            SKLEARN_PLOTS[kind](f"{kind}/{file_name(names[k])}.json", plots_dir).dump((truth, score), **extra)
        aucs.append(skm.roc_auc_score(truth, score))
        precisions.append(skm.average_precision_score(truth, score))
    for file in (out_dir / "plots" / "sklearn").rglob("*.json"):  # sklearn's first ROC threshold is +inf:
        write_json(file, json.loads(file.read_text()))  # strict JSON (null), as every file this project writes
    return {"roc_auc": float(np.mean(aucs)), "average_precision": float(np.mean(precisions))} if aucs else {}


def cost(model, x: np.ndarray, model_file: Path, repeats: int = 30) -> dict[str, float]:
    """The model's size, its latency at batch 1 (median of `repeats` calls) and its throughput at batch 256,
    through one compiled function for any number of rows (as a served SavedModel signature runs)."""
    import time

    import tensorflow as tf

    one = tf.constant(x[:1])
    big = tf.constant(np.resize(x, (256, *x.shape[1:])).astype(x.dtype))  # the test rows, repeated up to 256
    spec = tf.TensorSpec([None, *x.shape[1:]], one.dtype)
    forward = tf.function(lambda rows: model(rows, training=False), input_signature=[spec])
    forward(one)  # compiled once, outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(forward(one))
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(5):
        np.asarray(forward(big))
    per_batch = (time.perf_counter() - start) / 5
    return {
        "size_bytes": Path(model_file).stat().st_size,
        "latency_ms": float(np.median(times) * 1000),
        "throughput": float(256 / per_batch),
    }


def mode_gap(model, head, x: np.ndarray, y: np.ndarray, batch_size: int, outputs=None) -> dict[str, float]:
    """The model's accuracy on the same (training) rows in inference mode and in training mode.

    A model that is right in training mode but wrong in inference mode has batch-norm moving statistics that
    do not match its weights (the classic short-run pitfall); dropout alone costs a few points at most. The
    training-mode pass leaves the model as it found it (its moving statistics and random state put back), so
    that what is scored after it scores the saved model.

    Args:
        model: the network reading `x`.
        head: the model's head.
        x, y: the rows and their class ids.
        batch_size: rows per call.
        outputs: the model's inference-mode outputs on `x`, when already at hand.
    """
    import tensorflow as tf

    if outputs is None:
        outputs = model.predict(x, batch_size=batch_size, verbose=0)
    inference = np.asarray(head.probabilities(outputs))
    kept = [v.numpy() for v in model.non_trainable_variables]
    try:
        training = np.concatenate(
            [
                np.asarray(head.probabilities(model(tf.constant(x[i : i + batch_size]), training=True)))
                for i in range(0, len(x), batch_size)
            ]
        )
    finally:
        for variable, value in zip(model.non_trainable_variables, kept):
            variable.assign(value)

    return {
        "train_accuracy": float((predicted_classes(inference) == y).mean()),
        "train_accuracy_training_mode": float((predicted_classes(training) == y).mean()),
    }


def evaluate(
    experiment: Experiment,
    model_dir: Path,
    ds: Split,
    out_dir: Path = REPO.eval,
    train_split: Split | None = None,
    rows: Any = None,
    reference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Scores the saved model on `ds` and writes metrics.json and plots/ into `out_dir`.

    Args:
        experiment: the resolved config (`evaluate.*`).
        model_dir: where model.keras and model.json are.
        ds: the held-out examples, unbatched (x, y).
        out_dir: where to write; replaced as a whole, atomically.
        train_split: training examples: up to TRAIN_ROWS of them (a seeded sample) are scored for the
            membership audit (`privacy.membership_auc`) and, for classes, in inference and in training mode
            (`train_accuracy`, `train_accuracy_training_mode`; a gap above MODE_GAP is a warning on stderr
            naming the likely cause).
        rows: a table's raw rows of `ds` (a DataFrame, `workflows.datastore.load_rows`): the saved model is scored
            on them, through its own encoding layers.
        reference: the "train" and "val" splits (`splits`: (x, y)) and their raw rows (`rows`): the data kind's
            classical candidates (plugins/data/kinds.py) are fitted on the training rows, the strongest on the
            validation rows is scored on `rows` beside the model (`baseline` in metrics.json).

    Returns:
        The metrics written to metrics.json.
    """

    from plugins.data.base import DataSpec, to_numpy
    from plugins.model.head import Head

    model, card = load_model(model_dir)
    head, spec = Head(**card["head"]), DataSpec(**card["spec"])
    x, y = to_numpy(ds)
    batch_size = experiment.evaluate.batch_size
    loss, outputs, core = _score(model, head, spec, x, y, rows, batch_size)
    result: dict[str, Any] = {"loss": loss, "params": card["params"], "examples": int(len(y))}
    seen = _seen(core, train_split, batch_size) if train_split is not None else None
    confusion: list[dict] = []
    if spec.task == "classification":
        more, confusion = classification_metrics(y, np.asarray(head.probabilities(outputs)), spec)
        result = {"accuracy": more.pop("accuracy"), **result, **more}
        if seen is not None:
            result.update(_mode_gap_checked(core, head, seen, batch_size))
    predicted = _answers(outputs, y, head, spec)
    if spec.task == "regression":  # in the target's units; `loss` stays the training loss, on the standardized target
        result.update(verdict.regression_metrics(unscale_target(y, spec), predicted))
    result.update(_baseline(spec, x, y, predicted, rows, reference or {}))
    if seen is not None:
        result["privacy"] = _privacy(model, head, card, seen, (y, outputs))
        if card.get("privacy"):
            result["privacy"].update(
                _without_privacy(Path(model_dir), head, spec, (x, y, rows), predicted, train_split, batch_size)
            )
    result.update(cost(core, x, Path(model_dir) / "model.keras"))
    with atomic_dir(out_dir) as tmp:
        if spec.task == "classification":
            names = spec.class_names or [str(i) for i in range(spec.num_classes)]
            result.update(curves(y, np.asarray(head.probabilities(outputs)), names, tmp))
        write_json(tmp / "metrics.json", result)
        (tmp / "plots").mkdir(exist_ok=True)
        _insight(tmp / "plots", core, head, spec, x, y, outputs, predicted, rows, batch_size)
        if spec.task == "classification":
            write_json(tmp / "plots" / "confusion.json", confusion)
        else:  # predicted against actual, in the target's units where the card says how it was scaled
            points = regression_points(y, outputs.reshape(y.shape), spec)
            write_json(tmp / "plots" / "predictions.json", points)
            residuals = [
                {"predicted": p["predicted"], "residual": round(p["actual"] - p["predicted"], 6)} for p in points
            ]
            write_json(tmp / "plots" / "residuals.json", residuals)
    return result


def _answers(outputs, y: np.ndarray, head, spec: DataSpec) -> np.ndarray:
    """A model's outputs as answers: class ids, or values in the target's units."""
    if spec.task == "classification":
        return predicted_classes(np.asarray(head.probabilities(outputs)))
    return unscale_target(outputs.reshape(y.shape), spec)


def _score(model, head, spec: DataSpec, x: np.ndarray, y: np.ndarray, rows, batch_size: int):
    """The saved model's loss and outputs on the split, and the network that reads the prepared inputs.

    A table's saved model takes the user's raw rows: it is scored on them, through its own encoding layers, and
    its network (behind those layers) must give the same outputs on the prepared rows."""
    import tensorflow as tf

    kind = kind_of(spec)
    inputs = kind.saved_inputs(x, rows, spec)
    if inputs is x:  # the saved model reads the prepared inputs
        outputs = model.predict(x, batch_size=batch_size, verbose=0)
        return _loss(model, head, y, outputs), outputs, model
    outputs = model.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size), verbose=0)
    core = kind.network(model, spec)  # the trained network behind the preprocessing layers: it reads the prepared x
    drift = float(np.abs(np.asarray(core.predict(x, batch_size=batch_size, verbose=0)) - outputs).max())
    if drift > 1e-3:
        print(
            f"warning: the saved model's preprocessing layers and the prepared inputs differ by {drift:.3g}; "
            "rerun the prepare and train stages (dvc repro -f prepare)",
            file=sys.stderr,
        )
    return _loss(model, head, y, outputs), outputs, core


def _loss(model, head, y: np.ndarray, outputs) -> float:
    """The compiled loss and weight penalties on the outputs — what `model.evaluate` reports as `loss`, from the
    outputs already at hand (one pass over the split, not two)."""
    return float(model.compute_loss(y=head.encode(y), y_pred=outputs, training=False))


def _seen(core, train_split, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, outputs): up to TRAIN_ROWS training rows, drawn at random (seed 0) and kept in their order, with the
    network's inference-mode outputs on them — predicted once for the mode gap and the membership audit."""
    xs, ys = train_split
    pick = _sample(len(ys))
    x, y = np.asarray(xs[pick]), np.asarray(ys[pick])
    return x, y, core.predict(x, batch_size=batch_size, verbose=0)


def _sample(rows: int) -> np.ndarray:
    """Up to TRAIN_ROWS of `rows` positions, drawn at random (seed 0), in their order: the training rows the mode
    gap and the membership audit score, and the held-out rows the audit sets against them."""
    return np.sort(np.random.default_rng(0).permutation(rows)[:TRAIN_ROWS])


def _mode_gap_checked(core, head, seen, batch_size: int) -> dict[str, float]:
    """`mode_gap` on the sampled training rows (`_seen`), with a warning when it is above MODE_GAP."""
    x, y, outputs = seen
    gap = mode_gap(core, head, x, y, batch_size, outputs)
    if gap["train_accuracy_training_mode"] - gap["train_accuracy"] > MODE_GAP:
        print(
            f"warning: on {len(y)} training rows the model scores "
            f"{gap['train_accuracy_training_mode']:.3f} in training mode but {gap['train_accuracy']:.3f} in "
            "inference mode: its batch-normalization moving statistics do not match its weights "
            "(a model saved without kerasforge's recalibration, or a frozen layer); retrain it here",
            file=sys.stderr,
        )
    return gap


def _privacy(model, head, card: dict, seen, held_out) -> dict[str, Any]:
    """The run's privacy: DP-SGD's guarantee from the card (none for ordinary training), and for every run the
    membership audit — a loss-threshold attack's AUC on the sampled training rows (`_seen`: x, y, outputs) against
    held-out ones (`held_out`: y, outputs; up to TRAIN_ROWS of them) (0.5: no leak seen)."""
    from plugins.loss.keras_losses import per_row
    from plugins.privacy.dp_sgd import membership_auc

    def losses(y, outputs) -> np.ndarray:
        return np.asarray(per_row(model.loss, head.encode(np.asarray(y)), outputs))

    y, outputs = held_out
    pick = _sample(len(y))
    found = dict(card.get("privacy") or {"guarantee": "none: trained without differential privacy"})
    found["membership_auc"] = round(membership_auc(losses(*seen[1:]), losses(np.asarray(y)[pick], outputs[pick])), 4)
    return found


def _without_privacy(model_dir: Path, head, spec: DataSpec, test, predicted, train_split, batch_size: int) -> dict:
    """A private model beside its baseline — the same config trained without privacy (models/without_privacy/, when
    `privacy.baseline`) — on the same test rows, by the paired test of the headline metric: `without_privacy`
    holds its value, the verdict (`difference`: the private model's cost) and its membership audit. Nothing when
    there is no baseline, or when it belongs to another model (an older run's)."""
    x, y, rows = test
    baseline_dir = model_dir / WITHOUT_PRIVACY
    if not (baseline_dir / "model.json").exists():
        return {}
    if read_card(baseline_dir).get("baseline_of") != model_digest(model_dir):
        print(f"warning: {baseline_dir} was trained beside another model; not compared (retrain)", file=sys.stderr)
        return {}
    plain, _ = load_model(baseline_dir)
    _, outputs, core = _score(plain, head, spec, x, y, rows, batch_size)
    audit = _privacy(plain, head, {}, _seen(core, train_split, batch_size), (y, outputs))["membership_auc"]
    theirs = _answers(outputs, y, head, spec)
    answers = np.asarray(y) if spec.task == "classification" else unscale_target(np.asarray(y), spec)
    classes = np.asarray(train_split[1]) if spec.task == "classification" else None
    metric = verdict.headline(spec.task, classes, spec.num_classes)
    found = verdict.paired(metric, answers, predicted, theirs)
    return {
        "without_privacy": {
            "headline": metric,
            metric: found["baseline_value"],
            "private": found["model_value"],
            "difference": found["difference"],
            "verdict": found["verdict"],
            "p_value": found["p_value"],
            "test": found["test"],
            "membership_auc": audit,
        }
    }


def _baseline(spec: DataSpec, x, y, predicted, rows, reference: dict[str, Any]) -> dict[str, Any]:
    """The data kind's classical baseline on the same test examples (plugins/data/kinds.py), chosen on validation,
    with the paired verdict on the headline metric. `reference` holds the "train" and "val" splits (`splits`: (x, y))
    and their raw rows (`rows`)."""
    splits, raw = reference.get("splits") or {}, reference.get("rows") or {}
    classes = spec.task == "classification"

    def answers(split_y):
        return np.asarray(split_y) if classes else unscale_target(np.asarray(split_y), spec)

    known = {name: answers(part[1]) for name, part in splits.items()}
    known["test"] = answers(y)
    evidence = Evidence(
        spec,
        x={**{name: part[0] for name, part in splits.items()}, "test": x},
        answers=known,
        rows={**raw, "test": rows},
        predicted=predicted,
        headline=verdict.headline(spec.task, known.get("train") if classes else None, spec.num_classes),
    )
    return kind_of(spec).baseline(evidence)


def _insight(out: Path, core, head, spec: DataSpec, x, y, outputs, predicted, rows, batch_size: int) -> None:
    """mistakes.csv (workflows/stages/insight.py), and what the data kind draws and adds: mistakes.png (images,
    sound), a table's importance.csv/.png (`DataKind.mistakes_picture`, `DataKind.insight`)."""
    from workflows.stages import insight

    if rows is not None and "file" in rows:  # a folder of text files: each example is a file
        examples = [str(f) for f in rows["file"]]
    else:
        examples = [f"line {n}" for n in rows["row"]] if rows is not None else [str(i) for i in range(len(y))]
    if spec.task == "classification":
        probs = per_class(np.asarray(head.probabilities(outputs)))
        order = insight.mistakes(y, probs, predicted, spec, examples, out / "mistakes.csv")
        kind_of(spec).mistakes_picture(x, order, y, predicted, probs, spec, out / "mistakes.png")
    else:
        insight.mistakes(
            unscale_target(np.ravel(y), spec), None, np.ravel(predicted), spec, examples, out / "mistakes.csv"
        )
    kind_of(spec).insight(core, head, spec, rows, np.asarray(y), out, batch_size)


def regression_points(y: np.ndarray, predicted: np.ndarray, spec: DataSpec) -> list[dict[str, float]]:
    """(actual, predicted) rows of a regression's test split for DVC's scatter template, in the target's units."""
    actual, guess = unscale_target(np.ravel(y), spec), unscale_target(np.ravel(predicted), spec)
    return [{"actual": round(float(a), 6), "predicted": round(float(p), 6)} for a, p in zip(actual, guess)]


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> dict[str, Any]:
    """The evaluate stage: models/ + data/prepared/<evaluate.split> → eval/ (below `layout.root`)."""
    split = experiment.evaluate.split
    train = load_arrays("train", layout.prepared)
    return evaluate(
        experiment,
        layout.models,
        load_arrays(split, layout.prepared),
        layout.eval,
        train_split=train,
        rows=load_rows(split, layout.prepared),
        reference={
            "splits": {"train": train, "val": load_arrays("val", layout.prepared)},
            "rows": {name: load_rows(name, layout.prepared) for name in ("train", "val")},
        },
    )
