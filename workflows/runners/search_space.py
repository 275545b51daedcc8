"""A search's space and objectives, checked before any trial (no Optuna, no TensorFlow): `hparams_search.*` as a
`SearchConfig`, the metric against the data's task, the study's default name from the data it searches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from plugins.registry import ConfigError, did_you_mean

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
