"""Every model builds for every data shape it accepts, trains a step, saves and reloads in safe mode."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from plugins.data.base import DataSpec
from plugins.registry import ConfigError
from workflows.config.command import resolve
from workflows.stages.train import model_card

IMAGE = DataSpec((8, 8, 1), "classification", 10, kind="image")
RGB = DataSpec((12, 12, 3), "classification", 3, kind="image")
SEQUENCE = DataSpec((6, 4), "classification", 3, kind="sequence")
TABULAR = DataSpec((10,), "regression", kind="tabular")
BINARY = DataSpec((5,), "classification", 2, kind="tabular")

ACCEPTS = {
    "linear": [IMAGE, SEQUENCE, TABULAR, BINARY],
    "mlp": [IMAGE, SEQUENCE, TABULAR, BINARY],
    "cnn": [IMAGE, RGB],
    "resnet": [IMAGE, RGB],
    "lstm": [IMAGE, SEQUENCE],
    "gru": [IMAGE, RGB, SEQUENCE],
    "mobilenet_v2": [IMAGE],
    "resnet50": [RGB],
    "efficientnet_b0": [IMAGE],
}
SMALLER = {
    "cnn": ["model.filters=[4]", "model.dense=8"],
    "resnet": ["model.width=4"],
    "lstm": ["model.units=[8,8]", "model.bidirectional=true"],
    "gru": ["model.units=[8]"],
}
APPLICATIONS = ("mobilenet_v2", "resnet50", "efficientnet_b0")  # 20–60 s each to compile and train a step
BUILD_ONLY = ("resnet50", "efficientnet_b0")  # tens of millions of weights: built and run forward only
CASES = [
    pytest.param(
        m, s, marks=[pytest.mark.slow] if m in APPLICATIONS else [], id=f"{m}-{'x'.join(map(str, s.input_shape))}"
    )
    for m, specs in ACCEPTS.items()
    for s in specs
]


def loss_for(spec: DataSpec) -> str:
    return {"regression": "mse"}.get(
        spec.task, "binary_crossentropy" if spec.num_classes == 2 else "sparse_categorical_crossentropy"
    )


@pytest.mark.parametrize(("model", "spec"), CASES)
def test_model_builds_trains_saves_and_reloads(compose, tmp_path, model, spec):
    experiment = resolve(compose([f"model={model}", f"loss={loss_for(spec)}", *SMALLER.get(model, [])]))
    head = experiment.head(spec)
    built = experiment.build_model(spec, head)
    if model in BUILD_ONLY:  # one eager forward pass: mobilenet_v2 trains, saves and reloads the applications' path
        out = np.asarray(built(np.zeros((2, *spec.input_shape), np.float32), training=False))
        assert out.shape == (2, head.units) and np.isfinite(out).all()
        return
    built.compile(optimizer=experiment.build_optimizer(), loss=experiment.build_loss(head), metrics=head.metrics())
    rng = np.random.default_rng(0)
    x = rng.random((4, *spec.input_shape), dtype=np.float32)
    y = rng.integers(0, max(spec.num_classes, 1), 4) if spec.task == "classification" else rng.random(4)
    before = [w.copy() for w in built.get_weights()]
    built.fit(x, head.encode(tf.constant(y)), epochs=1, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, built.get_weights()))
    out = built.predict(x, verbose=0)
    assert out.shape == (4, head.units) and np.isfinite(out).all()
    assert model_card(built, head, spec)["params"] == built.count_params() > 0
    path = tmp_path / "model.keras"
    built.save(path)
    np.testing.assert_allclose(
        keras.models.load_model(path, safe_mode=True).predict(x, verbose=0), out, rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize(
    ("model", "spec", "expected"),
    [
        ("cnn", TABULAR, "model 'cnn' needs images (height, width, channels) but the data's examples have shape (10,)"),
        ("resnet", SEQUENCE, "model 'resnet' needs images"),
        ("lstm", TABULAR, "model 'lstm' needs sequences (time, features) or images"),
        ("resnet50", TABULAR, "model 'resnet50' needs images"),
    ],
)
def test_a_model_that_cannot_take_the_data_is_refused(compose, model, spec, expected):
    experiment = resolve(compose([f"model={model}", f"loss={loss_for(spec)}"]))
    with pytest.raises(ConfigError) as err:
        experiment.build_model(spec, experiment.head(spec))
    assert str(err.value).startswith(expected)


def test_resnet_depths_and_resizing(compose):
    for depth, convs in ((20, 19), (32, 31)):
        built = resolve(compose(["model=resnet", f"model.depth={depth}", "model.width=4"])).build_model(
            IMAGE, resolve(compose()).head(IMAGE)
        )
        stacked = [
            layer for layer in built.layers if isinstance(layer, keras.layers.Conv2D) and "proj" not in layer.name
        ]
        assert len(stacked) == convs  # + the head: depth weighted layers
    resized = resolve(compose(["model=resnet", "model.input_size=32", "model.width=4"])).build_model(
        IMAGE, resolve(compose()).head(IMAGE)
    )
    assert resized.get_layer("resize").output.shape[1:3] == (32, 32)
    with pytest.raises(ConfigError, match="model.depth=21: a pre-activation ResNet has depth 6n\\+2"):
        resolve(compose(["model=resnet", "model.depth=21"])).build_model(IMAGE, resolve(compose()).head(IMAGE))


def test_imagenet_weights_offline_is_a_one_line_error(compose, monkeypatch, tmp_path):
    import keras.src.backend.config as keras_config

    monkeypatch.setattr(
        keras_config, "keras_home", lambda: str(tmp_path)
    )  # an empty cache: the weights must be downloaded
    import keras.src.utils.file_utils as file_utils

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(file_utils.urllib.request, "urlretrieve", no_network)
    experiment = resolve(compose(["model=mobilenet_v2", "model.weights=imagenet"]))
    with pytest.raises(
        ConfigError, match="model.weights=imagenet: the mobilenet_v2 weights could not be downloaded"
    ) as err:
        experiment.build_model(IMAGE, experiment.head(IMAGE))
    # It names the file to place, and where.
    assert re.search(
        r"place mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_\d+_no_top.h5 \(from https:", str(err.value)
    ), str(err.value)
    assert str(tmp_path) in str(err.value)
