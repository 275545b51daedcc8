"""The output head: the one place that decides logits versus probabilities.

Every model ends in `head.layer()`. Which activation it has, and what form
the labels take, follows from the task and from the loss: a loss that
accepts `from_logits` gets raw scores (numerically stabler), any other loss
gets probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import tensorflow as tf

from plugins.data.base import DataSpec
from plugins.registry import ConfigError, Plugin

LABEL_FORMS = ("sparse", "one_hot", "binary", "class", "value")


@dataclass(frozen=True)
class Head:
    """How the model's last layer and the labels look.

    Attributes:
        units: outputs of the last Dense layer.
        activation: "linear" (logits or regression values), "softmax" or "sigmoid".
        labels: the label form the loss takes: "sparse" (class ids),
            "one_hot", "binary" (0/1 as float) or "value" (compared as numbers).
        task: "classification" or "regression".
    """

    units: int
    activation: str
    labels: str
    task: str

    @property
    def from_logits(self) -> bool:
        return self.task == "classification" and self.activation == "linear"

    def layer(self, kernel_initializer: str = "glorot_uniform") -> keras.layers.Layer:
        """The model's last layer; float32 so that mixed precision keeps its outputs exact."""
        return keras.layers.Dense(
            self.units, activation=self.activation, kernel_initializer=kernel_initializer, name="head", dtype="float32"
        )

    def encode(self, y: tf.Tensor) -> tf.Tensor:
        """Turns stored labels (class ids or targets) into what the loss takes."""
        if self.task == "regression":
            y = tf.cast(y, tf.float32)
            return y[..., None] if y.shape.rank == 1 or y.shape.rank == 0 else y
        if self.labels == "sparse":
            return tf.cast(y, tf.int32)
        if self.labels == "binary":
            return tf.cast(y, tf.float32)[..., None]
        return tf.one_hot(tf.cast(y, tf.int32), self.units)

    def probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        """Class probabilities from the model's outputs (classification only)."""
        if self.activation == "linear":
            return tf.sigmoid(outputs) if self.units == 1 else tf.nn.softmax(outputs, axis=-1)
        return outputs

    def metrics(self) -> list[keras.metrics.Metric]:
        if self.task == "regression":
            return [keras.metrics.MeanAbsoluteError(name="mae")]
        if self.labels == "sparse":
            return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if self.labels == "binary":
            return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if self.from_logits else 0.5)]
        return [keras.metrics.CategoricalAccuracy(name="accuracy")]

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_head(spec: DataSpec, loss: Plugin) -> Head:
    """Chooses the head for a data set and a loss.

    Args:
        spec: the data set's spec.
        loss: the loss plugin; its `labels` meta says what labels it takes,
            and `from_logits` among its context says it accepts raw scores.

    Returns:
        The Head.

    Raises:
        ConfigError: the loss does not fit the task.
    """
    labels = loss.meta.get("labels", "value")
    logits = "from_logits" in loss.context
    if labels == "auto":  # the loss of the task (loss=auto): values for a regression, class ids for classes
        labels = "value" if spec.task == "regression" else "sparse"
        if spec.task == "classification":
            return Head(spec.num_classes, "linear" if logits else "softmax", labels, "classification")
    if labels == "class":  # binary for two classes, one-hot for more
        labels = "binary" if spec.num_classes == 2 else "one_hot"
    if spec.task == "regression":
        if labels != "value":
            raise ConfigError(
                f"loss '{loss.name}' is for classification but the data is a regression task; "
                "use loss=mse, loss=mae or loss=huber"
            )
        return Head(spec.num_targets, "linear", "value", "regression")
    if labels == "binary":
        if spec.num_classes != 2:
            raise ConfigError(
                f"loss '{loss.name}' is for two classes but the data has {spec.num_classes}; "
                "use loss=sparse_categorical_crossentropy"
            )
        return Head(1, "linear" if logits else "sigmoid", "binary", "classification")
    if labels == "value":  # a regression loss on classes compares probabilities with one-hot labels
        return Head(spec.num_classes, "softmax", "one_hot", "classification")
    return Head(spec.num_classes, "linear" if logits else "softmax", labels, "classification")


@keras.saving.register_keras_serializable(package="kerasforge")
class SeasonalNaive(keras.layers.Layer):
    """The seasonal-naive forecast read from a forecaster's own input window: the target one season earlier.

    A forecaster's input is its window of standardized columns, the target first (plugins/data/timeseries.py);
    the value one season before each forecast step lies inside the window, at a position fixed by the window,
    the horizon and the season. Added to a model's output, it turns the model into a correction of the
    seasonal naive (a skip connection): on a short series the network then learns what the seasonal naive
    misses (holidays, weather) instead of the week itself.

    Args:
        positions: for each forecast step, the window position of the value it repeats.

    Example:
        >>> SeasonalNaive(positions=[21])(keras.ops.ones((2, 28, 3))).shape
        (2, 1)
    """

    def __init__(self, positions: list[int], **kwargs):
        super().__init__(**kwargs)
        self.positions = [int(p) for p in positions]

    def call(self, inputs):
        return keras.ops.take(inputs[:, :, 0], self.positions, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.positions))

    def get_config(self) -> dict:
        return {**super().get_config(), "positions": self.positions}


def seasonal_positions(window: int, horizon: int, season: int) -> list[int]:
    """Where, in a window of `window` steps, the seasonal naive of each of `horizon` next steps lies: one season
    before it, whole seasons back when the horizon passes a season; the window's last step when the window is
    shorter than the season (the last-value forecast, as the classical baseline does then)."""
    from plugins.data.timeseries import seasons_back  # the classical baseline's own rule

    positions = [window + h - seasons_back(h, season) for h in range(horizon)]
    return [at if at >= 0 else window - 1 for at in positions]


def with_seasonal_naive(model: keras.Model, spec: DataSpec) -> keras.Model:
    """A forecaster's model whose output is its own output plus the seasonal naive (see `SeasonalNaive`).

    Args:
        model: a model built for `spec` (one input, `horizon` outputs).
        spec: a forecasting spec (`spec.series`).

    Returns:
        A model with the same input and name, forecasting the seasonal naive plus the model's correction.
    """
    series = spec.series or {}
    positions = seasonal_positions(int(series["window"]), int(series["horizon"]), int(series["season"]))
    naive = SeasonalNaive(positions, name="seasonal_naive", dtype="float32")(model.inputs[0])
    forecast = keras.layers.Add(name="forecast", dtype="float32")([model.outputs[0], naive])
    return keras.Model(model.inputs, forecast, name=model.name)
