"""A search's data-free checks, before its first trial: the metric against the task, the study's identity and space,
its storage; and the bounds on failing trials."""

from __future__ import annotations

import json
import sys

import optuna
import pytest

from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run
from workflows.config.compose import compose
from workflows.runners.search import check_failures
from workflows.runners.search_space import search_config
from workflows.runners.study_store import open_study, reseed, storage_of, trial_seed

REGRESSION = ["hparams_search=optuna", "data=diabetes", "model=mlp", "loss=mse"]
SEARCH = [sys.executable, "-m", "workflows.search"]

# What a command imported by the time it failed: a check that needs no data must not start TensorFlow.
IMPORTED = """
import sys
from workflows.runners.search import main
code = main(sys.argv[1:])
print("exit", code, "tensorflow" in sys.modules, file=sys.stderr)
"""


def test_the_default_metric_and_direction_follow_the_task():
    regression = search_config(compose(REGRESSION))
    assert (regression.metric, regression.direction) == (["val_loss"], ["minimize"])
    classes = search_config(compose(["hparams_search=optuna"]))
    assert (classes.metric, classes.direction) == (["val_accuracy"], ["maximize"])
    # Studies are named by what they optimize: two searches of other objectives never share one.
    assert regression.study_name == "diabetes-val_loss-min" and classes.study_name == "digits-val_accuracy-max"
    loss = search_config(compose(["hparams_search=optuna", "hparams_search.metric=val_loss"]))
    assert loss.direction == ["minimize"] and loss.study_name == "digits-val_loss-min"


def test_a_metric_the_task_lacks_is_one_line_before_tensorflow(tmp_path):
    result = run(
        [
            sys.executable,
            "-c",
            IMPORTED,
            *REGRESSION[1:],
            "hparams_search.metric=val_accuracy",
            f"hparams_search.dir={tmp_path}",
        ],
        ROOT,
        check=False,
    )
    lines = error_lines(result.stderr)
    assert lines[0].startswith("error: hparams_search.metric='val_accuracy' is not a metric of a regression run; ")
    assert "val_loss" in lines[0] and lines[1:] == ["exit 2 False"], lines
    assert not list(tmp_path.iterdir())  # no trial started


def test_a_test_metric_cannot_be_pruned_on():
    with pytest.raises(ConfigError, match=r"metric='r2' is known only once a trial has ended.*pruner=none"):
        search_config(compose([*REGRESSION, "hparams_search.metric=r2"]))
    assert search_config(
        compose([*REGRESSION, "hparams_search.metric=r2", "hparams_search.pruner=none"])
    ).direction == ["maximize"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{type: float, low: 0.0, high: 0.1, log: true}", "Optuna refuses it"),
        ("{type: float, low: 0.001, high: 0.1, log: true, step: 0.01}", "Optuna refuses it"),
    ],
)
def test_optuna_rules_for_a_space_are_checked_before_any_trial(spec, message):
    with pytest.raises(ConfigError, match=message):
        search_config(
            compose(
                [
                    "hparams_search=optuna",
                    "~hparams_search.params",
                    f"+hparams_search.params={{optimizer.learning_rate: {spec}}}",
                ]
            )
        )


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("postgresql//nohost", r"neither a database URL .* a URL needs '://', e.g. postgresql://"),
        ("redis://localhost/0", r"'redis://' is not a database URL Optuna takes"),
        ("study.journal", r"neither a database URL \(scheme://…\) nor a journal file path ending in .log"),
    ],
)
def test_a_storage_that_is_not_one_is_refused(storage, message):
    with pytest.raises(ConfigError, match=message):
        search_config(compose(["hparams_search=optuna", f"hparams_search.storage={storage}"]))


def test_storage_that_cannot_be_opened_is_one_line(tmp_path):
    missing = search_config(
        compose(["hparams_search=optuna", f"hparams_search.storage=sqlite:///{tmp_path}/no/such/dir/s.db"])
    )
    with pytest.raises(ConfigError, match=r"cannot be opened: OperationalError"):
        storage_of(missing)
    garbage = tmp_path / "garbage.log"
    garbage.write_text('this is not a journal\n{"op_code": 99}\n')
    journal = search_config(compose(["hparams_search=optuna", f"hparams_search.storage={garbage}"]))
    with pytest.raises(ConfigError, match=r"cannot be opened"):
        open_study(journal)


def test_a_study_reused_with_another_objective_or_space_is_refused(tmp_path):
    base = ["hparams_search=optuna", f"hparams_search.storage={tmp_path / 's.log'}", "hparams_search.study_name=s"]
    first = search_config(compose(base))
    study = open_study(first)
    study.add_trial(
        optuna.trial.create_trial(
            params={"trainer.batch_size": 32},
            value=0.9,
            distributions={"trainer.batch_size": optuna.distributions.CategoricalDistribution([32, 64, 128])},
        )
    )
    assert open_study(first).user_attrs["metrics"] == ["val_accuracy"]  # the same search continues it
    with pytest.raises(
        ConfigError,
        match=r"study 's' optimizes val_accuracy \(maximize\), but this search asks for "
        r"val_loss \(minimize\)",
    ):
        open_study(search_config(compose([*base, "hparams_search.metric=val_loss"])))
    with pytest.raises(ConfigError, match=r"asks for val_accuracy \(minimize\)"):
        open_study(search_config(compose([*base, "hparams_search.direction=minimize"])))
    with pytest.raises(ConfigError, match=r"params.trainer.batch_size: study 's' sampled it from another space"):
        open_study(
            search_config(
                compose(
                    [
                        *base,
                        "~hparams_search.params",
                        "+hparams_search.params={trainer.batch_size: {type: categorical, choices: [16, 32]}}",
                    ]
                )
            )
        )


