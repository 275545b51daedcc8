"""A time-ordered table as forecasting windows: the last `window` steps of every column → the next `horizon` targets.

    date,       ridership, temp, rain
    2001-01-22, 15.7,      19.4, 0
    2001-01-23, 15.8,      30.1, 0 …

Each example is a window of `window` consecutive rows (every number column,
the target among them, plus the calendar of each step: day of the week, the
time of day, the time of year, and with `holidays` whether it is a public
holiday), and its answer the target's `horizon` next values. The calendar is
known ahead: `horizon` more rows follow the window, carrying only the
calendar of the steps to forecast (every other column 0, and a
`calendar.ahead` flag 1) — the model is told that tomorrow is a Monday, or
Memorial Day, which the seasonal naive cannot know. Windows come in time order: the training windows' answers lie in
the first part of the series, validation's after them, the test's last —
never shuffled across a boundary. Every column is standardized with the
training part's mean and deviation only.

Beside the windows, each split keeps the classical forecasts of the same
answers (`rows`): the last value, and the seasonal naive (the value one
season earlier — a week for daily data, a day for hourly data, a year for
monthly). The evaluate stage scores them on the same test windows, and MASE
divides the model's MAE by the seasonal naive's in-sample MAE (Hyndman's).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from plugins.data import verdict
from plugins.data.base import DataSpec, Splits
from plugins.data.checks import inspect_series
from plugins.data.kinds import TABLES, DataKind, Evidence, register_kind
from plugins.data.tabular import _counts_rows, numbers, numbers_checked, parse_times, read_table, shorten, warn
from plugins.model.outputs import unscale_target
from plugins.registry import ConfigError, check_values, did_you_mean, register

GAPS = ("fail", "ignore")
FILLS = ("none", "ffill", "interpolate")  # an empty cell: refused, the previous value, or linear interpolation
MAX_ACF_LAG = 2_000  # the longest season inferred from the target's autocorrelation (steps)
ACF_PEAK = 0.3  # the autocorrelation a season's peak must reach
AHEAD = "calendar.ahead"  # 1 on the rows that carry the forecast steps' calendar, 0 on the window's
# The season of a series by its step: hours → a day, days → a week, weeks → a year, months → a year, quarters.
SEASONS = ((3_600, 24), (86_400, 7), (7 * 86_400, 52), (28 * 86_400, 12), (89 * 86_400, 4))


# Its parameters' values, declared once (plugins/manifest.json carries them: refused before anything is imported).
VALUES = {
    "window": {"min": 1},
    "horizon": {"min": 1},
    "season": {"min": 1},
    "on_gap": {"choices": list(GAPS)},
    "fill": {"choices": list(FILLS)},
    "val_fraction": {"between": [0.0, 1.0]},
    "test_fraction": {"between": [0.0, 1.0]},
}


@register("data", "timeseries", task="regression", values=VALUES, inspect=inspect_series, kind="sequence")
def timeseries(
    path: str,
    target: str,
    time: str | None = None,
    features: list[str] | None = None,
    window: int | None = None,
    horizon: int = 1,
    season: int | None = None,
    calendar: bool = True,
    holidays: str | None = None,
    seasonal_skip: bool = True,
    on_gap: str = "fail",
    fill: str = "none",
    delimiter: str | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Splits:
    """Forecasting windows from a CSV/TSV/Parquet series, split in time order (see the module).

    Args:
        path: the file, relative to the repository root: one row per time step, a header row.
        target: the column to forecast.
        time: the column of timestamps: ISO 8601 (2014-09-29 05:00), or day-first or month-first
            (29/09/2014, 09/29/2014 17:30, 29.09.2014), the form read from the cells; null: the first column of
            dates, else the file's order. Rows out of time order are sorted (with a warning).
        features: the covariates read beside the target (default: every other number column).
        window: time steps each forecast reads; null: two seasons (14 days of daily data, 48 hours of hourly,
            24 months of monthly), 28 steps without a season. Short windows overfit less on short series: on
            Chicago's last four years, 14 days were 17–23 % ahead of the seasonal naive, 28 days 9–15 % (README).
        horizon: steps forecast ahead: the model outputs the next `horizon` values.
        season: steps in a season for the seasonal-naive baseline and MASE; null: inferred from the time step
            (hourly 24, daily 7, weekly 52, monthly 12, quarterly 4), or without timestamps from the target's
            autocorrelation on the training part (its first peak; a second, stronger one is a second season the
            baseline also tries), with a warning; 1 when it has no peak.
        calendar: add each step's day of the week, time of day and time of year (as sine and cosine) as inputs,
            for the window and, known ahead, for the steps to forecast.
        holidays: a country's public holidays as one more calendar input (1 on a holiday): its ISO code, "US",
            "GB", "DE"…, or a subdivision after a dash, "US-IL" (the `holidays` package's calendars).
        seasonal_skip: the model forecasts the seasonal naive plus its own correction (a skip connection inside
            the saved model, plugins.model.head.SeasonalNaive); false: the model forecasts the values itself.
        on_gap: "fail": a missing time step (irregular timestamps) is an error naming it; "ignore": rows are
            taken as consecutive steps anyway.
        fill: an empty cell: "none" refuses it naming its line, "ffill" takes the previous value (the next one
            at the start), "interpolate" draws a straight line between its neighbours.
        delimiter: the field separator (null: sniffed).
        val_fraction: share of the forecasts kept for validation (after the training ones).
        test_fraction: share of the forecasts kept for the test (the last ones).

    Returns:
        Splits of float32 windows (window, features) and float32 targets (horizon,), standardized; the classical
        forecasts of each split's answers as its rows.

    Example:
        `kerasforge train data=timeseries data.path=ridership.csv data.target=ridership data.horizon=7 model=lstm`
    """
    _check_options(window, horizon, season, on_gap, fill, val_fraction, test_fraction)
    holiday_calendar = _holiday_calendar(holidays)
    df = read_table(path, delimiter)
    df.columns = [str(c).strip() for c in df.columns]
    header = list(df.columns)
    for column in [target, *(features or []), *([time] if time else [])]:
        if column not in header:
            raise ConfigError(f"{path} has no column '{column}'; {did_you_mean(column, [shorten(h) for h in header])}")
    stamps, time, time_format = _time_column(df, time, path)
    df, stamps = _sorted(df, stamps, time, path)
    step = _check_order(stamps, df, time, path, on_gap)
    values = _columns(df, target, features, time, path, fill)
    bounds_guess = int(len(df) * (1 - val_fraction - test_fraction))
    seasons = [season] if season else _seasons(step, values[target][: max(bounds_guess, 1)], path)
    season = seasons[0]
    window = window or (2 * season if season > 1 else 28)
    columns = list(values)
    matrix = np.column_stack([values[n] for n in columns])
    observed = len(columns)  # the columns read from the file; the calendar's follow them
    if calendar and stamps is not None:
        parts, part_names = _calendar(stamps, step, holiday_calendar)
        matrix, columns = np.column_stack([matrix, parts]), columns + part_names
    y_all = values[target]
    n = len(y_all)
    bounds = _bounds(n, window, horizon, val_fraction, test_fraction, path)
    n_train = bounds[0][1]
    # The first forecast's first answer is row `window`; rows before train_end are all the training windows see.
    train_end = window + n_train + horizon - 1
    mean = matrix[:train_end].mean(axis=0)
    std = matrix[:train_end].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    scaled = ((matrix - mean) / std).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(scaled[: n - horizon], window, axis=0).transpose(0, 2, 1)
    ahead = bool(calendar and stamps is not None)
    if ahead:  # the flag is an input as it is: mean 0, deviation 1 (the SavedModel's raw inputs include it)
        windows, columns = _with_calendar_ahead(windows, scaled, observed, window, horizon), [*columns, AHEAD]
        mean, std = np.append(mean, 0.0), np.append(std, 1.0)
    answers = np.lib.stride_tricks.sliding_window_view(y_all[window:], horizon)
    target_mean, target_std = float(mean[0]), float(std[0])
    y = ((answers - target_mean) / target_std).astype(np.float32)
    scale = _mase_scale(y_all[:train_end], season)
    spec = DataSpec(
        (window + horizon * ahead, len(columns)),
        "regression",
        num_targets=horizon,
        kind="sequence",
        scaling={"mean": mean.tolist(), "std": std.tolist(), "target_mean": target_mean, "target_std": target_std},
        features=columns,
        target=target,
        series={
            "time": time,
            "window": window,
            "horizon": horizon,
            "season": season,
            "seasons": seasons,
            "time_format": time_format,
            "fill": fill,
            "step_seconds": step,
            "calendar": ahead,
            "holidays": holidays if ahead else None,
            "seasonal_skip": bool(seasonal_skip),
            "inputs": [c for c in columns if not c.startswith("calendar.")],
            "mase_scale": scale,
        },
    )
    ridge = _ridge_forecasts(windows, y, n_train) * target_std + target_mean
    rows = {
        name: _classical(y_all, stamps, window, horizon, seasons, lo, hi, ridge)
        for name, (lo, hi) in zip(("train", "val", "test"), bounds)
    }
    arrays = [(np.ascontiguousarray(windows[lo:hi]), np.ascontiguousarray(y[lo:hi])) for lo, hi in bounds]
    return Splits(*arrays, spec, rows=rows)


def _bounds(n: int, window: int, horizon: int, val_fraction: float, test_fraction: float, path: str):
    """The forecasts of each split, in time order: [(0, train), (train, val), (val, all)] of the n − window −
    horizon + 1 forecasts a series of `n` rows holds.

    Raises:
        ConfigError: fewer than 10 forecasts, or none left for training.
    """
    forecasts = n - window - horizon + 1
    if forecasts < 10:
        raise ConfigError(
            f"{path}: {n} rows leave {max(forecasts, 0)} forecasts of window={window} and horizon={horizon}; at "
            f"least 10 are needed — lower data.window or data.horizon (at most {max(n - 10 - horizon + 1, 1)} steps "
            "of window), or add rows"
        )
    n_test = max(1, int(round(forecasts * test_fraction)))
    n_val = max(1, int(round(forecasts * val_fraction)))
    n_train = forecasts - n_val - n_test
    if n_train < 1:
        raise ConfigError(f"{path}: no training forecast is left; lower data.val_fraction or data.test_fraction")
    return [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, forecasts)]


def _columns(df, target: str, features, time, path: str, fill: str = "none") -> dict[str, np.ndarray]:
    """The target and the covariates (the named ones, else every other number column), each checked (and its empty
    cells filled as `fill` says)."""
    header = list(df.columns)
    names = features
    if names is None:
        names = [h for h in header if h not in (target, time) and _numeric(df[h])]
        counters = [h for h in names if _counts_rows(numbers(df[h]))]
        if counters:  # 1, 2, 3… (R's rownames, an exported index): the position in the file, not a covariate
            warn(f"{path}: column{'s' * (len(counters) > 1)} {', '.join(counters)} count the rows: not read")
            names = [h for h in names if h not in counters]
    return {name: _checked(df[name], name, path, fill) for name in [target, *[n for n in names if n != target]]}


def _check_options(window, horizon, season, on_gap, fill, val_fraction, test_fraction) -> None:
    given = {"window": window, "horizon": horizon, "season": season, "on_gap": on_gap, "fill": fill}
    check_values(VALUES, {**given, "val_fraction": val_fraction, "test_fraction": test_fraction}, "data")


def _holiday_calendar(code: str | None):
    """The `holidays` package's calendar for a country code ("US") or a subdivision ("US-IL"); None for none."""
    if code is None:
        return None
    import holidays

    country, _, part = str(code).partition("-")
    supported = holidays.list_supported_countries()
    if country.upper() not in supported:
        raise ConfigError(
            f"data.holidays={code}: no such country; {did_you_mean(country.upper(), sorted(supported))} "
            "(an ISO 3166 code: US, GB, DE, FR…)"
        )
    parts = supported[country.upper()]
    if part and part.upper() not in parts:
        raise ConfigError(
            f"data.holidays={code}: {country.upper()} has no subdivision '{part}'; "
            f"{did_you_mean(part.upper(), sorted(parts))}"
        )
    return holidays.country_holidays(country.upper(), subdiv=part.upper() or None)


def _with_calendar_ahead(windows, scaled, observed: int, window: int, horizon: int) -> np.ndarray:
    """Each window followed by the calendar of its `horizon` steps to forecast (the file's columns 0 there) and
    the `calendar.ahead` flag: (forecasts, window + horizon, columns + 1)."""
    forecasts = len(windows)
    known = scaled.copy()
    known[:, :observed] = 0.0  # what is not known ahead: the target and the covariates of the future
    future = np.lib.stride_tricks.sliding_window_view(known[window:], horizon, axis=0).transpose(0, 2, 1)
    joined = np.concatenate([windows, future[:forecasts]], axis=1)
    flag = np.zeros((*joined.shape[:2], 1), np.float32)
    flag[:, window:] = 1.0
    return np.concatenate([joined, flag], axis=2)


def _numeric(column) -> bool:
    present = column.dropna()
    return len(present) > 0 and bool(numbers(present).notna().all())


def _checked(column, name: str, path: str, fill: str = "none") -> np.ndarray:
    """A number column, every cell a finite number: an empty cell is refused (a series has no missing step to fill
    silently), or filled as the user asked (`fill`: ffill, interpolate)."""
    values = numbers_checked(column, name, path).astype(np.float64)
    missing = np.flatnonzero(np.isnan(values))
    if missing.size and fill != "none" and missing.size < len(values):
        import pandas as pd

        series = pd.Series(values)
        series = series.ffill().bfill() if fill == "ffill" else series.interpolate(limit_direction="both")
        warn(f"{path}, column '{name}': {missing.size} empty cell{'s' * (missing.size > 1)} filled (data.fill={fill})")
        return series.to_numpy(np.float64)
    if missing.size:
        raise ConfigError(
            f"{path}, line {int(missing[0]) + 2}, column '{name}': an empty cell in a series; set data.fill=ffill "
            "(the previous value) or data.fill=interpolate, fill it in the file, or drop the column from data.features"
        )
    return values


def _time_column(df, time: str | None, path: str, fmt: str | None = None):
    """The timestamps (UTC), the time column's name and the form its cells are written in (None: ISO 8601);
    (None, None, None) without one.

    Raises:
        ConfigError: a cell of the time column that is not a time in the column's form.
    """
    if time:
        name = time
    else:  # the first column whose first cells read as times (nine in ten: a typo is named below, not ignored)
        name = next((c for c in df.columns if _mostly_times(df[c].dropna().iloc[:100])), None)
        if name is None:
            return None, None, None
    stamps, fmt = parse_times(df[name], fmt)
    if stamps.isna().any():
        at = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        form = f"in the column's form {fmt}" if fmt else "ISO 8601: 2013-01-31 or 2013-01-31 05:00; or 31/01/2013"
        raise ConfigError(
            f"{path}, line {at + 2}, column '{name}': {shorten(str(df[name].iloc[at]))!r} is not a timestamp "
            f"({form}); fix the cell, or name the time column with data.time"
        )
    return stamps, name, fmt


def _mostly_times(sample) -> bool:
    if not len(sample) or numbers(sample).notna().mean() > 0.5:  # numbers are not times, whatever pandas says
        return False
    return float(parse_times(sample)[0].notna().mean()) >= 0.9


def _sorted(df, stamps, time, path: str):
    """The rows in time order: a file out of order is sorted by its time column, with a warning (a repeated time is
    left for `_check_order` to refuse)."""
    if stamps is None or stamps.is_monotonic_increasing:
        return df, stamps
    seconds = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    order = np.argsort(seconds, kind="stable")
    back = int(np.sum(np.diff(seconds) < 0))
    warn(f"{path}: the rows are not in time order ({back} step{'s' * (back > 1)} back in '{time}'); sorted by it")
    return df.iloc[order].reset_index(drop=True), stamps.iloc[order].reset_index(drop=True)


def _check_order(stamps, df, time, path: str, on_gap: str) -> float:
    """The series' step in seconds (0 without timestamps); refuses time going back, a repeated step, a gap."""
    if stamps is None:
        return 0.0
    import pandas as pd

    seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()  # whatever pandas' time unit
    diffs = np.diff(seconds)
    if (diffs <= 0).any():
        at = int(np.flatnonzero(diffs <= 0)[0]) + 1
        what = "repeats the time before it" if diffs[at - 1] == 0 else "goes back in time"
        raise ConfigError(
            f"{path}, line {at + 2}, column '{time}': {df[time].iloc[at]} {what}; a series must be sorted by time "
            f"with one row per step (sort the file by '{time}', drop duplicates)"
        )
    step = float(np.median(diffs)) if len(diffs) else 0.0
    monthly = 28 * 86_400 <= step <= 31 * 86_400 or 89 * 86_400 <= step <= 92 * 86_400
    irregular = (np.abs(diffs - step) > (3 * 86_400 if monthly else 0)) if len(diffs) else np.zeros(0, bool)
    if irregular.any() and on_gap == "fail":
        at = int(np.flatnonzero(irregular)[0]) + 1
        raise ConfigError(
            f"{path}, line {at + 2}: {df[time].iloc[at - 1]} → {df[time].iloc[at]} skips steps (the series' step is "
            f"{_human(step)}); fill the missing rows (pandas resample), or set data.on_gap=ignore to take the rows "
            "as consecutive"
        )
    return step


def _human(seconds: float) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds / size
            return f"{count:g} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


def _season(step: float) -> int:
    """The season in steps from the step's length (1: no season known)."""
    for seconds, steps in SEASONS:
        if step and abs(step - seconds) <= 0.1 * seconds + (3 * 86_400 if seconds >= 28 * 86_400 else 0):
            return steps
    return 1


def _seasons(step: float, train: np.ndarray, path: str) -> list[int]:
    """The series' seasons: from the time step (its calendar), else from the target's autocorrelation on the
    training part (`acf_seasons`), with a warning that says so; [1] when neither finds one."""
    if step:
        return [_season(step)]
    found = acf_seasons(train)
    if found:
        warn(
            f"{path}: no time column; the season is inferred from the target's autocorrelation: "
            f"{' and '.join(map(str, found))} steps (name one with data.season, or give a time column as data.time)"
        )
    return found or [1]


def acf_seasons(y: np.ndarray, max_lag: int = MAX_ACF_LAG) -> list[int]:
    """Seasons from the autocorrelation of a detrended series, as forecasting libraries infer them: the first lag
    whose autocorrelation is the highest of its neighbourhood (± a quarter of the lag) and above ACF_PEAK, and, when
    a later such peak is higher still, that one too (a day, then a week, in half-hourly data).

    Args:
        y: the series (the training part).
        max_lag: the longest season looked for; at most a third of the series.

    Returns:
        One or two seasons in steps, shortest first; empty when the series has no such peak.

    Example:
        >>> acf_seasons(np.sin(np.arange(400) * 2 * np.pi / 12))
        [12]
    """
    y = np.asarray(y, np.float64)
    n = len(y)
    max_lag = min(max_lag, n // 3)
    if max_lag < 4:
        return []
    t = np.arange(n)
    y = y - np.polyval(np.polyfit(t, y, 1), t)  # a trend makes every lag look alike
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(y, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    if acf[0] <= 0:
        return []
    acf = acf / acf[0]
    peaks = []
    for lag in range(2, max_lag - 1):
        reach = max(1, lag // 4)
        lo, hi = max(1, lag - reach), min(max_lag, lag + reach)
        if acf[lag] >= ACF_PEAK and acf[lag] == acf[lo : hi + 1].max():
            peaks.append(lag)
    if not peaks:
        return []
    first = peaks[0]
    strongest = max(peaks, key=lambda lag: acf[lag])
    return [first] if acf[strongest] <= acf[first] + 0.02 or strongest == first else [first, strongest]


def _calendar(stamps, step: float, holiday_calendar=None) -> tuple[np.ndarray, list[str]]:
    """Each step's place in the week, the day and the year, as sine and cosine (what the step can resolve), and
    whether it is a public holiday (with a calendar of them)."""
    parts, names = [], []
    t = stamps.dt
    cycles = [("year", (t.day_of_year.to_numpy() - 1) / 365.25)]
    if step < 7 * 86_400:
        cycles.append(("week", t.day_of_week.to_numpy() / 7))
    if step < 86_400:
        cycles.append(("day", (t.hour.to_numpy() + t.minute.to_numpy() / 60) / 24))
    for name, phase in cycles:
        parts += [np.sin(2 * math.pi * phase), np.cos(2 * math.pi * phase)]
        names += [f"calendar.{name}_sin", f"calendar.{name}_cos"]
    if holiday_calendar is not None:
        parts.append(np.array([day in holiday_calendar for day in t.date], np.float64))
        names.append("calendar.holiday")
    return np.column_stack(parts), names


def _mase_scale(train: np.ndarray, season: int) -> float:
    """Hyndman's MASE denominator: the seasonal naive's mean absolute error inside the training part."""
    lag = season if len(train) > season else 1
    diffs = np.abs(train[lag:] - train[:-lag])
    return float(diffs.mean()) if diffs.size and diffs.mean() > 0 else 1.0


def seasons_back(step: int, season: int) -> int:
    """How far back the seasonal naive of forecast step `step` (0: the first) looks: whole seasons, so that it
    never repeats a value after the window's end (a week back for days 1–7, two weeks for days 8–14)."""
    return season * math.ceil((step + 1) / season)


def _ridge_forecasts(windows: np.ndarray, y: np.ndarray, n_train: int) -> np.ndarray:
    """A ridge regression on the same window the model reads (every column, the calendar known ahead), fitted on
    the training windows: the forecasts of every window, (forecasts, horizon), on the standardized target."""
    from sklearn.linear_model import RidgeCV

    flat = windows.reshape(len(windows), -1)
    model = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(flat[:n_train], y[:n_train])
    return model.predict(flat).reshape(len(windows), -1)


def _classical(y, stamps, window: int, horizon: int, seasons: list[int], lo: int, hi: int, ridge: np.ndarray):
    """The forecasts `lo…hi` as rows: the file's line and time of each first answer, and the classical forecasts
    of each step ahead: the last value seen, the seasonal naive at each season (the value whole seasons before each
    answer, from what the window could see; `seasonal_naive` at the first season, `seasonal_naive_<s>` at others),
    and the ridge regression on the window."""
    import pandas as pd

    starts = np.arange(lo, hi) + window  # each forecast's first answer's row
    out: dict[str, Any] = {"row": starts + 2}
    if stamps is not None:
        out["time"] = stamps.iloc[starts].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    last = y[starts - 1]
    for h in range(horizon):
        out[f"last_value.{h + 1}"] = last
        for i, season in enumerate(seasons):
            earlier = starts + h - seasons_back(h, season)
            name = "seasonal_naive" if i == 0 else f"seasonal_naive_{season}"
            out[f"{name}.{h + 1}"] = np.where(earlier >= 0, y[np.maximum(earlier, 0)], last)
        out[f"ridge.{h + 1}"] = ridge[lo:hi, h]
    return pd.DataFrame(out)


def recent_window(path: str, spec: DataSpec) -> tuple[np.ndarray, list[str]]:
    """The last `window` steps of a CSV of recent history, as the model reads them (scaled with the training
    statistics), and the times of the `horizon` steps that follow (empty without a time column).

    Raises:
        ConfigError: a missing column, fewer rows than the window, a gap or unsorted time, an empty cell.
    """
    import pandas as pd

    series = spec.series or {}
    window, horizon = int(series["window"]), int(series["horizon"])
    df = read_table(path)
    df.columns = [str(c).strip() for c in df.columns]
    for column in [*series["inputs"], *([series["time"]] if series["time"] else [])]:
        if column not in df.columns:
            names = [shorten(str(c)) for c in df.columns]
            raise ConfigError(
                f"{path} has no column '{column}', an input of this forecaster; {did_you_mean(column, names)} "
                f"(it reads: {', '.join(series['inputs'])})"
            )
    if len(df) < window:
        raise ConfigError(
            f"{path} has {len(df)} rows; this forecaster reads the last {window} steps: give at least that"
        )
    df = df.iloc[-window:].reset_index(drop=True)
    stamps, time, _ = (
        _time_column(df, series["time"], path, series.get("time_format")) if series["time"] else (None, None, None)
    )
    if stamps is not None:
        _check_order(stamps, df, time, path, "fail")
    matrix = np.column_stack([_checked(df[name], name, path, series.get("fill", "none")) for name in series["inputs"]])
    future: list[str] = []
    mean, std = np.array(spec.scaling["mean"]), np.array(spec.scaling["std"])
    if series["calendar"]:
        mean, std = mean[:-1], std[:-1]  # the last input is the calendar.ahead flag, added as it is below
    if stamps is None:
        return ((matrix - mean) / std).astype(np.float32)[None], future
    step_seconds = float(series["step_seconds"])
    step = pd.Timedelta(seconds=step_seconds)
    times = pd.Series([stamps.iloc[-1] + step * (h + 1) for h in range(horizon)])
    future = [t.strftime("%Y-%m-%d %H:%M:%S") for t in times]
    if not series["calendar"]:
        return ((matrix - mean) / std).astype(np.float32)[None], future
    holiday_calendar = _holiday_calendar(series.get("holidays"))
    observed = len(series["inputs"])
    matrix = np.column_stack([matrix, _calendar(stamps, step_seconds, holiday_calendar)[0]])
    known = np.column_stack([np.zeros((horizon, observed)), _calendar(times, step_seconds, holiday_calendar)[0]])
    scaled = ((np.concatenate([matrix, known]) - mean) / std).astype(np.float32)
    return _with_calendar_ahead(scaled[None, :window], scaled, observed, window, horizon), future


@register_kind
class SeriesKind(DataKind):
    """Forecasting windows: the classical forecasters the plugin computed for each window (`rows`) are the
    candidates; the verdict follows the MAE."""

    name = "sequence"

    def baseline(self, evidence: Evidence) -> dict[str, Any]:
        rows = evidence.rows
        if not evidence.spec.series or rows.get("val") is None or rows.get("test") is None:
            return {}
        found = series_compare(rows, evidence.answers, evidence.spec, evidence.predicted)
        return {"mase": found.pop("model_mase"), "baseline": found}

    def gather(self, inputs, spec):
        """A forecaster takes one CSV of recent history (its last `window` rows are read)."""
        if len(inputs) != 1 or Path(inputs[0]).suffix.lower() not in TABLES:
            raise ConfigError(
                "a forecaster takes one CSV of recent history (the last rows of the series, same columns)"
            )
        return super().gather(inputs, spec)

    def row_batches(self, table, spec, batch_size):
        """One window: the history's last `window` steps, named by the times of the `horizon` steps it forecasts."""
        x, times = recent_window(str(table), spec)
        yield times or [""] * int(spec.series["horizon"]), x, None

    def predictions(self, spec, head, table):
        return Forecasts(spec)

    def explain_inputs(self, inputs, spec):
        raise ConfigError(
            "explain takes images, sound, table rows or text; a forecaster's windows are not explained yet"
        )


class Forecasts:
    """Writes a forecaster's predictions: a CSV of `step, time, forecast` in the target's units."""

    def __init__(self, spec: DataSpec):
        self.spec, self.rows = spec, 0

    def header(self, with_target: bool) -> list[str]:
        return ["step", "time", "forecast"]

    def write(self, writer, times: list[str], outputs: np.ndarray, count: int, targets) -> None:
        values = unscale_target(np.asarray(outputs).reshape(-1), self.spec)
        for h, value in enumerate(values):
            writer.writerow([h + 1, times[h], f"{value:.6g}"])
        self.rows += len(values)

    def result(self) -> dict[str, Any]:
        return {"rows": self.rows}


def forecasts(rows, horizon: int) -> dict[str, np.ndarray]:
    """The classical forecasts a series plugin put in a split's rows (`<name>.<step>` columns, one per step
    ahead), by name: (windows, horizon) arrays."""
    names = [c[: -len(".1")] for c in rows.columns if c.endswith(".1")]
    return {
        name: np.column_stack([rows[f"{name}.{h + 1}"].to_numpy(np.float64) for h in range(horizon)]) for name in names
    }


def series_compare(rows: dict[str, Any], answers: dict[str, np.ndarray], spec, predicted: np.ndarray) -> dict[str, Any]:
    """A forecast's classical candidates on the same windows (seasonal naive at each season, last value, ridge on
    the window: whatever the plugin computed), the strongest on the validation windows as the reference, MAE and
    RMSE in the target's units, MASE (Hyndman's in-sample seasonal-naive scale), the model's MAE relative to each
    candidate, and the paired verdict on the MAE against the reference.

    Args:
        rows: the "val" and "test" splits' rows (`<candidate>.<h>` per step ahead).
        answers: the "val" and "test" answers, (windows, horizon), in the target's units.
        spec: the data's spec (its `series`).
        predicted: the model's forecasts on the test windows, the same shape and units.
    """
    horizon = int(spec.series["horizon"])
    scale = float(spec.series["mase_scale"])
    y_val = answers["val"].reshape(len(answers["val"]), horizon)
    y_test = answers["test"].reshape(len(answers["test"]), horizon)
    predicted = predicted.reshape(y_test.shape)
    val, test = forecasts(rows["val"], horizon), forecasts(rows["test"], horizon)
    best, on_val = verdict.strongest({name: (val[name], test[name]) for name in test}, y_val, "mae")
    model_mae = verdict.score("mae", y_test, predicted)
    out: dict[str, Any] = {"model": best, "season": int(spec.series["season"]), "chosen_on": "validation mae"}
    out["seasons"] = list(spec.series.get("seasons") or [out["season"]])
    out["candidates"] = {}
    for name, guess in test.items():
        mae = verdict.score("mae", y_test, guess)
        found = {"val_mae": on_val[name], "mae": mae, "rmse": verdict.score("rmse", y_test, guess), "mase": mae / scale}
        found["model_mae_ratio"] = model_mae / mae if mae else None
        out["candidates"][name] = found
    out.update({k: v for k, v in out["candidates"][best].items() if k in ("mae", "rmse", "mase")})
    for name in ("seasonal_naive", "last_value"):  # the ratios users and earlier reports read
        if name in out["candidates"]:
            out[f"mae_vs_{name}"] = out["candidates"][name]["model_mae_ratio"]
    if "last_value" in out["candidates"]:
        out["last_value"] = {k: out["candidates"]["last_value"][k] for k in ("mae", "rmse", "mase")}
    out["model_mase"] = model_mae / scale
    out.update(verdict.paired("mae", y_test, predicted, test[best]))
    return out
