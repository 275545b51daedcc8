"""Tables as users have them: read with pandas, typed per column, encoded inside the model.

A table is read as text (CSV, TSV, gzip'd or not) or typed (Parquet), with
`NA`, `null`, `?` and empty cells as missing values. Each column gets a type:

- `number`: standardized with the training rows' mean and deviation; a
  missing cell becomes the mean, and a 0/1 indicator column says it was missing
  (when training had missing cells in that column);
- `category`: strings (or numbers named so in `data.columns`), one-hot over the
  training rows' most frequent values; a missing cell is its own category, a
  value never seen in training falls into an out-of-vocabulary slot;
- `datetime`: dates and times (ISO 8601, `2013-01-01 05:00:00`), expanded into
  number columns — year, month, day, day of the week, and the hour when the
  times are not all midnight — each encoded as a number;
- `text`: free text (reviews, tickets, tweets: most cells several words, most
  of them distinct), split into words and word n-grams by Keras's
  `TextVectorization`, whose vocabulary is fitted on the training rows only; the
  model reads a fixed-length sequence of token ids (0: padding, 1: out of
  vocabulary) — an empty cell is all padding, a long one is cut at
  `sequence_length` tokens;
- `ignore`: left out; a column that is unique on every row (an ID, a row number)
  is left out so, with a warning naming it, unless `data.columns` types it.

The fitted encoding (`TableEncoding`) is applied twice, by one description:
in NumPy by the prepare stage (training reads numbers) and as Keras layers in
front of the trained model (`front`), so that the saved model takes raw rows —
strings, blanks, unseen categories — in `workflows.predict`, in the SavedModel
and in plain `keras.models.load_model`. Only built-in Keras layers and ops are
used: a receiver needs neither this project nor custom objects.

Why pandas: it is the reader users already know (its `read_csv` options and
NA rules), it streams CSVs in chunks for prediction, and it reads Parquet
through pyarrow, which keeps string columns compact.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.registry import ConfigError, check_values, did_you_mean

if TYPE_CHECKING:
    import keras
    import pandas as pd

MISSING = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "none", "?", "#N/A", "-")
TYPES = ("number", "category", "datetime", "text", "ignore")
DATE_PARTS = ("year", "month", "day", "dayofweek", "hour")
MAX_CATEGORIES = 64  # one-hot slots per column; rarer values share the out-of-vocabulary slot (with a warning)
QUANTILE_BINS = 32  # a number column's quantile edges kept in the encoding (a tabular model's piecewise-linear bins)
MAX_CLASS_VALUES = 10  # an integer target with at most this many distinct values is taken for classes
NUMERIC_SHARE = 0.95  # a column of numbers with a word in one cell (or in 5 % of them at most) is refused
PARQUET = (".parquet", ".pq")
# How a text column is vectorized (data.max_tokens, data.sequence_length, data.ngrams, data.standardize_text).
TEXT_DEFAULTS = {
    "max_tokens": 20_000,
    "sequence_length": 128,
    "ngrams": 2,
    "standardize": "lower_and_split_punctuation",
}
# lower_and_split_punctuation: as scikit-learn's TF-IDF splits words (plugins.model.text_ops); the others are Keras's.
STANDARDIZE = ("lower_and_split_punctuation", "lower_and_strip_punctuation", "lower", "strip_punctuation", "none")
TEXT_WORDS = 4  # a string column whose cells have this many words (median) and are mostly distinct is text


def read_table(path: str | Path, delimiter: str | None = None, **options: Any) -> pd.DataFrame:
    """Reads a CSV, TSV (optionally compressed: .gz, .bz2, .zip, .xz) or Parquet file; cells of text files as strings.

    Args:
        path: the file.
        delimiter: the field separator; None: a tab for .tsv files, else sniffed from the first lines.
        **options: more `pandas.read_csv` options (`chunksize`, `usecols`, `nrows`).

    Returns:
        A DataFrame of strings with missing cells as NA (text files), or the Parquet file's own types.

    Raises:
        ConfigError: no such file, not UTF-8, not readable as a table, a nested Parquet column.
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"data.path: no such file '{path}' (relative paths start at the repository root)")
    if file.suffix.lower() in PARQUET:
        return _read_parquet(file, options.get("usecols"))
    suffixes = [s.lower() for s in file.suffixes]
    if delimiter is None:
        delimiter = "\t" if ".tsv" in suffixes else _sniff(file)
    source: Any = file
    if file.suffix.lower() in COMPRESSED:  # inflated by us, counted: a bomb stops at MAX_INFLATED, not at MemoryError
        source = _inflated(file)
    try:
        return pd.read_csv(
            source,
            sep=delimiter,
            dtype=str,
            na_values=list(MISSING),
            keep_default_na=False,
            skipinitialspace=True,
            encoding="utf-8-sig",  # Excel's "CSV UTF-8" starts with a byte-order mark: not part of a column's name
            compression=None if source is not file else "infer",
            **options,
        )
    except TooLarge as err:
        raise ConfigError(str(err)) from None
    except (EOFError, OSError, zipfile_errors()) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ConfigError(
            f"{path}: not a whole {file.suffix.lower()[1:]} file ({_first_line(err)}): truncated, or not compressed "
            f"(rename a plain table to {file.stem})"
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{path} is empty; it needs a header row and data rows") from None
    except (pd.errors.ParserError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:120]
        raise ConfigError(f"{path}: not readable as a table ({first}); fix that line or set data.delimiter") from None


COMPRESSED = (".gz", ".bz2", ".xz", ".zip")
MAX_INFLATED = 4 << 30  # a compressed table inflates to at most 4 GiB of text (a 6 MB gzip bomb is 2.2 GB …)
MAX_RATIO = 200  # … and to at most 200 times its compressed size (tables compress 5–30 times; bombs 300 and more)


class TooLarge(ValueError):
    """A compressed table that inflates beyond what `read_table` takes."""


def zipfile_errors() -> type[Exception]:
    import zipfile

    return zipfile.BadZipFile


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:120]


