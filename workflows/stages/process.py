"""The stage process: what `dvc repro` runs for each stage (`python -m workflows.stage <name> --params params.yaml`).

`stage_main` reads the composed config, refuses what no stage can honour under DVC, runs the stage's own set-up
(`setup(cfg)`, the train stage's: before TensorFlow's first operation), resolves the config for the stage and runs
it; then, for the train stage, runs the stages that follow it ahead (workflows/stages/ahead.py), and a stage that
was run ahead on the same deps publishes that hand-off instead of running. `run_stage` is the one way a runner runs
a stage: its module's `run(experiment, layout, *, callbacks=())` on
the stage's view of the config, with the callbacks handed down as an argument.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workflows.config.stage_table import BY_NAME, RESTORE_HINT, Stage
from workflows.io.layout import REPO, Layout
from workflows.stages import ahead


def run_stage(stage: Stage, experiment: Any, layout: Layout = REPO, *, callbacks: Sequence = ()) -> Any:
    """Runs `stage` on its view of `experiment`, reading and writing below `layout.root`.

    Args:
        stage: the stage (`workflows.config.stage_table.STAGES`).
        experiment: the resolved config.
        layout: where the files are.
        callbacks: Keras callbacks for the stage's training (a search's pruning callback).

    Returns:
        What the stage's `run` returns (metrics, for train and evaluate).
    """
    run = importlib.import_module(stage.module).run
    return run(experiment.for_stage(stage.name, stage.reads), layout, callbacks=callbacks)


def stage_main(name: str, argv: list[str] | None = None) -> int:
    """The DVC command of a stage: reads `--params` (params.yaml), checks it, runs the stage in the repository."""
    from plugins.registry import ConfigError
    from workflows.io.console import Interrupted, run_cli

    stage = BY_NAME[name]

    def task(args: list[str]) -> None:
        import argparse

        from workflows.config.compose import load_params
        from workflows.config.schema import resolve

        parser = argparse.ArgumentParser(prog=f"kerasforge stage {name}", description=f"The {name} stage.")
        parser.add_argument("--params", help="the composed config (default: params.yaml, or --root's config.yaml)")
        parser.add_argument("--root", help="a run directory of `python -m workflows.train` (default: the repository)")
        parsed = parser.parse_args(args)
        layout = REPO if parsed.root is None else Layout(Path(parsed.root))
        if parsed.root is not None and not Path(parsed.root).is_dir():
            raise ConfigError(f"--root {parsed.root}: no such run directory")
        cfg = load_params(
            parsed.params or ("params.yaml" if parsed.root is None else Path(parsed.root) / "config.yaml")
        )
        if cfg.get("hparams_search") and parsed.root is None:
            raise ConfigError(
                "hparams_search is set: a search runs its trials itself (python -m workflows.search); "
                "the DVC pipeline trains one config: set hparams_search=null (or leave it out of -S)"
            )
        cv = (cfg.get("cv") or {}).get("name", "none")
        if cv != "none" and parsed.root is None:
            raise ConfigError(
                f"cv={cv}: cross-validation runs on the direct command line, in searches and studies "
                f"(python -m workflows.train cv={cv}); the DVC pipeline trains on the one train/val "
                "split: set cv=none"
            )
        published = ahead.publish(stage, cfg) if parsed.root is None else None
        if published is not None:  # the train stage's process ran it ahead, on the same deps
            _print_result(published.result)
            return
        setup = getattr(importlib.import_module(stage.module), "setup", None)
        if setup is not None:  # a stage's own set-up on the composed config (train: before TensorFlow's first op)
            from workflows.config.schema import precheck

            precheck(cfg, stage)  # no TensorFlow yet: a misspelt key or a bad value is one line at once
            setup(cfg)
        result = run_stage(stage, resolve(cfg, stage), layout)
        _print_result(result)
        if parsed.root is None:  # under DVC: the stages that follow, while TensorFlow and the model are loaded
            try:
                ahead.run_ahead(stage, cfg, lambda follower, root: run_stage(follower, resolve(cfg, follower), root))
            except KeyboardInterrupt:
                written = ", ".join(f"{h}/" for h in sorted(ahead.heads(stage)))
                raise Interrupted(
                    f"the {name} stage had finished and written {written}, but DVC has not recorded them (dvc.lock "
                    f"names the previous ones): run `dvc repro` to record them, or `dvc checkout {name}` to go back"
                ) from None

    def under_dvc(args: list[str]) -> None:
        try:
            task(args)
        except ConfigError as err:
            if not os.environ.get("DVC_STAGE"):
                raise
            # `dvc exp run -S …` leaves the params.yaml it composed behind when a stage fails: say how to go back.
            raise ConfigError(f"{err} ({RESTORE_HINT})") from None

    return run_cli(under_dvc, argv)


def _print_result(result: Any) -> None:
    """A stage's metrics on stdout, as JSON (per-class figures left to the metrics file)."""
    if isinstance(result, dict):
        print(json.dumps({k: v for k, v in result.items() if k != "per_class"}, indent=2))
