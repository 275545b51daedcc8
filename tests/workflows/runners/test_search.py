"""Optuna search driven by the project: pruning, a study that resumes after kill -9, two processes sharing one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run, subprocess_env

pytestmark = pytest.mark.slow

SEARCH = [sys.executable, "-m", "workflows.search"]
SMALL = ["model=mlp", "model.units=[32]", "augmentation=none", "trainer.verbose=0", "trainer.backup=false"]


def options(tmp_path, n_trials: int, epochs: int = 3, *extra: str) -> list[str]:
    return [
        *SMALL,
        f"trainer.epochs={epochs}",
        f"hparams_search.n_trials={n_trials}",
        f"hparams_search.storage={tmp_path / 'study.log'}",
        f"hparams_search.dir={tmp_path / 'runs'}",
        "hparams_search.study_name=kerasforge",
        *extra,
    ]


def load(tmp_path) -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "study.log")))
    return optuna.load_study(study_name="kerasforge", storage=storage)


def killable(command: list[str]) -> subprocess.Popen:
    """A search started quietly in a process group of its own, which `os.killpg(p.pid, SIGKILL)` ends whole."""
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def test_a_trial_behind_the_median_is_pruned_at_once_and_recorded(tmp_path):
    from workflows.runners.search import run_search

    # Three learning rates, two good and one hopeless, in the grid's (seeded) order; the median pruner may judge
    # a trial after one finished trial, from its second epoch.
    study, base = run_search(
        options(
            tmp_path,
            3,
            5,
            "hparams_search.sampler=grid",
            "hparams_search.seed=1",
            "hparams_search.n_startup_trials=1",
            "hparams_search.pruner_startup_trials=1",
            "~hparams_search.params",  # a search space of one's own on the command line: drop the YAML one, add it
            "+hparams_search.params={optimizer.learning_rate: {type: categorical, choices: [0.003, 0.002, 0.00001]}}",
        )
    )
    trials = sorted(study.trials, key=lambda t: t.number)
    assert len(trials) == 3 and all(t.state.is_finished() for t in trials)
    # The grid's order under seed 1: 0.003, then the hopeless one, judged against the first's curve.
    assert [t.params["optimizer.learning_rate"] for t in trials] == [0.003, 0.00001, 0.002]
    hopeless = trials[1]
    assert hopeless.state == optuna.trial.TrialState.PRUNED
    assert hopeless.user_attrs["epochs"] < 5
    result = json.loads((tmp_path / "runs" / "kerasforge" / str(hopeless.number) / "result.json").read_text())
    assert result["status"] == "pruned"
    assert not (tmp_path / "runs" / "kerasforge" / "1" / "models" / "model.keras").exists()  # stopped, not saved
    best = study.best_trial
    assert best.params["optimizer.learning_rate"] in (0.003, 0.002)
    ok = json.loads((tmp_path / "runs" / "kerasforge" / str(best.number) / "result.json").read_text())
    assert ok["status"] == "ok" and ok["objective"] == pytest.approx(best.value)
    assert ok["metrics"]["train"]["val_accuracy"] == pytest.approx(best.value)


def test_a_bad_search_space_is_one_line_before_any_trial(tmp_path):
    result = run([*SEARCH, *options(tmp_path, 2), "hparams_search.sampler=tpee"], ROOT, check=False)
    assert result.returncode == 2 and error_lines(result.stderr) == [
        "error: hparams_search.sampler='tpee' is unknown; did you mean 'tpe'? valid: tpe, cmaes, grid, random"
    ]
    result = run(
        [
            *SEARCH,
            *options(tmp_path, 2),
            "~hparams_search.params",
            "+hparams_search.params={optimizer.learning_rate: {type: float, low: -1.0, high: 0.1}}",
        ],
        ROOT,
        check=False,
    )
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "optimizer.learning_rate=-1.0 gives a bad config" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_pruner_and_sampler_start_up_are_separate_and_checked():
    from workflows.config.compose import compose
    from workflows.runners.search_space import search_config
    from workflows.runners.study_store import make_pruner, make_sampler

    search = search_config(
        compose(
            ["hparams_search=optuna", "hparams_search.n_startup_trials=7", "hparams_search.pruner_startup_trials=2"]
        )
    )
    assert make_pruner(search)._n_startup_trials == 2
    assert make_sampler(search)._n_startup_trials == 7
    with pytest.raises(ConfigError, match=r"hparams_search.pruner_startup_trials=-1 must be ≥ 0"):
        search_config(compose(["hparams_search=optuna", "hparams_search.pruner_startup_trials=-1"]))


def test_the_same_command_continues_a_killed_study_to_n_trials(tmp_path):
    command = [*SEARCH, *options(tmp_path, 4, 4, "hparams_search.pruner=none")]
    first = killable(command)
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(1)
        if (tmp_path / "study.log").exists():
            study = load(tmp_path)
            done = states(study).get("COMPLETE", 0)
            running = states(study).get("RUNNING", 0)
            if done >= 1 and running == 1:
                break
    os.killpg(first.pid, signal.SIGKILL)  # kill -9, in the middle of a trial
    first.wait()
    before = states(load(tmp_path))
    assert before.get("RUNNING") == 1 and before.get("COMPLETE", 0) < 4, before

    again = run(command, ROOT)
    after = states(load(tmp_path))
    assert after.get("COMPLETE") == 4 and "RUNNING" not in after, after
    assert after.get("FAIL") == 1  # the killed trial: failed, not left running, not counted
    assert json.loads(again.stdout[again.stdout.index("{") :])["trials"]["complete"] == 4


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_processes_share_one_study(tmp_path, storage):
    url = [] if storage == "journal" else [f"hparams_search.storage=sqlite:///{tmp_path / 'study.db'}"]
    if storage == "sqlite":  # the database's tables made once, as a database is set up before its workers start
        optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    command = [*SEARCH, *options(tmp_path, 4, 3, "hparams_search.pruner=none"), *url]
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-2000:]
    study = (
        load(tmp_path)
        if storage == "journal"
        else optuna.load_study(study_name="kerasforge", storage=f"sqlite:///{tmp_path / 'study.db'}")
    )
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 4 and len({t.number for t in finished}) == 4
    assert len({t.user_attrs["pid"] for t in finished}) == 2  # both processes ran trials of the one study
    assert len({tuple(sorted(t.params.items())) for t in finished}) == 4  # not the same seeded draws twice
    assert sorted(int(p.name) for p in (tmp_path / "runs" / "kerasforge").iterdir() if p.name.isdigit()) == sorted(
        t.number for t in study.trials if not t.user_attrs.get("surplus")
    )


def test_mcnemar_counts_the_examples_only_one_config_gets_right():
    from workflows.runners.confirm import Candidate, mcnemar

    a = Candidate("a", ROOT, correct=[[True] * 10 + [True], [True, False]])
    b = Candidate("b", ROOT, correct=[[False] * 10 + [True], [True, False]])
    test = mcnemar(a, b)
    assert (test["a_only"], test["b_only"]) == (10, 0)
    assert test["p_value"] == pytest.approx(2 * 0.5**10)
    assert mcnemar(a, a)["p_value"] == 1.0


def test_confirm_reruns_the_best_trials_and_the_baseline_over_seeds(tmp_path):
    from workflows.runners.confirm import confirm
    from workflows.runners.search import run_search

    run_search(
        options(
            tmp_path,
            2,
            3,
            "hparams_search.sampler=grid",
            "hparams_search.pruner=none",
            "~hparams_search.params",
            "+hparams_search.params={optimizer.learning_rate: {type: categorical, choices: [0.003, 0.0003]}}",
        )
    )
    study_dir = tmp_path / "runs" / "kerasforge"
    report = confirm(study_dir, 2, [0, 1], "confirm", tmp_path / "reports")
    facts = json.loads((tmp_path / "reports" / "confirm.json").read_text())
    assert set(facts["candidates"]) == {"trial 0", "trial 1", "baseline"}
    assert all(len(c["accuracies"]) == 2 for c in facts["candidates"].values())
    winner = max(
        ("trial 0", "trial 1"),
        key=lambda n: json.loads((study_dir / n.split()[1] / "result.json").read_text())["objective"],
    )
    comparison = facts["comparisons"][f"{winner} vs baseline"]
    # The counts are those of the rerun's own test predictions.
    hits = {}
    for name in (winner, "baseline"):
        rows = [
            json.loads(
                (
                    study_dir / "confirm" / name.replace(" ", "_") / f"seed{s}" / "eval" / "plots" / "confusion.json"
                ).read_text()
            )
            for s in (0, 1)
        ]
        hits[name] = [[r["actual"] == r["predicted"] for r in seed_rows] for seed_rows in rows]
    only = sum(x and not y for a, b in zip(hits[winner], hits["baseline"]) for x, y in zip(a, b))
    assert comparison["a_only"] == only and 0.0 <= comparison["p_value"] <= 1.0
    text = report.read_text()
    assert "McNemar exact p" in text and "seed noise" in text and "0.0003" in text


def test_two_objectives_give_a_pareto_front_each_a_command(tmp_path):
    from workflows.runners.search import plot_pareto, run_search, summary

    study, base = run_search(
        options(
            tmp_path,
            3,
            2,
            "hparams_search.sampler=grid",
            "hparams_search.pruner=none",
            "hparams_search.metric=[val_accuracy,params]",
            "hparams_search.direction=[maximize,minimize]",
            "~hparams_search.params",
            "+hparams_search.params={model.units: {type: categorical, choices: ['[8]', '[64]', '[256]']}}",
        )
    )
    facts = summary(study, base)
    front = facts["pareto_front"]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 3 and {t.params["model.units"] for t in done} == {"[8]", "[64]", "[256]"}
    # Parameter counts grow with the width: the smallest model is on the front; nothing on it is dominated.
    smallest = min(done, key=lambda t: t.values[1])
    assert smallest.number in {p["trial"] for p in front}
    for p in front:
        assert not any(t.values[0] >= p["values"][0] and t.values[1] < p["values"][1] for t in done)
        assert f"-S 'model.units={p['params']['model.units']}'" in p["command"]
    plot_pareto(study, ["val_accuracy", "params"], tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    # The report of the search directory finds the same front from the trials' result.json, and draws it.
    from workflows.reporting.report import pareto_from_results

    assert sorted(pareto_from_results(tmp_path / "runs" / "kerasforge", tmp_path / "r" / "p.png")) == sorted(
        p["trial"] for p in front
    )
    assert (tmp_path / "r" / "p.png").exists()


def postgres_url() -> str:
    """The test server's URL (.ci/postgres.sh sets it up on 127.0.0.1); CI must have it, a developer may not."""
    url = os.environ.get(
        "KERASFORGE_TEST_POSTGRES", "postgresql://kerasforge:kerasforge@127.0.0.1:5432/kerasforge_test"
    )
    import sqlalchemy

    try:
        sqlalchemy.create_engine(url).connect().close()
    except Exception as err:  # noqa: BLE001 — no server here
        if os.environ.get("CI"):
            pytest.fail(f"CI has no PostgreSQL at {url} ({type(err).__name__}); .ci/run starts it (.ci/postgres.sh)")
        pytest.skip(f"no PostgreSQL at {url}: run `bash .ci/postgres.sh` (as root) to set one up")
    return url