def _inflated(file: Path):
    """A compressed table's text as a binary stream that counts what it inflates, and stops with `TooLarge` past
    MAX_INFLATED bytes or MAX_RATIO times the file's size (whichever is smaller, never under 64 MiB)."""
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    suffix = file.suffix.lower()
    if suffix == ".zip":
        archive = zipfile.ZipFile(file)
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise TooLarge(f"{file}: a zip archive of {len(names)} files; zip the one table alone (or unzip it)")
        raw = archive.open(names[0])
    else:
        raw = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[suffix](file, "rb")
    limit = min(MAX_INFLATED, max(64 << 20, MAX_RATIO * file.stat().st_size))

    class Counted(io.RawIOBase):
        read_so_far = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            data = raw.read(len(buffer))
            self.read_so_far += len(data)
            if self.read_so_far > limit:
                raw.close()
                raise TooLarge(
                    f"{file}: inflates past {limit >> 20} MiB ({MAX_RATIO}× its size at most, {MAX_INFLATED >> 30} GiB "
                    "at most): not a table kerasforge reads compressed; decompress it yourself, or save it as Parquet"
                )
            buffer[: len(data)] = data
            return len(data)

        def close(self) -> None:
            raw.close()
            super().close()

    return io.BufferedReader(Counted(), buffer_size=1 << 20)