def test_trials_draw_by_their_number_not_by_the_process():
    # Two processes (or a restart) each start a sampler with the same seed; trial k's draw depends on k alone.
    def draw(number: int, sampler) -> float:
        reseed(sampler, trial_seed(0, number))
        return sampler._random_sampler._rng.rng.uniform()

    one, other = optuna.samplers.TPESampler(seed=0), optuna.samplers.TPESampler(seed=0)
    firsts = [draw(k, one) for k in range(4)]
    assert len(set(firsts)) == 4  # each trial its own draw
    assert [draw(k, other) for k in (2, 3)] == firsts[2:]  # reproducible by number, whoever runs it


def test_failed_trials_are_bounded(tmp_path):
    search = search_config(compose(["hparams_search=optuna", "hparams_search.n_trials=10"]))
    check_failures(["E: a", "E: b", "E: a"], search, tmp_path)  # different errors: the search goes on
    with pytest.raises(ConfigError, match=r"3 trials in a row failed with the same error \(E: a\)"):
        check_failures(["E: b", "E: a", "E: a", "E: a"], search, tmp_path)
    with pytest.raises(ConfigError, match=r"11 trials failed"):
        check_failures([f"E: {k}" for k in range(11)], search, tmp_path)


@pytest.mark.slow
def test_a_search_whose_trials_all_fail_stops_with_one_line(tmp_path):
    # Each trial fails at training (class weights on a regression: known once the data is read), the same way.
    result = run(
        [
            *SEARCH,
            *REGRESSION[1:],
            "trainer.class_weight=balanced",
            "trainer.epochs=1",
            "augmentation=none",
            "hparams_search.n_trials=20",
            f"hparams_search.storage={tmp_path / 's.log'}",
            f"hparams_search.dir={tmp_path / 'runs'}",
            "hparams_search.study_name=s",
        ],
        ROOT,
        check=False,
        timeout=300,
    )
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and lines[-1].startswith("error: the search stopped: 3 trials in a row failed"), lines
    assert "trainer.class_weight weights classes" in lines[-1]
    results = sorted((tmp_path / "runs" / "s").glob("*/result.json"))
    assert len(results) == 3 and all(json.loads(r.read_text())["status"] == "failed" for r in results)


PENGUINS = __import__("pathlib").Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"


def table_search(path, target: str, *more: str):
    return search_config(
        compose(["hparams_search=optuna", "data=csv", f"data.path={path}", f"data.target={target}", *more])
    )


def test_two_tables_never_share_a_default_study_and_a_named_one_refuses_other_data(tmp_path):
    """Every table's `data.name` is `csv`: a search of B.csv reported A.csv's winner from A's study."""
    a, b = tmp_path / "A.csv", tmp_path / "B.csv"
    lines = PENGUINS.read_text().splitlines()
    a.write_text("\n".join(lines) + "\n")
    b.write_text("\n".join(lines[:200]) + "\n")
    first, second = table_search(a, "species"), table_search(b, "species")
    assert first.study_name.startswith("csv-A-") and second.study_name.startswith("csv-B-")
    assert first.study_name != second.study_name and first.data != second.data
    assert table_search(a, "species").study_name == first.study_name  # the same data continues its study
    assert table_search(a, "island").data != first.data  # another target: other data
    a.write_text("\n".join(lines[:300]) + "\n")  # the file's content changes under the same name
    assert table_search(a, "species").study_name != first.study_name
    named = [f"hparams_search.storage={tmp_path / 's.log'}", "hparams_search.study_name=mine"]
    open_study(table_search(a, "species", *named))
    with pytest.raises(ConfigError, match=r"study 'mine' searched other data .*hparams_search.study_name"):
        open_study(table_search(b, "species", *named))


def test_a_regression_table_is_searched_on_its_validation_loss_from_a_sample_of_its_target(tmp_path):
    """With data=csv the task is known only once the file is read: the metric stayed val_accuracy and every trial
    failed."""
    search = table_search(PENGUINS, "body_mass_g")
    assert (search.metric, search.direction) == (["val_loss"], ["minimize"])
    assert table_search(PENGUINS, "species").metric == ["val_accuracy"]
    with pytest.raises(ConfigError, match="hparams_search.metric='val_accuracy' is not a metric of a regression run"):
        table_search(PENGUINS, "body_mass_g", "hparams_search.metric=val_accuracy")


def test_a_trial_left_running_by_a_dead_process_on_another_host_is_taken_over(tmp_path):
    """A search resumed in a new container waited forever for a trial a killed process had left RUNNING."""
    import time

    from workflows.runners.study_store import GRACE_SECONDS, fail_dead_trials, heartbeat, wait_for_others

    search = search_config(
        compose(["hparams_search=optuna", f"hparams_search.storage={tmp_path / 's.log'}", "hparams_search.n_trials=1"])
    )
    study = open_study(search)
    dead = study.ask()
    dead.set_user_attr("host", "a-container-that-is-gone")
    dead.set_user_attr("pid", 1)
    dead.set_user_attr("heartbeat", time.time() - GRACE_SECONDS - 1)
    alive_elsewhere = study.ask()
    alive_elsewhere.set_user_attr("host", "another-machine")
    alive_elsewhere.set_user_attr("heartbeat", time.time())
    assert fail_dead_trials(study) == 1
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states == {0: optuna.trial.TrialState.FAIL, 1: optuna.trial.TrialState.RUNNING}
    study.tell(alive_elsewhere, 0.5)
    assert wait_for_others(study, search, poll=0.01) is False  # nothing running: the search ends
    beating = study.ask()
    with heartbeat(beating, every=0.05):
        time.sleep(0.3)
    last = study.get_trials(deepcopy=False)[-1].user_attrs["heartbeat"]
    assert time.time() - last < 0.3  # recorded while the trial ran
