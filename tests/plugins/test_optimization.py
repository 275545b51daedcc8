"""The optimization catalogue against independent references: schedules, clipping, GD, losses, penalties."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from plugins.data.base import DataSpec
from plugins.registry import ConfigError, get
from workflows.config.command import resolve
from workflows.stages.train import plan_epochs, train


def lr_at(schedule, step: int) -> float:
    return float(schedule(step))


def build_schedule(compose, overrides, steps_per_epoch=10):
    return resolve(compose(["optimizer.learning_rate=0.1", *overrides])).build_schedule(steps_per_epoch)


def test_constant_schedule_keeps_the_optimizer_rate(compose):
    assert build_schedule(compose, ["schedule=constant"]) is None
    optimizer = resolve(compose(["schedule=constant", "optimizer.learning_rate=0.1"])).build_optimizer(10)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)


def test_exponential_schedule(compose):
    s = build_schedule(compose, ["schedule=exponential", "schedule.decay_rate=0.5", "schedule.decay_epochs=2"])
    assert lr_at(s, 0) == pytest.approx(0.1)
    assert lr_at(s, 20) == pytest.approx(0.05)  # 2 epochs of 10 steps
    assert lr_at(s, 40) == pytest.approx(0.025)


def test_step_schedule(compose):
    s = build_schedule(compose, ["schedule=step", "schedule.boundaries=[3,5]", "schedule.factor=0.1"])
    assert [lr_at(s, k) for k in (0, 30, 31, 50, 51)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_cosine_schedule_with_linear_warmup(compose):
    s = build_schedule(compose, ["schedule=cosine", "schedule.warmup_epochs=2", "trainer.epochs=12"])
    assert lr_at(s, 0) == pytest.approx(0.0)
    assert lr_at(s, 10) == pytest.approx(0.05)  # half-way through the warm-up
    assert lr_at(s, 20) == pytest.approx(0.1)  # the peak
    assert lr_at(s, 70) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi / 2)))  # half-way through the decay
    assert lr_at(s, 120) == pytest.approx(0.0, abs=1e-7)


def test_schedule_drives_the_optimizer(compose):
    experiment = resolve(compose(["schedule=step", "schedule.boundaries=[1]", "optimizer.learning_rate=0.1"]))
    optimizer = experiment.build_optimizer(steps_per_epoch=2)
    assert isinstance(optimizer._learning_rate, keras.optimizers.schedules.PiecewiseConstantDecay)
    assert float(optimizer._learning_rate(3)) == pytest.approx(0.01)


def test_reduce_on_plateau_cuts_the_rate_when_the_monitor_stalls(compose, tmp_path):
    experiment = resolve(
        compose(
            [
                "model=mlp",
                "model.units=[8]",
                "augmentation=none",
                "trainer.epochs=4",
                "trainer.verbose=0",
                "schedule=reduce_on_plateau",
                "schedule.patience=1",
                "schedule.factor=0.5",
                "schedule.min_delta=1000",
                "optimizer.learning_rate=0.01",
            ]
        )
    )
    splits = experiment.load_data()
    rates = []

    class Rate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))

    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l", callbacks=[Rate()])
    assert rates == pytest.approx([0.01, 0.005, 0.0025, 0.00125])


@pytest.mark.parametrize(
    ("clip", "bound"),
    [
        ("clipvalue", lambda u: np.abs(u).max()),
        ("clipnorm", lambda u: np.linalg.norm(u)),
        ("global_clipnorm", lambda u: np.linalg.norm(u)),
    ],
)
def test_clipping_bounds_the_update(compose, clip, bound):
    experiment = resolve(compose(["optimizer=sgd", "optimizer.learning_rate=1.0", f"+optimizer.{clip}=0.01"]))
    optimizer = experiment.build_optimizer()
    w = keras.Variable(np.zeros(5, dtype=np.float32))
    before = w.numpy().copy()
    optimizer.apply_gradients([(tf.constant([100.0, -50.0, 30.0, 0.0, 7.0]), w)])
    assert bound(w.numpy() - before) <= 0.01 + 1e-6
    assert bound(w.numpy() - before) > 0.009  # it did move: clipped, not zeroed


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam", "lion", "gd"])
def test_every_optimizer_takes_every_clipping(compose, name):
    for clip in ("clipnorm", "clipvalue", "global_clipnorm"):
        optimizer = get("optimizer", name).build({clip: 0.5})
        assert getattr(optimizer, clip) == 0.5


def test_gd_takes_one_full_batch_step_per_epoch(compose, tmp_path):
    experiment = resolve(
        compose(
            [
                "optimizer=gd",
                "model=linear",
                "augmentation=none",
                "trainer.epochs=7",
                "trainer.verbose=0",
                "trainer.batch_size=8",
            ]
        )
    )
    splits = experiment.load_data()
    n = len(splits.train[0])
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            seen.append(int(self.model.optimizer.iterations.numpy()))

    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l", callbacks=[Batches()])
    assert seen == [7]
    plan = plan_epochs(experiment, n)
    assert plan["batch_size"] == n and plan["steps_per_epoch"] == 1
    many = resolve(compose(["optimizer=gd", "trainer.epochs=40000"]))
    assert plan_epochs(many, n)["fit_epochs"] * plan_epochs(many, n)["fit_steps"] == 40000


def test_sparse_label_smoothing_equals_categorical_on_one_hot():
    loss = get("loss", "sparse_categorical_crossentropy").build({"label_smoothing": 0.2}, from_logits=True)
    logits = tf.constant([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    labels = tf.constant([0, 2])
    reference = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    assert float(loss(labels, logits)) == pytest.approx(float(reference(tf.one_hot(labels, 3), logits)), rel=1e-6)
    plain = get("loss", "sparse_categorical_crossentropy").build({}, from_logits=True)
    assert float(plain(labels, logits)) < float(loss(labels, logits))


def test_focal_with_gamma_zero_is_alpha_times_cross_entropy():
    focal = get("loss", "focal").build({"gamma": 0.0, "alpha": 1.0}, from_logits=True, binary=False)
    logits = tf.constant([[2.0, -1.0, 0.5]])
    target = tf.constant([[0.0, 0.0, 1.0]])
    reference = keras.losses.CategoricalCrossentropy(from_logits=True)
    assert float(focal(target, logits)) == pytest.approx(float(reference(target, logits)), rel=1e-5)
    assert isinstance(
        get("loss", "focal").build({}, from_logits=True, binary=True), keras.losses.BinaryFocalCrossentropy
    )


@pytest.mark.parametrize(
    ("loss", "classes", "units", "activation", "labels"),
    [
        ("sparse_categorical_crossentropy", 10, 10, "linear", "sparse"),
        ("categorical_crossentropy", 10, 10, "linear", "one_hot"),
        ("focal", 10, 10, "linear", "one_hot"),
        ("focal", 2, 1, "linear", "binary"),
        ("binary_crossentropy", 2, 1, "linear", "binary"),
        ("mse", 10, 10, "softmax", "one_hot"),
        ("huber", 10, 10, "softmax", "one_hot"),
    ],
)
def test_the_head_decides_logits_or_probabilities_once(compose, loss, classes, units, activation, labels):
    spec = DataSpec((4,), "classification", classes)
    head = resolve(compose([f"loss={loss}"])).head(spec)
    assert (head.units, head.activation, head.labels) == (units, activation, labels)
    built = resolve(compose([f"loss={loss}"])).build_loss(head)
    assert getattr(built, "from_logits", activation == "linear") == (activation == "linear")


def test_a_classification_loss_on_regression_data_is_refused(compose):
    with pytest.raises(ConfigError, match="loss 'sparse_categorical_crossentropy' is for classification"):
        resolve(compose(["data=diabetes", "loss=sparse_categorical_crossentropy"])).head(DataSpec((10,), "regression"))
    with pytest.raises(ConfigError, match="is for two classes but the data has 10"):
        resolve(compose(["loss=binary_crossentropy"])).head(DataSpec((8, 8, 1), "classification", 10))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["optimizer.learning_rate=-0.1"], "optimizer.learning_rate=-0.1 must be > 0"),
        (["optimizer=sgd", "optimizer.momentum=1.0"], "optimizer.momentum=1.0 must be in [0, 1)"),
        (["schedule=cosin"], "unknown schedule option 'cosin'"),
        (["loss.label_smoothing=1.5"], "loss.label_smoothing=1.5 must be in [0, 1)"),
        (["regularizer.l2=-1"], "regularizer.l2=-1 must be ≥ 0"),
        (["optimizer.clipnorm=0"], "optimizer.clipnorm=0 must be > 0"),
        (
            ["schedule=cosine", "schedule.warmup_epochs=50", "trainer.epochs=10"],
            "schedule.warmup_epochs=50 must be in [0, trainer.epochs=10)",
        ),
        (["regularizer.dropout=1.5"], "regularizer.dropout=1.5 must be in [0, 1)"),
    ],
)
def test_bad_values_are_refused_before_training(compose, overrides, expected):
    with pytest.raises(ConfigError) as err:
        resolve(compose(overrides))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_early_stopping_stops_and_dropout_reaches_every_dropout_layer(compose, tmp_path):
    experiment = resolve(
        compose(
            [
                "model=mlp",
                "model.units=[16,16]",
                "augmentation=none",
                "trainer.epochs=30",
                "trainer.verbose=0",
                "regularizer.early_stopping.patience=2",
                "regularizer.early_stopping.min_delta=1000",
                "regularizer.dropout=0.4",
            ]
        )
    )
    splits = experiment.load_data()
    head = experiment.head(splits.spec)
    model = experiment.build_model(splits.spec, head)
    rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert rates == [0.4, 0.4]
    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l")
    import json

    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["training"]["epochs_run"] == 3  # the first epoch, then 2 of patience


def test_diabetes_is_standardized_with_training_statistics(compose):
    from plugins.data.base import to_numpy

    splits = resolve(compose(["data=diabetes"])).load_data()
    x, y = to_numpy(splits.train)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-4)
    assert abs(y.mean()) < 1e-5 and abs(y.std() - 1) < 1e-4
    xv, _ = to_numpy(splits.val)
    assert np.abs(xv.mean(axis=0)).max() > 1e-3  # the validation rows were scaled with the training statistics


@pytest.mark.parametrize(
    ("content", "overrides", "expected"),
    [
        (None, [], "data.path: no such file"),
        ("a,b,label\n" + "1,2,3\n" * 12, ["data.target=lable"], "has no column 'lable'; did you mean 'label'?"),
        ("a,b,y\n" + "1,2,3\n" * 5 + "1,oops,3\n" + "1,2,3\n" * 6, [], "line 7, column 'b': 'oops' in a column"),
        ("a,b,y\n" + "1,2,cat\n" * 12, ["data.task=classification"], "has a single class"),
        ("a,b,y\n" + "1,2,cat\n" * 12, [], "has a single class"),  # words: classes, inferred
        ("a,b,y\n" + "1,2,cat\n" * 6 + "1,2,dog\n" * 6, ["data.task=regression"], "'cat', not a finite number"),
        ("a,b,y\n" + "1,2\n" * 12, [], "the target column 'y' is empty on every row"),
        ("a,b,y\n" + "1,2,3\n" * 5 + "1,2,3,4\n" + "1,2,3\n" * 6, [], "not readable as a table"),
    ],
)
def test_csv_errors_name_the_file_row_and_column(compose, tmp_path, content, overrides, expected):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    experiment = resolve(compose(["data=csv", f"data.path={path}", "data.target=y", *overrides]))
    with pytest.raises(ConfigError) as err:
        experiment.load_data()
    assert expected in str(err.value)


def test_csv_needs_path_and_target(compose):
    with pytest.raises(ConfigError, match="data 'csv' needs path, target"):
        resolve(compose(["data=csv"]))
