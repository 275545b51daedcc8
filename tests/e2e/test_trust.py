"""No silent failures on a user's own data: non-finite values, CSV cells, damaged files, runs side by side,
leftovers of killed runs, file modes, strict JSON — each a one-line error or a kept promise."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run, subprocess_env
from workflows.config.command import compose, load_params, resolve
from workflows.io.atomic import remove_stale, write_json
from workflows.io.datastore import load_arrays, save_split
from workflows.runtime.backup import backup_dir

TRAIN = [sys.executable, "-m", "workflows.train"]


def csv_file(path, rows: list[str], header: str = "a,b,species") -> str:
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def iris_like(n: int = 40) -> list[str]:
    rng = np.random.default_rng(0)
    names = ["setosa", "versicolor", "virginica"]
    return [f"{rng.normal(3 * k, 0.5):.3f},{rng.normal(-3 * k, 0.5):.3f},{names[k]}" for k in (i % 3 for i in range(n))]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("inf", "line 7, column 'b': 'inf' is not a finite 32-bit number"),
        ("1e308", "line 7, column 'b': '1e308' is not a finite 32-bit number"),
        ("12,5", "Expected 3 fields in line 7, saw 4"),
        ("oops", "line 7, column 'b': 'oops' in a column of numbers"),
    ],
)
def test_a_csv_cell_that_cannot_train_is_named_with_file_line_and_column(tmp_path, cell, expected):
    rows = iris_like()
    first, _, last = rows[5].split(",")
    rows[5] = f"{first},{cell},{last}"
    path = csv_file(tmp_path / "iris.csv", rows)
    with pytest.raises(ConfigError) as err:
        resolve(
            compose(["data=csv", f"data.path={path}", "data.target=species", "data.task=classification"])
        ).load_data()
    assert f"{path}" in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("cell", ["", "nan", "NA", "n/a", "?", "null"])
def test_a_missing_cell_is_a_missing_value_with_an_indicator(tmp_path, cell):
    rows = iris_like(60)
    for i in (5, 6, 7, 8, 9, 10, 11, 12):  # in the training split whatever the seed
        first, _, last = rows[i].split(",")
        rows[i] = f"{first},{cell},{last}"
    path = csv_file(tmp_path / "iris.csv", rows)
    splits = resolve(compose(["data=csv", f"data.path={path}", "data.target=species"])).load_data()
    b = splits.spec.table["columns"][1]
    assert b["name"] == "b" and b["type"] == "number" and b["missing_indicator"]
    x = np.concatenate([splits.train[0], splits.val[0], splits.test[0]])
    assert np.isfinite(x).all() and x.shape == (60, 3)  # a, b, b's indicator
    assert x[:, 2].sum() == 8  # the indicator marks exactly the missing cells


def test_a_row_without_a_class_label_is_left_out_with_a_warning(tmp_path, capsys):
    rows = iris_like()
    rows[3] = rows[3].rsplit(",", 1)[0] + ","
    path = csv_file(tmp_path / "iris.csv", rows)
    splits = resolve(compose(["data=csv", f"data.path={path}", "data.target=species"])).load_data()
    assert sum(len(part[0]) for _, part in splits.items()) == 39
    assert "1 row(s) have no 'species' value; left out" in capsys.readouterr().err
    assert 5 not in set(np.concatenate([splits.rows[k]["row"].to_numpy() for k in ("train", "val", "test")]))


def test_a_file_that_is_not_a_csv_is_not_echoed(tmp_path):
    secret = "root:$6$s3cr3tHASH:19000:0:99999:7:::"
    path = tmp_path / "shadow"
    path.write_text(secret + "\n" + "daemon:*:19000:0:99999:7:::\n" * 20)
    with pytest.raises(ConfigError) as err:
        resolve(compose(["data=csv", f"data.path={path}", "data.target=x"])).load_data()
    assert "is it a table with a header row" in str(err.value) and "s3cr3t" not in str(err.value)


def test_the_readme_csv_command_works_with_string_labels_and_the_default_augmentation(tmp_path):
    """The default config's image augmentation passes tabular rows through; the model trains on string classes."""
    path = csv_file(tmp_path / "iris.csv", iris_like(90))
    out = tmp_path / "run"
    run(
        [
            *TRAIN,
            "data=csv",
            f"data.path={path}",
            "data.target=species",
            "data.task=classification",
            "model=linear",
            "trainer=fast",
            "trainer.epochs=30",
            "optimizer.learning_rate=0.05",
            f"hydra.run.dir={out}",
        ],
        ROOT,
    )
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"setosa", "versicolor", "virginica"}
    assert metrics["accuracy"] > 0.8  # three well-separated clusters
    assert (
        np.load(out / "data" / "augmented" / "train" / "x.npy").shape
        == np.load(out / "data" / "prepared" / "train" / "x.npy").shape
    )  # nothing added to tabular rows
    # The scaling travels with the model: its card holds the training rows' mean and std per feature, so that
    # new rows in raw units map onto what the model was trained on.
    spec = json.loads((out / "models" / "model.json").read_text())["spec"]
    assert spec["features"] == ["a", "b"]
    scaled = np.load(out / "data" / "prepared" / "train" / "x.npy")
    assert np.allclose(scaled.mean(axis=0), 0, atol=1e-5) and np.allclose(scaled.std(axis=0), 1, atol=1e-4)
    # ... and the statistics are the training rows' only (the raw rows are kept beside the encoded ones).
    train_rows = pq.read_table(out / "data" / "prepared" / "train" / "rows.parquet").to_pandas()
    for column in spec["table"]["columns"]:
        values = train_rows[column["name"]].astype(float)
        assert column["mean"] == pytest.approx(values.mean()) and column["std"] == pytest.approx(values.std(ddof=0))


