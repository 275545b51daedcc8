"""The loss catalogue: Keras's losses, plus label smoothing for integer labels.

`labels` says what a loss compares the model's outputs with (see
plugins.model.head): "sparse" class ids, "one_hot", "binary" 0/1, "class"
(binary for two classes, one-hot for more) or "value" (regression).
`from_logits`, where a loss has it, is supplied by the framework from the
head, never by the config: that is the one place deciding logits versus
probabilities.
"""

from __future__ import annotations

import keras
from keras import ops

from plugins.loss.checks import check_label_smoothing
from plugins.registry import ConfigError, register


@register(
    "loss", "sparse_categorical_crossentropy", context=("from_logits",), labels="sparse", check=check_label_smoothing
)
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer class ids, with label smoothing (Keras's own has none).

    With `label_smoothing=ε` the target puts 1-ε+ε/K on the true class and
    ε/K on the others, exactly as `CategoricalCrossentropy(label_smoothing=ε)`
    does on one-hot labels.

    Args:
        label_smoothing: ε in [0, 1).
        from_logits: whether predictions are logits (set by the framework).

    Example:
    >>> loss = SparseCategoricalCrossentropy(label_smoothing=0.1, from_logits=True)
    >>> loss([1], [[0.0, 2.0, 0.0]])
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        if not self.label_smoothing:
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        one_hot = ops.one_hot(y_true, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "from_logits": self.from_logits}

    def portable(self) -> keras.losses.Loss:
        """Keras's own sparse cross-entropy, which the saved model is compiled with (see `portable_loss`)."""
        return keras.losses.SparseCategoricalCrossentropy(from_logits=self.from_logits, name=self.name)


def portable_loss(loss: keras.losses.Loss) -> keras.losses.Loss:
    """The loss a saved model is compiled with: one that plain Keras loads, with no kerasforge installed.

    A loss of this project's own class (label smoothing on class ids, which Keras's
    SparseCategoricalCrossentropy lacks) is a training device: the model it trains is scored by the plain
    cross-entropy, and whoever receives `model.keras` (a serving team, a notebook) loads it with
    `keras.models.load_model(path)` alone. A loss that offers no `portable()` is saved as it is.

    Args:
        loss: the loss the model was trained with.

    Returns:
        A Keras loss object.
    """
    portable = getattr(loss, "portable", None)
    return portable() if callable(portable) else loss


def per_row(loss, y_true, y_pred):
    """Each row's loss, (rows,): the compiled loss without its reduction (a Keras Loss's `call`, or a plain function),
    averaged over any further axes. DP-SGD clips each row's gradient of it; the membership audit thresholds it."""
    values = loss.call(y_true, y_pred) if isinstance(loss, keras.losses.Loss) else loss(y_true, y_pred)
    return ops.mean(ops.reshape(values, (ops.shape(y_pred)[0], -1)), axis=1)


_CE = {"context": ("from_logits",), "check": check_label_smoothing}
register("loss", "categorical_crossentropy", labels="one_hot", **_CE)(keras.losses.CategoricalCrossentropy)
register("loss", "binary_crossentropy", labels="binary", **_CE)(keras.losses.BinaryCrossentropy)
register("loss", "mse", labels="value")(keras.losses.MeanSquaredError)


@register("loss", "auto", context=("from_logits", "task"), labels="auto", check=check_label_smoothing)
def auto(label_smoothing: float = 0.0, from_logits: bool = True, task: str = "classification") -> keras.losses.Loss:
    """The loss of the data's task: cross-entropy on class ids for classes, mean squared error for a regression.

    The default for every data set (conf/config.yaml); `loss=…` chooses another.

    Args:
        label_smoothing: ε in [0, 1) for classes (as `sparse_categorical_crossentropy`'s); a regression has none.
        from_logits: whether predictions are logits (set by the framework).
        task: "classification" or "regression" (set by the framework, from the data).

    Returns:
        `SparseCategoricalCrossentropy` (this module's: Keras's own, with label smoothing) or Keras's
        `MeanSquaredError`.

    Raises:
        ConfigError: label smoothing on a regression.
    """
    if task == "regression":
        if label_smoothing:
            raise ConfigError(f"loss.label_smoothing={label_smoothing} smooths class labels; a regression has none")
        return keras.losses.MeanSquaredError()
    return SparseCategoricalCrossentropy(label_smoothing=label_smoothing, from_logits=from_logits)


register("loss", "mae", labels="value")(keras.losses.MeanAbsoluteError)
register("loss", "huber", labels="value")(keras.losses.Huber)


@register("loss", "focal", context=("from_logits", "binary"), labels="class", check=check_label_smoothing)
def focal(
    from_logits: bool,
    binary: bool,
    alpha: float = 0.25,
    gamma: float = 2.0,
    label_smoothing: float = 0.0,
    apply_class_balancing: bool = False,
) -> keras.losses.Loss:
    """Focal cross-entropy (Lin et al., 2017): down-weights easy examples by (1-p)^γ.

    Binary focal loss for two classes, categorical focal loss for more.

    Args:
        from_logits: set by the framework.
        binary: set by the framework (two classes).
        alpha: the weight of the positive class (binary) or of every class.
        gamma: the focusing parameter; 0 gives plain cross-entropy (times alpha).
        label_smoothing: in [0, 1).
        apply_class_balancing: binary only: weight positives by alpha, negatives by 1-alpha.

    Returns:
        keras.losses.BinaryFocalCrossentropy or CategoricalFocalCrossentropy.
    """
    if binary:
        return keras.losses.BinaryFocalCrossentropy(
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
    return keras.losses.CategoricalFocalCrossentropy(
        alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing
    )
