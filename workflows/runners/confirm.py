"""Winners beyond seed noise: rerun a search's best configs over several seeds and test the differences.

    python -m workflows.report multirun/search/<study> --confirm 2 --seeds 5 --name confirm

A search crowns whichever trial scored highest once, on one seed and the
validation split. This reruns the `K` best trials of a `workflows.search`
study and the study's baseline (its config without the trials' values) over
`N` training seeds each, then states for the winner against the runner-up
and against the baseline: the test accuracy as mean ± std over the seeds,
and McNemar's exact test on the same test examples (the discordant examples
of seed s of one config against seed s of the other, pooled over the seeds),
with a plain verdict — better than seed noise, or not.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError
from workflows.io.atomic import write_json, write_text

ALPHA = 0.05  # below this p-value a difference is called more than seed noise


@dataclass
class Candidate:
    """A config to rerun: its name, its config file, and what its seeds gave."""

    name: str
    config: Path
    accuracies: list[float] = field(default_factory=list)
    correct: list[list[bool]] = field(default_factory=list)  # per seed, per test example


def top_trials(study_dir: Path, k: int) -> list[tuple[str, Path]]:
    """The `k` best finished trials of a search directory (by their objective, the study's direction)."""
    base = study_dir / "base.yaml"
    if not base.is_file():
        raise ConfigError(
            f"{study_dir} is not a workflows.search study directory (no base.yaml); give "
            "<hparams_search.dir>/<study_name>, e.g. multirun/search/digits-val_accuracy-max"
        )
    done, directions = [], set()
    for result in study_dir.glob("*/result.json"):
        outcome = json.loads(result.read_text())
        if outcome.get("status") == "ok" and (result.parent / "config.yaml").is_file():
            done.append((outcome["objective"], result.parent))
            # The direction the search optimized, as it resolved it (base.yaml may leave it to follow the metric).
            directions.add(str((outcome.get("directions") or ["maximize"])[0]))
    if len(directions) > 1:
        raise ConfigError(
            f"{study_dir}: its trials optimized in both directions ({', '.join(sorted(directions))}); "
            "confirm one study at a time"
        )
    direction = directions.pop() if directions else "maximize"
    if len(done) < min(k, 2):
        raise ConfigError(f"{study_dir} holds {len(done)} finished trial(s); --confirm {k} needs at least {min(k, 2)}")
    # Best first; a tie goes to the earlier trial, as Optuna's best_trial (and the search's printed winner) does.
    sign = -1 if direction == "maximize" else 1
    done.sort(key=lambda item: (sign * item[0], int(item[1].name) if item[1].name.isdigit() else 0))
    return [(f"trial {path.name}", path / "config.yaml") for _, path in done[:k]]


def rerun(candidate: Candidate, seeds: list[int], runs_dir: Path) -> None:
    """Runs the candidate's config once per seed (the whole pipeline); records test accuracy and per-example hits."""
    from workflows.config.compose import load_params
    from workflows.config.schema import resolve
    from workflows.runners.pipeline import run_pipeline

    for seed in seeds:
        cfg = load_params(candidate.config)
        cfg.trainer.seed = seed
        out = runs_dir / candidate.name.replace(" ", "_") / f"seed{seed}"
        metrics = run_pipeline(resolve(cfg), out)
        rows = json.loads((out / "eval" / "plots" / "confusion.json").read_text())
        candidate.accuracies.append(float(metrics["accuracy"]))
        candidate.correct.append([row["actual"] == row["predicted"] for row in rows])


def mcnemar(a: Candidate, b: Candidate) -> dict[str, Any]:
    """McNemar's exact test, seed s of `a` against seed s of `b`, discordant examples pooled over the seeds.

    Returns:
        `a_only` (examples a gets right and b wrong), `b_only`, and the two-sided exact p-value.
    """
    from scipy.stats import binomtest

    a_only = sum(x and not y for ca, cb in zip(a.correct, b.correct) for x, y in zip(ca, cb))
    b_only = sum(y and not x for ca, cb in zip(a.correct, b.correct) for x, y in zip(ca, cb))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(min(a_only, b_only), n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p}


def verdict(a: Candidate, b: Candidate, test: dict[str, Any]) -> str:
    better = statistics.mean(a.accuracies) > statistics.mean(b.accuracies)
    if test["p_value"] < ALPHA:
        return f"**{'better' if better else 'worse'} than seed noise** (p = {test['p_value']:.3g})"
    return f"not distinguishable from seed noise (p = {test['p_value']:.3g})"


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {std:.4f} ({min(values):.4f}–{max(values):.4f})"


def confirm(study_dir: Path, k: int, seeds: list[int], name: str, out_dir: Path) -> Path:
    """Reruns the k best trials and the baseline over the seeds; writes <out>/<name>.md and .json; returns the .md."""
    if k < 2:
        raise ConfigError(f"--confirm {k}: give at least 2 (the winner and the runner-up)")
    if len(seeds) < 2:
        raise ConfigError(f"--seeds {len(seeds)}: give at least 2 seeds, for a spread")
    study_dir = Path(study_dir)
    candidates = [Candidate(n, p) for n, p in top_trials(study_dir, k)]
    candidates.append(Candidate("baseline", study_dir / "base.yaml"))
    runs_dir = study_dir / "confirm"
    for candidate in candidates:
        rerun(candidate, seeds, runs_dir)
    winner, runner_up, baseline = candidates[0], candidates[1], candidates[-1]
    lines = [
        f"# Confirming the search `{study_dir}`",
        "",
        f"The {k} best trials (by the search's objective, one seed each) and the baseline (the study's config "
        f"without the searched values), rerun over training seeds {', '.join(map(str, seeds))}; test accuracy "
        f"on the same {len(winner.correct[0])} test examples, mean ± std (range). Made by "
        f"`python -m workflows.report {study_dir} --confirm {k} --seeds {len(seeds)} --name {name}`.",
        "",
        "| config | overrides | test accuracy |",
        "|---|---|---|",
    ]
    for candidate in candidates:
        overrides = _overrides(candidate)
        lines.append(f"| {candidate.name} | {overrides} | {mean_std(candidate.accuracies)} |")
    lines += [
        "",
        "| comparison | examples only the first gets right | only the second | McNemar exact p | verdict |",
        "|---|---|---|---|---|",
    ]
    comparisons = {}
    for other in (runner_up, baseline):
        test = mcnemar(winner, other)
        comparisons[f"{winner.name} vs {other.name}"] = {**test, "verdict": verdict(winner, other, test)}
        lines.append(
            f"| {winner.name} vs {other.name} | {test['a_only']} | {test['b_only']} | "
            f"{test['p_value']:.3g} | {verdict(winner, other, test)} |"
        )
    out_dir = Path(out_dir)
    write_text(out_dir / f"{name}.md", "\n".join(lines) + "\n")
    write_json(
        out_dir / f"{name}.json",
        {
            "study": str(study_dir),
            "seeds": seeds,
            "candidates": {c.name: {"config": str(c.config), "accuracies": c.accuracies} for c in candidates},
            "comparisons": comparisons,
        },
    )
    return out_dir / f"{name}.md"


def _overrides(candidate: Candidate) -> str:
    result = candidate.config.parent / "result.json"
    if candidate.name == "baseline" or not result.is_file():
        return "(the study's config)"
    return "`" + " ".join(json.loads(result.read_text()).get("overrides", [])) + "`"
