"""From a trained model to its use: predict on new files and rows, export (SavedModel, TFLite), checked.

Two small models are trained once per module, in one process each: a CNN on a folder of real photographs
and an MLP on a CSV with string labels (iris, in raw units: the scaling travels with the model).
"""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_iris

from tests.conftest import ROOT, error_lines, run
from tests.workflows.runtime.test_batchnorm import photo_folder
from workflows.config.compose import compose, to_yaml
from workflows.config.schema import resolve
from workflows.io.datastore import load_arrays, load_rows
from workflows.io.layout import Layout
from workflows.runners.pipeline import run_pipeline
from workflows.serve.predict import predict
from workflows.stages.export import export

pytestmark = pytest.mark.slow


def train_run(root, overrides):
    cfg = compose([*overrides, "trainer.verbose=0", "trainer.backup=false"])
    (root / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(to_yaml(cfg))
    metrics = run_pipeline(resolve(cfg), root)
    return resolve(cfg), metrics


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A CNN trained 3 epochs on 4 classes of real photo crops; returns (run dir, photo folder, metrics)."""
    base = tmp_path_factory.mktemp("photos")
    folder = photo_folder(base / "photos", per_class=40, size=32)
    experiment, metrics = train_run(
        base / "run",
        [
            "data=image_folder",
            f"data.directory={folder}",
            "data.target_size=[32,32]",
            "model=cnn",
            "augmentation=none",
            "trainer.epochs=3",
        ],
    )
    return base / "run", folder, experiment, metrics


def write_iris(path, rows=None, missing_cell=False):
    bunch = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "species"])
        for i in rows if rows is not None else range(len(bunch.target)):
            cells = [f"{v:g}" for v in bunch.data[i]]
            if missing_cell and i == rows[1]:
                cells[2] = missing_cell if isinstance(missing_cell, str) else ""
            writer.writerow([*cells, bunch.target_names[bunch.target[i]]])
    return path


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    base = tmp_path_factory.mktemp("iris")
    table = write_iris(base / "iris.csv")
    experiment, metrics = train_run(
        base / "run",
        [
            "data=csv",
            f"data.path={table}",
            "data.target=species",
            "data.task=classification",
            "model=mlp",
            "model.units=[32]",
            "augmentation=none",
            "trainer.epochs=40",
            "trainer.batch_size=16",
        ],
    )
    return base / "run", table, experiment, metrics


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_predict_labels_a_folder_of_photographs_as_the_model_does(photos, tmp_path):
    run_dir, folder, _, _ = photos
    out = tmp_path / "labels.csv"
    result = predict([str(folder)], run_dir / "models", out, batch_size=16, quiet=True)
    rows = read_rows(out)
    assert result["rows"] == len(rows) == 160
    classes = sorted(p.name for p in folder.iterdir())
    assert list(rows[0]) == ["input", "prediction", *(f"p_{c}" for c in classes)]
    probs = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert all(r["prediction"] == classes[int(p.argmax())] for r, p in zip(rows, probs))
    # Files in nested folders, their true class the folder's name: the model learned them (chance is 0.25).
    truth = [r["input"].split("/")[-2] for r in rows]
    accuracy = np.mean([r["prediction"] == t for r, t in zip(rows, truth)])
    assert accuracy > 0.6, accuracy


def test_explain_draws_a_heatmap_per_real_photograph_and_agrees_with_predict(photos, tmp_path):
    run_dir, folder, _, _ = photos
    files = [sorted((folder / c).iterdir())[k] for c in sorted(p.name for p in folder.iterdir()) for k in (0, 3, 4)]
    assert {f.suffix for f in files} == {".png", ".jpg"}  # JPEG and PNG; RGB, grey and RGBA files among them
    out = tmp_path / "why"
    run([sys.executable, "-m", "workflows", "explain", *map(str, files), "--model", str(run_dir / "models"),
         "--out", str(out)], ROOT)  # fmt: skip
    explained = read_rows(out / "explanations.csv")
    predict([str(f) for f in files], run_dir / "models", tmp_path / "p.csv", quiet=True)
    assert [r["prediction"] for r in explained] == [r["prediction"] for r in read_rows(tmp_path / "p.csv")]
    assert all(np.isfinite(float(r["completeness_gap"])) for r in explained)
    assert len(list(out.glob("*.png"))) == len(files)  # a heatmap per photograph, none overwriting another


def test_predict_scores_a_csv_in_raw_units_exactly_as_evaluate_did(iris, tmp_path):
    run_dir, _, _, metrics = iris
    # The test split's rows as the user's file had them (kept beside the encoded ones), with their labels.
    spec = json.loads((run_dir / "models" / "model.json").read_text())["spec"]
    rows = load_rows("test", run_dir / "data" / "prepared")
    table = tmp_path / "new.csv"
    shuffled = ["species", "note", *reversed(spec["features"])]  # another column order, and an extra column
    rows.assign(note="extra").drop(columns="row")[shuffled].to_csv(table, index=False)
    result = predict([str(table)], run_dir / "models", tmp_path / "out.csv", batch_size=7, quiet=True)
    assert result["rows"] == len(rows)
    assert result["accuracy"] == pytest.approx(metrics["accuracy"])  # the target column is scored, not used
    out = read_rows(tmp_path / "out.csv")
    assert [r["input"] for r in out] == [str(i) for i in range(1, len(rows) + 1)]
    assert {r["target"] for r in out} <= set(spec["class_names"])


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such file or folder"),
        ("tabular_for_image", "takes images"),
        ("no_model", "holds no trained model"),
        ("empty_folder", "holds no images"),
        ("missing_column", "has no column 'petal_width', a feature of this model"),
        ("out_is_input", "is one of the inputs: it would be replaced"),
        ("out_is_directory", "is a directory; give a file name"),
        ("huge_batch", "--batch-size 1000000000 must be between 1 and 65536"),
        ("other_card", "the card of another kind of model"),
        ("duplicate_columns", "appear more than once in the header"),
    ],
)
def test_bad_predict_input_is_one_line_before_tensorflow(photos, iris, tmp_path, case, message):
    photo_run, folder, _, _ = photos
    iris_run, table, _, _ = iris
    (tmp_path / "empty").mkdir()
    (tmp_path / "nomodel").mkdir()
    lines = table.read_text().splitlines()
    (tmp_path / "cut.csv").write_text("\n".join(",".join(line.split(",")[:3] + line.split(",")[4:]) for line in lines))
    # the first column twice (training refuses such a file; predict used the first silently)
    (tmp_path / "twice.csv").write_text("\n".join(line.split(",")[0] + "," + line for line in lines))
    args = {
        "missing": [str(tmp_path / "nope.png"), "--model", str(photo_run / "models")],
        "tabular_for_image": [str(table), "--model", str(photo_run / "models")],
        "no_model": [str(folder), "--model", str(tmp_path / "nomodel")],
        "empty_folder": [str(tmp_path / "empty"), "--model", str(photo_run / "models")],
        "missing_column": [str(tmp_path / "cut.csv"), "--model", str(iris_run / "models")],
        "out_is_input": [str(table), "--model", str(iris_run / "models"), "--out", str(table)],
        "out_is_directory": [str(table), "--model", str(iris_run / "models"), "--out", str(tmp_path / "empty")],
        "huge_batch": [str(folder), "--model", str(photo_run / "models"), "--batch-size", "1000000000"],
        "other_card": [str(table), "--model", str(other_card(tmp_path, iris_run))],
        "duplicate_columns": [str(tmp_path / "twice.csv"), "--model", str(iris_run / "models")],
    }[case]
    before = table.read_bytes()
    result = run(
        [sys.executable, "-X", "importtime", "-m", "workflows.predict", "--out", str(tmp_path / "p.csv"), *args],
        ROOT,
        check=False,
    )
    lines = [line for line in error_lines(result.stderr) if not line.startswith("import time:")]
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "tensorflow" not in result.stderr  # refused before TensorFlow is imported
    assert not (tmp_path / "p.csv").exists() and table.read_bytes() == before


def other_card(tmp_path, run_dir):
    """A model directory whose card another tool (or another version) wrote: its spec has other fields."""
    out = tmp_path / "other"
    out.mkdir()
    (out / "model.keras").write_bytes((run_dir / "models" / "model.keras").read_bytes())
    card = json.loads((run_dir / "models" / "model.json").read_text())
    card["spec"]["tokenizer"] = "bpe"
    (out / "model.json").write_text(json.dumps(card))
    return out


def test_a_numeric_target_cell_matches_its_class_as_a_number():
    from plugins.model.outputs import same_label

    assert same_label("1", "1.0") and same_label("0", "0.00") and same_label("cat", "cat")
    assert not same_label("1", "0.0") and not same_label("cat", "Cat")


def test_a_bad_cell_or_file_names_itself_and_writes_nothing(photos, iris, tmp_path):
    iris_run, _, _, _ = iris
    # A blank cell is a missing value (the model fills it in); a word in a column of numbers is an error.
    gaps = write_iris(tmp_path / "gaps.csv", rows=[0, 60, 120], missing_cell=True)
    assert predict([str(gaps)], iris_run / "models", tmp_path / "g.csv", quiet=True)["rows"] == 3
    table = write_iris(tmp_path / "bad.csv", rows=[0, 60, 120], missing_cell="oops")
    result = run(
        [
            sys.executable,
            "-m",
            "workflows.predict",
            str(table),
            "--model",
            str(iris_run / "models"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
        ROOT,
        check=False,
    )
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "line 3" in lines[0] and "petal_length" in lines[0] and "'oops' is not a number" in lines[0]
    assert not (tmp_path / "p.csv").exists()

    photo_run, folder, _, _ = photos
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, file in enumerate(sorted(folder.rglob("*.png"))[:40]):
        (mixed / f"{i:02d}.png").write_bytes(file.read_bytes())
    (mixed / "25.png").write_bytes(b"not an image at all")
    result = run(
        [
            sys.executable,
            "-m",
            "workflows.predict",
            str(mixed),
            "--model",
            str(photo_run / "models"),
            "--out",
            str(tmp_path / "p.csv"),
            "--batch-size",
            "8",
        ],
        ROOT,
        check=False,
    )
    lines = [line for line in error_lines(result.stderr) if not line.startswith("predicted ")]  # progress
    assert result.returncode == 2 and len(lines) == 1 and "25.png" in lines[0], result.stderr[-2000:]
    assert not (tmp_path / "p.csv").exists()


def test_export_of_an_image_model_is_checked_and_loads_with_tensorflow(photos, tmp_path):
    run_dir, folder, experiment, metrics = photos
    layout = Layout(run_dir)
    check = export(experiment, layout.models, layout.prepared, layout.export)
    assert check["saved_model"]["max_abs_diff"] < 1e-4 and check["tflite"]["max_abs_diff"] < 1e-4, check
    assert check["saved_model"]["accuracy"] == check["tflite"]["accuracy"] == pytest.approx(metrics["accuracy"])
    on_disk = json.loads((layout.export / "check.json").read_text())
    assert on_disk["tflite"]["size_bytes"] == (layout.export / "model.tflite").stat().st_size

    # The serving signature takes the files' bytes (JPEG, PNG; RGB, grey, RGBA) and decodes them as training did:
    # the same classes as `workflows.predict`.
    files = sorted(folder.rglob("*.*"))[::9]
    served = tf.saved_model.load(str(layout.export / "saved_model")).signatures["serving_default"]
    out = served(image_bytes=tf.constant([f.read_bytes() for f in files]))
    predict([str(f) for f in files], layout.models, tmp_path / "p.csv", quiet=True)
    classes = sorted(p.name for p in folder.iterdir())
    assert [classes[i] for i in out["class_id"].numpy()] == [r["prediction"] for r in read_rows(tmp_path / "p.csv")]

    # TensorFlow Lite, with TensorFlow's own interpreter, on decoded pixels.
    x, _ = load_arrays("test", layout.prepared)
    interpreter = tf.lite.Interpreter(model_path=str(layout.export / "model.tflite"))
    lite = interpreter.get_signature_runner("pixels")(pixels=np.asarray(x[:5]))["probabilities"]
    reference = (
        tf.saved_model.load(str(layout.export / "saved_model"))
        .signatures["pixels"](pixels=tf.constant(np.asarray(x[:5])))["probabilities"]
        .numpy()
    )
    np.testing.assert_allclose(lite, reference, atol=1e-4)


@pytest.mark.parametrize("quantize", ["int8", "float16"])
def test_quantized_tflite_of_a_csv_model_keeps_its_accuracy(iris, quantize):
    run_dir, _, experiment, metrics = iris
    experiment.export.quantize = quantize
    layout = Layout(run_dir)
    check = export(experiment, layout.models, layout.prepared, layout.export)
    lite = check["tflite"]
    assert lite["quantize"] == quantize and lite["accuracy"] >= metrics["accuracy"] - 0.05, check
    assert lite["size_bytes"] < check["keras"]["size_bytes"] / 2
    # The SavedModel takes raw rows (the scaling is inside) and gives the Keras model's probabilities.
    assert check["saved_model"]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("command", [["stage", "evaluate"], ["export"]])
def test_another_programs_model_json_beside_the_model_is_one_line(iris, tmp_path, command):
    """evaluate and export printed a 44-line KeyError traceback for a model.json that another tool wrote."""
    import shutil

    iris_run = iris[0]
    copy = tmp_path / "run"
    shutil.copytree(iris_run, copy)
    (copy / "models" / "model.json").write_text(json.dumps({"name": "resnet", "version": 3}))
    result = run([sys.executable, "-m", "workflows", *command, "--root", str(copy)], ROOT, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert error_lines(result.stderr) == [
        f"error: {copy / 'models' / 'model.json'} is not a model card written by the train stage; retrain "
        "(dvc repro -f train)"
    ]
