"""The whole pipeline in one process, in a run directory: the direct command line, sweeps and studies.

    python -m workflows.train [overrides…]      # e.g. optimizer=sgd optimizer.learning_rate=0.05

runs prepare → augment → train → evaluate — the same stage functions DVC
runs (workflows/config/stage_table.py), with the same files in between — below Hydra's
run directory (outputs/<date>/<time>/, or `hydra.run.dir=…`), which then
looks like the repository after `dvc repro`: data/prepared, data/augmented,
models/, dvclive/train/, eval/, plus config.yaml. The metrics are printed as
JSON. The same config gives the same files and metrics as `dvc exp run -S …`.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError
from workflows.config.experiment import Experiment
from workflows.config.stage_table import STAGES
from workflows.io.layout import Layout
from workflows.stages.process import run_stage


def _is_chief(experiment: Experiment) -> bool:
    if experiment.trainer.strategy != "multi_worker":
        return True
    from workflows.config.cluster import read_tf_config

    return read_tf_config().is_chief


def run_pipeline(experiment: Experiment, out_dir: Path, *, callbacks: Sequence = ()) -> dict[str, Any]:
    """Runs every stage, in order, below `out_dir`.

    Args:
        experiment: the resolved config.
        out_dir: the run directory (created).
        callbacks: Keras callbacks for the training (a search's pruning callback), handed to the stages.

    Returns:
        The evaluation metrics, plus the last epoch's training metrics under `train`
        (only those on a multi-worker cluster's non-chief workers, which do not evaluate).
    """
    layout = Layout(Path(out_dir))
    folds = experiment.cv.build()
    if folds is not None:
        return run_folds(experiment, layout, folds, callbacks=callbacks)
    results: dict[str, Any] = {}
    for stage in (s for s in STAGES if s.in_runs):
        if stage.name == "evaluate" and not _is_chief(experiment):
            break  # the chief evaluates the model it wrote
        results[stage.name] = run_stage(stage, experiment, layout, callbacks=callbacks)
    return {**(results.get("evaluate") or {}), "train": results["train"]}


def write_folds(layout: Layout, folds) -> list[Layout]:
    """Splits the prepared training and validation rows into the plan's folds, below <root>/folds/<k>/; the test
    split is the same for every fold. Returns the folds' layouts."""
    import numpy as np

    from plugins.data.base import Splits
    from workflows.io.datastore import load_arrays, load_spec, save_splits

    (x_train, y_train), (x_val, y_val) = (load_arrays(s, layout.prepared) for s in ("train", "val"))
    x, y = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
    test, spec = load_arrays("test", layout.prepared), load_spec(layout.prepared)
    layouts = []
    for k, (train, val) in enumerate(folds.split(y)):
        fold = Layout(layout.root / "folds" / str(k))
        save_splits(Splits((x[train], y[train]), (x[val], y[val]), test, spec), fold.prepared)
        layouts.append(fold)
    return layouts


def run_folds(experiment: Experiment, layout: Layout, folds, *, callbacks: Sequence = ()) -> dict[str, Any]:
    """Cross-validation: prepares once, then augments, trains and evaluates on every fold.

    Returns:
        The mean over the folds of every number the folds report (test metrics, and the last epoch's training
        metrics under `train`), `<name>_std` beside each, and `folds`: each fold's own figures.
    """
    import statistics

    stages = {stage.name: stage for stage in STAGES}
    run_stage(stages["prepare"], experiment, layout)
    per_fold = []
    for fold in write_folds(layout, folds):
        out = {
            name: run_stage(stages[name], experiment, fold, callbacks=callbacks)
            for name in ("augment", "train", "evaluate")
        }
        per_fold.append({**out["evaluate"], "train": out["train"]})

    def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for key in rows[0]:
            values = [row.get(key) for row in rows]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                summary[key] = statistics.mean(values)
                summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            elif all(isinstance(v, dict) for v in values) and key != "per_class":
                summary[key] = summarize(values)
            elif all(isinstance(v, str) for v in values):  # a name (the baseline's model): one, or each fold's
                summary[key] = values[0] if len(set(values)) == 1 else values
        return summary

    metrics = summarize(per_fold)
    metrics["folds"] = [{k: v for k, v in row.items() if k != "per_class"} for row in per_fold]
    return metrics


def main(argv: list[str] | None = None) -> int:
    """`python -m workflows.train [overrides…]`: the whole pipeline in Hydra's run directory."""
    from workflows.config.help import config_help
    from workflows.io.console import run_cli

    def usage() -> str:
        return config_help(
            "python -m workflows.train",
            "Runs prepare → augment → train → evaluate in one process, in "
            "Hydra's run directory (outputs/<date>/<time>/, or hydra.run.dir=…); prints the metrics.\n"
            "With --params params.yaml: the train stage alone (what dvc repro runs). With -m: a sweep.",
            (
                "python -m workflows.train optimizer=sgd optimizer.learning_rate=0.05",
                "python -m workflows.train -m optimizer=adam,sgd regularizer=none,l2",
                "python -m workflows.train data=diabetes model=mlp loss=mse",
            ),
        )

    def task(args: list[str]) -> None:
        from workflows.config.compose import compose, to_yaml
        from workflows.config.schema import resolve
        from workflows.io.atomic import write_text

        cfg = compose(args, hydra_config=True)
        out_dir = Path(str(cfg.hydra.run.dir))
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"hydra.run.dir={out_dir} is a file, not a directory; give a new or existing folder")
        from workflows.config.schema import precheck
        from workflows.runtime.distribute import early_setup

        precheck(cfg)  # no TensorFlow yet: a misspelt key or a bad value is one line at once
        early_setup(cfg)  # before TensorFlow's first operation
        experiment = resolve(cfg)
        new = not out_dir.exists()
        try:
            write_text(out_dir / "config.yaml", to_yaml(cfg))
            metrics = run_pipeline(experiment, out_dir)
        except ConfigError:
            if new:  # bad input found while reading the data: no half run directory left behind (one per mistake)
                shutil.rmtree(out_dir, ignore_errors=True)
            raise
        print(json.dumps({k: v for k, v in metrics.items() if k != "per_class"}, indent=2))
        print(f"outputs: {out_dir}", file=sys.stderr)

    return run_cli(task, argv, usage=usage)
