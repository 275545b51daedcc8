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
    frame.iloc[[0, 1, 1, *range(2, len(frame))]].to_csv(path, index=False)
    with pytest.raises(ConfigError, match="line 4, column 'date'.* repeats the time before it"):
        timeseries(path, "y")
    frame.assign(x=frame["x"].where(frame.index != 5)).to_csv(path, index=False)
    with pytest.raises(ConfigError, match="line 7, column 'x': an empty cell.*data.fill=ffill"):
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


def test_times_as_users_write_them_and_rows_out_of_order_read_as_the_iso_file(tmp_path, capsys):
    """Day-first dates (29/09/2014) were dropped silently: no calendar, no season, no order check."""
    iso = timeseries(series(tmp_path), "y", horizon=2)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%d/%m/%Y")
    frame.sample(frac=1, random_state=0).to_csv(tmp_path / "dmy.csv", index=False)  # and shuffled
    dmy = timeseries(str(tmp_path / "dmy.csv"), "y", horizon=2)
    assert dmy.spec.series["time_format"] == "%d/%m/%Y" and dmy.spec.series["season"] == 7
    assert "calendar.week_sin" in dmy.spec.features and "sorted by it" in capsys.readouterr().err
    for mine, theirs in zip(iso.items(), dmy.items()):
        assert np.array_equal(mine[1][0], theirs[1][0]) and np.array_equal(mine[1][1], theirs[1][1])
    frame["date"] = pd.to_datetime(frame["date"], dayfirst=True).dt.strftime("%m/%d/%Y %H:%M")  # month-first
    frame.to_csv(tmp_path / "mdy.csv", index=False)
    assert timeseries(str(tmp_path / "mdy.csv"), "y").spec.series["time_format"] == "%m/%d/%Y %H:%M"
    frame.loc[50, "date"] = "13/13/2020 00:00"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ConfigError, match="line 52, column 'date': '13/13/2020 00:00' is not a timestamp.*%m/%d/%Y"):
        timeseries(str(tmp_path / "bad.csv"), "y")


def test_without_a_time_column_the_season_comes_from_the_autocorrelation(tmp_path, capsys):
    from plugins.data.timeseries import acf_seasons

    rng = np.random.default_rng(0)
    t = np.arange(24 * 7 * 30)
    day_and_week = 5 + 2 * np.sin(2 * np.pi * t / 24) + 3 * (t // 24 % 7 >= 5) + rng.normal(0, 0.3, len(t))
    assert acf_seasons(day_and_week) == [24, 168]  # a day, and a week that correlates more strongly still
    assert acf_seasons(rng.normal(size=2000)) == []  # noise has no season
    pd.DataFrame({"n": np.arange(1, len(t) + 1), "y": day_and_week}).to_csv(tmp_path / "h.csv", index=False)
    splits = timeseries(str(tmp_path / "h.csv"), "y")
    err = capsys.readouterr().err
    assert splits.spec.series["seasons"] == [24, 168] and splits.spec.series["window"] == 48
    assert "inferred from the target's autocorrelation: 24 and 168 steps" in err and "count the rows" in err
    assert splits.spec.series["inputs"] == ["y"]  # the row counter is not a covariate
    rows = splits.rows["test"]
    first = int(rows["row"].iloc[0]) - 2
    assert rows["seasonal_naive_168.1"].iloc[0] == pytest.approx(day_and_week[first - 168])


def test_empty_cells_are_filled_when_asked(tmp_path, capsys):
    path = series(tmp_path)
    frame = pd.read_csv(path)
    x = frame["x"].to_numpy()
    frame.loc[5, "x"], frame.loc[6, "x"] = np.nan, np.nan
    frame.to_csv(path, index=False)

    def first_window_x(fill: str) -> np.ndarray:
        splits = timeseries(path, "y", fill=fill, calendar=False, window=8)
        mean, std = splits.spec.scaling["mean"][1], splits.spec.scaling["std"][1]
        return splits.train[0][0][:, 1] * std + mean  # the file's rows 0…7, column x, in its units

    assert np.allclose(first_window_x("ffill")[4:7], x[4], atol=1e-5)
    assert "2 empty cells filled (data.fill=ffill)" in capsys.readouterr().err
    between = first_window_x("interpolate")
    assert np.allclose(between[5:7], x[4] + (x[7] - x[4]) * np.array([1, 2]) / 3, atol=1e-5)
    with pytest.raises(ConfigError, match="data.fill='zero' is unknown; valid: ffill, interpolate, none"):
        timeseries(path, "y", fill="zero")


def test_a_ridge_regression_on_the_window_stands_beside_the_naive_forecasts(tmp_path):
    splits = timeseries(series(tmp_path, days=400), "y", window=14, horizon=2)
    spec = splits.spec
    for name in ("val", "test"):
        rows, (_, y) = splits.rows[name], getattr(splits, name)
        answers = y * spec.scaling["target_std"] + spec.scaling["target_mean"]
        ridge = rows[["ridge.1", "ridge.2"]].to_numpy()
        naive = rows[["seasonal_naive.1", "seasonal_naive.2"]].to_numpy()
        # a sine of period 7 plus a trend: the seasonal naive lags the trend by a week, the ridge follows it
        assert np.abs(ridge - answers).mean() < np.abs(naive - answers).mean()
