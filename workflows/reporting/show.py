"""`python -m workflows.show [METRICS] [--since STAMP]`: the headline test metrics, and where they are from.

`make run` touches a stamp before `dvc repro` and passes it as `--since`: the
figures are then said to be computed in this run, or not recomputed (DVC
skipped the evaluate stage because nothing it depends on changed: the file
is the one last written, perhaps on another machine, latency and throughput
included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from workflows.io.layout import REPO


def headline(metrics: dict) -> dict:
    """Every scalar metric (per-class figures left out)."""
    return {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}


def privacy_line(metrics: dict) -> str | None:
    """The privacy guarantee in words (DP-SGD's, or none), with the membership audit's AUC."""
    privacy = metrics.get("privacy")
    if not isinstance(privacy, dict):
        return None
    audit = privacy.get("membership_auc")
    seen = f"; membership audit AUC {audit:.3f} (0.5: no leak the attack sees)" if isinstance(audit, float) else ""
    return f"privacy: {privacy.get('guarantee', 'none')}{seen}{_cost_of_privacy(privacy.get('without_privacy'))}"


def _cost_of_privacy(plain: dict | None) -> str:
    """The same config trained without privacy, on the same test rows: the accuracy privacy costs, and whether the
    paired test sees it."""
    if not isinstance(plain, dict) or not isinstance(plain.get("private"), (int, float)):
        return ""
    metric, difference = plain.get("headline"), plain.get("difference")
    if not isinstance(difference, (int, float)):
        return ""
    change = _change(metric, difference)
    meaning = {"worse": "a cost beyond chance", "tie": "no cost beyond chance", "better": "better than without"}
    said = meaning.get(str(plain.get("verdict")), "?")
    return (
        f"; without privacy (same config, same test rows) {metric} {plain.get(metric):.4g}, private "
        f"{plain['private']:.4g} ({change}: {said}, {plain.get('test')}, p = {plain.get('p_value'):.3g})"
    )


def _change(metric: str | None, difference: float) -> str:
    """A paired verdict's difference as said: relative for an error (+2.4%), in points for a score (+1.0 points)."""
    return f"{difference:+.1%}" if metric in ("rmse", "mae", "mse") else f"{difference * 100:+.1f} points"


def baseline_line(metrics: dict) -> str | None:
    """The classical baseline's one line: the headline metric both ways with the difference, the paired verdict,
    and the other candidates the reference was chosen from (on validation)."""
    base = metrics.get("baseline")
    if not isinstance(base, dict):
        return None
    meaning = {"better": "the model is better", "worse": "the model is worse", "tie": "no difference beyond chance"}
    verdict = str(base.get("verdict"))
    metric = base.get("headline")
    if metric and isinstance(base.get("model_value"), (int, float)):
        difference = base.get("difference")
        change = f" ({_change(metric, difference)})" if isinstance(difference, (int, float)) else ""
        scores = f"{metric} {base['model_value']:.4g} vs {base['baseline_value']:.4g}{change}"
    else:  # a metrics file written before the verdict named its metric
        names = [k for k in ("accuracy", "rmse", "mae", "r2") if k in base and k in metrics]
        scores = ", ".join(f"{k} {metrics[k]:.4g} vs {base[k]:.4g}" for k in names)
    candidates = base.get("candidates") or {}
    others = [name for name in candidates if name != base.get("model")]
    chosen = f"; the strongest on validation of {', '.join([str(base.get('model')), *others])}" if others else ""
    chosen += _better_on_test(base, candidates, metric)
    return (
        f"baseline {base.get('model')}: {scores} — {verdict}: {meaning.get(verdict, '?')} "
        f"({'' if str(base.get('test', '')).startswith('paired') else 'paired '}{base.get('test')}, "
        f"p = {base.get('p_value', float('nan')):.3g}, same test rows{chosen})"
    )


def _better_on_test(base: dict, candidates: dict, metric: str | None) -> str:
    """A candidate that does better than the reference on the test rows (the reference was chosen on validation):
    said, so that a verdict against a weaker reference does not flatter the model."""
    lower = metric in ("rmse", "mae", "mse")
    scored = {n: c[metric] for n, c in candidates.items() if metric and isinstance(c.get(metric), (int, float))}
    if not scored or base.get("model") not in scored:
        return ""
    best = (min if lower else max)(scored, key=lambda n: scored[n])
    if best == base.get("model") or scored[best] == scored[base["model"]]:
        return ""
    return f"; on these test rows {best} does better: {metric} {scored[best]:.4g}"


def metrics_file(path: Path) -> Path:
    """The metrics file a path names: the file itself, or a run's directory's eval/metrics.json (or metrics.json)."""
    if path.is_dir():
        for inside in (path / "eval" / "metrics.json", path / "metrics.json"):
            if inside.is_file():
                return inside
        return path / "eval" / "metrics.json"
    return path


def provenance(path: Path, since: Path | None) -> str:
    """One line on whether `path` was written in this run (after the stamp `since`) or is an earlier file."""
    written = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    if since is None or not since.exists():
        return (
            f"from {path}, written {written} (latency_ms and throughput were measured on the machine that wrote "
            "it; `dvc repro -f evaluate` measures them here)"
        )
    if path.stat().st_mtime >= since.stat().st_mtime:
        return f"computed in this run, on this machine ({path}, written {written})"
    return (
        f"not recomputed in this run: DVC skipped evaluate because nothing it depends on changed; these are "
        f"{path} as last written ({written}), perhaps on another machine, latency and throughput included. "
        "`dvc repro -f evaluate` recomputes them here"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows.show", description=__doc__.splitlines()[0])
    parser.add_argument(
        "metrics",
        nargs="?",
        default=str(REPO.eval / "metrics.json"),
        help="the metrics file, or a run's directory holding eval/metrics.json (default: eval/metrics.json)",
    )
    parser.add_argument("--since", metavar="STAMP", help="a file touched when the run began (make run's)")
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)
    path = metrics_file(Path(ns.metrics))
    if not path.is_file():
        print(f"error: {path} does not exist; run the pipeline first (make run or dvc repro)", file=sys.stderr)
        return 2
    try:
        metrics = json.loads(path.read_text())
        if not isinstance(metrics, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        print(
            f"error: {path} is not a metrics file ({type(err).__name__}); rerun the evaluate stage "
            "(dvc repro -f evaluate)",
            file=sys.stderr,
        )
        return 2
    full, metrics = metrics, headline(metrics)
    width = max((len(key) for key in metrics), default=0)
    for key, value in metrics.items():
        print(f"{key:>{width}}  {value:.4f}" if isinstance(value, float) else f"{key:>{width}}  {value}")
    for line in (baseline_line(full), privacy_line(full)):
        if line:
            print(line)
    print(provenance(path, Path(ns.since) if ns.since else None))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BrokenPipeError:  # `show | head`: the reader has gone; nothing to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
