"""Hyper-parameter search with Optuna: pruning, studies that resume and that several processes share.

    python -m workflows.search [overrides…]                      # the search space of conf/hparams_search/optuna.yaml
    python -m workflows.train -m hparams_search=optuna [overrides…]   # the same command, as it was spelled before
    python -m workflows.search hparams_search.n_trials=50 hparams_search.pruner=hyperband model=mlp

The `hparams_search` section (conf/hparams_search/optuna.yaml) holds the
search space (`params`: `{type: float|int|categorical, low, high, log,
step, choices}` per config key), the `sampler` (tpe, random, grid, cmaes),
the `pruner` (none, median, hyperband; the median pruner judges a trial once
`pruner_startup_trials` trials have finished, from its `warmup_epochs`+1-th
epoch), `n_trials` (the study's total, over
every process that shares it), `direction`, `metric` (default the
validation accuracy), `storage` and `study_name`. The section's checks live in
workflows/runners/search_space.py, the study's storage and its trials' liveness in
workflows/runners/study_store.py; this module runs the trials.

Each trial is the whole pipeline (`workflows.pipeline.run_pipeline`, as the
direct command line runs it) in `<hparams_search.dir>/<study>/<trial>/`
(with its result.json, for `workflows.report`); a Keras callback reports the
metric after every epoch, and a trial the pruner stops ends at once and is
recorded as pruned. The study lives in `storage`: by default a journal file
in the repository (`.kerasforge/optuna/<study>.log`), or a database URL
(`sqlite:///…`, `postgresql://user:pw@host/db`) that processes on several
machines share. Started again — after a `kill -9` too — the same command
continues the study until it holds `n_trials` finished trials; started in
several processes, they share it, and no trial runs twice.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugins.registry import ConfigError
from workflows.runners.search_space import (
    FAILURES_IN_A_ROW,
    SearchConfig,
    corner_overrides,
    search_config,
    suggest,
)
from workflows.runners.study_store import (
    counted,
    fail_dead_trials,
    heartbeat,
    open_study,
    reseed,
    trial_seed,
    wait_for_others,
)

if TYPE_CHECKING:
    import optuna


def PruningCallback(trial: optuna.Trial, metric: str, report: bool = True):  # noqa: N802 — a class made on first use
    """Reports `metric` to the trial after every epoch; raises optuna.TrialPruned when the pruner says stop.
    (`report=False`: counts the epochs only; Optuna prunes single-objective studies only.)"""
    import keras
    import optuna

    class Pruning(keras.callbacks.Callback):
        epochs = 0
        reported: set[int] = set()

        def on_epoch_end(self, epoch, logs=None):
            Pruning.epochs = epoch + 1
            if not report or epoch in Pruning.reported:  # cross-validation: the first fold's curve is judged
                return
            Pruning.reported.add(epoch)
            value = (logs or {}).get(metric)
            if value is None:
                raise ConfigError(
                    f"hparams_search.metric='{metric}' is not among the epoch's metrics "
                    f"({', '.join(sorted(logs or {}))})"
                )
            trial.report(float(value), epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs", epoch + 1)
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {metric} {float(value):.4f}")

    return Pruning()


def run_search(args: list[str]) -> tuple[optuna.Study, list[str]]:
    """Composes and checks the config and the search space, then runs trials until the study holds `n_trials`."""
    import optuna

    from workflows.config.compose import compose
    from workflows.config.schema import resolve

    base = [a for a in args if a not in ("-m", "--multirun")]
    if not any(a.startswith("hparams_search=") for a in base):
        base = ["hparams_search=optuna", *base]
    cfg = compose(base)
    private = cfg.get("privacy", {}).get("name") == "dp_sgd"
    if private and not any(a.startswith("privacy.baseline=") for a in base):
        base.append("privacy.baseline=false")  # trials are compared with each other, not each with a plain twin
        cfg = compose(base)
    search = search_config(cfg)
    resolve(cfg)
    if private:  # each trial is private; choosing among them is not
        print(
            "note: every trial is trained with DP-SGD at its own (ε, δ), but the search chooses among them on the "
            "validation split: that choice spends privacy on the validation rows unless they are public data",
            file=sys.stderr,
        )
    for extra in corner_overrides(search):  # every bound and choice makes a valid config, before any trial runs
        try:
            resolve(compose([*base, *extra]))
        except ConfigError as err:
            raise ConfigError(f"hparams_search.params: {extra[0].lstrip('+')} gives a bad config: {err}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(search)
    fail_dead_trials(study)
    out = Path(search.dir) / search.study_name
    from workflows.config.compose import to_yaml
    from workflows.io.atomic import write_text

    write_text(
        out / "base.yaml", to_yaml(cfg)
    )  # the config without the trials' values: the baseline to confirm against

    errors: list[str] = []  # this process's failed trials' errors, in order

    def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        if counted(study) > search.n_trials:  # another process took the last place between the check and this trial
            trial.set_user_attr("surplus", True)  # not run: recorded as failed, marked as such
            raise _NotRun("surplus")
        reseed(study.sampler, trial_seed(search.seed, trial.number))
        state, value = run_trial(trial, base, search, out / str(trial.number))
        if state == optuna.trial.TrialState.PRUNED:
            raise optuna.TrialPruned()
        if state == optuna.trial.TrialState.FAIL:
            errors.append(str(trial.user_attrs.get("error", "failed")))
            raise _NotRun("failed")
        errors.clear()
        return value

    sampler = study.sampler

    def more_to_run() -> bool:
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
            return False  # every grid point has a trial
        return counted(study) < search.n_trials

    while True:
        while more_to_run():
            # One trial per call: the count is checked again before each, so that processes sharing the study stop
            # at n_trials between them.
            trial = run_one(study, objective)
            if trial.user_attrs.get("surplus"):
                break
            check_failures(errors, search, out)
            fail_dead_trials(study)  # a sharing process killed meanwhile: its trial is run again
        if not wait_for_others(study, search):
            return study, base


def run_one(study: optuna.Study, objective) -> optuna.trial.FrozenTrial:
    """One trial of `objective` (Optuna's own loop: samplers and pruners see it as usual), with a heartbeat while it
    runs, and without Optuna's warning and traceback around a failed or interrupted trial: its one line is in its
    result.json and in the search's own error. Returns the trial as recorded."""

    fail_dead_trials(study)
    numbers: list[int] = []

    def beating(trial: optuna.Trial):
        numbers.append(trial.number)
        with heartbeat(trial):
            return objective(trial)

    quiet = _QuietFailures()
    logger = logging.getLogger("optuna.study._optimize")
    logger.addFilter(quiet)
    try:
        study.optimize(beating, n_trials=1, catch=(_NotRun,))
    finally:
        logger.removeFilter(quiet)
    return next(t for t in study.get_trials(deepcopy=False) if t.number == numbers[0])


class _QuietFailures(logging.Filter):
    """Drops Optuna's record of a trial that failed in a way the search reports itself (a failed trial, Ctrl-C)."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.exc_info[0] if record.exc_info else None
        failed = "failed" in record.getMessage()
        return not (failed and (kind is None or issubclass(kind, (_NotRun, KeyboardInterrupt))))


def check_failures(errors: list[str], search: SearchConfig, out: Path) -> None:
    """Failed trials are bounded: the same error FAILURES_IN_A_ROW times in a row, or more failures than
    `n_trials`, is a fatal error (keras-tuner's distinction: a failed trial is recorded and the search goes on; a
    fatal error stops it)."""
    last = errors[-FAILURES_IN_A_ROW:]
    if len(last) == FAILURES_IN_A_ROW and len(set(last)) == 1:
        raise ConfigError(
            f"the search stopped: {FAILURES_IN_A_ROW} trials in a row failed with the same error "
            f"({last[0]}); fix it and run the same command again, which continues the study "
            f"(each trial's result.json is in {out})"
        )
    if len(errors) > search.n_trials:
        raise ConfigError(
            f"the search stopped: {len(errors)} trials failed in a row, more than "
            f"hparams_search.n_trials={search.n_trials}; the last: {errors[-1]} (see {out}/*/result.json)"
        )


class _NotRun(Exception):
    """A trial that failed (its error is in its result.json) or was not run; Optuna records it as failed."""


def run_trial(trial: optuna.Trial, base: list[str], search: SearchConfig, out_dir: Path):
    """One trial: its sampled values as overrides, the pipeline with the pruning callback; its result.json."""
    import optuna

    from workflows.config.compose import compose
    from workflows.config.schema import resolve
    from workflows.runners.pipeline import run_pipeline

    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    values = {key: suggest(trial, key, spec) for key, spec in search.params.items()}
    overrides = [f"++{key}={value}" for key, value in values.items()]
    pruning = PruningCallback(trial, search.metric[0], report=len(search.metric) == 1)
    shown = [o.lstrip("+") for o in overrides]
    print(f"trial {trial.number}: {' '.join(shown)}", file=sys.stderr, flush=True)
    from workflows.config.compose import to_yaml
    from workflows.io.atomic import write_text
    from workflows.runners.outcome import attempt, record

    def work() -> dict[str, Any]:
        cfg = compose([*base, *overrides])
        write_text(out_dir / "config.yaml", to_yaml(cfg))
        return run_pipeline(resolve(cfg), out_dir, callbacks=[pruning])

    try:  # a failed trial is recorded and the search goes on; a fatal error is recorded and stops it
        metrics, error = attempt(out_dir, work, (optuna.TrialPruned,), values=values, overrides=shown)
    except optuna.TrialPruned as err:
        record(out_dir, "pruned", values=values, overrides=shown, epochs=type(pruning).epochs, error=str(err))
        trial.set_user_attr("epochs", type(pruning).epochs)
        print(f"trial {trial.number}: {err}", file=sys.stderr, flush=True)
        return optuna.trial.TrialState.PRUNED, None
    if metrics is None:
        trial.set_user_attr("error", str(error)[:500])
        print(f"trial {trial.number} failed: {error}", file=sys.stderr, flush=True)
        return optuna.trial.TrialState.FAIL, None
    objectives = [metric_value(metrics, name) for name in search.metric]
    if any(v is None or not math.isfinite(v) for v in objectives):
        missing = [n for n, v in zip(search.metric, objectives) if v is None]
        error = f"no metric {', '.join(missing)} in the run's metrics" if missing else "a non-finite objective"
        record(out_dir, "failed", values=values, overrides=shown, error=error)
        trial.set_user_attr("error", error)
        return optuna.trial.TrialState.FAIL, None
    trial.set_user_attr("epochs", type(pruning).epochs)
    record(
        out_dir,
        "ok",
        objective=objectives[0],
        objectives=objectives,
        objective_names=search.metric,
        directions=search.direction,
        values=values,
        overrides=shown,
        epochs=type(pruning).epochs,
        metrics=metrics,
    )
    shown_values = ", ".join(f"{n} {v:.4g}" for n, v in zip(search.metric, objectives))
    print(f"trial {trial.number}: {shown_values}", file=sys.stderr, flush=True)
    return optuna.trial.TrialState.COMPLETE, objectives[0] if len(objectives) == 1 else tuple(objectives)


def metric_value(metrics: dict[str, Any], name: str) -> float | None:
    """A trial's objective by name: a last-epoch training metric (`val_accuracy`…), else a test metric or cost
    (`accuracy`, `params`, `latency_ms`, `size_bytes`…)."""
    value = metrics.get("train", {}).get(name, metrics.get(name))
    return float(value) if isinstance(value, (int, float)) else None


def reproduce_command(base: list[str], params: dict[str, Any]) -> str:
    """One `dvc exp run -S …` command that reruns a trial's config as a DVC experiment: the group options that differ
    from conf/'s defaults (the search's own included), the command line's values, and the trial's values."""
    import shlex

    from workflows.config.compose import compose

    chosen = compose(base, hydra_config=True).hydra.runtime.choices
    defaults = compose([], hydra_config=True).hydra.runtime.choices
    sets = [
        f"{group}={option}"
        for group, option in chosen.items()
        if group in defaults and option != defaults[group] and not str(group).startswith(("hydra", "hparams"))
    ]
    groups = {s.split("=", 1)[0] for s in sets}
    sets += [
        a.lstrip("+")
        for a in base
        if "=" in a
        and not a.lstrip("+").startswith(("hparams_search", "hydra"))
        and a.split("=", 1)[0].lstrip("+") not in groups
        and a.split("=", 1)[0].lstrip("+") not in params
    ]
    sets += [f"{key}={value}" for key, value in params.items()]
    return "dvc exp run " + " ".join(f"-S {shlex.quote(s)}" for s in sets)


def summary(study: optuna.Study, base: list[str] = ()) -> dict[str, Any]:
    """The study's state: trials by state, epochs spent, and the best trial's values with a command that reruns it."""
    import optuna

    states = {s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,))) for s in optuna.trial.TrialState}
    out: dict[str, Any] = {
        "study": study.study_name,
        "trials": {k: v for k, v in states.items() if v},
        "epochs": sum(int(t.user_attrs.get("epochs", 0)) for t in study.trials),
    }
    if len(study.directions) > 1:  # several objectives: the Pareto front, each trial on it as a command
        out["pareto_front"] = [
            {
                "trial": t.number,
                "values": t.values,
                "params": t.params,
                "command": reproduce_command(list(base), t.params),
            }
            for t in sorted(study.best_trials, key=lambda t: t.values[0])
        ]
        return out
    try:
        best = study.best_trial
    except ValueError:
        return out
    out.update(
        best_value=best.value,
        best_params=best.params,
        best_trial=best.number,
        command=reproduce_command(list(base), best.params),
    )
    return out


def plot_pareto(study: optuna.Study, names: list[str], path: Path) -> None:
    """Every complete trial by its first two objectives, the Pareto front joined and labelled."""
    import optuna

    from workflows.reporting.report import draw_pareto

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    draw_pareto(
        [(t.number, t.values) for t in done],
        [(t.number, t.values) for t in study.best_trials],
        names,
        path,
        title=f"{study.study_name}: {names[0]} against {names[1]}",
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m workflows.search [overrides…]`."""
    import json

    from workflows.config.help import config_help
    from workflows.io.console import run_cli

    def usage() -> str:
        return config_help(
            "python -m workflows.search",
            "Hyper-parameter search with Optuna over "
            "hparams_search.params (conf/hparams_search/optuna.yaml): pruning, studies that resume and "
            "that several processes share. Prints the study's summary as JSON.",
            (
                "python -m workflows.search hparams_search.n_trials=50 model=mlp",
                "python -m workflows.search data=diabetes model=mlp loss=mse   # metric: val_loss",
                "python -m workflows.search hparams_search.storage=postgresql://user:pw@host/db",
            ),
        )

    def task(args: list[str]) -> None:
        study, base = run_search(args)
        facts = summary(study, base)
        if len(study.directions) > 1:
            from workflows.config.compose import compose

            search = search_config(compose(base))
            plot = Path(search.dir) / search.study_name / "pareto.png"
            plot_pareto(study, search.metric, plot)
            facts["pareto_plot"] = str(plot)
        print(json.dumps(facts, indent=2))

    return run_cli(task, argv, usage=usage)


if __name__ == "__main__":
    raise SystemExit(main())
