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

import contextlib
import logging
import math
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from plugins.registry import ConfigError, did_you_mean
from workflows.io.atomic import alive

if TYPE_CHECKING:
    import optuna

# What a run of each task reports: the last epoch's metrics (what the pruner judges), then the test metrics and
# costs that evaluate writes (`metric_value` looks in that order).
EPOCH_METRICS = {
    "classification": ("val_accuracy", "val_loss", "accuracy", "loss"),
    "regression": ("val_loss", "val_mae", "loss", "mae"),
}
TEST_METRICS = {
    "classification": ("macro_f1", "roc_auc", "average_precision", "train_accuracy"),
    "regression": ("mse", "r2"),
}
COSTS = ("params", "size_bytes", "latency_ms", "throughput")
LOWER_IS_BETTER = ("loss", "val_loss", "mae", "val_mae", "mse", "params", "size_bytes", "latency_ms")
FAILURES_IN_A_ROW = 3  # trials failing in a row with the same error: the search stops (a fatal error)

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
    direction: Any = None
    metric: Any = None
    storage: str | None = None
    study_name: str | None = None
    seed: int = 0
    n_startup_trials: int = 5
    pruner_startup_trials: int = 3
    warmup_epochs: int = 0
    dir: str = "multirun/search"
    data: str | None = None  # the searched data's identity (`data_identity`), set by `search_config`, not by users


def data_task(cfg: DictConfig) -> str | None:
    """The task of the configured data before any trial: what the data plugin's files say (a table's target, read
    from a sample: plugins/data/checks.py), else the task it declared at registration; None for a plugin that
    declares none."""
    from workflows.config.schema import check_data

    return check_data(cfg).get("task")


def data_identity(cfg: DictConfig) -> str | None:
    """What the search searches: the data section's options and its files' content (a file's MD5, a folder's names,
    sizes and times), as 8 hex digits; None for data that ships with a package (its name says it)."""
    import hashlib
    import json

    from omegaconf import OmegaConf

    from workflows.stages.check import fingerprint

    data = OmegaConf.to_container(cfg.get("data") or {}, resolve=True)
    files = fingerprint(dict(data))  # type: ignore[arg-type]
    if not files:
        return None
    return hashlib.md5(json.dumps([data, files], sort_keys=True, default=str).encode()).hexdigest()[:8]


def default_study_name(cfg: DictConfig, metrics: list[str], directions: list[str]) -> str:
    """A study named by what it optimizes and on what, so that searches of other data or objectives never share one:
    `<data>[-<file>-<identity>]-<metric>-<max|min>`, e.g. `csv-penguins-1f0e9a3b-val_accuracy-max`."""
    data = (cfg.get("data") or {}).get("name", "data")
    parts = [str(data)]
    identity = data_identity(cfg)
    if identity:
        source = (cfg.get("data") or {}).get("path") or (cfg.get("data") or {}).get("directory")
        stem = "".join(c if c.isalnum() or c in "_." else "_" for c in Path(str(source)).name.split(".")[0])
        parts += [stem[:40], identity]
    return "-".join([*parts, *(f"{m}-{d[:3]}" for m, d in zip(metrics, directions))])


def _check_metrics(search: SearchConfig, task: str | None) -> None:
    """The metrics against the task, and the pruner against the metric: before the first trial."""
    if task not in EPOCH_METRICS:
        return  # a third-party data plugin that declares no task: the first trial tells
    valid = (*EPOCH_METRICS[task], *TEST_METRICS[task], *COSTS)
    for metric in search.metric:
        if metric not in valid:
            raise ConfigError(
                f"hparams_search.metric='{metric}' is not a metric of a {task} run; "
                f"{did_you_mean(str(metric), valid)} (unset, it follows the task: val_accuracy for "
                "classes, val_loss for a regression)"
            )
    if len(search.metric) == 1 and search.pruner != "none" and search.metric[0] not in EPOCH_METRICS[task]:
        raise ConfigError(
            f"hparams_search.metric='{search.metric[0]}' is known only once a trial has ended, but the "
            f"{search.pruner} pruner judges every epoch: set hparams_search.pruner=none or an epoch "
            f"metric ({', '.join(EPOCH_METRICS[task])})"
        )


