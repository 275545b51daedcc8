"""Stage 5, export: the trained model for serving and for phones, each format checked against the Keras model.

`python -m workflows.export --params params.yaml` (the DVC stage; `make run` runs it
after train) writes,
atomically, below models/export/:
- saved_model/: a TensorFlow SavedModel whose `serving_default` signature
  takes raw inputs — encoded image files (`image_bytes`, JPEG/PNG/GIF/BMP
  bytes; decoded and resized as in training) or feature rows in raw units
  (`features`; the training scaling is inside) — and returns `probabilities`
  and `class_id` (classification) or `value` (regression, in the target's
  units). Image models also have a `pixels` signature taking decoded images
  (float32 in [0, 1], the model's size).
- model.tflite: TensorFlow Lite, from the `pixels` signature (images: phones
  decode with their own libraries) or `scaled_features` (rows scaled as
  models/model.json's `spec.scaling` says: (x − mean) / std), quantized as
  `export.quantize` says: none, float16, dynamic_range, or int8 (weights and
  activations; calibrated on `export.calibration_rows` training rows).
- check.json: per format, the file size, the largest absolute difference
  from the Keras model's outputs on the test split, and that format's test
  accuracy (or MAE for regression): an export is only done when it is checked.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.registry import ConfigError
from workflows.config.experiment import Experiment
from workflows.io.atomic import atomic_dir, write_json
from workflows.io.datastore import load_arrays, load_rows
from workflows.io.layout import REPO, Layout

if TYPE_CHECKING:
    import keras

    from plugins.data.base import DataSpec
    from plugins.model.head import Head

QUANTIZE = ("none", "float16", "dynamic_range", "int8")


def _outputs(model: keras.Model, head: Head, spec: DataSpec, x) -> dict[str, Any]:
    """The served outputs of model-ready inputs: class probabilities and ids, or values in the target's units."""
    import tensorflow as tf

    y = model(x, training=False)
    if spec.task == "classification":
        probs = tf.cast(head.probabilities(y), tf.float32)
        if head.units == 1:  # one sigmoid output is P(second class)
            probs = tf.concat([1.0 - probs, probs], axis=-1)
        return {"probabilities": probs, "class_id": tf.argmax(probs, axis=-1, output_type=tf.int32)}
    value = tf.cast(y, tf.float32)
    if spec.scaling and "target_mean" in spec.scaling:
        value = value * spec.scaling["target_std"] + spec.scaling["target_mean"]
    return {"value": value}


def _decode(spec: DataSpec):
    """Encoded image bytes → the model's pixels, exactly as `plugins.data.images.decode_dataset` does in training."""
    import tensorflow as tf

    height, width, channels = spec.input_shape

    def decode(data):
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), (height, width), antialias=True)
        return tf.ensure_shape(image, (height, width, channels))

    return lambda images: tf.map_fn(
        decode, images, fn_output_signature=tf.TensorSpec((height, width, channels), tf.float32)
    )


