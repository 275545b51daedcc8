"""Compare techniques: run variants × seeds and write a table and a plot into reports/.

A study is a YAML file in conf/studies/: common overrides (`base`), the
`variants` to compare (each a list of overrides), the `seeds`, and the
validation accuracy to `target`. Each run is a whole prepare → augment →
train → evaluate in one process (`workflows.pipeline.run_pipeline`), with the same stage
functions and files in between as `dvc repro`.

    python -m workflows.study optimizers            # conf/studies/optimizers.yaml
    python -m workflows.study optimizers --seeds 0  # quicker
    python -m workflows.study optimizers trainer.epochs=10   # extra overrides for every run

Writes reports/<study>.md (options; mean ± std over seeds), reports/<study>.png
(validation curves, mean ± std), reports/<study>_bars.png (test accuracy with
error bars, baselines as lines) and reports/<study>.json (every run's figures).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from plugins.registry import ConfigError, did_you_mean
from workflows.config.compose import CONF_DIR, compose
from workflows.config.schema import resolve
from workflows.io.atomic import write_json
from workflows.io.console import run_cli
from workflows.reporting import report
from workflows.reporting.report import Run, run_curves

STUDIES = CONF_DIR / "studies"


def load_study(name: str) -> dict[str, Any]:
    """A study by name (conf/studies/<name>.yaml) or by path to a YAML file."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else STUDIES / f"{name}.yaml"
    if not path.exists():
        known = [p.stem for p in STUDIES.glob("*.yaml")]
        raise ConfigError(f"unknown study '{name}' (no {path}); {did_you_mean(name, known)}")
    study = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    for key in ("variants", "seeds"):
        if not study.get(key):
            raise ConfigError(f"{path}: needs '{key}'")
    return study


def run_study(study: dict[str, Any], out_dir: Path, runs_dir: Path, extra: list[str] = ()) -> list[Run]:
    """Runs every variant with every seed; checks every config before the first run starts."""
    from workflows.runners.pipeline import run_pipeline

    plans = []
    for variant, overrides in study["variants"].items():
        for seed in study["seeds"]:
            args = [*study.get("base", []), *overrides, *extra, f"trainer.seed={seed}"]
            plans.append((variant, seed, args, resolve(compose(args))))
    runs = []
    for i, (variant, seed, args, experiment) in enumerate(plans, 1):
        print(f"[{i}/{len(plans)}] {variant} seed={seed}", file=sys.stderr, flush=True)
        run_dir = runs_dir / variant / f"seed{seed}"
        metrics = run_pipeline(experiment, run_dir)
        recalls = {f"recall_{name}": figures["recall"] for name, figures in metrics.get("per_class", {}).items()}
        runs.append(
            Run(
                variant,
                seed,
                args,
                {**{k: v for k, v in metrics.items() if k != "per_class"}, **recalls},
                run_curves(run_dir),
            )
        )
    return runs


def write_report(
    name: str, study: dict[str, Any], runs: list[Run], baselines: list[Run], out_dir: Path, command: str
) -> Path:
    """Writes <name>.md, <name>.png, <name>_bars.png and <name>.json into `out_dir`; returns the Markdown file."""
    groups = report.group(runs)
    options = {variant: " ".join(overrides) for variant, overrides in study["variants"].items()}
    references = {f"{b.variant} (scikit-learn)": b.metrics["accuracy"] for b in baselines}
    intro = [
        study.get("description", "").strip(),
        f"Made by `{command}` ({len(study['seeds'])} seeds: {', '.join(map(str, study['seeds']))}; "
        f"common options: `{' '.join(study.get('base', [])) or '(none)'}`).",
        *[
            f"Baseline **{b.variant}**: `{b.overrides[0]}`, fitted on the training and validation rows, "
            f"test accuracy **{b.metrics['accuracy']:.4f}** on the same test rows."
            for b in baselines
        ],
    ]
    write_json(Path(out_dir) / f"{name}.json", {"study": study, "runs": [asdict(r) for r in [*baselines, *runs]]})
    return report.write(
        name,
        study.get("title", name),
        groups,
        out_dir,
        intro,
        options,
        study.get("target", 0.95),
        references,
        study.get("columns", ()),
    )


def fit_baselines(study: dict[str, Any], extra: list[str] = ()) -> list[Run]:
    """Fits the study's scikit-learn `baselines` on the same split as the runs (train + val rows), scores the test rows.

    A baseline is `{name: {estimator: sklearn.module.Class, params: {...}}}`;
    only scikit-learn estimators are imported.
    """
    import importlib

    import numpy as np

    from plugins.data.base import to_numpy

    baselines = study.get("baselines") or {}
    if not baselines:
        return []
    first = next(iter(study["variants"].values()))
    splits = resolve(compose([*study.get("base", []), *first, *extra])).load_data()
    x_train, y_train = (np.concatenate(a) for a in zip(to_numpy(splits.train), to_numpy(splits.val)))
    x_test, y_test = to_numpy(splits.test)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    runs = []
    for name, spec in baselines.items():
        module, _, cls = str(spec["estimator"]).rpartition(".")
        if not module.startswith("sklearn."):
            raise ConfigError(
                f"baselines.{name}.estimator={spec['estimator']}: only scikit-learn estimators (sklearn.…)"
            )
        estimator = getattr(importlib.import_module(module), cls)(**spec.get("params", {}))
        estimator.fit(flat(x_train), y_train)
        accuracy = float((estimator.predict(flat(x_test)) == y_test).mean())
        runs.append(Run(name, -1, [f"{spec['estimator']}({spec.get('params', {})})"], {"accuracy": accuracy}))
    return runs


def main(argv: list[str] | None = None) -> int:
    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(
            prog="python -m workflows.study", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument("study", help="a study in conf/studies/")
        parser.add_argument("overrides", nargs="*", help="extra overrides for every run")
        parser.add_argument("--seeds", help="comma-separated seeds instead of the study's")
        parser.add_argument("--out", default="reports", help="where the report goes (default: reports)")
        parser.add_argument("--runs", default="outputs/studies", help="where each run's outputs go")
        ns = parser.parse_args(args)
        study = load_study(ns.study)
        if ns.seeds:
            study["seeds"] = [int(s) for s in ns.seeds.split(",")]
        baselines = fit_baselines(study, ns.overrides)
        runs = run_study(study, Path(ns.out), Path(ns.runs) / Path(ns.study).stem, ns.overrides)
        command = "python -m workflows.study " + " ".join(args)
        print(write_report(Path(ns.study).stem, study, runs, baselines, Path(ns.out), command))

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
