"""`python -m workflows.show [eval/metrics.json]`: the headline test metrics, one per line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from workflows.layout import REPO


def headline(metrics: dict) -> dict:
    """Every scalar metric (per-class figures left out)."""
    return {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else REPO.eval / "metrics.json"
    if not path.exists():
        print(f"error: {path} does not exist; run the pipeline first (make run or dvc repro)", file=sys.stderr)
        return 2
    metrics = headline(json.loads(path.read_text()))
    width = max((len(key) for key in metrics), default=0)
    for key, value in metrics.items():
        print(f"{key:>{width}}  {value:.4f}" if isinstance(value, float) else f"{key:>{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
