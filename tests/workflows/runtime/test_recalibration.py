"""The batch-norm room's parts on a small network: its statistics, its one compiled function, the mode gap."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from plugins.model.head import Head
from workflows.runtime.batchnorm import Recalibration
from workflows.stages.evaluate import mode_gap


def network():
    inputs = keras.Input((3,))
    normalized = keras.layers.BatchNormalization(name="bn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dropout(0.5)(normalized)))


def test_one_compiled_function_serves_every_pass_and_its_smaller_last_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (70, 3)).astype("float32")  # 32 + 32 + 6 rows
    batches = tf.data.Dataset.from_tensor_slices((x, np.zeros(70, "int32"))).batch(32)
    model = network()
    recalibration = Recalibration(model)

    assert recalibration(batches, 2) == 2
    assert recalibration(batches, 200, keep_random_state=False) == 3
    assert recalibration.statistics.experimental_get_tracing_count() == 1
    # The plain average of the three batches' own statistics (the 6-row batch counts as one).
    parts = [x[:32], x[32:64], x[64:]]
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([p.mean(0) for p in parts], 0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([p.var(0) for p in parts], 0), rtol=1e-4)


def test_the_training_mode_pass_of_the_mode_gap_leaves_the_model_as_it_was():
    rng = np.random.default_rng(1)
    x, y = rng.normal(3.0, 2.0, (64, 3)).astype("float32"), rng.integers(0, 2, 64)
    model = network()
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    mean = model.get_layer("bn").moving_mean.numpy().copy()
    gap = mode_gap(model, Head(2, "linear", "sparse", "classification"), x, y, 16)

    assert 0.0 <= gap["train_accuracy_training_mode"] <= 1.0
    for variable, value in zip(model.non_trainable_variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    model(tf.constant(x[:16]), training=True)  # what the pass does unguarded: the moving mean moves
    assert not np.allclose(model.get_layer("bn").moving_mean.numpy(), mean)