def _sniff(file: Path) -> str:
    """The separator of a text table: the one of `, ; \\t |` that splits the header into the most columns."""
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    suffix = file.suffix.lower()
    try:
        if suffix == ".zip":
            with zipfile.ZipFile(file) as archive, archive.open(archive.namelist()[0]) as member:
                header = io.TextIOWrapper(member, encoding="utf-8-sig", errors="replace").readline()
        else:
            opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
            with opener(file, "rt", encoding="utf-8-sig", errors="replace") as handle:
                header = handle.readline()
    except (OSError, zipfile.BadZipFile, IndexError, EOFError, lzma.LZMAError):
        return ","
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _read_parquet(file: Path, columns: list[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file, columns=columns)
    except (pa.ArrowInvalid, OSError) as err:
        raise ConfigError(f"{file}: not a readable Parquet file ({str(err)[:100]})") from None
    nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
    if nested:
        raise ConfigError(
            f"{file}: column(s) {', '.join(repr(n) for n in nested[:3])} are nested (lists or structs), which a "
            "table model cannot take; flatten them into columns of their own, or list the others in data.features"
        )
    return table.to_pandas()


def numbers(column: pd.Series) -> pd.Series:
    """A column's cells as float64, missing (and unparseable) cells as NaN."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):  # typed already: no parsing
        return column.astype("float64")
    return pd.to_numeric(column, errors="coerce").astype("float64")


def texts(column: pd.Series) -> pd.Series:
    """A column's cells as strings; a missing cell is the empty string (its own category)."""
    import pandas as pd

    if pd.api.types.is_float_dtype(column):  # a typed Parquet column of whole numbers: "3", not "3.0"
        column = column.map(lambda v: v if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
    return column.astype("string").fillna("").str.strip().astype(object)


def infer_types(df: pd.DataFrame, target: str, given: dict[str, str], path: str) -> dict[str, str]:
    """Each feature column's type: `data.columns` where given, else inferred from its cells (see the module)."""
    return type_columns(df, target, given, path)[0]


def type_columns(
    df: pd.DataFrame, target: str, given: dict[str, str], path: str
) -> tuple[dict[str, str], pd.DataFrame]:
    """Each feature column's type, and the table with each column converted once to its type: float64 numbers
    (NaN: missing), stripped strings ("" missing), UTC datetimes; ignored columns dropped. Everything after reads the
    typed table, so that no cell is parsed twice (a million rows: seconds, not minutes).

    Raises:
        ConfigError: a type `data.columns` does not know, a column it names that the file lacks, a column whose
            cells are numbers almost always (a typo in one cell, or a file whose types change halfway).
    """
    for name, kind in given.items():
        if name not in df.columns:
            raise ConfigError(f"data.columns.{name}: {path} has no such column; {did_you_mean(name, list(df.columns))}")
        if kind not in TYPES:
            raise ConfigError(f"data.columns.{name}={kind!r} is not a column type; {did_you_mean(str(kind), TYPES)}")
    types: dict[str, str] = {}
    typed = {}
    for name in df.columns:
        if name == target:
            typed[name] = df[name]
            continue
        types[name] = given[name] if name in given else _infer(df[name], name, path)
        if types[name] == "number":
            types[name], values = _as_numbers(df[name], name, path, given=name in given)
            if values is not None:
                typed[name] = values
        if types[name] in ("category", "text") and name not in typed:
            typed[name] = texts(df[name])
        elif types[name] == "datetime":
            typed[name] = _dates(df[name])
    import pandas as pd

    return types, pd.DataFrame(typed, index=df.index)


SAMPLE = 20_000  # cells a column's type is inferred from; the whole column is then checked against it


def _infer(column: pd.Series, name: str, path: str) -> str:
    """A column's type from (a sample of) its present cells; `_as_numbers` checks every cell of a number column."""
    import pandas as pd

    present = column.dropna()
    if present.empty:
        warn(f"{path}: column '{name}' is empty on every row; left out")
        return "ignore"
    if pd.api.types.is_bool_dtype(column):
        return "category"
    sample = present.iloc[:SAMPLE]
    parsed = numbers(sample).notna()
    wrong = int((~parsed).sum())
    if wrong == 0 or (parsed.sum() >= 2 and wrong <= max(1, (1 - NUMERIC_SHARE) * len(sample))):
        return "number"  # a word in a few cells: `_as_numbers` names the first
    if _dates(sample.iloc[:1000]).notna().mean() >= NUMERIC_SHARE and _dates(sample).notna().mean() >= NUMERIC_SHARE:
        return "datetime"
    if _is_text(sample):
        return "text"
    if len(column) > MAX_CATEGORIES and present.nunique() == len(column):
        warn(
            f"{path}: column '{name}' has a different value on every row (an ID?); left out "
            f"(data.columns.{name}=category keeps it)"
        )
        return "ignore"
    return "category"


def _is_text(sample: pd.Series) -> bool:
    """Free text: most cells have several words (median at least TEXT_WORDS) and most cells differ from each other.
    Category values with spaces ("New York") repeat; sentences rarely do."""
    if len(sample) < 10:
        return False
    words = sample.astype("string").str.split().str.len()
    return float(words.median()) >= TEXT_WORDS and sample.nunique() >= 0.5 * len(sample)


def _as_numbers(column: pd.Series, name: str, path: str, given: bool) -> tuple[str, pd.Series | None]:
    """A number column converted, every cell checked: its final type (a row counter is an ID, left out; words past
    the inferred sample make it a category) and its values."""
    values = numbers(column)
    wrong = values.isna() & column.notna()
    n_wrong, n_present = int(wrong.sum()), int(column.notna().sum())
    if n_wrong and not given and n_wrong > max(1, (1 - NUMERIC_SHARE) * n_present):
        warn(f"{path}: column '{name}' has numbers in its first cells and words later; taken as a category")
        return "category", texts(column)
    if n_wrong:
        at, line = _first(wrong)
        raise ConfigError(
            f"{path}, line {line}, column '{name}': {shorten(str(column.iloc[at]))!r} in a column of numbers; fix "
            f"the cell (or blank it: missing), or set data.columns.{name}=category"
        )
    check_finite(column, values, name, path)
    if not given and _counts_rows(values.dropna()) and values.notna().all():
        warn(f"{path}: column '{name}' numbers the rows (an ID?); left out (data.columns.{name}=number keeps it)")
        return "ignore", None
    return "number", values


FLOAT32_MAX = float(np.finfo(np.float32).max)


def shorten(text: str, limit: int = 40) -> str:
    """A cell or a name as an error message shows it: at most `limit` characters, then `…`."""
    return text if len(text) <= limit else text[:limit] + "…"


def _first(mask: pd.Series) -> tuple[int, int]:
    """The position of the first true cell of `mask`, and its line in the user's file: the index counts the file's
    data rows from 0, and the header is line 1."""
    at = int(np.flatnonzero(mask.to_numpy())[0])
    return at, int(mask.index[at]) + 2


def check_finite(cells: pd.Series, values: pd.Series, name: str, path: str) -> None:
    """Refuses `inf` or a number beyond float32's range (training needs finite values), naming its line."""
    bad = values.notna() & (~np.isfinite(values) | (values.abs() > FLOAT32_MAX))  # NaN: a missing cell
    if bad.any():
        at, line = _first(bad)
        raise ConfigError(
            f"{path}, line {line}, column '{name}': {shorten(str(cells.iloc[at]))!r} is not a finite 32-bit number "
            "(training needs finite values); fix it, blank it (missing), or drop the column"
        )


def numbers_checked(column: pd.Series, name: str, path: str, first_line: int = 2) -> np.ndarray:
    """A number column of new rows as float32 (missing cells NaN); a cell that is not a number, or not finite, is
    an error naming its line (`first_line`: the file's line of the column's first cell)."""
    import pandas as pd

    column = column.set_axis(pd.RangeIndex(first_line - 2, first_line - 2 + len(column)))  # index → the file's line
    values = numbers(column)
    wrong = values.isna() & column.notna()
    if wrong.any():
        at, line = _first(wrong)
        raise ConfigError(
            f"{path}, line {line}, column '{name}': {shorten(str(column.iloc[at]))!r} is not a number; fix the "
            "cell, blank it (missing), or drop the row"
        )
    check_finite(column, values, name, path)
    return values.to_numpy(np.float32)


def frequency_order(column: pd.Series) -> list[str]:
    """A column's values as strings, the most frequent first (ties by name): the order categories are kept in."""
    counts = texts(column).value_counts()
    return [value for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _dates(column: pd.Series) -> pd.Series:
    """Cells as datetimes (ISO 8601: `2013-01-01`, `2013-01-01 05:00:00`), NaT where they are not."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):  # typed already (type_columns): no parsing
        return column
    text = column.astype("string")
    looks = text.str.match(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
    out = pd.to_datetime(text.where(looks.fillna(False).astype(bool)), errors="coerce", format="ISO8601", utc=True)
    return out


# Dates as users write them beside ISO 8601: day-first and month-first, with slashes, dots or dashes, with or without
# the time of day. `parse_times` tries these on a sample; the one that reads every cell (the most regular if several
# do: 01/02 is ambiguous until a 13th day) is the column's format.
DAY_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%y")
TIME_OF_DAY = ("", " %H:%M", " %H:%M:%S")
TIME_FORMATS = tuple(day + time for day in DAY_FORMATS for time in TIME_OF_DAY)


def parse_times(column: pd.Series, fmt: str | None = None) -> tuple[pd.Series, str | None]:
    """Cells as UTC datetimes, NaT where they are not, and the format that read them (None: ISO 8601).

    Args:
        column: the cells.
        fmt: a `strptime` format already known (a saved forecaster's); None: ISO 8601, else the first of
            TIME_FORMATS that reads every cell of a sample.

    Returns:
        The datetimes and the format used.

    Example:
        >>> parse_times(pd.Series(["29/09/2014", "30/09/2014"]))[1]
        '%d/%m/%Y'
    """
    import pandas as pd

    if fmt is not None:
        return pd.to_datetime(column.astype("string").str.strip(), format=fmt, errors="coerce", utc=True), fmt
    iso = _dates(column)
    present = column.dropna().astype("string").str.strip()
    if iso.notna().sum() == len(present) or not len(present):
        return iso, None
    sample = present.iloc[:500]
    if sample.str.match(r"^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}").mean() < 0.9:
        return iso, None
    fits = []
    for candidate in TIME_FORMATS:  # nine cells in ten at least: a typo is the caller's to name, not a reason to fail
        parsed = pd.to_datetime(sample, format=candidate, errors="coerce")
        share = float(parsed.notna().mean())
        if share >= 0.9:
            seconds = (parsed.dropna() - parsed.dropna().iloc[0]).dt.total_seconds().to_numpy()
            fits.append((-share, len(np.unique(np.diff(np.sort(seconds)))), candidate))
    if not fits:
        return iso, None
    best = min(fits)[2]  # the most cells, then the most regular steps (day- and month-first differ past the 12th)
    return pd.to_datetime(column.astype("string").str.strip(), format=best, errors="coerce", utc=True), best


def date_part(column: pd.Series, part: str) -> pd.Series:
    """One part of a datetime column (year, month, day, dayofweek, hour) as float64; NaN where missing."""
    return getattr(_dates(column).dt, part).astype("float64")


def _counts_rows(values: pd.Series) -> bool:
    """Whether whole numbers are a row counter: distinct, and consecutive once sorted (1, 2, 3…)."""
    if len(values) < 20 or not (values == values.round()).all() or values.nunique() != len(values):
        return False
    return float(values.max() - values.min()) == len(values) - 1


def infer_task(target: pd.Series) -> str:
    """Classification for words, booleans or whole numbers with few distinct values; else regression."""
    present = target.dropna()
    values = numbers(present)
    if values.isna().any():
        return "classification"
    if (values == values.round()).all() and values.nunique() <= MAX_CLASS_VALUES:
        return "classification"
    return "regression"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def input_names(columns: list[str]) -> dict[str, str]:
    """Each column's name as a Keras input name: letters, digits, `_`, `.` and `-` kept, others `_`; unique."""
    out: dict[str, str] = {}
    for name in columns:
        key = re.sub(r"[^0-9A-Za-z_.-]", "_", str(name)) or "column"
        while key in out.values():
            key += "_"
        out[name] = key
    return out


@dataclass
class TableEncoding:
    """The fitted encoding of a table's feature columns, as plain data (it travels in spec.json and model.json).

    Attributes:
        columns: one dict per used column, in the model's order: `name` (the file's), `input` (the Keras input's
            name), `type` (number | category), `encoding` ("standardized" | "one-hot"), and `mean`, `std`,
            `missing_indicator`, `quantiles` (numbers: the training rows' distinct quantiles at QUANTILE_BINS + 1
            even steps, standardized; model=tabm's bins) or `vocabulary` (categories; the out-of-vocabulary slot
            comes first).
        ignored: the file's columns left out, with why.
    """

    columns: list[dict[str, Any]]
    ignored: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        rows: pd.DataFrame,
        types: dict[str, str],
        max_categories: int = MAX_CATEGORIES,
        path: str = "data",
        text: dict[str, Any] | None = None,
    ) -> TableEncoding:
        """Fits the encoding on the training rows only.

        Args:
            rows: the training rows, typed (`type_columns`).
            types: each column's type.
            max_categories: one-hot columns per category column.
            path: the file, for messages.
            text: how text columns are vectorized (`TEXT_DEFAULTS`' keys; missing keys take the defaults).
        """
        # Text columns come last: the encoded row is the other columns' numbers, then each text's token ids.
        types = dict(sorted(types.items(), key=lambda kv: kv[1] == "text"))
        used = [name for name, kind in types.items() if kind != "ignore"]
        if not used:
            raise ConfigError(f"{path}: no feature column is left to learn from; type one in data.columns")
        expanded: list[tuple[str, str, str | None]] = []  # (name, type, the date part of a datetime column)
        for name in used:
            if types[name] == "datetime":
                hours = date_part(rows[name], "hour")
                parts = [p for p in DATE_PARTS if p != "hour" or (hours.fillna(0) != 0).any()]
                expanded += [(f"{name}.{part}", "number", part) for part in parts]
            else:
                expanded.append((name, types[name], None))
        names = input_names([name for name, _, _ in expanded])
        columns = []
        for name, kind, part in expanded:
            if kind == "number":
                source = name.rsplit(".", 1)[0] if part else name
                values = date_part(rows[source], part) if part else numbers(rows[name])
                present = values.dropna()
                mean = float(present.mean()) if len(present) else 0.0
                std = float(present.std(ddof=0)) if len(present) else 1.0
                column = {
                    "name": name,
                    "input": names[name],
                    "type": "number",
                    "encoding": "standardized",
                    "mean": mean,
                    "std": std if std > 0 and math.isfinite(std) else 1.0,
                    "missing_indicator": bool(values.isna().any()),
                    "quantiles": _quantiles(present, mean, std),
                }
                if part:  # a part of a datetime column: computed from the file's column `source`
                    column.update(source=source, part=part)
                columns.append(column)
            elif kind == "text":
                columns.append(_fit_text(rows[name], name, names[name], {**TEXT_DEFAULTS, **(text or {})}))
            else:
                ordered = frequency_order(rows[name])
                vocabulary = ordered[:max_categories]
                if len(ordered) > max_categories:
                    warn(
                        f"{path}: column '{name}' has {len(ordered)} distinct values; the {max_categories} most "
                        "frequent get a column each, the others share one"
                    )
                columns.append(
                    {
                        "name": name,
                        "input": names[name],
                        "type": "category",
                        "encoding": "one-hot",
                        "vocabulary": vocabulary,
                    }
                )
        ignored = {name: "ignored" for name, kind in types.items() if kind == "ignore"}
        return cls(columns, ignored)

    @property
    def width(self) -> int:
        """The encoded row's length."""
        return sum(column_width(c) for c in self.columns)

    @staticmethod
    def values(rows: pd.DataFrame, c: dict[str, Any]) -> pd.Series:
        """A number column's values (float64, NaN when missing): the file's column, or a part of a datetime one."""
        return date_part(rows[c["source"]], c["part"]) if "source" in c else numbers(rows[c["name"]])

    @property
    def file_columns(self) -> list[str]:
        """The columns of the user's file that the model reads, in order."""
        return list(dict.fromkeys(c.get("source", c["name"]) for c in self.columns))

    def check_columns(self, rows: pd.DataFrame, path: str) -> None:
        """Refuses a table that lacks one of the model's columns (extra columns and any order are fine)."""
        missing = [name for name in self.file_columns if name not in rows.columns]
        if missing:
            names = ", ".join(self.file_columns)
            raise ConfigError(
                f"{path} has no column '{missing[0]}', a feature of this model; "
                f"{did_you_mean(missing[0], [str(c) for c in rows.columns])} (the model takes: {names})"
            )

    def inputs(self, rows: pd.DataFrame, path: str | None = None, first_line: int = 2) -> dict[str, np.ndarray]:
        """The saved model's raw inputs: one (n, 1) array per column, float32 with NaN (numbers), or strings.

        With `path` (new rows from a file), a cell of a number column that is not a number is a one-line error
        naming its line, where training rows had it refused at preparation."""
        out = {}
        for c in self.columns:
            if c["type"] == "number" and path is not None and "source" not in c:
                out[c["input"]] = numbers_checked(rows[c["name"]], c["name"], path, first_line).reshape(-1, 1)
            elif c["type"] == "number":
                out[c["input"]] = self.values(rows, c).to_numpy(np.float32).reshape(-1, 1)
            else:  # categories and text: strings
                out[c["input"]] = texts(rows[c["name"]]).to_numpy(object).reshape(-1, 1)
        return out

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        """The rows as the trained model reads them (float32), exactly as `front` computes them."""
        parts = []
        for c in self.columns:
            if c["type"] == "number":
                values = self.values(rows, c).to_numpy(np.float64)
                missing = np.isnan(values)
                scaled = (np.where(missing, c["mean"], values) - c["mean"]) / c["std"]
                parts.append(scaled.astype(np.float32)[:, None])
                if c["missing_indicator"]:
                    parts.append(missing.astype(np.float32)[:, None])
            elif c["type"] == "text":
                parts.append(_tokens(rows[c["name"]], c))
            else:
                import pandas as pd

                ids = pd.Index(c["vocabulary"]).get_indexer(texts(rows[c["name"]])) + 1  # 0: out of vocabulary
                parts.append(np.eye(1 + len(c["vocabulary"]), dtype=np.float32)[ids])
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(rows), 0), np.float32)

    def front(self, core: keras.Model) -> keras.Model:
        """The trained model behind Keras layers that encode raw rows as `encode` does; a dict of inputs, by name."""
        import keras
        from keras import ops

        inputs, parts = {}, []
        for c in self.columns:
            if c["type"] == "number":
                x = keras.Input(shape=(1,), name=c["input"], dtype="float32")
                missing = ops.isnan(x)
                filled = ops.where(missing, ops.full_like(x, c["mean"]), x)
                parts.append(
                    keras.layers.Normalization(mean=[c["mean"]], variance=[c["std"] ** 2], name=f"{c['input']}.scale")(
                        filled
                    )
                )
                if c["missing_indicator"]:
                    parts.append(ops.cast(missing, "float32"))
            elif c["type"] == "text":
                x = keras.Input(shape=(1,), name=c["input"], dtype="string")
                ids = text_vectorizer(c)(ops.reshape(x, (-1,)))
                parts.append(ops.cast(ids, "float32"))
            else:
                x = keras.Input(shape=(1,), name=c["input"], dtype="string")
                parts.append(
                    keras.layers.StringLookup(
                        vocabulary=c["vocabulary"] or ["\x00"],
                        num_oov_indices=1,
                        output_mode="one_hot",
                        name=f"{c['input']}.one_hot",
                    )(x)
                )
            inputs[c["input"]] = x
        encoded = keras.layers.Concatenate(name="encoded")(parts) if len(parts) > 1 else parts[0]
        return keras.Model(inputs, core(encoded), name="table_model")

    def describe(self) -> list[dict[str, Any]]:
        """Each column's type and how it is encoded, for the model card."""
        out = []
        for c in self.columns:
            if c["type"] == "number":
                how = f"standardized (mean {c['mean']:.4g}, std {c['std']:.4g})"
                if "source" in c:
                    how = f"the {c['part']} of datetime column '{c['source']}', " + how
                how += "; missing → mean, with an indicator" if c["missing_indicator"] else "; missing → mean"
            elif c["type"] == "text":
                grams = "words" if c["ngrams"] == 1 else f"words and word {c['ngrams']}-grams"
                how = (
                    f"{c['sequence_length']} token ids ({grams}, {c['standardize']}; a vocabulary of "
                    f"{len(c['vocabulary'])} + padding and out-of-vocabulary)"
                )
            else:
                how = f"one-hot over {len(c['vocabulary'])} values + 1 out-of-vocabulary"
            out.append({"column": c["name"], "type": c["type"], "encoding": how})
        out += [{"column": name, "type": "ignore", "encoding": why} for name, why in self.ignored.items()]
        return out


def _quantiles(present: pd.Series, mean: float, std: float) -> list[float]:
    """The distinct quantiles of a number column's training values, in standardized units (the model's)."""
    if not len(present):
        return [0.0]
    scale = std if std > 0 and math.isfinite(std) else 1.0
    edges = np.quantile(present.to_numpy(np.float64), np.linspace(0.0, 1.0, QUANTILE_BINS + 1))
    return [round(float(v), 6) for v in np.unique(((edges - mean) / scale).astype(np.float32))]


def column_width(c: dict[str, Any]) -> int:
    """How many numbers of the encoded row a column takes."""
    if c["type"] == "number":
        return 1 + int(c["missing_indicator"])
    if c["type"] == "text":
        return int(c["sequence_length"])
    return 1 + len(c["vocabulary"])


def text_vectorizer(c: dict[str, Any]) -> keras.layers.TextVectorization:
    """A text column's Keras `TextVectorization` layer, its vocabulary set (fitted: `_fit_text`) or not (to adapt)."""
    import keras

    standardize: Any = None if c["standardize"] == "none" else c["standardize"]
    if standardize == "lower_and_split_punctuation":
        from plugins.model.text_ops import lower_and_split_punctuation as standardize
    return keras.layers.TextVectorization(
        max_tokens=int(c["max_tokens"]) + 2,  # the vocabulary's size counts padding and out-of-vocabulary
        standardize=standardize,
        ngrams=int(c["ngrams"]) if int(c["ngrams"]) > 1 else None,
        output_mode="int",
        output_sequence_length=int(c["sequence_length"]),
        vocabulary=c.get("vocabulary") or None,
        name=f"{c['input']}.tokens",
    )


# The text options' values, declared once: the data plugins register them (`values=`), so plugins/manifest.json
# refuses a bad one before anything is imported, and `check_text_options` applies the same rules.
# Bounded above too: a vocabulary of 1e9 tokens or 1e9 token ids per cell is an out-of-memory traceback in
# TensorFlow minutes later, not a setting (a book of 100,000 words is 100,000 ids).
TEXT_RULES: dict[str, dict[str, Any]] = {
    "max_tokens": {"min": 1, "max": 10_000_000},
    "sequence_length": {"min": 1, "max": 100_000},
    "ngrams": {"min": 1, "max": 5},
    "standardize_text": {"choices": list(STANDARDIZE)},
}


def check_text_options(options: dict[str, Any]) -> None:
    """Refuses a text setting that cannot work (`TEXT_RULES`), before any data is read."""
    check_values(TEXT_RULES, {**options, "standardize_text": options["standardize"]}, "data")


def _fit_text(column: pd.Series, name: str, key: str, options: dict[str, Any]) -> dict[str, Any]:
    """A text column's vocabulary, from the training rows: Keras's `TextVectorization.adapt`, the most frequent
    tokens first, ties in alphabetical order (adapt leaves ties to a hash table's order: sorted, a run is
    reproducible)."""
    check_text_options(options)
    c = {"name": name, "input": key, "type": "text", "encoding": "tokens", **options, "vocabulary": []}
    layer = text_vectorizer(c)
    present = texts(column)
    present = present[present != ""]
    if present.empty:
        raise ConfigError(f"text column '{name}' is empty on every training row; drop it or fill it")
    layer.adapt(present.to_numpy(object))
    adapted = [str(t) for t in layer.get_vocabulary()[2:]]  # after padding "" and "[UNK]"
    size = len(adapted)
    if not size:
        raise ConfigError(f"text column '{name}' has no word on any training row (after data.standardize_text)")
    ids = layer(present.to_numpy(object)).numpy().astype(np.int64)  # adapt's ids, cut at sequence_length
    flat = ids.ravel()
    frequency = np.bincount(flat[flat >= 2] - 2, minlength=size)
    order = sorted(range(size), key=lambda i: (-int(frequency[i]), adapted[i]))
    c["vocabulary"] = [adapted[i] for i in order]
    # Empty cells hold no token: they count as documents (len(column)) in no token's frequency.
    idf = _idf(ids, size, documents=len(column))
    c["idf"] = [idf[0], *(idf[i + 1] for i in order)]  # out-of-vocabulary, then the tokens in their new order
    return c


def _idf(ids: np.ndarray, size: int, documents: int) -> list[float]:
    """Smoothed inverse document frequencies, scikit-learn's: ln((1 + n) / (1 + df)) + 1, for out-of-vocabulary
    (id 1) and each token (ids 2…) of `ids`, over `documents` training rows."""
    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    present = np.unique(rows * (size + 2) + ids.ravel())  # each (row, token) once
    df = np.bincount(present % (size + 2), minlength=size + 2)[1:]
    return [round(float(v), 6) for v in np.log((1 + documents) / (1 + df)) + 1]


def _tokens(column: pd.Series, c: dict[str, Any]) -> np.ndarray:
    """A text column's token ids as float32, computed by the same Keras layer that `front` puts in the model."""
    layer = text_vectorizer(c)
    cells = texts(column).to_numpy(object)
    chunks = [layer(cells[i : i + 8192]).numpy() for i in range(0, len(cells), 8192)]
    return (np.concatenate(chunks) if chunks else np.zeros((0, int(c["sequence_length"])))).astype(np.float32)


def text_columns(table: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A table encoding's text columns (they come last in the encoded row)."""
    return [c for c in (table or {}).get("columns", []) if c["type"] == "text"]


def table_encoding(spec):
    """The table's encoding (`plugins.data.tabular.TableEncoding`) from the spec, built once per spec's table."""
    key = id(spec.table)
    if _ENCODINGS.get(key, (None,))[0] is not spec.table:
        _ENCODINGS.clear()  # one model's table at a time: no growth over a long session
        _ENCODINGS[key] = (spec.table, TableEncoding(**spec.table))
    return _ENCODINGS[key][1]


_ENCODINGS: dict[int, tuple[Any, Any]] = {}
