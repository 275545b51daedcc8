"""Collect runs into a comparison report: a Markdown table, validation curves and a bar chart.

    python -m workflows.report multirun/2026-11-25/10-00-00        # a Hydra multirun directory
    python -m workflows.report --dvc .                             # the DVC experiments of a repository
    python -m workflows.report multirun/… --name grid --out reports

Runs that differ only in `trainer.seed` form one variant: metrics are given
as mean ± sample standard deviation over its runs. Failed runs are counted
and their errors listed. Writes <out>/<name>.md, <name>.png (validation
accuracy per epoch, where curves exist) and <name>_bars.png (the test
metric with error bars).
"""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError
from workflows.io.atomic import atomic_path, write_text
from workflows.io.layout import Layout

SEED_KEYS = ("trainer.seed",)


@dataclass
class Run:
    """One run: the options that define its variant, its seed, its figures (or its error)."""

    variant: str
    seed: int
    overrides: list[str]
    metrics: dict[str, Any]
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # metric → [(epoch, value)]
    error: str | None = None
    pruned: str | None = None  # a search trial the pruner stopped: why (not a failure)
    objective: tuple[str, float] | None = None  # a search trial's objective: (metric, value)
    direction: str = "maximize"  # a search trial's objective: which way is better
    best: bool = False  # the search's best trial


def read_curves(logs_dir: Path, epochs_per_step: int = 1) -> dict[str, list[tuple[float, float]]]:
    """The per-epoch curves DVCLive wrote (`eval/accuracy`, `train/loss`…), x in epochs."""
    curves = {}
    root = Path(logs_dir) / "plots" / "metrics"
    for tsv in sorted(root.rglob("*.tsv")):
        name = tsv.relative_to(root).with_suffix("").as_posix()
        with tsv.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        curves[name] = [((int(r["step"]) + 1) * epochs_per_step, float(r[tsv.stem])) for r in rows]
    return curves


def run_curves(run_dir: Path) -> dict[str, list[tuple[float, float]]]:
    """The curves of one pipeline run (its dvclive/train/), x in epochs as its card says (`epochs_per_log_step`)."""
    layout = Layout(Path(run_dir))
    card = layout.models / "model.json"
    try:
        per_step = json.loads(card.read_text())["training"]["epochs_per_log_step"] if card.exists() else 1
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"{card} is not a model card of this project (truncated, or another program's); rerun training "
            "(dvc repro -f train)"
        ) from None
    return read_curves(layout.train_logs, per_step)


def mean_std(values: list[float], digits: int = 4, spread: bool = False) -> str:
    """'mean ± sample std' (with `spread`, then '(min–max)'); just the value for one run, '—' for none."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    text = f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"
    return f"{text} ({min(values):.{digits}f}–{max(values):.{digits}f})" if spread else text


def first_epoch_reaching(curve: list[tuple[float, float]], target: float) -> float | None:
    """The first epoch whose value reaches `target`, or None."""
    return next((epoch for epoch, value in curve if value >= target), None)


def readable(value: Any) -> str:
    """A number for reading: 3 significant digits (`0.000131986…` → `0.000132`, `1234.5` → `1.23e+03`); anything
    else as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.3g}"


def _readable_override(override: str) -> str:
    key, sep, value = override.partition("=")
    try:
        number = float(value)
    except ValueError:
        return override
    whole = number.is_integer() and "." not in value and "e" not in value.lower()
    return f"{key}{sep}{readable(int(number) if whole else number)}"


def split_seed(overrides: list[str], readable_values: bool = False) -> tuple[str, int]:
    """The variant's name (its overrides but the seed; with `readable_values`, numbers to 3 significant digits)
    and the seed."""
    seed = 0
    rest = []
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+") in SEED_KEYS:
            seed = int(value)
        else:
            rest.append(_readable_override(override) if readable_values else override)
    return " ".join(rest) or "(defaults)", seed


