"""The same 20-trial Optuna study with and without median pruning, in one run: epochs spent, best accuracy.

    python benchmarks/search.py [--trials 20] [--epochs 10] [--seeds 3]

Both studies search conf/hparams_search/optuna.yaml's space (AdamW's learning
rate and weight decay, the batch size; TPE, seed 0, 5 start-up trials; the
median pruner compares with 3 finished trials) for an MLP on digits,
`--epochs` epochs per trial, through `workflows.search` (the product's own
path), each in a fresh journal file. Then the unpruned study's best config
is trained again over `--seeds` training seeds, for the spread between seeds
that a difference in best accuracy must be compared
with. Prints one JSON object: per study the epochs spent, trials complete and
pruned, the best validation accuracy; `epochs_ratio` (pruned / unpruned; the
goal is ≤ 0.6) and `best_gap` against `seed_std`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    from plugins.tf_startup import quiet_tensorflow

    quiet_tensorflow()
    from workflows.config.compose import compose
    from workflows.config.schema import resolve
    from workflows.runners.pipeline import run_pipeline
    from workflows.runners.search import run_search, summary

    work = Path(tempfile.mkdtemp(prefix="kerasforge-search-bench."))
    common = [
        "model=mlp",
        "model.units=[64]",
        "augmentation=none",
        f"trainer.epochs={args.epochs}",
        "trainer.verbose=0",
        "trainer.backup=false",
        f"hparams_search.n_trials={args.trials}",
    ]
    out = {}
    for pruner in ("none", "median"):
        study, base = run_search(
            [
                *common,
                f"hparams_search.pruner={pruner}",
                f"hparams_search.storage={work / pruner}.log",
                f"hparams_search.dir={work / pruner}",
            ]
        )
        facts = summary(study, base)
        out[pruner] = {
            "epochs": facts["epochs"],
            "trials": facts["trials"],
            "best_val_accuracy": facts["best_value"],
            "best_params": facts["best_params"],
        }
    best = out["none"]["best_params"]
    values = []
    for seed in range(args.seeds):
        overrides = [*common, "hparams_search=optuna", *(f"{k}={v}" for k, v in best.items()), f"trainer.seed={seed}"]
        metrics = run_pipeline(resolve(compose(overrides)), work / "seeds" / str(seed))
        values.append(metrics["train"]["val_accuracy"])
    out["seed_val_accuracy"] = values
    out["seed_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    out["epochs_ratio"] = out["median"]["epochs"] / out["none"]["epochs"]
    out["best_gap"] = out["none"]["best_val_accuracy"] - out["median"]["best_val_accuracy"]
    out["goal"] = "epochs_ratio <= 0.6, |best_gap| within the seed spread"
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
