"""Sweeps: DVC's experiment queue, Hydra grids and Optuna search on the direct CLI, failed trials, reports."""

from __future__ import annotations

import json
import sys
import time

import pytest

from tests.conftest import ROOT, TINY, TINY_DEFAULTS, error_lines, make_project_copy, run
from workflows.runners.sweep import expand

pytestmark = pytest.mark.slow
DVC = [sys.executable, "-m", "dvc"]
TRAIN = [sys.executable, "-m", "workflows.train"]


def test_expand_makes_the_grid():
    assert expand(["optimizer=adam,sgd", "trainer.batch_size=32,64", "trainer.epochs=1"]) == [
        ["optimizer=adam", "trainer.batch_size=32", "trainer.epochs=1"],
        ["optimizer=adam", "trainer.batch_size=64", "trainer.epochs=1"],
        ["optimizer=sgd", "trainer.batch_size=32", "trainer.epochs=1"],
        ["optimizer=sgd", "trainer.batch_size=64", "trainer.epochs=1"],
    ]
    assert expand(["optimizer.learning_rate=tag(log, interval(0.001, 0.1))", "model=mlp"]) == [["model=mlp"]]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A 2×1 grid with a third, failing, trial: `cnn` cannot take tabular rows."""
    sweep_dir = tmp_path_factory.mktemp("multirun")
    result = run(
        [
            *TRAIN,
            "-m",
            "trainer=fast",
            "data=diabetes",
            "loss=mse",
            "augmentation=none",
            "model=mlp,linear,cnn",
            "trainer.seed=0",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        ROOT,
    )
    return sweep_dir, result


def test_hydra_grid_runs_every_combination_and_survives_a_failed_trial(grid):
    sweep_dir, result = grid
    outcomes = {int(p.parent.name): json.loads(p.read_text()) for p in sweep_dir.glob("*/result.json")}
    assert sorted(outcomes) == [0, 1, 2]
    assert [outcomes[i]["status"] for i in range(3)] == ["ok", "ok", "failed"]
    assert "model 'cnn' needs images" in outcomes[2]["error"]
    assert "trial failed" in result.stderr
    assert (sweep_dir / "0" / "models" / "model.keras").exists()


def test_a_bad_grid_value_fails_before_any_trial(tmp_path):
    result = run(
        [*TRAIN, "-m", *TINY, "optimizer=adam,adamm", f"hydra.sweep.dir={tmp_path / 'sweep'}"], ROOT, check=False
    )
    assert result.returncode == 2
    assert error_lines(result.stderr)[-1].startswith("error: unknown optimizer option 'adamm'")
    assert not (tmp_path / "sweep").exists()


def test_report_from_a_multirun_directory(grid, tmp_path):
    sweep_dir, _ = grid
    run([sys.executable, "-m", "workflows.report", str(sweep_dir), "--name", "grid", "--out", str(tmp_path)], ROOT)
    text = (tmp_path / "grid.md").read_text()
    assert "test r2" in text and "1, 1 failed" not in text
    assert "| 1 failed |" in text and "Failed runs:" in text and "needs images" in text
    assert (tmp_path / "grid_bars.png").exists() and (tmp_path / "grid.png").exists()


def test_joblib_launcher_runs_trials_in_parallel_processes(tmp_path):
    sweep_dir = tmp_path / "joblib"
    result = run(
        [
            *TRAIN,
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            *TINY,
            "optimizer=adam,sgd",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        ROOT,
    )
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    outcomes = {int(p.parent.name): json.loads(p.read_text()) for p in sweep_dir.glob("*/result.json")}
    assert sorted(outcomes) == [0, 1] and all(o["status"] == "ok" for o in outcomes.values())
    assert all((sweep_dir / str(i) / "models" / "model.keras").exists() for i in outcomes)


def test_the_multirun_spelling_of_a_search_still_works(tmp_path):
    """`python -m workflows.train -m hparams_search=optuna …` (the sweeper's spelling) runs workflows.search."""
    result = run(
        [
            *TRAIN,
            "-m",
            "hparams_search=optuna",
            *TINY,
            "hparams_search.n_trials=3",
            "hparams_search.n_startup_trials=2",
            f"hparams_search.storage={tmp_path / 'study.log'}",
            f"hparams_search.dir={tmp_path / 'runs'}",
        ],
        ROOT,
    )
    outcomes = [
        json.loads(p.read_text()) for p in (tmp_path / "runs" / "digits-val_accuracy-max").glob("*/result.json")
    ]
    assert len(outcomes) == 3 and all(o["status"] in ("ok", "pruned") for o in outcomes)
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert {"optimizer.learning_rate", "trainer.batch_size", "optimizer.weight_decay"} <= set(summary["best_params"])
    assert summary["best_value"] == pytest.approx(max(o["objective"] for o in outcomes if o["status"] == "ok"))
    # The winner as one DVC command: the search's optimizer choice, the command line's values, the trial's.
    assert summary["command"].startswith("dvc exp run ")
    assert "-S optimizer=adamw" in summary["command"] and "-S model=mlp" in summary["command"]
    assert f"-S trainer.batch_size={summary['best_params']['trainer.batch_size']}" in summary["command"]


def test_dvc_queue_runs_a_grid_and_exp_show_and_report_present_it(tmp_path):
    repo = make_project_copy(tmp_path / "project", TINY_DEFAULTS)
    run([*DVC, "exp", "run", "-S", "optimizer=adam,sgd", "-S", "trainer.batch_size=64", "--queue"], repo)
    run([*DVC, "queue", "start", "-j", "2"], repo)
    deadline = time.time() + 300
    while time.time() < deadline:
        status = run([*DVC, "queue", "status"], repo).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert status.count("Success") == 2, status
    shown = json.loads(run([*DVC, "exp", "show", "--json"], repo).stdout)
    text = json.dumps(shown)
    assert '"name": "sgd"' in text and '"name": "adam"' in text and "eval/metrics.json" in text
    run([sys.executable, "-m", "workflows.report", "--dvc", str(repo), "--name", "exps", "--out", str(tmp_path)], ROOT)
    report = (tmp_path / "exps.md").read_text()
    assert "`optimizer.name=adam" in report and "`optimizer.name=sgd" in report and "test accuracy" in report
