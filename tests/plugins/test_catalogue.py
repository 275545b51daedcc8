"""Every option in conf/ composes, resolves to its plugin and builds a working Keras object."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from plugins.data import DataSpec
from plugins.regularizer import attach_to_kernels, kernel_layers
from workflows.config import CONF_DIR, resolve

OPTIONS = sorted(
    (group.name, option.stem)
    for group in CONF_DIR.iterdir()
    if group.is_dir()
    for option in group.glob("*.yaml")
)
IMAGES = DataSpec(input_shape=(8, 8, 1), task="classification", num_classes=10, kind="image")


def test_conf_has_every_group_of_the_design():
    groups = {group for group, _ in OPTIONS}
    assert {"data", "model", "loss", "optimizer", "regularizer", "augmentation", "trainer"} <= groups


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_resolves_and_builds(compose, group, option):
    experiment = resolve(compose([f"{group}={option}"]))
    head = experiment.head(IMAGES)
    model = experiment.build_model(IMAGES, head)
    loss = experiment.build_loss(head)
    optimizer = experiment.build_optimizer()
    model.compile(optimizer=optimizer, loss=loss, metrics=head.metrics())
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    y = np.arange(16) % 10
    logs = model.fit(x, head.encode(tf.constant(y)), epochs=1, batch_size=8, verbose=0).history
    assert np.isfinite(logs["loss"][0])
    if group == "augmentation":
        augmenter = experiment.build_augmenter()
        if augmenter is not None:
            out = augmenter(x, training=True)
            assert out.shape == x.shape and out.dtype == x.dtype


@pytest.mark.parametrize("penalty", ["l1", "l2", "l1l2"])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_penalty_reaches_every_kernel_without_the_model_knowing(compose, penalty, model):
    experiment = resolve(compose([f"model={model}", f"regularizer={penalty}"]))
    built = experiment.build_model(IMAGES, experiment.head(IMAGES))
    kernels = kernel_layers(built)
    dense_or_conv = [layer for layer in built.layers if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))]
    assert len(kernels) == len(dense_or_conv) >= 2
    assert all(layer.kernel.regularizer is not None for layer in kernels)
    # The penalty is in the model's losses, once per kernel, and equals its formula.
    weights = [layer.kernel.numpy() for layer in kernels]
    params = experiment.regularizer.params
    expected = sum(
        params.get("l1", 0.0) * np.abs(w).sum() + params.get("l2", 0.0) * np.square(w).sum() for w in weights
    )
    assert len(built.losses) == len(kernels)
    np.testing.assert_allclose(float(sum(built.losses)), expected, rtol=1e-4)
    # … and in the saved config, so that a reloaded model still carries it.
    assert all(layer.get_config()["kernel_regularizer"] is not None for layer in kernels)


def test_no_penalty_leaves_the_model_alone(compose):
    experiment = resolve(compose(["regularizer=none"]))
    built = experiment.build_model(IMAGES, experiment.head(IMAGES))
    assert built.losses == []
    assert attach_to_kernels(built, None) == 0


def test_every_yaml_names_a_registered_plugin():
    from plugins.registry import REGISTRY

    for group, option in OPTIONS:
        if group in ("trainer", "augmentation"):
            continue
        text = (CONF_DIR / group / f"{option}.yaml").read_text()
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("name:"))
        assert name in REGISTRY.names(group), (group, option)


def test_conf_dir_is_the_projects():
    assert CONF_DIR == Path(__file__).resolve().parents[2] / "conf"