def test_two_processes_share_a_postgresql_study_and_a_killed_one_loses_no_trial(tmp_path):
    """The README's search across machines, on a real PostgreSQL server: two workers share one study; one is killed
    with SIGKILL in the middle of a trial; the other runs its trial again, and the study ends with n_trials."""
    import uuid

    url, name = postgres_url(), f"pg-{uuid.uuid4().hex[:8]}"
    optuna.storages.RDBStorage(url)  # the tables, made once, as a database is set up before its workers start
    command = [
        *SEARCH,
        *options(tmp_path, 4, 3, "hparams_search.pruner=none"),
        f"hparams_search.storage={url}",
        f"hparams_search.study_name={name}",
    ]
    victim = killable(command)
    survivor = subprocess.Popen(
        command, cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline, killed = time.time() + 300, None
        while time.time() < deadline and killed is None:
            time.sleep(0.5)
            try:
                trials = optuna.load_study(study_name=name, storage=url).trials
            except KeyError:
                continue  # not created yet
            mine = [t for t in trials if t.user_attrs.get("pid") == victim.pid and t.state.name == "RUNNING"]
            if mine and any(t.state.name == "COMPLETE" for t in trials):
                os.killpg(victim.pid, signal.SIGKILL)  # kill -9 in the middle of its trial
                killed = mine[0].number
        assert killed is not None, "the victim never ran a trial"
        victim.wait()
        _, err = survivor.communicate(timeout=600)
        assert survivor.returncode == 0, err[-2000:]
    finally:
        for proc in (victim, survivor):
            if proc.poll() is None:
                proc.kill()
    study = optuna.load_study(study_name=name, storage=url)
    by_state = states(study)
    assert by_state.get("COMPLETE") == 4 and "RUNNING" not in by_state, by_state
    assert study.trials[killed].state == optuna.trial.TrialState.FAIL  # the killed trial: failed, not counted
    values = [tuple(sorted(t.params.items())) for t in study.trials if t.state.name == "COMPLETE"]
    assert len(set(values)) == 4  # each trial its own values, whichever process drew them
    optuna.delete_study(study_name=name, storage=url)
