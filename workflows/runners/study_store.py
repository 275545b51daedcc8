"""Where a study lives and who runs its trials: the storage (a journal file or a database), the sampler and pruner,
opening a study and refusing one of another objective, space or data, heartbeats and taking over a dead process's
trial, on any host."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from plugins.registry import ConfigError
from workflows.io.atomic import alive

if TYPE_CHECKING:
    import optuna

from workflows.runners.search_space import SearchConfig, distribution, grid_values


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
