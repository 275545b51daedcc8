"""Compare techniques: run variants × seeds and write a table and a plot into reports/.

A study is a YAML file in conf/studies/: common overrides (`base`), the
`variants` to compare (each a list of overrides), the `seeds`, and the
validation accuracy to `target`. Each run is a whole prepare → augment →
train → evaluate in one process (`workflows.train.run_pipeline`).

    python -m workflows.study optimizers            # conf/studies/optimizers.yaml
    python -m workflows.study optimizers --seeds 0  # quicker
    python -m workflows.study optimizers trainer.epochs=10   # extra overrides for every run

Writes reports/<study>.md (options; mean ± std over seeds), reports/<study>.png
(validation curves, mean ± std) and reports/<study>.json (every run's figures).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from plugins.registry import ConfigError, did_you_mean
from workflows.atomic import atomic_path, write_json, write_text
from workflows.cli import run_cli
from workflows.config import CONF_DIR, compose, resolve

STUDIES = CONF_DIR / "studies"


@dataclass
class Run:
    """One finished run: its variant, seed and figures."""

    variant: str
    seed: int
    overrides: list[str]
    metrics: dict[str, Any]
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # metric → [(epoch, value)]


def read_curves(logs_dir: Path, epochs_per_step: int = 1) -> dict[str, list[tuple[float, float]]]:
    """The per-epoch curves DVCLive wrote (`eval/accuracy`, `train/loss`…), x in epochs."""
    curves = {}
    root = Path(logs_dir) / "plots" / "metrics"
    for tsv in sorted(root.rglob("*.tsv")):
        name = tsv.relative_to(root).with_suffix("").as_posix()
        with tsv.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        key = tsv.stem
        curves[name] = [((int(r["step"]) + 1) * epochs_per_step, float(r[key])) for r in rows]
    return curves


def first_epoch_reaching(curve: list[tuple[float, float]], target: float) -> float | None:
    return next((epoch for epoch, value in curve if value >= target), None)


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
    from workflows.train import run_pipeline

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
        card = json.loads((run_dir / "models" / "model.json").read_text())
        curves = read_curves(run_dir / "dvclive", card["training"]["epochs_per_log_step"])
        runs.append(Run(variant, seed, args, {k: v for k, v in metrics.items() if k != "per_class"}, curves))
    return runs


def mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def table(study: dict[str, Any], runs: list[Run]) -> str:
    """The Markdown table: one row per variant, mean ± std over seeds."""
    target = study.get("target", 0.95)
    lines = [
        f"| variant | options | final val accuracy | test accuracy | epochs to val accuracy ≥ {target:g} |",
        "|---|---|---|---|---|",
    ]
    for variant, overrides in study["variants"].items():
        mine = [r for r in runs if r.variant == variant]
        final_val = [r.metrics["train"]["val_accuracy"] for r in mine]
        test = [r.metrics["accuracy"] for r in mine]
        reached = [first_epoch_reaching(r.curves.get("eval/accuracy", []), target) for r in mine]
        hit = [e for e in reached if e is not None]
        epochs = f"{mean_std(hit).replace('.0000', '')} ({len(hit)}/{len(mine)} runs reached it)" if hit else f"not reached (0/{len(mine)})"
        lines.append(f"| {variant} | `{' '.join(overrides)}` | {mean_std(final_val)} | {mean_std(test)} | {epochs} |")
    return "\n".join(lines)


def plot(study: dict[str, Any], runs: list[Run], path: Path, title: str) -> None:
    """Validation accuracy per epoch, mean over seeds with a ± std band, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for variant in study["variants"]:
        curves = [r.curves.get("eval/accuracy", []) for r in runs if r.variant == variant]
        length = min(len(c) for c in curves)
        if not length:
            continue
        x = np.array([e for e, _ in curves[0][:length]])
        y = np.array([[v for _, v in c[:length]] for c in curves])
        ax.plot(x, y.mean(axis=0), label=variant)
        ax.fill_between(x, y.mean(axis=0) - y.std(axis=0), y.mean(axis=0) + y.std(axis=0), alpha=0.2)
    ax.axhline(study.get("target", 0.95), color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="epoch", ylabel="validation accuracy", title=title, ylim=(0, 1.0))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def write_report(name: str, study: dict[str, Any], runs: list[Run], out_dir: Path, command: str) -> Path:
    """Writes <name>.md, <name>.png and <name>.json into `out_dir`; returns the Markdown file."""
    out_dir = Path(out_dir)
    plot(study, runs, out_dir / f"{name}.png", study.get("title", name))
    write_json(out_dir / f"{name}.json", {"study": study, "runs": [asdict(r) for r in runs]})
    text = "\n\n".join([
        f"# {study.get('title', name)}",
        study.get("description", "").strip(),
        f"Made by `{command}` ({len(study['seeds'])} seeds: {', '.join(map(str, study['seeds']))}; "
        f"common options: `{' '.join(study.get('base', []))}`).",
        table(study, runs),
        f"![validation curves]({name}.png)",
    ]) + "\n"
    write_text(out_dir / f"{name}.md", text)
    return out_dir / f"{name}.md"


def main(argv: list[str] | None = None) -> int:
    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(prog="python -m workflows.study", description=__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("study", help="a study in conf/studies/")
        parser.add_argument("overrides", nargs="*", help="extra overrides for every run")
        parser.add_argument("--seeds", help="comma-separated seeds instead of the study's")
        parser.add_argument("--out", default="reports", help="where the report goes (default: reports)")
        parser.add_argument("--runs", default="outputs/studies", help="where each run's outputs go")
        ns = parser.parse_args(args)
        study = load_study(ns.study)
        if ns.seeds:
            study["seeds"] = [int(s) for s in ns.seeds.split(",")]
        runs = run_study(study, Path(ns.out), Path(ns.runs) / Path(ns.study).stem, ns.overrides)
        command = "python -m workflows.study " + " ".join(args)
        print(write_report(Path(ns.study).stem, study, runs, Path(ns.out), command))

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