def _objectives(search: SearchConfig, task: str) -> None:
    """The search's metrics and directions as lists, one direction per metric, defaults from the task."""
    if search.metric is None:
        search.metric = "val_loss" if task == "regression" else "val_accuracy"
    search.metric = [search.metric] if isinstance(search.metric, str) else [str(m) for m in search.metric]
    if search.direction is None:
        search.direction = ["minimize" if m in LOWER_IS_BETTER else "maximize" for m in search.metric]
    search.direction = [search.direction] if isinstance(search.direction, str) else [str(d) for d in search.direction]
    if len(search.metric) != len(search.direction):
        raise ConfigError(
            f"hparams_search: {len(search.metric)} metric(s) but {len(search.direction)} direction(s); "
            "give one direction per metric, e.g. metric: [val_accuracy, params], "
            "direction: [maximize, minimize]"
        )
    for value in search.direction:
        if value not in DIRECTIONS:
            raise ConfigError(f"hparams_search.direction='{value}' is unknown; {did_you_mean(value, DIRECTIONS)}")
    if len(search.metric) > 1 and search.pruner != "none":
        raise ConfigError(
            "hparams_search: Optuna prunes single-objective studies only; with several metrics set "
            "hparams_search.pruner=none"
        )


def search_config(cfg: DictConfig) -> SearchConfig:
    """The checked `hparams_search` section of a composed config, its defaults filled in from the task (no data
    read, no TensorFlow)."""
    from plugins.registry import validate_against

    if "hparams_search" not in cfg or cfg.hparams_search is None:
        raise ConfigError(
            "no search space: add hparams_search=optuna (conf/hparams_search/optuna.yaml) or your own "
            "option of the hparams_search group"
        )
    search = SearchConfig(**validate_against(SearchConfig, cfg.hparams_search, "hparams_search", "the search"))
    for key, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        value = getattr(search, key)
        if value not in allowed:
            raise ConfigError(f"hparams_search.{key}='{value}' is unknown; {did_you_mean(value, allowed)}")
    task = data_task(cfg)
    _objectives(search, task)
    for key in ("n_startup_trials", "pruner_startup_trials", "warmup_epochs"):
        if getattr(search, key) < 0:
            raise ConfigError(f"hparams_search.{key}={getattr(search, key)} must be ≥ 0")
    if search.n_trials < 1:
        raise ConfigError(f"hparams_search.n_trials={search.n_trials} must be at least 1")
    if not search.params:
        raise ConfigError("hparams_search.params is empty: name at least one config key to search")
    for key, spec in search.params.items():
        _check_param(key, spec, search.sampler)
    _check_metrics(search, task)
    if search.study_name is None:
        search.study_name = default_study_name(cfg, search.metric, search.direction)
    search.data = data_identity(cfg)
    _check_storage(search.storage)
    return search


DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")


def _check_storage(url: str | None) -> None:
    """A storage is a database URL (`scheme://…`) or a journal file ending in .log; a URL missing its `://`
    (`postgresql//host`) would otherwise become a journal file of that name."""
    if url is None:
        return
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else None
    if scheme is not None and scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            f"hparams_search.storage: '{scheme}://' is not a database URL Optuna takes; "
            f"{did_you_mean(scheme, DATABASE_SCHEMES)} (e.g. sqlite:///search.db, "
            "postgresql://user:pw@host/db), or a journal file path ending in .log"
        )
    if scheme is None and not url.endswith(".log"):
        looks_like = next((d for d in DATABASE_SCHEMES if url.lower().startswith(d)), None)
        hint = f"; a URL needs '://', e.g. {looks_like}://…" if looks_like else ""
        raise ConfigError(
            f"hparams_search.storage='{url}' is neither a database URL (scheme://…) nor a journal file "
            f"path ending in .log{hint}"
        )


def _check_param(key: str, spec: Any, sampler: str) -> None:
    where = f"hparams_search.params.{key}"
    if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES:
        raise ConfigError(
            f"{where}: needs `type:` float, int or categorical (e.g. {{type: float, low: 1e-4, high: 1e-2, log: true}})"
        )
    allowed = {
        "float": {"type", "low", "high", "log", "step"},
        "int": {"type", "low", "high", "log", "step"},
        "categorical": {"type", "choices"},
    }[spec["type"]]
    for name in spec:
        if name not in allowed:
            raise ConfigError(
                f"{where}.{name}: unknown for a {spec['type']} parameter; {did_you_mean(name, sorted(allowed))}"
            )
    if spec["type"] == "categorical":
        if not spec.get("choices"):
            raise ConfigError(f"{where}: a categorical parameter needs `choices: [...]`")
    elif not {"low", "high"} <= set(spec) or not spec["low"] < spec["high"]:
        raise ConfigError(f"{where}: needs low < high")
    if sampler == "grid" and spec["type"] != "categorical" and "step" not in spec:
        raise ConfigError(f"{where}: hparams_search.sampler=grid needs categorical choices, or a step")
    try:  # Optuna's own rules (a log scale needs low > 0 and no step…), before the first trial, not inside it
        distribution(spec)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: Optuna refuses it: {str(err).strip().splitlines()[0]}") from None


