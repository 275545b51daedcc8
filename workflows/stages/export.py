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

from plugins.model.outputs import unscale_target
from plugins.registry import ConfigError
from workflows.config.experiment import Experiment
from workflows.io.atomic import atomic_dir, write_json
from workflows.io.datastore import load_arrays, load_rows
from workflows.io.layout import REPO, Layout

if TYPE_CHECKING:
    import keras

    from plugins.data.base import DataSpec
    from plugins.data.kinds import Serving
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
    return {"value": unscale_target(tf.cast(y, tf.float32), spec, tf.math)}


def write_saved_model(model: keras.Model, head: Head, spec: DataSpec, path: Path) -> Serving:
    """Writes the SavedModel with the data kind's signatures (`DataKind.serving`: raw inputs in); returns them."""
    import keras

    from plugins.data.kinds import kind_of

    serving = kind_of(spec).serving(model, spec, lambda network, x: _outputs(network, head, spec, x))
    archive = keras.export.ExportArchive()
    archive.track(model)
    if serving.network is not model:
        archive.track(serving.network)
    for name, function, signature in serving.endpoints:
        archive.add_endpoint(name, function, input_signature=signature)
    archive.write_out(str(path), verbose=False)
    return serving


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
                yield {key: row[None].astype(np.float32)}

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    with warnings.catch_warnings():  # int8 calibration runs TensorFlow's deprecated interpreter: its warning
        warnings.simplefilter("ignore", UserWarning)
        path.write_bytes(converter.convert())


def _score(outputs: np.ndarray, y: np.ndarray, spec: DataSpec) -> dict[str, float]:
    if spec.task == "classification":
        return {"accuracy": float((outputs.argmax(axis=-1) == y).mean())}
    return {"mae": float(np.abs(outputs.reshape(len(y), -1) - np.asarray(y).reshape(len(y), -1)).mean())}


def _tensor(values: np.ndarray):
    """Strings as a tensor (a signature takes no object array); numbers as they are (TFLite's runner takes NumPy)."""
    import tensorflow as tf

    return tf.constant(values) if np.asarray(values).dtype == object else values


def _run_signature(fn, inputs: dict[str, Any], out_key: str, batch_size: int = 256) -> np.ndarray:
    """A signature's `out_key` output over its named inputs (arrays of one length), in batches."""
    n = len(next(iter(inputs.values())))
    parts = [
        np.asarray(fn(**{k: _tensor(v[i : i + batch_size]) for k, v in inputs.items()})[out_key])
        for i in range(0, n, batch_size)
    ]
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
    rows = load_rows("test", prepared)
    out_key = "probabilities" if spec.task == "classification" else "value"
    if spec.task == "regression":
        y_test = unscale_target(y_test, spec)
    with atomic_dir(out_dir) as tmp:
        saved = tmp / "saved_model"
        serving = write_saved_model(model, head, spec, saved)
        key = serving.tflite
        expected = {k: np.asarray(v) for k, v in _outputs(serving.network, head, spec, tf.constant(x_test)).items()}
        check: dict[str, Any] = {
            "keras": {
                "size_bytes": (Path(model_dir) / "model.keras").stat().st_size,
                **_score(expected[out_key], y_test, spec),
            }
        }
        loaded = tf.saved_model.load(str(saved))
        served = _run_signature(loaded.signatures[serving.checked], serving.inputs(x_test, rows), out_key)
        check["saved_model"] = {
            "size_bytes": _size(saved),
            "signature": serving.checked,
            "max_abs_diff": float(np.abs(served - expected[out_key]).max()),
            **_score(served, y_test, spec),
        }
        x_train = np.asarray(load_arrays("train", prepared)[0][: options.calibration_rows])
        lite = tmp / "model.tflite"
        write_tflite(saved, key, options.quantize, x_train, lite)
        predicted, xnnpack = _run_tflite(lite, key, {key: x_test.astype(np.float32)}, out_key)
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


def _run_tflite(path: Path, key: str, x: dict[str, np.ndarray], out_key: str) -> tuple[np.ndarray, bool]:
    """Runs a TFLite signature with TensorFlow's interpreter, with its default XNNPACK delegate when that can take
    the model (some int8 graphs it cannot prepare), else with the builtin kernels. Returns the outputs and which."""
    import tensorflow as tf

    with warnings.catch_warnings():  # TF 2.20+ points to LiteRT's interpreter; TensorFlow's still loads and runs
        warnings.simplefilter("ignore", UserWarning)
        try:
            runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner(key)
            return _run_signature(runner, x, out_key), True
        except RuntimeError:
            builtin = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            runner = tf.lite.Interpreter(
                model_path=str(path), experimental_op_resolver_type=builtin
            ).get_signature_runner(key)
            return _run_signature(runner, x, out_key), False


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> dict[str, Any]:
    """The export stage: models/ + data/prepared/ → models/export/ (below `layout.root`)."""
    return export(experiment, layout.models, layout.prepared, layout.export)
