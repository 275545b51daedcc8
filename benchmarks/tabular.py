"""Real tables through `data=csv` with its defaults, beside gradient boosting and a linear model on the same split.

    python benchmarks/tabular.py [--seeds 3] [--only penguins-species]

Each table is a file that ships offline in a package: Palmer penguins (the
`palmerpenguins` package: strings and NA cells; `species`, and `body_mass_g`
as a regression), and scikit-learn's breast-cancer and diabetes tables written
as CSV. Each seed `s` runs `python -m workflows train data=csv data.path=F
data.target=T data.seed=s trainer.seed=s` — the product's own path and
defaults, nothing tuned — and reads its `eval/metrics.json`: the model's test
score and the HistGradientBoosting baseline the evaluate stage fitted on the
same training rows. A linear model (logistic regression, or ridge regression)
is fitted here on the same raw training rows (the run's
data/prepared/*/rows.parquet), through scikit-learn's own ColumnTransformer:
mean imputation with a missing indicator and scaling for numbers, one-hot for
categories. Prints one JSON object: per table, mean ± std (range) over seeds
of accuracy (classes) or RMSE in the target's units (a regression), and how
many seeds the paired verdict called better / tie / worse.
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


def tables(directory: Path) -> dict[str, tuple[Path, str]]:
    """name → (CSV file, target column)."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_diabetes

    penguins = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
    cancer = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    cancer.to_csv(directory / "breast_cancer.csv", index=False)
    diabetes = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    diabetes.to_csv(directory / "diabetes.csv", index=False)
    del pd
    return {
        "penguins-species": (penguins, "species"),
        "penguins-body_mass_g": (penguins, "body_mass_g"),
        "breast_cancer": (directory / "breast_cancer.csv", "diagnosis"),
        "diabetes": (directory / "diabetes.csv", "progression"),
    }


def linear(run: Path, spec: dict) -> float:
    """Logistic or ridge regression on the run's raw training rows, scored on its test rows (the same metric)."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = pd.read_parquet(run / "data" / "prepared" / "train" / "rows.parquet")
    test = pd.read_parquet(run / "data" / "prepared" / "test" / "rows.parquet")
    columns = spec["table"]["columns"]
    numbers = [c["name"] for c in columns if c["type"] == "number"]
    categories = [c["name"] for c in columns if c["type"] == "category"]
    encode = ColumnTransformer(
        [
            ("n", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numbers),
            (
                "c",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=""), OneHotEncoder(handle_unknown="ignore")
                ),
                categories,
            ),
        ]
    )

    def frame(rows):
        out = rows[numbers + categories].copy()
        out[numbers] = out[numbers].apply(pd.to_numeric, errors="coerce")
        out[categories] = out[categories].astype(object).where(out[categories].notna(), "")
        return out

    target = spec["target"]
    if spec["task"] == "classification":
        model = make_pipeline(encode, LogisticRegression(max_iter=5000))
        model.fit(frame(train), train[target].astype(str))
        return float((model.predict(frame(test)) == test[target].astype(str)).mean())
    model = make_pipeline(encode, RidgeCV(alphas=np.logspace(-3, 3, 13)))
    model.fit(frame(train), train[target].astype(float))
    return float(np.sqrt(np.mean((model.predict(frame(test)) - test[target].astype(float)) ** 2)))


def summary(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4g} ± {std:.2g} ({min(values):.4g}–{max(values):.4g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", action="append", help="a table's name (repeatable); default: all")
    args = parser.parse_args()
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name, (path, target) in tables(base).items():
            if args.only and name not in args.only:
                continue
            model, boosting, lin, verdicts, metric = [], [], [], [], None
            for seed in range(args.seeds):
                run = base / f"{name}-{seed}"
                cmd = [sys.executable, "-m", "workflows", "train", "data=csv", f"data.path={path}"]
                cmd += [f"data.target={target}", f"data.seed={seed}", f"trainer.seed={seed}", "trainer.verbose=0"]
                subprocess.run([*cmd, f"hydra.run.dir={run}"], cwd=ROOT, check=True, capture_output=True)
                metrics = json.loads((run / "eval" / "metrics.json").read_text())
                spec = json.loads((run / "models" / "model.json").read_text())["spec"]
                metric = "accuracy" if spec["task"] == "classification" else "rmse"
                model.append(metrics[metric])
                boosting.append(metrics["baseline"][metric])
                lin.append(linear(run, spec))
                verdicts.append(metrics["baseline"]["verdict"])
            out[name] = {
                "metric": metric,
                "rows": sum(1 for _ in open(path)) - 1,
                "kerasforge_default": summary(model),
                "hist_gradient_boosting": summary(boosting),
                "logistic_or_ridge": summary(lin),
                "verdicts": {v: verdicts.count(v) for v in ("better", "tie", "worse")},
                "gap_to_boosting": f"{statistics.mean(model) - statistics.mean(boosting):+.4g}",
            }
            print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