def distribution(spec: dict[str, Any]):
    """The Optuna distribution a parameter's spec samples from (what `suggest` asks the trial for)."""
    from optuna import distributions

    if spec["type"] == "categorical":
        return distributions.CategoricalDistribution(list(spec["choices"]))
    log = bool(spec.get("log", False))
    if spec["type"] == "int":
        return distributions.IntDistribution(
            int(spec["low"]), int(spec["high"]), log=log, step=int(spec.get("step", 1))
        )
    step = spec.get("step")
    return distributions.FloatDistribution(
        float(spec["low"]), float(spec["high"]), log=log, step=None if step is None else float(step)
    )


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
        return trial.suggest_int(
            key, int(spec["low"]), int(spec["high"]), step=int(spec.get("step", 1)), log=bool(spec.get("log", False))
        )
    return trial.suggest_float(
        key, float(spec["low"]), float(spec["high"]), step=spec.get("step"), log=bool(spec.get("log", False))
    )


def corner_overrides(search: SearchConfig) -> list[list[str]]:
    """Overrides at every parameter's extreme values (and every choice), to check before the first trial."""
    out = []
    for key, spec in search.params.items():
        values = spec["choices"] if spec["type"] == "categorical" else [spec["low"], spec["high"]]
        out += [[f"++{key}={value}"] for value in values]
    return out


def storage_of(search: SearchConfig, root: Path = Path(".")):
    """The study's storage: a database URL as given, or
    a journal file (default `.kerasforge/optuna/<study>.log`), which processes on one machine share safely.

    Raises:
        ConfigError: a storage Optuna cannot open (a missing or read-only directory, a database without its driver,
            a journal file that is not one), in one line.
    """
    import optuna

    url = search.storage
    try:
        if url and "://" in url:
            return optuna.storages.RDBStorage(url)  # a dead process's trial: `heartbeat`, on every storage
        path = Path(url) if url else root / ".kerasforge" / "optuna" / f"{search.study_name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except ConfigError:
        raise
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"hparams_search.storage: the database driver '{err.name}' is not installed; "
            f"pip install '{_DRIVERS.get(err.name or '', err.name)}'"
        ) from None
    except Exception as err:  # noqa: BLE001 — SQLAlchemy's, the journal's and the file system's errors, as one line
        raise ConfigError(f"hparams_search.storage='{_masked(url)}' cannot be opened: {_reason(err)}") from None


_DRIVERS = {
    "psycopg": "kerasforge[postgres]",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
    "pymysql": "pymysql",
}