def test_a_diverging_run_stops_with_one_line_and_keeps_the_previous_model(compose, tmp_path):
    from workflows.stages.train import train

    base = [
        "model=mlp",
        "model.units=[16]",
        "augmentation=none",
        "trainer.epochs=1",
        "trainer.verbose=0",
        "trainer.backup=false",
        "optimizer=sgd",
        "schedule=constant",
    ]
    good = resolve(compose(base))
    splits = good.load_data()
    models, logs = tmp_path / "models", tmp_path / "logs"
    train(good, splits.train, splits.val, splits.spec, models, logs)
    before = hashlib.sha256((models / "model.keras").read_bytes()).hexdigest()
    bad = resolve(compose([*base, "optimizer.learning_rate=1e30", "trainer.epochs=3"]))
    with pytest.raises(
        ConfigError,
        match=r"training diverged: (loss|val_loss) is (nan|inf) after epoch 1; nothing "
        r"was saved\. Lower optimizer\.learning_rate \(now 1e\+30\)",
    ):
        train(bad, splits.train, splits.val, splits.spec, models, logs)
    assert hashlib.sha256((models / "model.keras").read_bytes()).hexdigest() == before


def test_metrics_files_are_strict_json_and_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"loss": float("nan"), "r2": [float("-inf"), 0.5]})
    finally:
        os.umask(old)
    assert json.loads((tmp_path / "m.json").read_text()) == {"loss": None, "r2": [None, 0.5]}
    assert "NaN" not in (tmp_path / "m.json").read_text()
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644


