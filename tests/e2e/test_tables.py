"""A real published table end to end, as a user brings it: Palmer penguins, strings and `NA` cells included.

`kerasforge train data=csv data.path=penguins.csv data.target=…` alone: the table model, the loss of the
inferred task, the encoding inside the saved model, metrics in the target's units, the gradient-boosting
baseline beside them; then the saved model on raw rows — through `predict`, plain Keras and the SavedModel.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import NO_PROJECT, ROOT, run

pytestmark = pytest.mark.slow

PENGUINS = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
CLI = [sys.executable, "-m", "workflows"]


@pytest.fixture(scope="module")
def species(tmp_path_factory):
    base = tmp_path_factory.mktemp("penguins")
    shutil.copy(PENGUINS, base / "penguins.csv")
    args = ["data=csv", "data.path=penguins.csv", "data.target=species", "trainer.verbose=0"]
    run([*CLI, "train", *args, f"hydra.run.dir={base / 'run'}"], base)
    return base


def test_the_defaults_fit_a_table_and_stand_beside_gradient_boosting(species):
    run_dir = species / "run"
    config = (run_dir / "config.yaml").read_text()
    assert "name: tabm" in config and "name: auto" in config  # chosen by data=csv, not typed by the user
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    baseline = metrics["baseline"]
    # The strongest on validation of gradient boosting and logistic regression, both reported on the test rows
    assert set(baseline["candidates"]) == {"hist_gradient_boosting", "logistic_regression"}
    best = max(baseline["candidates"], key=lambda name: baseline["candidates"][name]["val_accuracy"])
    assert metrics["accuracy"] >= 0.95 and baseline["model"] == best
    assert baseline["accuracy"] == baseline["candidates"][best]["accuracy"] >= 0.9
    assert baseline["verdict"] in ("better", "worse", "tie") and baseline["headline"] == "accuracy"
    assert 0 <= baseline["p_value"] <= 1 and baseline["test"] == "mcnemar_exact"
    card = json.loads((run_dir / "models" / "model.json").read_text())
    assert card["training"]["linear_fit"] == {}  # the default fits no linear model (model.linear_fit)
    described = {c["column"]: c["type"] for c in card["columns"]}
    assert described["island"] == described["sex"] == "category" and described["body_mass_g"] == "number"
    shown = run([*CLI, "show", str(run_dir / "eval" / "metrics.json")], ROOT).stdout
    assert f"baseline {best}: accuracy" in shown and baseline["verdict"] in shown
    assert "the strongest on validation of" in shown and "logistic_regression" in shown


def new_rows(path: Path) -> Path:
    """Three rows as a user has them: an island never seen, blanks, another column order, an extra column."""
    rows = pd.read_csv(PENGUINS, keep_default_na=False).iloc[[0, 1, 300]].copy()
    rows.iloc[0, rows.columns.get_loc("island")] = "Atlantis"
    rows.iloc[1, rows.columns.get_loc("bill_length_mm")] = "NA"
    rows.iloc[1, rows.columns.get_loc("sex")] = ""
    rows = rows.assign(comment="seen at dawn")[["comment", *reversed(list(rows.columns))]]
    rows.to_csv(path, index=False)
    return path


def test_predict_takes_raw_rows_as_a_user_has_them(species, tmp_path):
    table = new_rows(tmp_path / "new.csv")
    run(
        [*CLI, "predict", str(table), "--model", str(species / "run" / "models"), "--out", str(tmp_path / "p.csv")],
        ROOT,
    )
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out["input"]) == [1, 2, 3] and out["prediction"].isin(["Adelie", "Chinstrap", "Gentoo"]).all()
    assert out[["p_Adelie", "p_Chinstrap", "p_Gentoo"]].sum(axis=1).round(4).eq(1).all()


PLAIN_KERAS = (
    NO_PROJECT
    + """
import keras, numpy as np, tensorflow as tf
m = keras.models.load_model(sys.argv[1], safe_mode=True)
rows = {"island": [["Biscoe"], ["Atlantis"]], "sex": [["female"], [""]], "bill_length_mm": [[46.5], [np.nan]],
        "bill_depth_mm": [[13.5], [18.0]], "flipper_length_mm": [[210.0], [190.0]],
        "body_mass_g": [[4550.0], [3700.0]], "year": [[2009.0], [2008.0]]}