def _masked(url: str | None) -> str:
    """A storage URL without its password."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url or ".kerasforge/optuna/<study>.log")


def _reason(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}"


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
        return optuna.pruners.MedianPruner(
            n_startup_trials=search.pruner_startup_trials, n_warmup_steps=search.warmup_epochs
        )
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
                raise ConfigError(
                    f"hparams_search.metric='{metric}' is not among the epoch's metrics "
                    f"({', '.join(sorted(logs or {}))})"
                )
            trial.report(float(value), epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs", epoch + 1)
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {metric} {float(value):.4f}")

    return Pruning()


HEARTBEAT_SECONDS = 30.0  # a running trial's process records the time this often (`heartbeat`)
GRACE_SECONDS = 120.0  # a running trial whose heartbeat is older than this is a dead process's, on any host


@contextlib.contextmanager
def heartbeat(trial: optuna.Trial, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Records the time in the running trial's user attributes now and every `every` seconds until the block ends,
    in a thread: any storage (a journal file too) then shows which trials are alive, on every host."""
    import threading
    import time

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                trial.set_user_attr("heartbeat", time.time())
            except Exception:  # noqa: BLE001 — a storage hiccup: the next beat tries again
                pass

    trial.set_user_attr("heartbeat", time.time())
    thread = threading.Thread(target=beat, name="kerasforge-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def fail_dead_trials(study: optuna.Study, grace: float = GRACE_SECONDS) -> int:
    """Marks as failed the running trials whose process died: on this machine at once (its pid is gone: `kill -9`),
    on any machine once its heartbeat is older than `grace` (a container that was removed)."""
    import time

    import optuna

    host, failed, now = socket.gethostname(), 0, time.time()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = trial.user_attrs
        here = owner.get("host") == host and isinstance(owner.get("pid"), int)
        beat = owner.get("heartbeat")
        if (here and not alive(owner["pid"])) or (isinstance(beat, (int, float)) and now - beat > grace):
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

    from workflows.config.compose import compose
    from workflows.config.schema import resolve

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


def wait_for_others(study: optuna.Study, search: SearchConfig, poll: float = 2.0) -> bool:
    """Waits while other processes run the study's last trials; True when one of them died (its trial failed:
    the count fell below `n_trials`, and this process takes the place), False once none is running. A process of
    this machine is known dead at once (its pid); one of another machine when its heartbeat stops (`GRACE_SECONDS`)."""
    import time

    import optuna

    running = (optuna.trial.TrialState.RUNNING,)
    while study.get_trials(deepcopy=False, states=running):
        time.sleep(poll)
        fail_dead_trials(study)
        if counted(study) < search.n_trials:
            return True
    return counted(study) < search.n_trials


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


def trial_seed(seed: int, number: int) -> int:
    """A trial's sampler seed from the search's and the trial's number, mixed (NumPy's SeedSequence), so that
    neighbouring trials do not get neighbouring seeds."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(number)]).generate_state(1)[0])


def reseed(sampler, seed: int) -> None:
    """Seeds a sampler's random draws for one trial by its number: a trial's values then depend on the seed and on
    its number alone, so that a restarted search, or a second process sharing the study, draws new values instead of
    repeating the first process's sequence (Optuna's samplers keep one seeded generator per process)."""
    from optuna.samplers import BaseSampler, GridSampler
    from optuna.samplers._lazy_random_state import LazyRandomState

    if isinstance(sampler, GridSampler):  # it draws among the points no trial has taken yet: nothing repeats
        return
    for name, value in vars(sampler).items():
        if isinstance(value, LazyRandomState):
            setattr(sampler, name, LazyRandomState(seed))
        elif isinstance(value, BaseSampler):
            reseed(value, seed)


def open_study(search: SearchConfig):
    """Creates the study, or loads it when it exists, and refuses one that optimizes something else or over another
    space: Optuna would silently keep the stored directions, and mix the objectives."""
    import time

    import optuna

    storage = storage_of(search)
    for attempt in range(5):
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=search.study_name,
                load_if_exists=True,
                directions=search.direction,
                sampler=make_sampler(search),
                pruner=make_pruner(search),
            )
            break
        except Exception as err:  # noqa: BLE001 — workers started together race to create a database's tables
            if attempt < 4 and "IntegrityError" in type(err).__name__ + str(err):
                time.sleep(0.5 + attempt)
                continue
            raise ConfigError(
                f"hparams_search.storage='{_masked(search.storage)}': the study cannot be opened: {_reason(err)}"
            ) from None
    _check_stored(study, search)
    return study


def _check_stored(study, search: SearchConfig) -> None:
    """Refuses a stored study that optimizes other metrics or directions, or sampled a parameter from another space;
    records the metrics of a new one."""
    import optuna

    where = f"study '{search.study_name}'"
    stored = [d.name.lower() for d in study.directions]
    metrics = study.user_attrs.get("metrics")
    if stored != search.direction or (metrics is not None and metrics != search.metric):
        shown = ", ".join(f"{m} ({d})" for m, d in zip(metrics or ["?"] * len(stored), stored))
        asked = ", ".join(f"{m} ({d})" for m, d in zip(search.metric, search.direction))
        raise ConfigError(
            f"{where} optimizes {shown}, but this search asks for {asked}: name another study "
            "(hparams_search.study_name=…), or ask for the same objective"
        )
    if metrics is None:
        study.set_user_attr("metrics", search.metric)
    data = study.user_attrs.get("data")
    if search.data and data and data != search.data:
        raise ConfigError(
            f"{where} searched other data (data {data}; this config's data is {search.data}: another file, "
            "other content or other data options): name another study (hparams_search.study_name=…), or leave "
            "it unset (each data's own)"
        )
    if search.data and not data:
        study.set_user_attr("data", search.data)
    for trial in study.get_trials(deepcopy=False):
        for key, old in trial.distributions.items():
            if key in search.params:
                try:
                    optuna.distributions.check_distribution_compatibility(old, distribution(search.params[key]))
                except ValueError as err:
                    raise ConfigError(
                        f"hparams_search.params.{key}: {where} sampled it from another space "
                        f"({err}); name another study (hparams_search.study_name=…)"
                    ) from None


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
