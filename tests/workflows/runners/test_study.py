"""Comparison studies: variants × seeds → a Markdown table, a plot and the raw figures."""

from __future__ import annotations

import json
import sys

import pytest

from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run
from workflows.reporting.report import first_epoch_reaching, mean_std
from workflows.runners.study import load_study

STUDY = """
title: tiny
base: [model=mlp, "model.units=[16]", augmentation=none, trainer.epochs=3, trainer.verbose=0]
seeds: [0, 1]
target: 0.5
variants:
  sgd: [optimizer=sgd, optimizer.learning_rate=0.05]
  adam: [optimizer=adam]
"""


@pytest.mark.slow
def test_study_runs_every_variant_and_seed_and_reports(tmp_path):
    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY)
    out = tmp_path / "reports"
    result = run(
        [sys.executable, "-m", "workflows.study", str(study), "--out", str(out), "--runs", str(tmp_path / "runs")], ROOT
    )
    assert result.stdout.strip().endswith("tiny.md")
    text = (out / "tiny.md").read_text()
    assert (
        "| sgd `optimizer=sgd optimizer.learning_rate=0.05` | 2 |" in text and "| adam `optimizer=adam` | 2 |" in text
    )
    assert " ± " in text and "![validation curves](tiny.png)" in text
    assert (out / "tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw = json.loads((out / "tiny.json").read_text())
    assert sorted((r["variant"], r["seed"]) for r in raw["runs"]) == [("adam", 0), ("adam", 1), ("sgd", 0), ("sgd", 1)]
    assert all(len(r["curves"]["eval/accuracy"]) == 3 for r in raw["runs"])


def test_a_bad_variant_fails_before_any_run(tmp_path):
    study = tmp_path / "bad.yaml"
    study.write_text(STUDY.replace("optimizer=adam", "optimizer=adamm"))
    result = run(
        [sys.executable, "-m", "workflows.study", str(study), "--runs", str(tmp_path / "runs")], ROOT, check=False
    )
    assert result.returncode == 2
    assert error_lines(result.stderr)[-1].startswith("error: unknown optimizer option 'adamm'")
    assert not (tmp_path / "runs").exists()


def test_unknown_study_names_the_closest():
    with pytest.raises(ConfigError, match="unknown study 'optimisers'.*did you mean 'optimizers'"):
        load_study("optimisers")


def test_helpers():
    assert first_epoch_reaching([(1, 0.4), (2, 0.96), (3, 0.99)], 0.95) == 2
    assert first_epoch_reaching([(1, 0.4)], 0.95) is None
    assert mean_std([1.0, 3.0]) == "2.0000 ± 1.4142"
    assert mean_std([]) == "—"
