"""A trial's result.json: one writer for sweeps and searches; a failed trial is recorded, a fatal error stops."""

from __future__ import annotations

import errno
import json

import pytest

from workflows.runners.outcome import attempt, is_fatal, record


def test_a_trial_that_runs_returns_its_metrics_and_writes_nothing_yet(tmp_path):
    metrics, error = attempt(tmp_path, lambda: {"accuracy": 0.9}, values={"lr": 0.1})
    assert metrics == {"accuracy": 0.9} and error is None and not (tmp_path / "result.json").exists()
    record(tmp_path, "ok", objective=0.9, metrics=metrics)
    assert json.loads((tmp_path / "result.json").read_text()) == {"status": "ok", "objective": 0.9, "metrics": metrics}


def test_a_trials_own_failure_is_recorded_and_the_runner_goes_on(tmp_path):
    def diverges():
        raise ValueError("training diverged: loss is nan after epoch 2\nmore lines")

    metrics, error = attempt(tmp_path, diverges, values={"lr": 10.0})
    assert metrics is None and error == "ValueError: training diverged: loss is nan after epoch 2"
    result = json.loads((tmp_path / "result.json").read_text())
    assert result == {"status": "failed", "error": error, "values": {"lr": 10.0}}


@pytest.mark.parametrize("err", [OSError(errno.ENOSPC, "No space left on device"), MemoryError("out of memory")])
def test_the_machines_failure_is_recorded_then_stops_the_runner(tmp_path, err):
    def fails():
        raise err

    assert is_fatal(err)
    with pytest.raises(type(err)):
        attempt(tmp_path, fails, values={"lr": 0.1})
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "fatal"


def test_what_the_caller_handles_itself_passes_through_unrecorded(tmp_path):
    class Pruned(Exception):
        pass

    def pruned():
        raise Pruned("trial 3 pruned at epoch 1")

    with pytest.raises(Pruned):
        attempt(tmp_path, pruned, (Pruned,))
    assert not (tmp_path / "result.json").exists()
    assert not is_fatal(OSError(errno.ENOENT, "no such file"))
