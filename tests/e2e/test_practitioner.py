"""What a practitioner looks at and reaches for: class weights, ROC/PR/calibration curves, cost, TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plugins.data.base import DataSpec
from plugins.registry import ConfigError
from workflows.config.compose import compose
from workflows.config.schema import resolve
from workflows.runners.pipeline import run_pipeline
from workflows.stages.train import class_weights

pytestmark = pytest.mark.slow

QUICK = ["model=mlp", "model.units=[32]", "augmentation=none", "trainer.verbose=0", "trainer.backup=false"]


def pipeline(tmp_path: Path, *overrides: str) -> dict:
    return run_pipeline(resolve(compose([*QUICK, *overrides])), tmp_path)


def test_balanced_weights_are_inverse_class_frequencies_and_names_are_checked():
    spec = DataSpec((4,), "classification", 3, ["cat", "dog", "eel"])
    labels = np.array([0] * 8 + [1] * 2 + [2] * 2)
    np.testing.assert_allclose(class_weights("balanced", spec, labels), [12 / 24, 12 / 6, 12 / 6])
    np.testing.assert_allclose(class_weights({"dog": 4.0}, spec, labels), [1.0, 4.0, 1.0])
    assert class_weights(None, spec, labels) is None
    with pytest.raises(ConfigError, match="no class 'dgo'; did you mean 'dog'"):
        class_weights({"dgo": 2.0}, spec, labels)
    with pytest.raises(ConfigError, match="regression"):
        class_weights("balanced", DataSpec((4,), "regression"), labels)


def test_class_weights_reach_the_loss(tmp_path):
    # Only the 3s weigh anything: a model that learns from the weighted loss calls (nearly) everything a 3.
    weights = "{" + ",".join(f"{k}:{1.0 if k == 3 else 0.0}" for k in range(10)) + "}"
    metrics = pipeline(tmp_path, f"trainer.class_weight={weights}", "trainer.epochs=3")
    predicted = [row["predicted"] for row in json.loads((tmp_path / "eval" / "plots" / "confusion.json").read_text())]
    assert predicted.count("3") / len(predicted) > 0.9, metrics["per_class"]
    assert metrics["per_class"]["3"]["recall"] == 1.0


def test_imbalanced_digits_keep_the_test_split_whole(tmp_path):
    metrics = pipeline(tmp_path, "data.keep={3:0.05,8:0.05}", "trainer=fast", "trainer.class_weight=balanced")
    y_train = np.load(tmp_path / "data" / "prepared" / "train" / "y.npy")
    y_test = np.load(tmp_path / "data" / "prepared" / "test" / "y.npy")
    counts = np.bincount(y_train, minlength=10)
    assert counts[3] <= 7 and counts[8] <= 7 and counts[0] > 100
    assert np.bincount(y_test)[3] >= 35 and metrics["examples"] == 360


def test_binary_curves_cost_and_tensorboard(tmp_path):
    metrics = pipeline(
        tmp_path, "data=breast_cancer", "loss=binary_crossentropy", "trainer.epochs=3", "trainer.tensorboard=true"
    )
    plots = tmp_path / "eval" / "plots" / "sklearn"
    # One curve of each kind, for the positive class of the binary task; strict JSON (no Infinity threshold).
    for kind, keys in (
        ("roc", {"fpr", "tpr"}),
        ("precision_recall", {"precision", "recall"}),
        ("calibration", {"prob_pred", "prob_true"}),
    ):
        files = list((plots / kind).glob("*.json"))
        assert [f.name for f in files] == ["benign.json"], files
        text = files[0].read_text()
        assert "Infinity" not in text and "NaN" not in text
        rows = json.loads(text)[kind]
        assert rows and keys <= set(rows[0])
    assert 0.8 < metrics["roc_auc"] <= 1.0 and 0.8 < metrics["average_precision"] <= 1.0, metrics
    assert metrics["size_bytes"] == (tmp_path / "models" / "model.keras").stat().st_size
    assert metrics["latency_ms"] > 0 and metrics["throughput"] > 0
    events = list((tmp_path / "dvclive" / "train" / "tensorboard").rglob("events.out.tfevents*"))
    assert {e.parent.name for e in events} == {"train", "validation"}


def test_one_vs_rest_curves_for_several_classes(tmp_path):
    metrics = pipeline(tmp_path, "trainer=fast")
    names = sorted(f.stem for f in (tmp_path / "eval" / "plots" / "sklearn" / "roc").glob("*.json"))
    assert names == [str(k) for k in range(10)]
    assert 0.0 <= metrics["roc_auc"] <= 1.0
