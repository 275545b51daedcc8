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
validation accuracy), `storage` and `study_name`.

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

import math
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from plugins.registry import ConfigError, did_you_mean
from workflows.atomic import alive, write_json

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("none", "median", "hyperband")
DIRECTIONS = ("maximize", "minimize")
PARAM_TYPES = ("float", "int", "categorical")


@dataclass
class SearchConfig:
    """`hparams_search.*`: what to search, how, and where the study is kept."""

    params: dict[str, Any] = field(default_factory=dict)
    sampler: str = "tpe"
    pruner: str = "median"
    n_trials: int = 20
    direction: Any = "maximize"
    metric: Any = "val_accuracy"
    storage: str | None = None
    study_name: str = "kerasforge"
    seed: int = 0
    n_startup_trials: int = 5
    pruner_startup_trials: int = 3
    warmup_epochs: int = 0
    dir: str = "multirun/search"


def search_config(cfg: DictConfig) -> SearchConfig:
    """The checked `hparams_search` section of a composed config."""
    from plugins.registry import validate_against

    if "hparams_search" not in cfg or cfg.hparams_search is None:
        raise ConfigError("no search space: add hparams_search=optuna (conf/hparams_search/optuna.yaml) or your own "
                          "option of the hparams_search group")
    search = SearchConfig(**validate_against(SearchConfig, cfg.hparams_search, "hparams_search", "the search"))
    for key, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        value = getattr(search, key)
        if value not in allowed:
            raise ConfigError(f"hparams_search.{key}='{value}' is unknown; {did_you_mean(value, allowed)}")
    search.metric = [search.metric] if isinstance(search.metric, str) else list(search.metric)
    search.direction = [search.direction] if isinstance(search.direction, str) else list(search.direction)
    if len(search.metric) != len(search.direction):
        raise ConfigError(f"hparams_search: {len(search.metric)} metric(s) but {len(search.direction)} direction(s); "
                          "give one direction per metric, e.g. metric: [val_accuracy, params], "
                          "direction: [maximize, minimize]")
    for value in search.direction:
        if value not in DIRECTIONS:
            raise ConfigError(f"hparams_search.direction='{value}' is unknown; {did_you_mean(value, DIRECTIONS)}")
    if len(search.metric) > 1 and search.pruner != "none":
        raise ConfigError("hparams_search: Optuna prunes single-objective studies only; with several metrics set "
                          "hparams_search.pruner=none")
    for key in ("n_startup_trials", "pruner_startup_trials", "warmup_epochs"):
        if getattr(search, key) < 0:
            raise ConfigError(f"hparams_search.{key}={getattr(search, key)} must be ≥ 0")
    if search.n_trials < 1:
        raise ConfigError(f"hparams_search.n_trials={search.n_trials} must be at least 1")
    if not search.params:
        raise ConfigError("hparams_search.params is empty: name at least one config key to search")
    for key, spec in search.params.items():
        _check_param(key, spec, search.sampler)
    return search


def _check_param(key: str, spec: Any, sampler: str) -> None:
    where = f"hparams_search.params.{key}"
    if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES:
        raise ConfigError(f"{where}: needs `type:` float, int or categorical (e.g. {{type: float, low: 1e-4, high: "
                          "1e-2, log: true})")
    allowed = {"float": {"type", "low", "high", "log", "step"}, "int": {"type", "low", "high", "log", "step"},
               "categorical": {"type", "choices"}}[spec["type"]]
    for name in spec:
        if name not in allowed:
            raise ConfigError(f"{where}.{name}: unknown for a {spec['type']} parameter; "
                              f"{did_you_mean(name, sorted(allowed))}")
    if spec["type"] == "categorical":
        if not spec.get("choices"):
            raise ConfigError(f"{where}: a categorical parameter needs `choices: [...]`")
    elif not {"low", "high"} <= set(spec) or not spec["low"] < spec["high"]:
        raise ConfigError(f"{where}: needs low < high")
    if sampler == "grid" and spec["type"] != "categorical" and "step" not in spec:
        raise ConfigError(f"{where}: hparams_search.sampler=grid needs categorical choices, or a step")


def grid_values(spec: dict[str, Any]) -> list[Any]:
    """The values a grid takes for one parameter."""
    if spec["type"] == "categorical":
        return list(spec["choices"])
    values, value = [], spec["low"]
    while value <= spec["high"] + 1e-12:
        values.append(int(value) if spec["type"] == "int" else round(value, 12))
        value += spec["step"]
    return values


def suggest(trial: optuna.Trial, key: str, spec: dict[str, Any]) -> Any:
    """One parameter's value for a trial, by Optuna's `suggest_*`."""
    if spec["type"] == "categorical":
        return trial.suggest_categorical(key, list(spec["choices"]))
    if spec["type"] == "int":
        return trial.suggest_int(key, int(spec["low"]), int(spec["high"]), step=int(spec.get("step", 1)),
                                 log=bool(spec.get("log", False)))
    return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), step=spec.get("step"),
                               log=bool(spec.get("log", False)))


