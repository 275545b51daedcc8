"""k-fold cross-validation: folds over the prepared rows, the mean and spread of the folds, in runs and searches."""

from __future__ import annotations

import json
import statistics
import sys

import numpy as np
import pytest
import yaml

from tests.conftest import error_lines, run
from workflows.config.compose import compose, to_yaml
from workflows.config.schema import resolve
from workflows.io.datastore import load_arrays
from workflows.runners.pipeline import run_pipeline

pytestmark = pytest.mark.slow

QUICK = [
    "model=mlp",
    "model.units=[32]",
    "augmentation=none",
    "trainer.epochs=2",
    "trainer.verbose=0",
    "trainer.backup=false",
]


def test_kfold_trains_on_every_fold_and_reports_their_mean_and_spread(tmp_path):
    metrics = run_pipeline(resolve(compose([*QUICK, "cv=kfold", "cv.folds=3"])), tmp_path)
    prepared = tmp_path / "data" / "prepared"
    (x_train, y_train), (x_val, y_val) = (load_arrays(s, prepared) for s in ("train", "val"))
    rows = np.concatenate([np.asarray(x_train), np.asarray(x_val)]).reshape(len(y_train) + len(y_val), -1)
    seen = []
    for k in range(3):
        fold = tmp_path / "folds" / str(k) / "data" / "prepared"
        fx_train, fy_train = (np.asarray(a) for a in load_arrays("train", fold))
        fx_val, fy_val = (np.asarray(a) for a in load_arrays("val", fold))
        assert len(fy_train) + len(fy_val) == len(rows)
        # The test split is the prepared one, the same for every fold.
        assert np.array_equal(np.asarray(load_arrays("test", fold)[1]), np.asarray(load_arrays("test", prepared)[1]))
        # Stratified: each class's share of the fold's validation rows is its share of all rows (±1 row).
        all_y = np.concatenate([y_train, y_val])
        for c in range(10):
            assert abs((fy_val == c).sum() - (all_y == c).sum() / 3) <= 1
        seen.append(fx_val.reshape(len(fy_val), -1))
    # The folds' validation rows are the rows, each exactly once.
    together = np.concatenate(seen)
    assert len(together) == len(rows)
    assert sorted(map(bytes, together)) == sorted(map(bytes, rows))
    accuracies = [f["accuracy"] for f in metrics["folds"]]
    assert metrics["accuracy"] == pytest.approx(statistics.mean(accuracies))
    assert metrics["accuracy_std"] == pytest.approx(statistics.stdev(accuracies))
    vals = [f["train"]["val_accuracy"] for f in metrics["folds"]]
    assert metrics["train"]["val_accuracy"] == pytest.approx(statistics.mean(vals))
    # A report of such runs shows the spread between the folds beside the spread between seeds.
    from workflows.reporting.report import Run, table

    text = table({"kfold": [Run("kfold", 0, [], metrics)]})
    assert f"between folds ± {metrics['accuracy_std']:.4f}" in text


def test_a_search_optimizes_the_mean_over_the_folds(tmp_path):
    from workflows.runners.search import run_search

    study, _ = run_search(
        [
            *QUICK,
            "cv=kfold",
            "cv.folds=2",
            "hparams_search.n_trials=1",
            f"hparams_search.storage={tmp_path / 'study.log'}",
            f"hparams_search.dir={tmp_path / 'r'}",
        ]
    )
    result = json.loads((tmp_path / "r" / "digits-val_accuracy-max" / "0" / "result.json").read_text())
    folds = [f["train"]["val_accuracy"] for f in result["metrics"]["folds"]]
    assert len(folds) == 2 and study.trials[0].value == pytest.approx(statistics.mean(folds))


def test_the_dvc_pipeline_refuses_cv_in_one_line(tmp_path):
    cfg = compose(["cv=kfold"])
    params = tmp_path / "params.yaml"
    params.write_text(to_yaml(cfg))
    assert yaml.safe_load(params.read_text())["cv"]["name"] == "kfold"
    result = run(
        [sys.executable, "-m", "workflows", "stage", "prepare", "--params", str(params)], tmp_path, check=False
    )
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "cv=kfold: cross-validation runs on the direct" in lines[0]