def write_saved_model(model: keras.Model, head: Head, spec: DataSpec, path: Path) -> str:
    """Writes the SavedModel; returns the signature TFLite converts (`pixels` for images, else `serving_default`)."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    if spec.kind == "image":
        decode = _decode(spec)
        archive.add_endpoint(
            "serving_default",
            lambda image_bytes: _outputs(model, head, spec, decode(image_bytes)),
            input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
        )
        archive.add_endpoint(
            "pixels",
            lambda pixels: _outputs(model, head, spec, pixels),
            input_signature=[tf.TensorSpec([None, *spec.input_shape], tf.float32, name="pixels")],
        )
        tflite_key = "pixels"
    elif spec.table:  # raw rows, one named input per column; TFLite gets the encoded rows (no string tables)
        core = model.layers[-1]
        signature = {
            c["input"]: tf.TensorSpec([None, 1], tf.float32 if c["type"] == "number" else tf.string, name=c["input"])
            for c in spec.table["columns"]
        }
        archive.track(core)
        archive.add_endpoint(
            "serving_default", lambda inputs: _outputs(model, head, spec, inputs), input_signature=[signature]
        )
        archive.add_endpoint(
            "encoded_rows",
            lambda encoded_rows: _outputs(core, head, spec, encoded_rows),
            input_signature=[tf.TensorSpec([None, *spec.input_shape], tf.float32, name="encoded_rows")],
        )
        tflite_key = "encoded_rows"
    else:
        if spec.scaling:
            mean = tf.constant(spec.scaling["mean"], tf.float32)
            std = tf.constant(spec.scaling["std"], tf.float32)
        else:
            mean, std = tf.constant(0.0), tf.constant(1.0)
        archive.add_endpoint(
            "serving_default",
            lambda features: _outputs(model, head, spec, (features - mean) / std),
            input_signature=[tf.TensorSpec([None, *spec.input_shape], tf.float32, name="features")],
        )
        # TFLite takes the scaled rows: int8 quantizes its input with one scale for all features, which cannot hold
        # raw columns whose ranges differ by orders of magnitude (and folding the scaling into the first layer's
        # weights does the same to dynamic-range quantization).
        archive.add_endpoint(
            "scaled_features",
            lambda scaled_features: _outputs(model, head, spec, scaled_features),
            input_signature=[tf.TensorSpec([None, *spec.input_shape], tf.float32, name="scaled_features")],
        )
        tflite_key = "scaled_features"
    archive.write_out(str(path), verbose=False)
    return tflite_key


def write_tflite(saved_model: Path, key: str, quantize: str, calibration: np.ndarray, path: Path) -> None:
    """Converts one signature of the SavedModel to TensorFlow Lite (its builtin ops) with the chosen quantization.

    Raises:
        ConfigError: the graph needs ops TFLite does not have (named; "select TF ops" would need TensorFlow's Flex
            delegate, which this check cannot run: https://www.tensorflow.org/lite/guide/ops_select).
    """
    try:
        _convert(saved_model, key, quantize, calibration, path)
    except Exception as err:  # the converter raises its own ConverterError, the whole graph in its message
        needed = re.findall(r"TF Select ops: ([\w, ]+)", str(err))
        what = f"it needs TensorFlow ops TFLite lacks ({needed[0].strip()})" if needed else str(err).strip()
        raise ConfigError(
            f"TFLite cannot convert this model: {what.splitlines()[0]}; the SavedModel is unaffected — replace the "
            "layers that use them, or run `kerasforge export` on a model without them"
        ) from None


def _convert(saved_model: Path, key: str, quantize: str, calibration: np.ndarray, path: Path) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[key])
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":

        def representative():
            for row in calibration:
                yield {_input_name(key): row[None].astype(np.float32)}

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    with warnings.catch_warnings():  # int8 calibration runs TensorFlow's deprecated interpreter: its warning
        warnings.simplefilter("ignore", UserWarning)
        path.write_bytes(converter.convert())


def _input_name(key: str) -> str:
    return {"serving_default": "features"}.get(key, key)  # a table model's serving_default takes one per column


def _score(outputs: np.ndarray, y: np.ndarray, spec: DataSpec) -> dict[str, float]:
    if spec.task == "classification":
        return {"accuracy": float((outputs.argmax(axis=-1) == y).mean())}
    return {"mae": float(np.abs(outputs.reshape(len(y), -1) - np.asarray(y).reshape(len(y), -1)).mean())}


def _run_signature(fn, name: str, x: np.ndarray, out_key: str, batch_size: int = 256) -> np.ndarray:
    """A signature's `out_key` output over `x`, in batches."""
    parts = [np.asarray(fn(**{name: x[i : i + batch_size]})[out_key]) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts)


def export(experiment: Experiment, model_dir: Path, prepared: Path, out_dir: Path) -> dict[str, Any]:
    """Exports the saved model and checks each format on the test split.

    Args:
        experiment: the resolved config (`export.*`).
        model_dir: where model.keras and model.json are.
        prepared: the prepared data (the test split is checked; int8 calibrates on the train split).
        out_dir: models/export, replaced as a whole, atomically.

    Returns:
        check.json's content.
    """
    import tensorflow as tf

    from plugins.data.base import DataSpec
    from plugins.model.head import Head
    from workflows.stages.evaluate import load_model

    options = experiment.export
    model, card = load_model(model_dir)
    spec, head = DataSpec(**card["spec"]), Head(**card["head"])
    x_test, y_test = (np.asarray(a) for a in load_arrays("test", prepared))
    rows = load_rows("test", prepared) if spec.table else None
    scorer = model.layers[-1] if spec.table else model  # a table model's network reads the encoded rows
    expected = {k: np.asarray(v) for k, v in _outputs(scorer, head, spec, tf.constant(x_test)).items()}
    out_key = "probabilities" if spec.task == "classification" else "value"
    raw_test = _raw(x_test, spec)
    if spec.task == "regression":
        from workflows.stages.outputs import unscale_target

        y_test = unscale_target(y_test, spec)
    check: dict[str, Any] = {
        "keras": {
            "size_bytes": (Path(model_dir) / "model.keras").stat().st_size,
            **_score(expected[out_key], y_test, spec),
        }
    }
    with atomic_dir(out_dir) as tmp:
        saved = tmp / "saved_model"
        key = write_saved_model(model, head, spec, saved)
        loaded = tf.saved_model.load(str(saved))
        served_key = "pixels" if spec.kind == "image" else "serving_default"  # raw rows; decoded pixels
        served = _served(loaded.signatures[served_key], served_key, spec, rows, raw_test, out_key)
        check["saved_model"] = {
            "size_bytes": _size(saved),
            "signature": served_key,
            "max_abs_diff": float(np.abs(served - expected[out_key]).max()),
            **_score(served, y_test, spec),
        }
        x_train = np.asarray(load_arrays("train", prepared)[0][: options.calibration_rows])
        lite = tmp / "model.tflite"
        write_tflite(saved, key, options.quantize, x_train, lite)
        predicted, xnnpack = _run_tflite(lite, key, x_test.astype(np.float32), out_key)
        check["tflite"] = {
            "size_bytes": lite.stat().st_size,
            "quantize": options.quantize,
            "signature": key,
            "max_abs_diff": float(np.abs(predicted - expected[out_key]).max()),
            **_score(predicted, y_test, spec),
            "xnnpack": xnnpack,
        }
        check["examples"] = int(len(x_test))
        write_json(tmp / "check.json", check)
    for line in degraded(check):
        print(f"warning: {line}", file=sys.stderr)

    return check


def _raw(x: np.ndarray, spec) -> np.ndarray:
    """The prepared rows in raw units (the export takes raw rows; prepared rows are scaled)."""
    if spec.kind != "image" and spec.scaling and "mean" in spec.scaling:
        return x * np.asarray(spec.scaling["std"], np.float32) + np.asarray(spec.scaling["mean"], np.float32)
    return x


def _served(fn, key: str, spec, rows, raw_test: np.ndarray, out_key: str) -> np.ndarray:
    """The SavedModel signature's outputs on the test split: a table's rows with their cells as they are."""
    if not (spec.table and rows is not None):
        return _run_signature(fn, _input_name(key), raw_test, out_key)
    import tensorflow as tf

    from plugins.data.tabular import TableEncoding

    inputs = TableEncoding(**spec.table).inputs(rows)
    return np.concatenate(
        [
            np.asarray(fn(**{k: tf.constant(v[i : i + 256]) for k, v in inputs.items()})[out_key])
            for i in range(0, len(rows), 256)
        ]
    )


ACCURACY_LOSS = 0.01  # an export this much less accurate than the Keras model on the test split is a warning
MAE_GAIN = 0.10  # …or with a test MAE this much (relatively) higher


def degraded(check: dict[str, Any]) -> list[str]:
    """One line per exported format that scores clearly worse than the Keras model on the test split."""
    keras_scores, lines = check["keras"], []
    for name in ("saved_model", "tflite"):
        got = check[name]
        how = (
            f" ({got['quantize']} quantization; try export.quantize=float16 or none)"
            if got.get("quantize", "none") != "none"
            else ""
        )
        if "accuracy" in got and got["accuracy"] < keras_scores["accuracy"] - ACCURACY_LOSS:
            lines.append(
                f"the {name} export's test accuracy is {got['accuracy']:.4f} against the Keras model's "
                f"{keras_scores['accuracy']:.4f}{how}; see models/export/check.json"
            )
        if "mae" in got and got["mae"] > keras_scores["mae"] * (1 + MAE_GAIN):
            lines.append(
                f"the {name} export's test MAE is {got['mae']:.4g} against the Keras model's "
                f"{keras_scores['mae']:.4g}{how}; see models/export/check.json"
            )
    return lines


def _run_tflite(path: Path, key: str, x: np.ndarray, out_key: str) -> tuple[np.ndarray, bool]:
    """Runs a TFLite signature with TensorFlow's interpreter, with its default XNNPACK delegate when that can take
    the model (some int8 graphs it cannot prepare), else with the builtin kernels. Returns the outputs and which."""
    import tensorflow as tf

    with warnings.catch_warnings():  # TF 2.20+ points to LiteRT's interpreter; TensorFlow's still loads and runs
        warnings.simplefilter("ignore", UserWarning)
        try:
            runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner(key)
            return _run_signature(runner, _input_name(key), x, out_key), True
        except RuntimeError:
            builtin = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            runner = tf.lite.Interpreter(
                model_path=str(path), experimental_op_resolver_type=builtin
            ).get_signature_runner(key)
            return _run_signature(runner, _input_name(key), x, out_key), False


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> dict[str, Any]:
    """The export stage: models/ + data/prepared/ → models/export/ (below `layout.root`)."""
    return export(experiment, layout.models, layout.prepared, layout.export)