def corner_overrides(search: SearchConfig) -> list[list[str]]:
    """Overrides at every parameter's extreme values (and every choice), to check before the first trial."""
    out = []
    for key, spec in search.params.items():
        values = spec["choices"] if spec["type"] == "categorical" else [spec["low"], spec["high"]]
        out += [[f"++{key}={value}"] for value in values]
    return out


def storage_of(search: SearchConfig, root: Path = Path(".")):
    """The study's storage: a database URL as given (with heartbeats, so that a dead process's trial is failed), or
    a journal file (default `.kerasforge/optuna/<study>.log`), which processes on one machine share safely."""
    import optuna

    url = search.storage
    if url and "://" in url:
        return optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120)
    path = Path(url) if url else root / ".kerasforge" / "optuna" / f"{search.study_name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def make_sampler(search: SearchConfig):
    import optuna

    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=search.seed)
    if search.sampler == "grid":
        return optuna.samplers.GridSampler({k: grid_values(v) for k, v in search.params.items()}, seed=search.seed)
    if search.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=search.seed, n_startup_trials=search.n_startup_trials)
    return optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=search.n_startup_trials)


def make_pruner(search: SearchConfig):
    import optuna

    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=search.pruner_startup_trials,
                                           n_warmup_steps=search.warmup_epochs)
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    return optuna.pruners.NopPruner()


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
                raise ConfigError(f"hparams_search.metric='{metric}' is not among the epoch's metrics "
                                  f"({', '.join(sorted(logs or {}))})")
            trial.report(float(value), epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs", epoch + 1)
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {metric} {float(value):.4f}")

    return Pruning()


def fail_dead_local_trials(study: optuna.Study) -> int:
    """Marks as failed the running trials that a process of this machine left behind when it died (`kill -9`)."""
    import optuna

    host, failed = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = trial.user_attrs
        if owner.get("host") == host and isinstance(owner.get("pid"), int) and not alive(owner["pid"]):
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            failed += 1
    return failed


def counted(study: optuna.Study) -> int:
    """Trials that count toward `n_trials`: finished (complete or pruned) and running."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
    return len(study.get_trials(deepcopy=False, states=states))


def run_search(args: list[str]) -> tuple[optuna.Study, list[str]]:
    """Composes and checks the config and the search space, then runs trials until the study holds `n_trials`."""
    import optuna

    from workflows.compose import compose
    from workflows.schema import resolve

    base = [a for a in args if a not in ("-m", "--multirun")]
    if not any(a.startswith("hparams_search=") for a in base):
        base = ["hparams_search=optuna", *base]
    cfg = compose(base)
    search = search_config(cfg)
    resolve(cfg)
    for extra in corner_overrides(search):  # every bound and choice makes a valid config, before any trial runs
        try:
            resolve(compose([*base, *extra]))
        except ConfigError as err:
            raise ConfigError(f"hparams_search.params: {extra[0].lstrip('+')} gives a bad config: {err}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attempt in range(5):
        try:
            study = optuna.create_study(storage=storage_of(search), study_name=search.study_name, load_if_exists=True,
                                        directions=search.direction, sampler=make_sampler(search),
                                        pruner=make_pruner(search))
            break
        except Exception as err:  # noqa: BLE001 — workers started together race to create a database's tables
            if attempt == 4 or "IntegrityError" not in type(err).__name__ + str(err):
                raise
            import time

            time.sleep(0.5 + attempt)
    fail_dead_local_trials(study)
    out = Path(search.dir) / search.study_name
    from workflows.atomic import write_text
    from workflows.compose import to_yaml

    write_text(out / "base.yaml", to_yaml(cfg))  # the config without the trials' values: the baseline to confirm against

    def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        if counted(study) > search.n_trials:  # another process took the last place between the check and this trial
            trial.set_user_attr("surplus", True)  # not run: recorded as failed, marked as such
            raise _NotRun("surplus")
        state, value = run_trial(trial, base, search, out / str(trial.number))
        if state == optuna.trial.TrialState.PRUNED:
            raise optuna.TrialPruned()
        if state == optuna.trial.TrialState.FAIL:
            raise _NotRun("failed")
        return value

    sampler = study.sampler
    while counted(study) < search.n_trials:
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
            break  # every grid point has a trial
        # One trial per call: the count is checked again before each, so that processes sharing the study stop at
        # n_trials between them.
        study.optimize(objective, n_trials=1, catch=(_NotRun,))
        if study.trials[-1].user_attrs.get("surplus"):
            break
    return study, base


class _NotRun(Exception):
    """A trial that failed (its error is in its result.json) or was not run; Optuna records it as failed."""


def run_trial(trial: optuna.Trial, base: list[str], search: SearchConfig, out_dir: Path):
    """One trial: its sampled values as overrides, the pipeline with the pruning callback; its result.json."""
    import optuna

    from workflows.compose import compose
    from workflows.pipeline import run_pipeline
    from workflows.schema import resolve
    from workflows.train import extra_callbacks

    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    values = {key: suggest(trial, key, spec) for key, spec in search.params.items()}
    overrides = [f"++{key}={value}" for key, value in values.items()]
    pruning = PruningCallback(trial, search.metric[0], report=len(search.metric) == 1)
    shown = [o.lstrip("+") for o in overrides]
    print(f"trial {trial.number}: {' '.join(shown)}", file=sys.stderr, flush=True)
    from workflows.atomic import write_text
    from workflows.compose import to_yaml

    try:
        cfg = compose([*base, *overrides])
        write_text(out_dir / "config.yaml", to_yaml(cfg))
        with extra_callbacks([pruning]):
            metrics = run_pipeline(resolve(cfg), out_dir)
    except optuna.TrialPruned as err:
        write_json(out_dir / "result.json", {"status": "pruned", "values": values, "overrides": shown,
                                              "epochs": type(pruning).epochs, "error": str(err)})
        trial.set_user_attr("epochs", type(pruning).epochs)
        print(f"trial {trial.number}: {err}", file=sys.stderr, flush=True)
        return optuna.trial.TrialState.PRUNED, None
    except Exception as err:  # noqa: BLE001 — one trial's failure is recorded, the search goes on
        message = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
        write_json(out_dir / "result.json", {"status": "failed", "values": values, "overrides": shown,
                                              "error": message})
        print(f"trial {trial.number} failed: {message}", file=sys.stderr, flush=True)
        return optuna.trial.TrialState.FAIL, None
    objectives = [metric_value(metrics, name) for name in search.metric]
    if any(v is None or not math.isfinite(v) for v in objectives):
        missing = [n for n, v in zip(search.metric, objectives) if v is None]
        message = f"no metric {', '.join(missing)} in the run's metrics" if missing else "a non-finite objective"
        write_json(out_dir / "result.json", {"status": "failed", "values": values, "overrides": shown,
                                              "error": message})
        return optuna.trial.TrialState.FAIL, None
    trial.set_user_attr("epochs", type(pruning).epochs)
    write_json(out_dir / "result.json", {"status": "ok", "objective": objectives[0], "objectives": objectives,
                                          "objective_names": search.metric, "directions": search.direction,
                                          "values": values, "overrides": shown, "epochs": type(pruning).epochs,
                                          "metrics": metrics})
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

    from workflows.compose import compose

    chosen = compose(base, hydra_config=True).hydra.runtime.choices
    defaults = compose([], hydra_config=True).hydra.runtime.choices
    sets = [f"{group}={option}" for group, option in chosen.items()
            if group in defaults and option != defaults[group] and not str(group).startswith(("hydra", "hparams"))]
    groups = {s.split("=", 1)[0] for s in sets}
    sets += [a.lstrip("+") for a in base if "=" in a and not a.lstrip("+").startswith(("hparams_search", "hydra"))
             and a.split("=", 1)[0].lstrip("+") not in groups and a.split("=", 1)[0].lstrip("+") not in params]
    sets += [f"{key}={value}" for key, value in params.items()]
    return "dvc exp run " + " ".join(f"-S {shlex.quote(s)}" for s in sets)


def summary(study: optuna.Study, base: list[str] = ()) -> dict[str, Any]:
    """The study's state: trials by state, epochs spent, and the best trial's values with a command that reruns it."""
    import optuna

    states = {s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,))) for s in optuna.trial.TrialState}
    out: dict[str, Any] = {"study": study.study_name, "trials": {k: v for k, v in states.items() if v},
                           "epochs": sum(int(t.user_attrs.get("epochs", 0)) for t in study.trials)}
    if len(study.directions) > 1:  # several objectives: the Pareto front, each trial on it as a command
        out["pareto_front"] = [{"trial": t.number, "values": t.values, "params": t.params,
                                "command": reproduce_command(list(base), t.params)}
                               for t in sorted(study.best_trials, key=lambda t: t.values[0])]
        return out
    try:
        best = study.best_trial
    except ValueError:
        return out
    out.update(best_value=best.value, best_params=best.params, best_trial=best.number,
               command=reproduce_command(list(base), best.params))
    return out


def plot_pareto(study: optuna.Study, names: list[str], path: Path) -> None:
    """Every complete trial by its first two objectives, the Pareto front joined and labelled."""
    import optuna

    from workflows.report import draw_pareto

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    draw_pareto([(t.number, t.values) for t in done], [(t.number, t.values) for t in study.best_trials], names, path,
                title=f"{study.study_name}: {names[0]} against {names[1]}")


def main(argv: list[str] | None = None) -> int:
    """`python -m workflows.search [overrides…]`."""
    import json

    from workflows.cli import run_cli

    def task(args: list[str]) -> None:
        study, base = run_search(args)
        facts = summary(study, base)
        if len(study.directions) > 1:
            from workflows.compose import compose

            search = search_config(compose(base))
            plot = Path(search.dir) / search.study_name / "pareto.png"
            plot_pareto(study, search.metric, plot)
            facts["pareto_plot"] = str(plot)
        print(json.dumps(facts, indent=2))

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
