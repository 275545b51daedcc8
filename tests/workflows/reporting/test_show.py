"""`python -m workflows.show`: the metrics, and whether this run computed them."""

from __future__ import annotations

import json
import os
import sys

from tests.conftest import ROOT, error_lines, run

SHOW = [sys.executable, "-m", "workflows.show"]


def test_show_says_whether_the_metrics_were_computed_in_this_run(tmp_path):
    metrics, stamp = tmp_path / "metrics.json", tmp_path / "run-started"
    metrics.write_text(json.dumps({"accuracy": 0.5, "latency_ms": 1.0}))
    stamp.touch()
    os.utime(metrics, (stamp.stat().st_mtime - 60,) * 2)  # written before this run began: DVC skipped evaluate
    skipped = run([*SHOW, str(metrics), "--since", str(stamp)], ROOT).stdout.splitlines()
    assert skipped[0].split() == ["accuracy", "0.5000"]
    assert skipped[-1].startswith("not recomputed in this run: DVC skipped evaluate")
    assert "latency and throughput included" in skipped[-1] and "dvc repro -f evaluate" in skipped[-1]
    os.utime(metrics, (stamp.stat().st_mtime + 1,) * 2)  # written by this run
    assert (
        run([*SHOW, str(metrics), "--since", str(stamp)], ROOT)
        .stdout.splitlines()[-1]
        .startswith("computed in this run, on this machine")
    )
    assert "measured on the machine that wrote it" in run([*SHOW, str(metrics)], ROOT).stdout


def test_a_corrupt_metrics_file_is_one_line(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"accuracy": 0.')
    result = run([*SHOW, str(metrics)], ROOT, check=False)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1
    assert "is not a metrics file" in result.stderr and "dvc repro -f evaluate" in result.stderr


def test_make_run_passes_the_stamp():
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun: install\n")[1].split("\n\n")[0]
    assert "touch .kerasforge/run-started" in run_recipe.splitlines()[0]
    assert "workflows.show --since .kerasforge/run-started" in run_recipe


def test_the_baseline_line_gives_both_values_and_any_candidate_better_on_the_test_rows():
    """'tie' was printed beside a 36 % worse RMSE without the numbers; a reference chosen on validation can be weaker
    on the test rows than another candidate, which is said."""
    from workflows.reporting.show import baseline_line

    table = {
        "rmse": 32909.0,
        "baseline": {
            "model": "hist_gradient_boosting",
            "headline": "rmse",
            "model_value": 32909.0,
            "baseline_value": 24220.0,
            "difference": 0.3587,
            "verdict": "worse",
            "test": "paired_permutation_squared_errors",
            "p_value": 0.001,
            "candidates": {"hist_gradient_boosting": {"rmse": 24220.0}, "ridge": {"rmse": 26000.0}},
        },
    }
    line = baseline_line(table)
    assert "rmse 3.291e+04 vs 2.422e+04 (+35.9%) — worse" in line and "the strongest on validation of" in line
    assert "does better" not in line
    series = {"baseline": {**table["baseline"], "model": "ridge", "headline": "mae", "model_value": 0.96}}
    series["baseline"].update(baseline_value=1.78, candidates={"ridge": {"mae": 1.78}, "seasonal_naive": {"mae": 1.39}})
    assert "on these test rows seasonal_naive does better: mae 1.39" in baseline_line(series)