def test_a_killed_writers_temporary_files_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".prepared.{pid}.x1y2").mkdir()
    (tmp_path / f".prepared.old.{pid}.x1y2").mkdir()
    (tmp_path / f".model.keras.{pid}.abc.keras").write_text("half")
    live = tmp_path / f".prepared.{os.getpid()}.busy"  # a running writer's: kept
    live.mkdir()
    remove_stale(tmp_path / "prepared")
    remove_stale(tmp_path / "model.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]


def test_a_backup_belongs_to_one_run_directory(tmp_path):
    config = "trainer:\n  epochs: 5\n"
    a, b = backup_dir(tmp_path, config, tmp_path / "run-a" / "models"), backup_dir(tmp_path, config, tmp_path / "run-b")
    assert a != b
    assert a == backup_dir(tmp_path, config, tmp_path / "run-a" / "models")  # a rerun there resumes
    assert backup_dir(tmp_path, config, "models", 1) != backup_dir(tmp_path, config, "models", 0)


@pytest.mark.slow
def test_two_runs_of_one_config_side_by_side_both_finish_without_sharing_a_backup(tmp_path):
    args = [
        "model=mlp",
        "model.units=[16]",
        "augmentation=none",
        "trainer.epochs=3",
        "trainer.verbose=0",
        f"trainer.backup_root={tmp_path / 'backups'}",
    ]
    procs = [
        subprocess.Popen(
            [*TRAIN, *args, f"hydra.run.dir={tmp_path / name}"],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err[-2000:]
    for name in ("a", "b"):
        card = json.loads((tmp_path / name / "models" / "model.json").read_text())
        assert card["training"]["resumed_at_epoch"] == 0 and card["training"]["epochs_run"] == 3


def test_a_yaml_tag_in_params_is_one_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data: !!python/object/apply:os.system ['echo owned']\n")
    with pytest.raises(ConfigError, match=r"params.yaml is not valid YAML \(line 1\)"):
        load_params(path)
    result = run([sys.executable, "-m", "workflows", "stage", "prepare", "--params", str(path)], ROOT, check=False)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1 and "owned" not in result.stdout


def test_truncated_files_between_stages_are_one_line_errors(tmp_path):
    save_split((np.zeros((50, 4), np.float32), np.zeros(50, np.int32)), tmp_path / "prepared" / "train")
    x = tmp_path / "prepared" / "train" / "x.npy"
    x.write_bytes(x.read_bytes()[:300])
    with pytest.raises(ConfigError, match="x.npy is damaged .*rerun the stage"):
        load_arrays("train", tmp_path / "prepared")
    models = tmp_path / "models"
    models.mkdir()
    (models / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    (models / "model.json").write_text("{}")
    from workflows.stages.evaluate import load_model

    with pytest.raises(ConfigError, match="model.json is not a model card written by the train stage; retrain"):
        load_model(models)  # the card first: read before TensorFlow
    (models / "model.json").write_text('{"head": {}, "spec": {}}')
    with pytest.raises(ConfigError, match="does not hold a readable model .*rerun training"):
        load_model(models)


def test_a_full_disk_is_one_line_and_the_previous_output_stays(tmp_path, monkeypatch, capsys):
    """ENOSPC in the middle of an atomic write: a mocked write fails as a full disk does."""
    import errno

    from workflows.io import atomic
    from workflows.io.console import EXIT_NO_ROOM, run_cli

    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.9})

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(atomic.Path, "write_text", full)
    assert run_cli(lambda args: write_json(target, {"accuracy": 0.1}), []) == EXIT_NO_ROOM
    err = capsys.readouterr().err
    assert err.startswith("error: no space left on the device writing ") and err.count("\n") == 1
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"accuracy": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left behind


def test_an_interpolated_secret_is_not_echoed(monkeypatch):
    monkeypatch.setenv("KERASFORGE_TEST_TOKEN", "hunter2-secret")
    with pytest.raises(ConfigError) as err:
        resolve(compose(["optimizer.learning_rate=${oc.env:KERASFORGE_TEST_TOKEN}"]))
    assert "optimizer.learning_rate" in str(err.value) and "hunter2" not in str(err.value)
    result = run(
        [*TRAIN, "data=csv", "data.path=${oc.env:KERASFORGE_TEST_TOKEN}", "data.target=x"],
        ROOT,
        check=False,
        KERASFORGE_TEST_TOKEN="hunter2-secret",
    )
    assert (
        result.returncode == 2 and "data.path: no such file '***'" in result.stderr and "hunter2" not in result.stderr
    )
    unset = run([*TRAIN, "optimizer.learning_rate=${oc.env:KERASFORGE_UNSET_VARIABLE}"], ROOT, check=False)
    assert "optimizer.learning_rate: ${oc.env:KERASFORGE_UNSET_VARIABLE} cannot be resolved" in unset.stderr
    assert len(error_lines(unset.stderr)) == 1


def test_the_same_weights_save_to_the_same_bytes(tmp_path):
    """DVC hashes models/model.keras: a save of the same model must not change it (Keras stamps the save date)."""
    import time

    import keras

    from workflows.stages.train import save_model

    def build():  # one penalty object shared by two layers: Keras writes its memory address into config.json
        shared = keras.regularizers.L2(1e-4)
        return keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(3, kernel_regularizer=shared),
                keras.layers.Dense(2, kernel_regularizer=shared),
            ]
        )

    keras.backend.clear_session()  # as every training does (workflows/runtime/distribute.py): fresh layer-name counters
    model = build()
    save_model(model, {"params": 10}, tmp_path / "a")
    time.sleep(1.1)
    keras.backend.clear_session()
    again = build()
    again.set_weights(model.get_weights())
    save_model(again, {"params": 10}, tmp_path / "b")
    assert (tmp_path / "a" / "model.keras").read_bytes() == (tmp_path / "b" / "model.keras").read_bytes()
    loaded = keras.models.load_model(tmp_path / "b" / "model.keras", safe_mode=True)
    x = np.ones((1, 4), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