def from_multirun(sweep_dir: Path) -> list[Run]:
    """Every job of a Hydra multirun directory (its overrides, result.json and DVCLive curves)."""
    results = sorted(
        Path(sweep_dir).glob("*/result.json"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    runs = [_job_run(result) for result in results]
    if not runs:
        raise ConfigError(f"{sweep_dir} holds no finished job (no */result.json); is it a multirun directory?")
    scored = [r for r in runs if r.objective is not None]
    if scored:  # the search's best trial, by its own objective and direction
        sign = -1 if scored[0].direction == "minimize" else 1
        max(scored, key=lambda r: sign * r.objective[1]).best = True
    return runs


def _job_run(result: Path) -> Run:
    """One job of a multirun directory, or one trial of a search, from its result.json."""
    import yaml

    job = result.parent
    try:
        outcome = json.loads(result.read_text())
        status = outcome["status"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ConfigError(
            f"{result} is not a run's result (truncated or edited); delete it, or rerun that job"
        ) from None
    search_trial = "overrides" in outcome
    if search_trial:  # a trial of workflows.search: its number names it (its values may repeat when rounded)
        overrides = list(outcome["overrides"])
    else:
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or []
    variant, seed = split_seed(overrides, readable_values=search_trial)
    if search_trial:
        variant = f"trial {job.name}: {variant}"
    if status == "pruned":
        return Run(variant, seed, overrides, {}, pruned=outcome.get("error", "pruned"))
    if status != "ok":
        return Run(variant, seed, overrides, {}, error=outcome.get("error", "failed"))
    run = Run(variant, seed, overrides, outcome["metrics"], run_curves(job))
    if search_trial and outcome.get("objective_names"):
        run.objective = (str(outcome["objective_names"][0]), float(outcome["objective"]))
        run.direction = str(outcome.get("directions", ["maximize"])[0])
    return run


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def from_dvc(repo: Path) -> list[Run]:
    """The DVC experiments of `repo` (`dvc exp show --json`): the params that differ name the variants."""
    result = subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"`dvc exp show` failed in {repo}: {result.stderr.strip().splitlines()[-1:]}")
    experiments = [e for e in _entries(json.loads(result.stdout)) if e.get("experiments") is None]  # not baselines
    if not experiments:
        raise ConfigError(f"{repo} has no DVC experiment; run `dvc exp run` first")
    params = []
    for entry in experiments:
        flat = {}
        for file in entry["data"]["params"].values():
            flat.update(_flatten(file.get("data", {})))
        params.append(flat)
    # The options that tell the experiments apart: keys every experiment has, with differing values
    # (a plugin's own keys, present for adam but not for sgd, follow from its `name`), names first.
    common = set.intersection(*(set(p) for p in params))
    varying = sorted(
        (k for k in common if len({json.dumps(p[k]) for p in params}) > 1), key=lambda k: (not k.endswith(".name"), k)
    )
    return [_experiment_run(entry, [f"{k}={flat.get(k)}" for k in varying]) for entry, flat in zip(experiments, params)]


def _experiment_run(entry: dict, overrides: list[str]) -> Run:
    """One DVC experiment as a run: its test metrics (eval/), or its failure."""
    variant, seed = split_seed(overrides)
    metrics = {}
    for file, content in (entry["data"].get("metrics") or {}).items():
        if file.startswith("eval/"):
            metrics.update(content.get("data", {}))
    if entry["data"].get("status", "Success") not in ("Success", "Queued") and not metrics:
        return Run(variant, seed, overrides, {}, error=f"experiment {entry['name']}: {entry['data'].get('status')}")
    return Run(variant, seed, overrides, metrics)


def _entries(node: Any) -> list[dict]:
    """Every named revision with params in `dvc exp show --json`'s tree (the workspace left out)."""
    found = []
    if isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "params" in data and node.get("name") and node.get("rev") != "workspace":
            found.append(node)
        for value in node.values():
            found += _entries(value)
    elif isinstance(node, list):
        for value in node:
            found += _entries(value)
    return found


def group(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for run in runs:
        out.setdefault(run.variant, []).append(run)
    return out


def headline_metric(runs: list[Run]) -> str:
    """`accuracy` for classification, else `r2` or `loss`."""
    for name in ("accuracy", "r2", "loss"):
        if any(name in r.metrics for r in runs):
            return name
    return "loss"


def validation_metric(runs: list[Run]) -> str:
    """The last epoch's validation metric the runs have: `val_accuracy` for classes, else `val_loss`."""
    return "val_accuracy" if any("val_accuracy" in r.metrics.get("train", {}) for r in runs) else "val_loss"


def table(
    groups: dict[str, list[Run]],
    options: dict[str, str] | None = None,
    target: float | None = None,
    columns: tuple[str, ...] = (),
) -> str:
    """The Markdown table: one row per variant, metrics as mean ± std over its runs (`columns`: more test metrics,
    e.g. `recall_3`, each a column). A search's trials get their objective's column, the best marked ★; pruned
    trials are counted as pruned, not failed."""
    runs = [r for rs in groups.values() for r in rs]
    metric, val_metric = headline_metric(runs), validation_metric(runs)
    objective = next((r.objective[0] for r in runs if r.objective), None)
    baseline = next(
        (r.metrics["baseline"].get("model") for r in runs if isinstance(r.metrics.get("baseline"), dict)), None
    )
    header = _header(metric, val_metric, objective, target, columns, baseline)
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name, members in groups.items():
        row = _row(name, members, options, metric, val_metric, objective, target, columns)
        lines.append(row + (_baseline_cells(members, metric) if baseline is not None else ""))
    return "\n".join(lines + _footnotes(runs))


def _header(
    metric: str,
    val_metric: str,
    objective: str | None,
    target: float | None,
    columns: tuple[str, ...],
    baseline: str | None,
) -> str:
    """The table's header row: the columns `_row` (and `_baseline_cells`) fill, in their order."""
    header = "| variant | runs |"
    if objective is not None:
        header += f" objective: {objective} |"
    header += f" test {metric} (range) | final {val_metric.replace('_', ' ')} |"
    if target is not None:
        header += f" epochs to val accuracy ≥ {target:g} |"
    header += "".join(f" test {c} |" for c in columns)
    if baseline is not None:  # a table's runs: the classical baseline on the same rows, and the paired verdicts
        header += f" {baseline} test {metric} | verdicts better/tie/worse |"
    return header


def _footnotes(runs: list[Run]) -> list[str]:
    """The pruned trials and the failed runs, listed under the table (nothing when there are none)."""
    errors = [f"- `{r.variant}` (seed {r.seed}): {r.error}" for r in runs if r.error]
    pruned = [f"- `{r.variant}`: {r.pruned}" for r in runs if r.pruned]
    return (["", "Pruned trials (stopped by the pruner, not failures):", *pruned] if pruned else []) + (
        ["", "Failed runs:", *errors] if errors else []
    )


def _row(
    name: str,
    members: list[Run],
    options: dict[str, str] | None,
    metric: str,
    val_metric: str,
    objective: str | None,
    target: float | None,
    columns: tuple[str, ...],
) -> str:
    ok = [r for r in members if r.error is None and r.pruned is None]
    row = f"| {_label(name, members, options)} | {_counts(members, ok)} |"
    if objective is not None:
        row += f" {mean_std([r.objective[1] for r in ok if r.objective], digits=4)} |"
    val = [r.metrics["train"][val_metric] for r in ok if val_metric in r.metrics.get("train", {})]
    row += f" {_test_cell(ok, metric)} | {mean_std(val)} |"
    if target is not None:
        row += f" {_reached(ok, target)} |"
    row += "".join(f" {mean_std([r.metrics[c] for r in ok if c in r.metrics], spread=True)} |" for c in columns)
    return row


def _label(name: str, members: list[Run], options: dict[str, str] | None) -> str:
    """A variant's name (with its options, in a study), starred when it holds a search's best trial."""
    if options is not None:
        label = f"{name} `{options[name]}`" if options.get(name) else f"{name} (the defaults)"
    else:
        label = f"`{name}`"
    return f"★ {label} (best)" if any(r.best for r in members) else label


def _counts(members: list[Run], ok: list[Run]) -> str:
    """How many runs count, and how many were pruned or failed."""
    pruned, failed = sum(r.pruned is not None for r in members), sum(r.error is not None for r in members)
    counts = [f"{n} {what}" for n, what in ((pruned, "pruned"), (failed, "failed")) if n]
    return ", ".join(([str(len(ok))] if ok or not counts else []) + counts)


def _test_cell(ok: list[Run], metric: str) -> str:
    """The test metric's mean ± std (range); cross-validated runs add the spread between their folds."""
    cell = mean_std([r.metrics[metric] for r in ok if metric in r.metrics], spread=True)
    fold_std = [r.metrics[f"{metric}_std"] for r in ok if f"{metric}_std" in r.metrics]
    if fold_std and len(fold_std) == len(ok):
        cell += f"; between folds ± {sum(fold_std) / len(fold_std):.4f}"
    return cell


def _reached(ok: list[Run], target: float) -> str:
    """The epochs the runs took to reach `target` validation accuracy, and how many did."""
    reached = [first_epoch_reaching(r.curves.get("eval/accuracy", []), target) for r in ok]
    hit = [e for e in reached if e is not None]
    return f"{mean_std(hit, 1)} ({len(hit)}/{len(ok)} runs)" if hit else f"not reached (0/{len(ok)} runs)"


def _baseline_cells(members: list[Run], metric: str) -> str:
    """The baseline's score over a variant's runs, and how many of them the paired test called better/tie/worse."""
    bases = [r.metrics["baseline"] for r in members if r.error is None and isinstance(r.metrics.get("baseline"), dict)]
    verdicts = [b.get("verdict") for b in bases]
    counts = "/".join(str(verdicts.count(v)) for v in ("better", "tie", "worse"))
    return f" {mean_std([b[metric] for b in bases if metric in b], spread=True)} | {counts} |"


def _wrap(title: str, width: int = 60) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(title, width, break_on_hyphens=False)) or title


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(groups: dict[str, list[Run]], path: Path, title: str, target: float | None = None) -> bool:
    """Validation accuracy (else loss) per epoch, mean over a variant's runs with a ± std band. False without curves."""

    runs = [r for rs in groups.values() for r in rs if r.error is None]
    curve = "eval/accuracy" if any("eval/accuracy" in r.curves for r in runs) else "eval/loss"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    drawn = [_draw_mean_curve(ax, name, members, curve) for name, members in groups.items()]
    if any(drawn):
        if target is not None and curve == "eval/accuracy":
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="epoch", ylabel=f"validation {curve.split('/')[1]}")
        ax.set_title(_wrap(title), fontsize=10)
        ax.grid(alpha=0.3)
        # Beside the axes, not over the curves; labels wrapped so that long variant names stay whole.
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles,
            [_wrap(label, 45) for label in labels],
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=7,
            frameon=False,
        )
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    return any(drawn)


