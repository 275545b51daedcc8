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
    assert timeseries(path, "y", on_gap="ignore").spec.input_shape[0] == 14 + 1  # two weeks, then tomorrow's calendar
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


def test_the_calendar_of_the_steps_to_forecast_follows_each_window(tmp_path):
    splits = timeseries(series(tmp_path), "y", window=14, horizon=3, holidays="US")
    spec = splits.spec
    assert spec.input_shape == (14 + 3, len(spec.features)) and spec.features[-1] == "calendar.ahead"
    assert spec.features[-2] == "calendar.holiday" and spec.series["holidays"] == "US"
    x, _ = splits.train
    week = spec.features.index("calendar.week_sin")
    assert (x[:, :14, -1] == 0).all() and (x[:, 14:, -1] == 1).all()  # the flag: window, then known ahead
    assert (x[:, 14:, :2] == 0).all()  # the target and the covariate are not known ahead: 0
    # a step's weekday is the same a week later: the third step ahead of window 0 (row 16) is row 9's weekday
    assert x[0, 16, week] == pytest.approx(x[0, 9, week], abs=1e-5)
    holiday = spec.features.index("calendar.holiday")
    std, mean = spec.scaling["std"][holiday], spec.scaling["mean"][holiday]
    days = pd.date_range("2020-01-01", periods=200, freq="D")
    is_holiday = x[:, 14, holiday] * std + mean  # the first step ahead of each training window
    answers = days[14 : 14 + len(x)]
    assert np.allclose(is_holiday, np.isin(answers.strftime("%m-%d"), ["01-20", "02-17", "05-25", "07-03"]))


def test_an_unknown_holiday_calendar_is_one_line_naming_the_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"data.holidays=UZZ: no such country; did you mean"):
        timeseries(series(tmp_path), "y", holidays="UZZ")
    with pytest.raises(ConfigError, match="US has no subdivision 'XX'"):
        timeseries(series(tmp_path), "y", holidays="US-XX")
    assert timeseries(series(tmp_path), "y", holidays="US-IL").spec.series["holidays"] == "US-IL"


def test_recent_history_is_read_as_the_training_windows_were(tmp_path):
    from plugins.data.timeseries import recent_window

    path = series(tmp_path)
    splits = timeseries(path, "y", horizon=2, holidays="US")
    x, _ = splits.val
    first = int(splits.rows["val"]["row"].iloc[0]) - 2  # the data row of the first validation answer
    pd.read_csv(path).iloc[:first].to_csv(tmp_path / "recent.csv", index=False)
    window, future = recent_window(str(tmp_path / "recent.csv"), splits.spec)
    assert window.shape == (1, *splits.spec.input_shape)
    assert np.allclose(window[0], x[0], atol=1e-5)  # the same numbers the model was trained on
    assert future[0][:10] == pd.read_csv(path)["date"].iloc[first]


def test_the_seasonal_skip_alone_forecasts_the_seasonal_naive(tmp_path):
    from plugins.model.dense import linear
    from plugins.model.head import Head, with_seasonal_naive

    splits = timeseries(series(tmp_path), "y", window=10, horizon=9)  # the 8th and 9th steps: two weeks back
    spec = splits.spec
    model = with_seasonal_naive(linear(spec, Head(9, "linear", "value", "regression")), spec)  # zero kernel
    x, _ = splits.test
    forecast = model.predict(x, verbose=0) * spec.scaling["target_std"] + spec.scaling["target_mean"]
    naive = splits.rows["test"][[f"seasonal_naive.{h}" for h in range(1, 10)]].to_numpy()
    assert np.allclose(forecast, naive, atol=1e-4)
