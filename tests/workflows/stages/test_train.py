"""Training and evaluation through the pure cores, and the direct command line."""

from __future__ import annotations

import csv
import hashlib
import json
import sys

import keras
import numpy as np
import pytest

from tests.conftest import NO_PROJECT, ROOT, TINY, last_json, run
from workflows.config.command import resolve
from workflows.runners.pipeline import run_pipeline
from workflows.stages.augment import augment
from workflows.stages.evaluate import evaluate
from workflows.stages.train import train


@pytest.fixture(scope="module")
def tiny(compose):
    experiment = resolve(compose(TINY))
    return experiment, experiment.load_data()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_train_then_evaluate_writes_model_card_and_metrics(tiny, tmp_path):
    experiment, splits = tiny
    history = train(experiment, splits.train, splits.val, splits.spec, tmp_path / "models", tmp_path / "logs")
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= history.keys()
    card = json.loads((tmp_path / "models" / "model.json").read_text())
    assert card["params"] == keras.models.load_model(tmp_path / "models" / "model.keras").count_params()
    assert card["head"]["activation"] == "linear"  # sparse cross-entropy takes logits
    assert (tmp_path / "logs" / "metrics.json").exists()
    assert list((tmp_path / "logs" / "plots" / "metrics").rglob("*.tsv"))

    metrics = evaluate(experiment, tmp_path / "models", splits.test, tmp_path / "eval")
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["accuracy"] == metrics["accuracy"] and 0.0 <= metrics["accuracy"] <= 1.0
    assert set(written["per_class"]) == {str(i) for i in range(10)}
    assert {"precision", "recall", "f1-score"} <= set(written["per_class"]["3"])
    assert written["params"] == card["params"] and np.isfinite(written["loss"])
    # The loss comes from the one prediction pass (`_loss`): what Keras's own evaluate says, weight penalties in.
    x_test, y_test = (np.asarray(part) for part in splits.test)
    saved = keras.models.load_model(tmp_path / "models" / "model.keras")
    assert written["loss"] == pytest.approx(saved.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"], 1e-5)
    confusion = json.loads((tmp_path / "eval" / "plots" / "confusion.json").read_text())
    assert len(confusion) == metrics["examples"]
    assert sum(r["actual"] == r["predicted"] for r in confusion) == round(metrics["accuracy"] * len(confusion))
    # The mistakes, most confident first: each one wrong, the example's position in the test split named.
    with (tmp_path / "eval" / "plots" / "mistakes.csv").open() as handle:
        wrong = list(csv.DictReader(handle))
    n_wrong = sum(r["actual"] != r["predicted"] for r in confusion)
    assert len(wrong) == min(50, n_wrong) and all(r["actual"] != r["predicted"] for r in wrong)
    confidence = [float(r["p_predicted"]) for r in wrong]
    assert confidence == sorted(confidence, reverse=True)
    assert all(str(y_test[int(r["example"])]) == r["actual"] for r in wrong)  # the named example is that digit
    assert (tmp_path / "eval" / "plots" / "mistakes.png").is_file() == (n_wrong > 0)


# Run in a process where the project cannot be imported (its editable install included): plain Keras only.
PLAIN_KERAS = (
    NO_PROJECT
    + """
import keras, numpy as np
m = keras.models.load_model(sys.argv[1], safe_mode=True)
x = np.zeros((4, 8, 8, 1), "float32")
scores = m.evaluate(x, np.arange(4), verbose=0, return_dict=True)
assert not [k for k in sys.modules if k.split(".")[0] in ("plugins", "workflows")]
print(m.predict(x, verbose=0).shape, type(m.loss).__module__.split(".")[0], sorted(scores), m.losses and "penalised")
"""
)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_saved_model_loads_compiled_in_plain_keras_without_the_project(compose, tmp_path, smoothing):
    # Label smoothing on class ids is the project's own loss class; the saved model is compiled with Keras's.
    experiment = resolve(compose([*TINY, f"loss.label_smoothing={smoothing}"]))
    splits = experiment.load_data()
    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "models", tmp_path / "logs")
    result = run([sys.executable, "-I", "-c", PLAIN_KERAS, str(tmp_path / "models" / "model.keras")], tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "(4, 10) keras ['accuracy', 'loss'] penalised"


def test_interrupted_training_leaves_the_previous_model_and_logs_intact(tiny, tmp_path):
    experiment, splits = tiny
    models, logs = tmp_path / "models", tmp_path / "logs"
    train(experiment, splits.train, splits.val, splits.spec, models, logs)
    before = digest(models / "model.keras"), digest(logs / "metrics.json")

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(experiment, splits.train, splits.val, splits.spec, models, logs, callbacks=[Interrupt()])
    assert (digest(models / "model.keras"), digest(logs / "metrics.json")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "models"]  # no temporary left behind
    assert sorted(p.name for p in models.iterdir()) == ["model.json", "model.keras"]


def test_augment_appends_copies_and_touches_only_training_data(tiny):
    experiment, splits = tiny
    n = len(splits.train[0])
    augmented = augment(experiment, splits.train, splits.spec)
    assert int(augmented.cardinality()) == n * (1 + experiment.augmentation.copies)
    x0 = splits.train[0][0]
    ((x1, _),) = augmented.take(1).as_numpy_iterator()
    np.testing.assert_array_equal(x0, x1)  # originals first, unchanged
    again = augment(experiment, splits.train, splits.spec)
    a = np.stack([x for x, _ in augmented.skip(n).take(5).as_numpy_iterator()])
    b = np.stack([x for x, _ in again.skip(n).take(5).as_numpy_iterator()])
    np.testing.assert_array_equal(a, b)  # deterministic under trainer.seed


def test_run_pipeline_returns_test_metrics(tiny, tmp_path):
    experiment, _ = tiny
    metrics = run_pipeline(experiment, tmp_path)
    assert metrics["examples"] == 360 and "val_accuracy" in metrics["train"]
    assert (tmp_path / "models" / "model.keras").exists() and (tmp_path / "eval" / "metrics.json").exists()


def test_direct_cli_runs_with_overrides_into_hydra_run_dir(tmp_path):
    out = tmp_path / "run"
    result = run([sys.executable, "-m", "workflows.train", *TINY, "optimizer=sgd", f"hydra.run.dir={out}"], ROOT)
    metrics = last_json(result.stdout)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    saved = (out / "config.yaml").read_text()
    assert "name: sgd" in saved and "units:\n  - 32" in saved
    assert (out / "models" / "model.keras").exists()
