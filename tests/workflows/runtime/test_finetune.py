"""Fine-tuning a pretrained backbone in two phases, offline: the weights file is one the test makes."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from plugins.registry import ConfigError
from workflows.config.compose import compose
from workflows.config.schema import resolve
from workflows.runtime.finetune import backbone_of, continue_with_backbone_rate, unfreeze
from workflows.stages.train import train


def test_the_backbone_learns_at_its_own_rate_the_head_at_the_optimizers():
    # A nested model as backbone, a head; plain SGD: one step moves each weight by -rate × gradient.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    backbone = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner")], name="backbone")
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(backbone(inputs)))
    x, y = np.random.default_rng(0).normal(size=(16, 4)).astype("float32"), np.arange(16) % 2
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = loss(y, model(x))
    grads = dict(zip([v.path for v in model.trainable_variables], tape.gradient(value, model.trainable_variables)))
    before = {v.path: v.numpy() for v in model.trainable_variables}

    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    continue_with_backbone_rate(optimizer, model, backbone, multiplier=0.25, iterations=7)
    model.compile(optimizer=optimizer, loss=loss)
    model.train_on_batch(x, y)
    assert int(optimizer.iterations.numpy()) == 8  # the step count went on from phase one's
    for v in model.trainable_variables:
        rate = 0.1 * (0.25 if v.path.startswith("backbone/") else 1.0)
        np.testing.assert_allclose(v.numpy(), before[v.path] - rate * grads[v.path].numpy(), rtol=1e-5, atol=1e-7)


def test_unfreeze_counts_layers_with_weights_from_the_top_and_leaves_batch_norm_frozen():
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    base.trainable = False
    names = unfreeze(base, 4)
    weighted = [
        layer for layer in base.layers if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert names == [layer.name for layer in weighted[-4:]]
    assert all(not layer.trainable for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))
    assert {layer.name for layer in base.layers if layer.trainable} == set(names)
    everything = unfreeze(base, "all")
    assert len(everything) == len(weighted)


def test_a_model_without_backbone_is_refused():
    experiment = resolve(compose(["model=mlp", "finetune=two_phase"]))
    spec_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ConfigError, match="finetune=two_phase needs a model with a pretrained backbone"):
        backbone_of(spec_model, experiment.model.plugin.name)
    with pytest.raises(ConfigError, match="finetune.unfreeze: 'top' must be 'all' or a number"):
        resolve(compose(["finetune=two_phase", "finetune.unfreeze=top"]))


@pytest.mark.slow
def test_two_phases_freeze_then_move_only_the_chosen_layers(tmp_path):
    """MobileNetV2 on digits at 32×32, its weights from a file: phase one leaves them as loaded, phase two
    moves the 3 top layers with weights and nothing below them; frozen batch norm keeps its statistics."""
    weights = tmp_path / "mobilenet_v2_no_top.weights.h5"
    keras.utils.set_random_seed(1)
    keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    ).save_weights(weights)
    keep = "{" + ",".join(f"{k}:0.25" for k in range(10)) + "}"
    experiment = resolve(
        compose(
            [
                "model=mobilenet_v2",
                f"model.weights={weights}",
                "model.input_size=32",
                "finetune=two_phase",
                "finetune.frozen_epochs=1",
                "finetune.unfreeze=3",
                "finetune.backbone_lr=0.5",
                "trainer.epochs=2",
                "trainer.batch_size=64",
                "trainer.verbose=0",
                "trainer.backup=false",
                "augmentation=none",
                f"data.keep={keep}",
                "optimizer.learning_rate=0.01",
            ]
        )
    )
    splits = experiment.load_data()
    loaded = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    loaded.load_weights(weights)
    start = [[w.copy() for w in layer.get_weights()] for layer in loaded.layers]  # the same layers, in order

    after_phase_one = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                base = backbone_of(self.model, "mobilenet_v2")
                after_phase_one.extend([w.copy() for w in layer.get_weights()] for layer in base.layers)

    train(
        experiment,
        splits.train,
        splits.val,
        splits.spec,
        tmp_path / "models",
        tmp_path / "logs",
        callbacks=[Snapshot()],
    )
    saved = keras.models.load_model(tmp_path / "models" / "model.keras")
    base = backbone_of(saved, "mobilenet_v2")
    weighted = [
        layer.name for layer in base.layers if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    top = set(weighted[-3:])

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    assert len(after_phase_one) == len(start)
    assert all(same(a, b) for a, b in zip(after_phase_one, start)), "phase one moved the backbone"
    moved = {
        layer.name
        for layer, initial in zip(base.layers, start)
        if layer.weights and not same(layer.get_weights(), initial)
    }
    assert moved == top, (moved, top)
