"""The comparison report read as a person reads it: pruned is not failed, the objective and the best trial shown,
numbers rounded, pictures whole."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import ROOT, error_lines, run
from workflows.reporting.report import from_multirun, group, readable, table, write


def trial(root, number: int, status: str, lr: float, **extra) -> None:
    job = root / str(number)
    job.mkdir(parents=True)
    overrides = [f"optimizer.learning_rate={lr!r}", "trainer.batch_size=32"]
    (job / "result.json").write_text(json.dumps({"status": status, "overrides": overrides, **extra}))


@pytest.fixture
def search_dir(tmp_path):
    """A regression search's trial directories as workflows.search writes them: two complete, one pruned, one
    failed; the objective is val_loss, minimized."""
    root = tmp_path / "diabetes-val_loss-min"
    for number, loss in ((0, 0.52), (2, 0.4444194436073303)):
        metrics = {"r2": 0.3 + number / 10, "mse": loss, "loss": loss, "train": {"val_loss": loss, "val_mae": 0.5}}
        trial(
            root,
            number,
            "ok",
            0.00013198612345678 * (number + 1),
            objective=loss,
            objectives=[loss],
            objective_names=["val_loss"],
            directions=["minimize"],
            metrics=metrics,
        )
    trial(root, 1, "pruned", 0.0068240784, error="pruned after epoch 1: val_loss 0.6662")
    trial(root, 3, "failed", 0.001, error="ValueError: boom")
    return root


def test_pruned_trials_are_not_failures_and_the_best_is_marked(search_dir):
    text = table(group(from_multirun(search_dir)))
    header = text.splitlines()[0]
    assert "objective: val_loss" in header and "final val loss" in header and "val accuracy" not in header
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "trial" in line}
    best = next(name for name in rows if name.startswith("★"))
    assert "trial 2:" in best and best.endswith("(best)")  # the lowest val_loss, since the objective is minimized
    assert "| 0.4444 |" in rows[best]
    pruned = next(line for name, line in rows.items() if "trial 1:" in name)
    assert "| 1 pruned |" in pruned and "failed" not in pruned
    assert "Pruned trials (stopped by the pruner, not failures):" in text
    failed_section = text.split("Failed runs:")[1]
    assert "trial 3:" in failed_section and "trial 1:" not in failed_section


def test_numbers_in_names_are_rounded_for_reading(search_dir):
    names = [run.variant for run in from_multirun(search_dir)]
    assert "trial 0: optimizer.learning_rate=0.000132 trainer.batch_size=32" in names
    assert all("98612" not in name for name in names)
    assert [readable(v) for v in (0.000131986, 1234.5, 0.5, 7)] == ["0.000132", "1.23e+03", "0.5", "7"]


def test_the_pictures_hold_every_label(search_dir, tmp_path):
    from PIL import Image

    runs = group(from_multirun(search_dir))
    for run_ in (r for rs in runs.values() for r in rs):
        run_.curves = {"eval/loss": [(1, 0.6), (2, 0.5)]} if run_.objective else {}
    out = write("search", "a search", runs, tmp_path / "out", [])
    assert out.exists()
    bars = Image.open(tmp_path / "out" / "search_bars.png")
    curves = Image.open(tmp_path / "out" / "search.png")
    # Saved with a tight box: the figure grows to hold the long names, the axis title and the outside legend.
    assert bars.width > 7 * 120 and curves.width > 7 * 120


def test_a_corrupt_result_is_one_line(search_dir, tmp_path):
    (search_dir / "0" / "result.json").write_text('{"status": "ok", "metr')
    result = run(
        [sys.executable, "-m", "workflows.report", str(search_dir), "--out", str(tmp_path / "o")], ROOT, check=False
    )
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"error: {search_dir / '0' / 'result.json'} is not a run's result "
        "(truncated or edited); delete it, or rerun that job"
    ]


@pytest.mark.parametrize(("direction", "best"), [("maximize", ["2", "5"]), ("minimize", ["1", "4"])])
def test_confirm_takes_the_best_trials_in_the_direction_the_search_resolved(tmp_path, direction, best):
    # base.yaml leaves the direction to follow the metric (null): the trials' result.json say which way it went.
    from workflows.runners.confirm import top_trials

    (tmp_path / "base.yaml").write_text("hparams_search:\n  direction: null\n  metric: null\n")
    for number, value in ((0, 0.5), (1, 0.2), (2, 0.9), (3, 0.5), (4, 0.2), (5, 0.9)):  # ties: the earlier trial
        job = tmp_path / str(number)
        job.mkdir()
        (job / "config.yaml").write_text("trainer: {}\n")
        (job / "result.json").write_text(json.dumps({"status": "ok", "objective": value, "directions": [direction]}))
    assert [path.parent.name for _, path in top_trials(tmp_path, 2)] == best


def test_a_tables_runs_carry_the_baseline_and_its_verdicts():
    from workflows.reporting.report import Run, table

    def run(seed, accuracy, base, verdict):
        metrics = {"accuracy": accuracy, "train": {"val_accuracy": accuracy}}
        metrics["baseline"] = {"model": "hist_gradient_boosting", "accuracy": base, "verdict": verdict}
        return Run("mlp", seed, [], metrics)

    text = table({"mlp": [run(0, 0.99, 0.97, "tie"), run(1, 0.98, 0.99, "worse"), run(2, 1.0, 0.97, "tie")]})
    header, _, row = text.splitlines()[:3]
    assert "hist_gradient_boosting test accuracy" in header and "verdicts better/tie/worse" in header
    assert "0.9767 ± 0.0115 (0.9700–0.9900)" in row and row.endswith("| 0/2/1 |")
