"""The registry: registration, lookup errors, duplicates, schemas, Keras serialization."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import plugins
from plugins.registry import REGISTRY, ConfigError, closest, get, register


@pytest.fixture
def scratch():
    """Names registered in a test are removed afterwards."""
    added: list[tuple[str, str]] = []
    yield added
    for group, name in added:
        REGISTRY.remove(group, name)


def test_every_group_of_the_design_is_populated():
    for group in ("data", "model", "loss", "optimizer", "regularizer", "augmentation"):
        assert REGISTRY.names(group), group


def test_closest_puts_the_near_names_first():
    assert closest("adamm", ["sgd", "adam", "adamw", "rmsprop"])[:2] == ["adam", "adamw"]
    assert sorted(closest("zzz", ["b", "a"])) == ["a", "b"]


def test_unknown_name_names_group_value_and_closest():
    with pytest.raises(ConfigError) as err:
        get("optimizer", "adamm")
    message = str(err.value)
    assert "optimizer 'adamm' is not registered" in message
    assert "did you mean 'adam'?" in message
    assert message.index("adam") < message.index("sgd")
    assert "\n" not in message


def test_unknown_group():
    with pytest.raises(ConfigError, match="unknown plugin group 'optimiser'; did you mean 'optimizer'"):
        get("optimiser", "adam")


def test_duplicate_registration_is_an_error(scratch):
    @register("optimizer", "twice")
    def first(learning_rate: float = 0.1):
        return keras.optimizers.SGD(learning_rate)

    scratch.append(("optimizer", "twice"))
    with pytest.raises(ConfigError, match="registered twice"):

        @register("optimizer", "twice")
        def second(learning_rate: float = 0.1):
            return keras.optimizers.SGD(learning_rate)

    assert get("optimizer", "twice").builder is first


def test_schema_comes_from_the_signature(scratch):
    @register("model", "toy", context=("spec", "head"))
    def toy(spec, head, width: int = 4, ratio: float = 0.5, names: list[str] = ("a",), flag: bool = False):
        return None

    scratch.append(("model", "toy"))
    plugin = get("model", "toy")
    assert plugin.parameters == {"width": 4, "ratio": 0.5, "names": ["a"], "flag": False}
    assert plugin.validate({"width": 8}, "model") == {"width": 8, "ratio": 0.5, "names": ["a"], "flag": False}
    with pytest.raises(ConfigError, match=r"model.widht: unknown parameter of model 'toy'; did you mean 'width'\?"):
        plugin.validate({"widht": 8}, "model")
    with pytest.raises(ConfigError, match=r"model.width: 'wide' is not valid for model 'toy'"):
        plugin.validate({"width": "wide"}, "model")


def test_keras_class_schema_is_inferred_from_defaults():
    adam = get("optimizer", "adam")
    assert adam.parameters["learning_rate"] == pytest.approx(0.001)
    assert adam.validate({"learning_rate": 1}, "optimizer")["learning_rate"] == 1.0
    with pytest.raises(ConfigError, match=r"optimizer.learning_rate: 'fast' is not valid for optimizer 'adam'"):
        adam.validate({"learning_rate": "fast"}, "optimizer")


def test_builder_value_errors_become_config_errors():
    with pytest.raises(
        ConfigError, match=r"optimizer: optimizer 'adam' refused its parameters: `ema_momentum` must be"
    ):
        get("optimizer", "adam").build({"use_ema": True, "ema_momentum": 2.0})


def test_custom_keras_class_is_serializable_without_custom_objects(scratch, tmp_path):
    @register("loss", "scaled_mse_for_test", labels="value")
    class ScaledMSE(keras.losses.Loss):
        def __init__(self, scale: float = 2.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    scratch.append(("loss", "scaled_mse_for_test"))
    assert keras.saving.get_registered_name(ScaledMSE) == "kerasforge.loss>scaled_mse_for_test"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=ScaledMSE(scale=3.0))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.loss.scale == 3.0
    np.testing.assert_allclose(loaded.predict(np.ones((1, 3)), verbose=0), model.predict(np.ones((1, 3)), verbose=0))


def test_plugins_package_exports_the_registry():
    assert plugins.REGISTRY is REGISTRY
