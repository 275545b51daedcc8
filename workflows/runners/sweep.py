"""Hydra multirun on the direct command line: grids and Bayesian search, one failed trial never ends a sweep.

    python -m workflows.train -m optimizer=adam,sgd regularizer=none,l2          # a grid
    python -m workflows.train -m hparams_search=optuna      # Optuna search: workflows/runners/search.py
    python -m workflows.train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 optimizer=adam,sgd   # in parallel

Each trial is a whole prepare → augment → train → evaluate run in its own
directory (multirun/<date>/<time>/<n>/), which also gets result.json:
`{"status": "ok", "objective": …, "metrics": …}` or `{"status": "failed",
"error": …}`. A trial returns its validation accuracy (`val_accuracy`, or
`val_loss` for regression… see `objective()`) for the sweeper to optimize; a
failed one returns NaN, which Optuna records as a failed trial.
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ValueType
from omegaconf import DictConfig

from workflows.config.compose import CONF_DIR, CONFIG_NAME, compose, value_overrides
from workflows.config.schema import resolve

MULTIRUN_FLAGS = ("-m", "--multirun")


def expand(overrides: list[str]) -> list[list[str]]:
    """Every combination of a grid (choice and range sweeps); interval sweeps (Optuna's) are left out.

    Example:
    >>> expand(["optimizer=adam,sgd", "trainer.epochs=2"])
    [['optimizer=adam', 'trainer.epochs=2'], ['optimizer=sgd', 'trainer.epochs=2']]
    """
    parsed = OverridesParser.create().parse_overrides(overrides)
    axes = []
    for override, text in zip(parsed, overrides):
        key = text.split("=", 1)[0]
        if not override.is_sweep_override():
            axes.append([text])
        elif override.value_type == ValueType.INTERVAL_SWEEP:
            continue
        else:
            axes.append([f"{key}={value}" for value in override.sweep_string_iterator()])
    return [list(combination) for combination in itertools.product(*axes)]


def check_sweep(overrides: list[str]) -> int:
    """Composes and checks every combination of the grid before the first trial starts.

    Returns:
        How many combinations there are.
    """
    combinations = expand([o for o in overrides if not o.startswith("hydra")])
    for combination in combinations:
        resolve(compose(combination))
    return len(combinations)


def objective(metrics: dict[str, Any]) -> float:
    """What a trial returns to the sweeper: the last epoch's validation accuracy (or −val_loss without accuracy)."""
    last = metrics.get("train", {})
    if "val_accuracy" in last:
        return float(last["val_accuracy"])
    return -float(last.get("val_loss", math.nan))


def trial(cfg: DictConfig) -> float:
    """One multirun job: runs the pipeline in Hydra's job directory and records the outcome there."""
    from hydra.core.hydra_config import HydraConfig

    from workflows.runners.outcome import attempt, record
    from workflows.runners.pipeline import run_pipeline

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    metrics, error = attempt(out_dir, lambda: run_pipeline(resolve(cfg), out_dir))  # a fatal error stops the sweep
    if metrics is None:  # this trial's failure is recorded, the sweep goes on
        print(f"trial failed ({out_dir}): {error}", file=sys.stderr)
        return math.nan
    value = objective(metrics)
    record(out_dir, "ok", objective=value, metrics=metrics)
    return value


def multirun(args: list[str]) -> None:
    """Checks the sweep, then hands the command line to Hydra's multirun (sweeper, launcher)."""
    import hydra

    overrides = [a for a in args if a not in MULTIRUN_FLAGS]
    check_sweep(overrides)
    sys.argv = [sys.argv[0], "--multirun", *value_overrides(overrides)]
    hydra.main(config_path=str(CONF_DIR), config_name=CONFIG_NAME, version_base="1.3")(trial)()


def main(argv: list[str]) -> int:
    """`python -m workflows.train -m [overrides…]`: a sweep."""
    from workflows.config.help import config_help
    from workflows.io.console import run_cli

    def usage() -> str:
        return config_help(
            "python -m workflows.train -m",
            "A sweep: every combination of comma-separated values, "
            "each a whole run in multirun/<date>/<time>/<n>/ with its result.json.",
            (
                "python -m workflows.train -m optimizer=adam,sgd regularizer=none,l2",
                "python -m workflows.train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 optimizer=adam,sgd",
            ),
        )

    return run_cli(multirun, argv, usage=usage)
