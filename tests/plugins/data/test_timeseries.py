"""The forecasting windows: time order, normalization from the training part only, the classical forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plugins.data.timeseries import timeseries
from plugins.registry import ConfigError


def series(path, days: int = 200) -> str:
    t = np.arange(days)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=days, freq="D").strftime("%Y-%m-%d"),
            "y": 10 + 3 * np.sin(2 * np.pi * t / 7) + 0.05 * t,
            "x": np.cos(t),
        }
    )
    frame.to_csv(path / "s.csv", index=False)
    return str(path / "s.csv")


def test_windows_come_in_time_order_and_answers_follow_their_window(tmp_path):
    splits = timeseries(series(tmp_path), "y", window=14, horizon=3, calendar=False)
    spec = splits.spec
    assert spec.input_shape == (14, 2) and spec.num_targets == 3 and spec.series["season"] == 7
    mean, std = np.array(spec.scaling["mean"]), np.array(spec.scaling["std"])
    raw = pd.read_csv(tmp_path / "s.csv")["y"].to_numpy()
    x, y = splits.train
    unscaled = y * spec.scaling["target_std"] + spec.scaling["target_mean"]
    assert np.allclose(unscaled[0], raw[14:17], atol=1e-4)  # the first window's answers: rows 14, 15, 16
    assert np.allclose(x[0][:, 0] * std[0] + mean[0], raw[:14], atol=1e-4)
    test_rows = splits.rows["test"]
    assert test_rows["row"].iloc[0] > splits.rows["val"]["row"].iloc[-1] > splits.rows["train"]["row"].iloc[-1]
    n_train = len(splits.train[0])
    assert mean[0] == pytest.approx(raw[: 14 + n_train + 2].mean())  # training part only: no test statistics


def test_the_seasonal_naive_is_the_value_one_season_before_each_answer(tmp_path):
    splits = timeseries(series(tmp_path), "y", window=14, horizon=2)
    raw = pd.read_csv(tmp_path / "s.csv")["y"].to_numpy()
    rows = splits.rows["test"]
    first = int(rows["row"].iloc[0]) - 2  # the file's data row of the first answer
    assert rows["seasonal_naive.1"].iloc[0] == pytest.approx(raw[first - 7])
    assert rows["seasonal_naive.2"].iloc[0] == pytest.approx(raw[first + 1 - 7])
    assert rows["last_value.2"].iloc[0] == pytest.approx(raw[first - 1])
    assert splits.spec.series["calendar"] and "calendar.week_sin" in splits.spec.features


def test_a_gap_unsorted_time_or_an_empty_cell_is_named(tmp_path):
    path = series(tmp_path)
    frame = pd.read_csv(path)
    frame.drop(frame.index[30]).to_csv(path, index=False)
    with pytest.raises(ConfigError, match="line 32: .* skips steps"):
        timeseries(path, "y")
    assert timeseries(path, "y", on_gap="ignore").spec.input_shape[0] == 28
    frame.iloc[[1, 0, *range(2, len(frame))]].to_csv(path, index=False)
    with pytest.raises(ConfigError, match="line 3, column 'date'.* goes back in time"):
        timeseries(path, "y")
    frame.assign(x=frame["x"].where(frame.index != 5)).to_csv(path, index=False)
    with pytest.raises(ConfigError, match="line 7, column 'x': an empty cell"):
        timeseries(path, "y")


def test_a_window_that_does_not_fit_says_what_would(tmp_path):
    with pytest.raises(ConfigError, match="leave 0 forecasts of window=150 and horizon=60"):
        timeseries(series(tmp_path), "y", window=150, horizon=60)
    with pytest.raises(ConfigError, match="data.horizon=0 must be at least 1"):
        timeseries(series(tmp_path), "y", horizon=0)
