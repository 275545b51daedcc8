"""The run's page says what the run is and what a reader should know first (no TensorFlow: it reads files)."""

from __future__ import annotations

import json
import sys

import pytest

from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run
from workflows.reporting.page import flags, page, page_title


def a_run(root, val_loss: list[float], per_class: dict | None = None, baseline: dict | None = None):
    (root / "eval").mkdir(parents=True)
    metrics = {"accuracy": 0.9, "loss": 0.3, "per_class": per_class or {}, "baseline": baseline or {}}
    (root / "eval" / "metrics.json").write_text(json.dumps(metrics))
    (root / "config.yaml").write_text(
        "data:\n  name: csv\n  path: /home/me/churn.csv\n  target: Churn\nmodel:\n  name: mlp\n"
    )
    curves = root / "dvclive" / "train" / "plots" / "metrics" / "eval"
    curves.mkdir(parents=True)
    (curves / "loss.tsv").write_text("step\tloss\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(val_loss)))
    return root


def test_the_title_names_the_target_the_data_and_the_model(tmp_path):
    root = a_run(tmp_path / "10-00-00", [1.0, 0.5])
    assert page_title(root) == "Churn from churn.csv — model mlp (run 10-00-00)"
    assert "<title>Churn from churn.csv — model mlp (run 10-00-00)</title>" in page(root)


def test_a_validation_loss_rising_for_most_of_the_run_and_a_missed_class_are_flagged(tmp_path):
    rising = [0.9, 0.5, 0.6, 0.8, 1.1, 1.5, 2.0, 2.6]
    per_class = {
        "No": {"precision": 0.97, "recall": 0.99, "f1-score": 0.98, "support": 950},
        "Yes": {"precision": 0.6, "recall": 0.31, "f1-score": 0.4, "support": 50},
    }
    base = {"model": "logistic_regression", "verdict": "worse", "per_class_recall": {"No": 0.9, "Yes": 0.8}}
    root = a_run(tmp_path / "run", rising, per_class, base)
    found = flags(json.loads((root / "eval" / "metrics.json").read_text()), {"eval/loss": list(enumerate(rising))})
    assert any("Validation loss rose for 6 of 8 epochs after its best" in f for f in found)
    assert any("Class 'Yes' has recall 0.31" in f and "the baseline's: 0.8" in f for f in found)
    assert any("logistic_regression) is better" in f for f in found)
    text = page(root)
    assert "What to know" in text and "Validation loss rose for 6 of 8 epochs" in text
    calm = a_run(tmp_path / "calm", [0.9, 0.5, 0.4, 0.35])
    assert "What to know" not in page(calm)


def test_a_truncated_metrics_file_or_card_is_one_line(tmp_path):
    root = a_run(tmp_path / "run", [1.0, 0.5])
    (root / "models").mkdir()
    (root / "models" / "model.json").write_text('{"training": {"epochs_per')
    with pytest.raises(ConfigError, match="model.json is not a model card of this project"):
        page(root)
    (root / "eval" / "metrics.json").write_text('{"accuracy": 0.')
    result = run([sys.executable, "-m", "workflows", "report", str(root), "--html"], ROOT, check=False)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1
    assert "metrics.json is not readable JSON" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "afile").write_text("x")
    result = run(
        [sys.executable, "-m", "workflows", "report", str(root), "--html", "--out", str(tmp_path / "afile")],
        ROOT,
        check=False,
    )
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr


def test_explanations_whose_attributions_do_not_add_up_are_flagged(tmp_path):
    root = a_run(tmp_path / "run", [1.0, 0.5])
    (root / "why").mkdir()
    (root / "why" / "explanations.csv").write_text(
        "input,prediction,probability,completeness_gap\na.png,cat,0.9,0.002\nb.png,dog,0.8,0.31\nc.png,cat,0.7,0.01\n"
    )
    text = page(root)
    assert "1 of 3 explanations in why/ have a completeness gap above 0.05 (largest 0.31)" in text
    (root / "why" / "explanations.csv").write_text(
        "input,prediction,probability,completeness_gap\na.png,cat,0.9,0.002\n"
    )
    assert "completeness gap" not in page(root)
