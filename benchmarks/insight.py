"""What `see why` costs the evaluate stage: its extra work beside the evaluation itself, in one run.

    python benchmarks/insight.py

Trains the default digits model (`trainer=fast`) and a penguins table model through the product's own command
(`python -m workflows train`), then, in this process, times the evaluate stage's core (`evaluate`, on the test
split, everything it writes) and the part of it that `workflows/stages/insight.py` adds (mistakes.csv and
mistakes.png; for the table, permutation importance), median of 3. Prints one JSON object: seconds and the
share of evaluate. The goal (issue 22): under 5 s on the digits default.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(run: Path) -> dict:
    import numpy as np

    from plugins.data.base import DataSpec
    from plugins.model.head import Head
    from workflows.config.compose import load_params
    from workflows.config.schema import resolve
    from workflows.io.datastore import load_arrays, load_rows
    from workflows.stages import evaluate as ev

    experiment = resolve(load_params(run / "config.yaml"))
    prepared = run / "data" / "prepared"
    test, rows = load_arrays("test", prepared), load_rows("test", prepared)
    train = load_arrays("train", prepared)
    reference = {
        "splits": {"train": train, "val": load_arrays("val", prepared)},
        "rows": {name: load_rows(name, prepared) for name in ("train", "val")},
    }
    out = Path(tempfile.mkdtemp())
    whole = median_seconds(
        lambda: ev.evaluate(experiment, run / "models", test, out / "eval", train, rows=rows, reference=reference)
    )
    model, card = ev.load_model(run / "models")
    head, spec = Head(**card["head"]), DataSpec(**card["spec"])
    core = model.layers[-1] if spec.table else model
    x, y = (np.asarray(a) for a in test)
    outputs = np.asarray(core.predict(x, verbose=0))
    if spec.task == "classification":
        predicted = ev.predicted_classes(np.asarray(head.probabilities(outputs)))
    else:
        predicted = ev.unscale_target(outputs.reshape(y.shape), spec)
    (out / "plots").mkdir(exist_ok=True)
    extra = median_seconds(lambda: ev._insight(out / "plots", core, head, spec, x, y, outputs, predicted, rows, 256))
    return {"evaluate_s": round(whole, 2), "insight_s": round(extra, 2), "share": round(extra / whole, 3)}


def main() -> None:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        penguins = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
        runs = {
            "digits (default model, trainer=fast)": ["trainer=fast"],
            "penguins table (data=csv defaults)": ["data=csv", f"data.path={penguins}", "data.target=species"],
        }
        for name, overrides in runs.items():
            run = Path(tmp) / name.split()[0]
            cmd = [sys.executable, "-m", "workflows", "train", *overrides, "trainer.verbose=0", f"hydra.run.dir={run}"]
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            out[name] = measure(run)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
