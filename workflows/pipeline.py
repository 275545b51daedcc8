"""The whole pipeline in one process, in a run directory: the direct command line, sweeps and studies.

    python -m workflows.train [overrides…]      # e.g. optimizer=sgd optimizer.learning_rate=0.05

runs prepare → augment → train → evaluate — the same stage functions DVC
runs (workflows/stages.py), with the same files in between — below Hydra's
run directory (outputs/<date>/<time>/, or `hydra.run.dir=…`), which then
looks like the repository after `dvc repro`: data/prepared, data/augmented,
models/, dvclive/train/, eval/, plus config.yaml. The metrics are printed as
JSON. The same config gives the same files and metrics as `dvc exp run -S …`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from workflows.experiment import Experiment
from workflows.layout import Layout
from workflows.stages import STAGES


def _is_chief(experiment: Experiment) -> bool:
    if experiment.trainer.strategy != "multi_worker":
        return True
    from workflows.distribute import read_tf_config

    return read_tf_config().is_chief


def run_pipeline(experiment: Experiment, out_dir: Path) -> dict[str, Any]:
    """Runs every stage, in order, below `out_dir`.

    Args:
        experiment: the resolved config.
        out_dir: the run directory (created).

    Returns:
        The evaluation metrics, plus the last epoch's training metrics under `train`
        (only those on a multi-worker cluster's non-chief workers, which do not evaluate).
    """
    layout = Layout(Path(out_dir))
    results: dict[str, Any] = {}
    for stage in (s for s in STAGES if s.in_runs):
        if stage.name == "evaluate" and not _is_chief(experiment):
            break  # the chief evaluates the model it wrote
        results[stage.name] = stage(experiment, layout)
    return {**(results.get("evaluate") or {}), "train": results["train"]}


def main(argv: list[str] | None = None) -> int:
    """`python -m workflows.train [overrides…]`: the whole pipeline in Hydra's run directory."""
    from workflows.cli import run_cli

    def task(args: list[str]) -> None:
        from workflows.atomic import write_text
        from workflows.compose import compose, to_yaml
        from workflows.schema import resolve

        cfg = compose(args, hydra_config=True)
        out_dir = Path(str(cfg.hydra.run.dir))
        from workflows.distribute import early_setup

        early_setup(cfg)  # before TensorFlow's first operation
        experiment = resolve(cfg)
        write_text(out_dir / "config.yaml", to_yaml(cfg))
        metrics = run_pipeline(experiment, out_dir)
        print(json.dumps({k: v for k, v in metrics.items() if k != "per_class"}, indent=2))
        print(f"outputs: {out_dir}", file=sys.stderr)

    return run_cli(task, argv)
