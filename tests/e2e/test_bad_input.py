"""Careless and hostile input, held to the README's promise: one line naming the fix, a non-zero exit, nothing lost
— before TensorFlow where no data is needed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from plugins.data.base import DataSpec
from plugins.registry import ConfigError, get
from tests.conftest import ROOT, error_lines, run
from workflows.config.compose import compose, load_params, to_yaml
from workflows.stages.train import class_weights

TRAIN = [sys.executable, "-m", "workflows.train"]


def read_csv(tmp_path, text: str, **params):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    return get("data", "csv").build({"path": str(path), "target": "y", **params})


def table(header: str, rows: int = 12) -> str:
    return header + "\n" + "".join(f"{(i * 7) % 13},{i * 2},{i % 3}\n" for i in range(rows))


@pytest.mark.parametrize(
    ("text", "params", "message"),
    [
        (table("a,a,y"), {}, r"columns 'a' appear more than once in the header"),
        (
            table("rooms,price,y"),
            {"target": "price", "features": ["rooms", "price"]},
            r"data.features lists the target 'price': the model would be given the answer",
        ),
        (
            "a,b,y\n" + "1,2,0\n" * 5 + "1," + "9" * 200_000 + ",1\n" + "1,2,1\n" * 6,
            {},
            r"line 7, column 'b': '9{40}…' in a column of numbers",  # named, not echoed whole
        ),
    ],
)
def test_a_table_that_would_mislead_is_refused(tmp_path, text, params, message):
    with pytest.raises(ConfigError, match=message):
        read_csv(tmp_path, text, **params)


def test_an_excel_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    splits = read_csv(tmp_path, "\ufeff" + table("a,b,y", rows=60), task="classification")
    assert splits.spec.features == ["a", "b"]


def test_class_weights_that_silence_every_class_are_refused():
    spec = DataSpec((4,), "classification", 2, ["a", "b"], kind="tabular")
    with pytest.raises(ConfigError, match=r"every class of the training set a weight of 0"):
        class_weights({"a": 0, "b": 0.0}, spec, np.array([0, 1, 1]))
    assert list(class_weights({"a": 0}, spec, np.array([0, 1]))) == [0.0, 1.0]  # b still weighs 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.intra_op_threads=-1", "trainer.intra_op_threads=-1 must be a whole number ≥ 0"),
        ("trainer.worker_timeout=0", "trainer.worker_timeout=0 must be a number of seconds > 0"),
    ],
)
def test_values_tensorflow_would_crash_or_hang_on_are_one_line(override, message, tmp_path):
    result = run([*TRAIN, override, f"hydra.run.dir={tmp_path / 'run'}"], ROOT, check=False, timeout=120)
    assert result.returncode == 2 and error_lines(result.stderr) == [
        f"error: {message}" + error_lines(result.stderr)[0].split(message, 1)[1]
    ], result.stderr[-1500:]
    assert message in result.stderr and "Check failed" not in result.stderr


def test_a_params_file_that_is_not_one_is_named_not_echoed(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("admin-account:$6$hash-of-a-password:19000:0:99999:7:::\n")
    with pytest.raises(ConfigError, match=r"is not a kerasforge config") as err:
        load_params(secret)
    assert "hash-of-a-password" not in str(err.value) and "admin-account" not in str(err.value)
    with pytest.raises(ConfigError, match=r"is a directory, not a params file"):
        load_params(tmp_path)


def test_environment_values_are_not_written_into_run_files(monkeypatch):
    monkeypatch.setenv("KF_TEST_SECRET", "s3cr3t-value")
    cfg = compose(["++trainer.backup_root=${oc.env:KF_TEST_SECRET}"])
    written = to_yaml(cfg)
    assert "s3cr3t-value" not in written and "${oc.env:KF_TEST_SECRET}" in written
    assert "s3cr3t-value" in to_yaml(cfg, secrets=True)  # the backup key changes with it; never written
    assert load_params_text(written)["trainer"]["backup_root"] == "s3cr3t-value"  # and it still reruns


def load_params_text(text: str):
    from omegaconf import OmegaConf

    return OmegaConf.create(text)


def test_more_folds_than_rows_is_one_line():
    folds = get("cv", "kfold").build({"folds": 50})
    with pytest.raises(ConfigError, match=r"cv.folds=50 is more than the 20 training and validation rows"):
        folds.split(np.arange(20) % 2)


def test_an_override_nested_2000_deep_is_one_line():
    deep = "[" * 2000 + "]" * 2000
    with pytest.raises(ConfigError, match=r"'trainer.devices=…' nests lists or mappings too deeply"):
        compose([f"trainer.devices={deep}"])


def test_a_run_directory_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "taken").write_text("a file")
    result = run([*TRAIN, f"hydra.run.dir={tmp_path / 'taken'}"], ROOT, check=False)
    assert result.returncode == 2 and error_lines(result.stderr) == [
        f"error: hydra.run.dir={tmp_path / 'taken'} is a file, not a directory; give a new or existing folder"
    ]


def test_a_backup_root_that_cannot_be_written_is_named(tmp_path):
    from workflows.runtime.backup import backup_dir

    (tmp_path / "file").write_text("not a folder")  # (as root, permission bits do not stop a write: a file does)
    with pytest.raises(ConfigError, match=r"trainer.backup_root=.*epoch backups cannot be written there"):
        backup_dir(tmp_path / "file" / "backups", "config", tmp_path / "run")


def test_image_sizes_that_would_take_gigabytes_are_refused(tmp_path):
    from PIL import Image

    from plugins.data.images import MAX_PIXELS, too_large

    with pytest.raises(ConfigError, match=r"at most 4096 pixels a side"):
        get("data", "image_folder").build({"directory": str(tmp_path), "target_size": [100000, 100000]})
    big = tmp_path / "big.png"
    Image.new("L", (8000, 5001)).save(big)  # one pixel row over the limit; the header alone says so
    small = tmp_path / "small.png"
    Image.new("L", (64, 64)).save(small)
    assert 8000 * 5001 > MAX_PIXELS and too_large(big) and not too_large(small)


PENGUINS = __import__("pathlib").Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
# The command as a user runs it, reporting at the end whether TensorFlow was imported by the time it failed.
TRAIN_IMPORTS = """
import sys
from workflows.runners.train_command import main
code = main(sys.argv[1:])
print("exit", code, "tensorflow" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["data=csv", "data.path=penguin.csv", "data.target=species"], "no such file 'penguin.csv'"),
        (["data=csv", "data.path=penguins.csv", "data.target=specie"], "no column 'specie'; did you mean 'species'?"),
        (
            ["data=csv", "data.path=penguins.csv", "data.target=species", "data.task=regression"],
            "'species' has words ('Adelie'): set data.task=classification",
        ),
        (
            ["data=csv", "data.path=penguins.csv", "data.target=body_mass_g", "data.task=classification"],
            "'body_mass_g' has 94 distinct values in its first 342 rows: a regression? set data.task=regression",
        ),
        (
            ["data=csv", "data.path=penguins.csv", "data.target=body_mass_g", "loss=focal"],
            "loss 'focal' is for classification but the data is a regression task; use loss=auto",
        ),
        (["data.path=penguins.csv", "data.target=species"], "path is a parameter of data=csv, data=timeseries"),
        (["data=CSV"], "did you mean 'csv'?"),
        (["data=image_folder", "data.directory=photoss"], "no such directory 'photoss'"),
        (["data=timeseries", "data.path=penguins.csv", "data.target=mass"], "no column 'mass'"),
        (["data=csv", "data.path=penguins.csv", "data.target=species", "regularizer.dropout=2"], "must be in [0, 1)"),
        (
            ["data=csv", "data.path=penguins.csv", "data.target=species", "model=cnn"],
            "model 'cnn' takes image data, but data=csv is tabular data; use model=tabm, or model=mlp (any data)",
        ),
    ],
    ids=[
        "path",
        "column",
        "task-words",
        "task-values",
        "loss",
        "no-data-option",
        "case",
        "folder",
        "series",
        "dropout",
        "model",
    ],
)
def test_a_newcomers_mistake_with_their_own_file_is_one_line_before_tensorflow(tmp_path, overrides, says):
    """Each took a TensorFlow import (8 s of CPU) and often a whole read of the file before its one line."""
    import shutil

    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    result = run(
        [sys.executable, "-c", TRAIN_IMPORTS, *overrides, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path, check=False
    )
    lines = error_lines(result.stderr)
    assert lines[-1] == "exit 2 False", result.stderr  # failed, and TensorFlow never started
    assert len(lines) == 2 and lines[0].startswith("error: ") and says in lines[0], result.stderr
    assert not (tmp_path / "run").exists()  # no run directory left behind


def test_a_mistake_found_while_reading_the_data_leaves_no_run_directory(tmp_path):
    (tmp_path / "tiny.csv").write_text("a,b\n1,x\n2,y\n3,x\n")
    result = run(
        [*TRAIN, "data=csv", "data.path=tiny.csv", "data.target=b", "hydra.run.dir=run"], tmp_path, check=False
    )
    assert result.returncode == 2 and "at least 10 are needed" in result.stderr
    assert not (tmp_path / "run").exists()  # nine mistakes used to leave nine run directories


def test_compressed_tables_that_are_truncated_not_compressed_or_bombs_are_one_line(tmp_path, monkeypatch):
    """A truncated .csv.gz and a plain CSV named .gz were tracebacks; a 6 MB gzip bomb was read to 2.2 GB and a
    MemoryError, minutes later."""
    import gzip

    from plugins.data import tabular

    whole = gzip.compress(PENGUINS.read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "plain.csv.gz").write_bytes(PENGUINS.read_bytes())
    with pytest.raises(ConfigError, match=r"cut.csv.gz: not a whole gz file \(Compressed file ended"):
        tabular.read_table(tmp_path / "cut.csv.gz")
    with pytest.raises(ConfigError, match=r"plain.csv.gz: not a whole gz file .*rename a plain table to plain.csv"):
        tabular.read_table(tmp_path / "plain.csv.gz")
    (tmp_path / "bomb.csv.gz").write_bytes(gzip.compress(b"a,b\n" + b"0,0\n" * 2_000_000))  # 8 MB of text, 8 kB
    monkeypatch.setattr(tabular, "MAX_INFLATED", 1 << 20)  # the stated bound, scaled down for the test
    with pytest.raises(ConfigError, match=r"bomb.csv.gz: inflates past 1 MiB .*decompress it yourself"):
        tabular.read_table(tmp_path / "bomb.csv.gz")
    assert len(tabular.read_table(tmp_path / "bomb.csv.gz", nrows=10)) == 10  # a header and a sample still read
    monkeypatch.setattr(tabular, "MAX_INFLATED", 4 << 30)
    assert len(tabular.read_table(tmp_path / "bomb.csv.gz")) == 2_000_000  # within the bounds: read as it is