p = m({k: tf.constant(v) for k, v in rows.items()}).numpy()
print(p.shape, bool(np.isfinite(p).all()), int(p[0].argmax()))
"""
)


def test_plain_keras_and_the_saved_model_take_raw_rows(species, tmp_path):
    model = species / "run" / "models" / "model.keras"
    result = run([sys.executable, "-I", "-c", PLAIN_KERAS, str(model)], tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "(2, 3) True 2"  # a Biscoe female of 4.5 kg: a Gentoo
    run([*CLI, "export", "--root", str(species / "run")], ROOT)
    check = json.loads((species / "run" / "models" / "export" / "check.json").read_text())
    assert check["saved_model"]["signature"] == "serving_default"  # one raw input per column
    assert check["saved_model"]["accuracy"] == check["keras"]["accuracy"]
    assert check["saved_model"]["max_abs_diff"] < 1e-4 and check["tflite"]["signature"] == "encoded_rows"


def test_a_regression_is_reported_in_the_targets_units_beside_the_baseline(tmp_path):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    args = ["data=csv", "data.path=penguins.csv", "data.target=body_mass_g", "trainer.verbose=0"]
    run([*CLI, "train", *args, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    # Grams: the standardized loss is below 1, the errors are hundreds of grams (body mass: 2.7–6.3 kg).
    assert metrics["loss"] < 1 and 100 < metrics["mae"] < 600 and metrics["rmse"] >= metrics["mae"]
    assert metrics["r2"] > 0.7 and 100 < metrics["baseline"]["mae"] < 600
    # The verdict follows the headline RMSE: a paired test on the squared errors, beside the numbers
    assert metrics["baseline"]["test"] == "paired_permutation_squared_errors"
    assert metrics["baseline"]["headline"] == "rmse" and metrics["baseline"]["model_value"] == pytest.approx(
        metrics["rmse"]
    )
    assert set(metrics["baseline"]["candidates"]) == {"hist_gradient_boosting", "ridge"}
    points = json.loads((tmp_path / "run" / "eval" / "plots" / "predictions.json").read_text())
    assert min(p["actual"] for p in points) > 2000
    residuals = json.loads((tmp_path / "run" / "eval" / "plots" / "residuals.json").read_text())
    assert [r["residual"] for r in residuals] == pytest.approx([p["actual"] - p["predicted"] for p in points], abs=1e-3)
    worst = pd.read_csv(tmp_path / "run" / "eval" / "plots" / "mistakes.csv")  # the largest errors, in grams
    assert list(worst["error"].abs()) == sorted(worst["error"].abs(), reverse=True)
    assert worst["error"].abs().iloc[0] == pytest.approx(max(abs(r["residual"]) for r in residuals), rel=1e-3)


def test_a_search_on_a_table_reports_the_baseline_beside_every_trial(tmp_path):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    run(
        [
            *CLI,
            "search",
            "data=csv",
            "data.path=penguins.csv",
            "data.target=species",
            "trainer.epochs=3",
            "trainer.verbose=0",
            "hparams_search.n_trials=2",
            f"hparams_search.storage={tmp_path / 'study.log'}",
            f"hparams_search.dir={tmp_path / 'runs'}",
        ],
        tmp_path,
    )
    (study,) = (tmp_path / "runs").iterdir()  # named by what it optimizes: csv-val_accuracy-max
    results = [json.loads(p.read_text()) for p in study.glob("*/result.json")]
    assert len(results) == 2 and all("verdict" in r["metrics"]["baseline"] for r in results)
    run([*CLI, "report", str(study), "--out", str(tmp_path / "reports")], tmp_path)
    text = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "hist_gradient_boosting test accuracy" in text and "verdicts better/tie/worse" in text


def test_the_mistakes_name_the_users_lines(species):
    mistakes = pd.read_csv(species / "run" / "eval" / "plots" / "mistakes.csv")
    table = pd.read_csv(PENGUINS)
    for _, row in mistakes.iterrows():  # "line N": the file's line N (the header is line 1)
        assert table.loc[int(row["example"].split()[1]) - 2, "species"] == row["actual"] != row["predicted"]
    assert list(mistakes["p_predicted"]) == sorted(mistakes["p_predicted"], reverse=True)


def test_a_column_that_leaks_the_target_ranks_first(tmp_path):
    """A leak planted in a real table: the body mass again, in kilograms with a little noise (the classic leak of
    the target under another name); the other columns explain ~80 % of it."""
    table = pd.read_csv(PENGUINS)
    noise = np.random.default_rng(0).normal(0, 0.02, len(table))
    table["mass_kg"] = (table["body_mass_g"] / 1000 + noise).round(3)
    table.to_csv(tmp_path / "leaky.csv", index=False)
    args = ["data=csv", "data.path=leaky.csv", "data.target=body_mass_g", "trainer.verbose=0"]
    run([*CLI, "train", *args, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    importance = pd.read_csv(tmp_path / "run" / "eval" / "plots" / "importance.csv")
    assert importance["feature"].iloc[0] == "mass_kg", importance
    assert set(importance["feature"]) == {c for c in table.columns if c != "body_mass_g"}  # one row per file column
    assert importance["importance"].iloc[0] > 3 * importance["importance"].iloc[1]
    assert (tmp_path / "run" / "eval" / "plots" / "importance.png").is_file()
