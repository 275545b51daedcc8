"""The trainer's data-free rules: strategies, precisions, the cluster TF_CONFIG describes, thread counts.

Read by the config checks (workflows/config/schema.py) and by the runtime (workflows/runtime/distribute.py);
imports nothing of
TensorFlow, so that checking a config — every stage's first step — does not depend on the runtime's code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

from plugins.registry import ConfigError, did_you_mean

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def check(trainer) -> None:
    """Refuses unknown strategies and precisions, a malformed TF_CONFIG, and the thread counts and worker timeout
    that `check_early` refuses, before anything runs.

    Args:
        trainer: the checked `trainer` section (`workflows.schema.TrainerConfig`).
    """
    check_early(dataclasses.asdict(trainer))
    if trainer.strategy not in STRATEGIES:
        raise ConfigError(
            f"trainer.strategy='{trainer.strategy}' is unknown; {did_you_mean(trainer.strategy, STRATEGIES)}"
        )
    if trainer.precision not in PRECISIONS:
        raise ConfigError(
            f"trainer.precision='{trainer.precision}' is unknown; {did_you_mean(trainer.precision, PRECISIONS)}"
        )
    if trainer.strategy == "multi_worker":
        read_tf_config()


@dataclass(frozen=True)
class Cluster:
    """This process's place in a multi-worker cluster."""

    workers: tuple[str, ...]
    task_type: str
    task_index: int
    has_chief: bool = False

    @property
    def is_chief(self) -> bool:
        """The chief writes the model, the metrics and the logs: the `chief` task, or worker 0 when there is none."""
        return self.task_type == "chief" or (not self.has_chief and self.task_type == "worker" and self.task_index == 0)

    @property
    def rank(self) -> int:
        """This task's position in `workers` (the chief first)."""
        return self.task_index + (1 if self.has_chief and self.task_type == "worker" else 0)


def read_tf_config() -> Cluster:
    """Parses and checks TF_CONFIG (`{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": 0}}`)."""

    raw = os.environ.get("TF_CONFIG")
    example = 'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
    if not raw:
        raise ConfigError(f"trainer.strategy=multi_worker needs the TF_CONFIG environment variable, {example}")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({err.msg} at character {err.pos}); {example}") from None
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError(f"TF_CONFIG needs a 'cluster' and a 'task' object; {example}")
    workers = [*cluster.get("chief", []), *cluster.get("worker", [])]
    if not workers or not all(isinstance(w, str) and ":" in w for w in workers):
        raise ConfigError(f"TF_CONFIG's cluster needs 'worker' addresses as 'host:port'; {example}")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in ("chief", "worker"):
        raise ConfigError(f"TF_CONFIG's task type '{task_type}' is unknown; valid: chief, worker")
    if not isinstance(index, int) or not 0 <= index < len(cluster.get(task_type, [])):
        raise ConfigError(
            f"TF_CONFIG's task index {index!r} is not one of the {len(cluster.get(task_type, []))} "
            f"{task_type} addresses"
        )
    return Cluster(tuple(workers), task_type, index, bool(cluster.get("chief")))


def check_early(trainer) -> None:
    """The trainer keys `early_setup` uses before the config is resolved: TensorFlow aborts the process on a
    negative thread count (a C++ check failure), and a watchdog with no time limit never fires."""
    for key in ("intra_op_threads", "inter_op_threads"):
        value = trainer.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"trainer.{key}={value!r} must be a whole number ≥ 0 (0: TensorFlow chooses)")
    timeout = trainer.get("worker_timeout", 600.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        shown = f"{timeout:g}" if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else repr(timeout)
        raise ConfigError(f"trainer.worker_timeout={shown} must be a number of seconds > 0, e.g. 600")