def _draw_mean_curve(ax, name: str, members: list[Run], curve: str) -> bool:
    """One variant's mean curve over its runs (cut to the shortest) with a ± std band; False without one."""
    import numpy as np

    curves = [r.curves.get(curve, []) for r in members if r.error is None]
    length = min((len(c) for c in curves), default=0)
    if not length:
        return False
    x = np.array([e for e, _ in curves[0][:length]])
    y = np.array([[v for _, v in c[:length]] for c in curves])
    ax.plot(x, y.mean(axis=0), label=name)
    ax.fill_between(x, y.mean(axis=0) - y.std(axis=0), y.mean(axis=0) + y.std(axis=0), alpha=0.2)
    return True


def plot_bars(groups: dict[str, list[Run]], path: Path, title: str, extra: dict[str, float] | None = None) -> None:
    """The headline test metric per variant: mean with a ± std error bar (and reference lines in `extra`)."""

    runs = [r for rs in groups.values() for r in rs]
    metric = headline_metric(runs)
    names, means, stds = _bar_values(groups, metric)
    extra = extra or {}
    plt = _pyplot()
    lines = sum(n.count("\n") + 1 for n in names)
    fig, ax = plt.subplots(figsize=(7, 0.32 * lines + 0.25 * len(names) + 1.6), dpi=120)
    bars = ax.barh(names, means, xerr=stds, capsize=4, color="tab:blue", alpha=0.8)
    ax.bar_label(bars, labels=[readable(m) for m in means], padding=3, fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    for label, value in extra.items():
        ax.axvline(value, color="tab:red", linestyle="--", linewidth=1, label=label)
    ax.set(xlim=_bar_limits(means, stds, list(extra.values())), xlabel=f"test {metric} (mean ± std)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.set_title(_wrap(title), fontsize=10)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    if extra:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    with atomic_path(path, suffix=".png") as tmp:  # the whole figure: no label or title cut off
        fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)


def _bar_values(groups: dict[str, list[Run]], metric: str) -> tuple[list[str], list[float], list[float]]:
    """Each variant with a score: its label (★ for a search's best), the mean and the std over its runs."""
    import numpy as np

    names, means, stds = [], [], []
    for name, members in groups.items():
        values = [r.metrics[metric] for r in members if r.error is None and metric in r.metrics]
        if values:
            names.append(("★ " if any(r.best for r in members) else "") + _wrap(name, 40))
            means.append(float(np.mean(values)))
            stds.append(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
    return names, means, stds


def _bar_limits(means: list[float], stds: list[float], references: list[float]) -> tuple[float, float]:
    """The x range: every bar's ± std and every reference line, padded so that ticks differ in 3 digits."""
    low = min([m - s for m, s in zip(means, stds)] + references, default=0.0)
    high = max([m + s for m, s in zip(means, stds)] + references, default=1.0)
    pad = max((high - low) * 0.15, 0.05 * max(abs(low), abs(high)), 1e-3)
    return low - pad, high + pad


def write(
    name: str,
    title: str,
    groups: dict[str, list[Run]],
    out_dir: Path,
    intro: list[str],
    options: dict[str, str] | None = None,
    target: float | None = None,
    references: dict[str, float] | None = None,
    columns: tuple[str, ...] = (),
) -> Path:
    """Writes <name>.md, <name>.png (if curves) and <name>_bars.png into `out_dir`; returns the Markdown file."""
    out_dir = Path(out_dir)
    has_curves = plot_curves(groups, out_dir / f"{name}.png", title, target)
    plot_bars(groups, out_dir / f"{name}_bars.png", title, references)
    parts = [
        f"# {title}",
        *[p for p in intro if p],
        table(groups, options, target, tuple(columns)),
        f"![test metric]({name}_bars.png)",
    ]
    if has_curves:
        parts.append(f"![validation curves]({name}.png)")
    write_text(out_dir / f"{name}.md", "\n\n".join(parts) + "\n")
    return out_dir / f"{name}.md"


def draw_pareto(
    trials: list[tuple[int, list[float]]],
    front: list[tuple[int, list[float]]],
    names: list[str],
    out: Path,
    title: str | None = None,
) -> None:
    """Draws (number, objective values) pairs by their first two objectives — every trial in grey, the Pareto
    `front` joined and labelled with the trial numbers — into `out`."""
    front = sorted(front, key=lambda item: item[1][1])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter([v[1] for _, v in trials], [v[0] for _, v in trials], color="0.7", label="trials")
    ax.plot([v[1] for _, v in front], [v[0] for _, v in front], "o-", color="C3", label="Pareto front")
    for n, v in front:
        ax.annotate(str(n), (v[1], v[0]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(names[1])
    ax.set_ylabel(names[0])
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def pareto_from_results(sweep_dir: Path, out: Path) -> list[int] | None:
    """For a search with two objectives or more: draws its trials by the first two, the Pareto front joined, into
    `out`; returns the trial numbers on the front (None when the search had one objective)."""
    rows = []
    for result in Path(sweep_dir).glob("*/result.json"):
        outcome = json.loads(result.read_text())
        if outcome.get("status") == "ok" and len(outcome.get("objectives", [])) >= 2:
            rows.append((int(result.parent.name), outcome))
    if not rows:
        return None
    names, directions = rows[0][1]["objective_names"], rows[0][1]["directions"]
    signs = [1 if d == "maximize" else -1 for d in directions]

    def dominates(a, b):  # a at least as good everywhere, better somewhere
        pairs = [(s * x, s * y) for s, x, y in zip(signs, a, b)]
        return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)

    front = [(n, o) for n, o in rows if not any(dominates(p["objectives"], o["objectives"]) for _, p in rows)]
    front.sort(key=lambda item: item[1]["objectives"][1])
    draw_pareto([(n, o["objectives"]) for n, o in rows], [(n, o["objectives"]) for n, o in front], names, out)
    return [n for n, _ in front]
