"""Every option in conf/ composes, resolves to its plugin, builds, and on a small problem lowers the loss."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from plugins.data.base import DataSpec
from plugins.regularizer.weight_penalties import attach_to_kernels, kernel_layers
from workflows.config.command import CONF_DIR, resolve
from workflows.stages.augment import augment
from workflows.stages.train import train

# keras.datasets download on first use: tests have no network (tests/plugins/data/test_images.py checks the
# offline error).
DOWNLOADED = {("data", "mnist"), ("data", "fashion_mnist"), ("data", "cifar10"), ("data", "cifar100")}
# Text and series options need a text table or a series, not digits: tests/e2e/test_sequences.py trains the data ones
# on real text and series; conv1d and transformer still lack a test of their own (issue 21 note).
SEQUENCES = {("data", "text_folder"), ("data", "timeseries"), ("model", "conv1d"), ("model", "transformer")}
# Keras applications (millions of weights) are built, trained and reloaded in test_models.py.
APPLICATIONS = {
    ("model", "resnet50"),
    ("model", "mobilenet_v2"),
    ("model", "efficientnet_b0"),
    # …and fine-tuned, from a weights file, in tests/workflows/runtime/test_finetune.py.
    ("finetune", "two_phase"),
}
OPTIONS = sorted(
    (group.name, option.stem)
    for group in CONF_DIR.iterdir()
    if group.is_dir() and group.name != "studies"  # studies are not a config group: workflows.study reads them
    for option in group.glob("*.yaml")
    if (group.name, option.stem) not in DOWNLOADED | APPLICATIONS | SEQUENCES
)
IMAGES = DataSpec(input_shape=(8, 8, 1), task="classification", num_classes=10, kind="image")
SMALL = ["model=mlp", "model.units=[32]", "trainer.epochs=3", "trainer.verbose=0", "augmentation=none"]
TABULAR = ["model=mlp", "model.units=[32]", "augmentation=none"]
# What an option needs beside it to make sense: regression data wants a regression loss, and so on.
COMPANIONS = {
    ("data", "diabetes"): [*TABULAR, "loss=mse"],
    ("data", "breast_cancer"): TABULAR,
    ("data", "csv"): [*TABULAR, "data.target=label", "data.task=classification"],
    ("data", "audio_folder"): ["model=audio_cnn", "model.filters=[8]", "data.sample_rate=8000"],
    ("model", "audio_cnn"): ["data=audio_folder", "model.filters=[8]", "data.sample_rate=8000"],
    ("loss", "binary_crossentropy"): ["data=breast_cancer", *TABULAR],
    ("model", "cnn"): ["model.filters=[8]", "model.dense=16"],
    ("model", "tabm"): ["data=breast_cancer", "augmentation=none", "model.k=4"],
    ("model", "resnet"): ["model.width=4"],  # ResNet-20 all the same; 16 channels made it the suite's slowest option
    ("experiment", "classic_linear_gd"): ["trainer.epochs=20"],
    ("experiment", "classic_ridge"): ["trainer.epochs=20"],
    ("experiment", "classic_lasso"): ["trainer.epochs=20"],
    ("optimizer", "gd"): ["optimizer.learning_rate=0.5"],
    ("augmentation", "mixup"): ["loss=categorical_crossentropy"],
    ("optimizer", "lion"): ["optimizer.learning_rate=0.001"],
}


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory) -> Path:
    """scikit-learn's digits written as a CSV file with a header (64 pixel columns and a label)."""
    bunch = load_digits()
    path = tmp_path_factory.mktemp("csv") / "digits.csv"
    header = ",".join([f"p{i}" for i in range(64)] + ["label"])
    rows = [",".join([*(f"{v:g}" for v in x), f"digit{t}"]) for x, t in zip(bunch.data, bunch.target)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_conf_has_every_group_of_the_design():
    groups = {group for group, _ in OPTIONS}
    assert {"data", "model", "loss", "optimizer", "schedule", "regularizer", "augmentation", "trainer"} <= groups


class LossLog(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(logs["loss"])


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_builds_and_lowers_the_loss(compose, digits_csv, tmp_path, group, option):
    overrides = [*SMALL, f"{group}={option}", *COMPANIONS.get((group, option), [])]
    if (group, option) == ("data", "csv"):
        overrides.append(f"data.path={digits_csv}")
    if (group, option) == ("data", "image_folder"):
        from tests.plugins.data.test_images import make_folder

        overrides += [f"data.directory={make_folder(tmp_path / 'photos', per_class=20)}", "data.target_size=[16,16]"]
    if "data=audio_folder" in overrides:  # two classes of tones in WAV, FLAC and Ogg (tests/plugins/data/test_audio.py)
        from tests.plugins.data.test_audio import a_folder

        overrides.append(f"data.directory={a_folder(tmp_path / 'tones', per_class=12)}")
    if group == "augmentation":
        overrides.remove("augmentation=none")
    if group == "model" or "model=audio_cnn" in overrides:
        overrides = [o for o in overrides if not o.startswith("model=mlp") and not o.startswith("model.units")]
    if group == "trainer":
        overrides = [o for o in overrides if not o.startswith("trainer.epochs")] + ["trainer.epochs=2"]
    experiment = resolve(compose(overrides))
    splits = experiment.load_data()
    train_ds = augment(experiment, splits.train, splits.spec)
    log = LossLog()
    train(experiment, train_ds, splits.val, splits.spec, tmp_path / "m", tmp_path / "l", callbacks=[log])
    assert np.all(np.isfinite(log.losses))
    assert log.losses[-1] < log.losses[0], log.losses
    assert keras.models.load_model(tmp_path / "m" / "model.keras", safe_mode=True) is not None


def test_augmentation_ops_keep_shape_dtype_and_range(compose):
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    for option in ("rotate_shift", "flip_rotate_shift"):
        out = np.asarray(resolve(compose([f"augmentation={option}"])).build_augmenter()(x, training=True))
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6


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
        if group in ("trainer", "augmentation", "experiment", "hparams_search"):
            continue
        text = (CONF_DIR / group / f"{option}.yaml").read_text()
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("name:"))
        assert name in REGISTRY.names(group), (group, option)
