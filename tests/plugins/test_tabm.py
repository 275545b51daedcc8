"""TabM (plugins/model/tabm.py) and the choices data=csv makes around it, tested on what they compute.

- the piecewise-linear encoding against a NumPy reference (inside a bin: the fraction crossed; before: 0; after: 1;
  the outer bins open), and a constant column;
- the ensemble's mean in the head's form: logits of the mean probability (softmax and sigmoid), the mean value;
- the training wrapper's loss is the mean of the members' own losses (not the loss of their mean), and its
  metrics see the saved ensemble's prediction;
- the members start apart (random-sign adapters) and a trained model loads in plain Keras with the same outputs;
- `trainer.class_weight=auto` weighs an imbalanced target's classes, and only that;
- a skewed target learnt as log(1 + y) comes back in its own units; `log` refuses a negative target;
- data=csv composes TabM with early stopping, AdamW, and the tabular trainer, which any option overrides;
- the network becomes the linear model fitted on its training rows (ridge, or logistic regression with the class
  weights, for one sigmoid logit, two softmax logits or three); with `linear_fit=candidate` the training keeps it
  when its validation loss (the saved network's, weighted) is lower, else the trained network; the default fits none.
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np
import pandas as pd
import pytest
from keras import ops

from plugins.data.base import DataSpec
from plugins.data.csv_files import from_frame
from plugins.data.tabular import TEXT_DEFAULTS
from plugins.model.head import Head
from plugins.model.outputs import unscale_target
from plugins.model.tabm import MEMBERS, MemberTraining, ensemble_mean, piecewise_linear, tabm
from plugins.registry import ConfigError
from tests.conftest import NO_PROJECT, run
from workflows.stages.train import class_weights


def reference_ple(x: np.ndarray, edges: list[float]) -> np.ndarray:
    """Gorishniy et al.'s piecewise-linear encoding of one column, written out bin by bin."""
    out = []
    bins = len(edges) - 1
    for t in range(bins):
        z = (x - edges[t]) / (edges[t + 1] - edges[t])
        if t > 0:
            z = np.maximum(z, 0.0)
        if t < bins - 1:
            z = np.minimum(z, 1.0)
        out.append(z)
    return np.stack(out, -1)


def test_piecewise_linear_matches_the_reference_and_leaves_outer_bins_open():
    edges = [[-1.0, 0.0, 0.5, 2.0], [0.0, 1.0]]  # a column of 3 bins, a column of 1 (a 0/1 flag)
    x = np.array([[-3.0, 0.0], [-0.5, 1.0], [0.25, 0.5], [1.0, 2.0], [5.0, -1.0]], "float32")
    got = ops.convert_to_numpy(piecewise_linear(x, edges))
    assert got.shape == (5, 2, 3)
    np.testing.assert_allclose(got[:, 0], reference_ple(x[:, 0], edges[0]), atol=1e-6)
    np.testing.assert_allclose(got[:, 1, 0], x[:, 1], atol=1e-6)  # one bin: the value itself, open both sides
    np.testing.assert_array_equal(got[:, 1, 1:], 0.0)  # the bins a shorter column lacks stay 0
    assert got[0, 0, 0] == -2.0 and got[4, 0, 2] == pytest.approx(3.0)  # beyond the training range: still moving
    constant = ops.convert_to_numpy(piecewise_linear(np.array([[1.0], [3.0]], "float32"), [[2.0]]))
    np.testing.assert_allclose(constant[:, 0, 0], [-1.0, 1.0])


@pytest.mark.parametrize("units", [1, 3])
def test_the_ensemble_mean_is_the_logit_of_the_mean_probability(units):
    rng = np.random.default_rng(0)
    members = rng.normal(0, 3, (4, 5, units)).astype("float32")
    head = Head(units, "linear", "binary" if units == 1 else "sparse", "classification")
    got = ops.convert_to_numpy(ensemble_mean(members, head))
    if units == 1:
        p = (1 / (1 + np.exp(-members))).mean(axis=1)
        np.testing.assert_allclose(got, np.log(p / (1 - p)), rtol=1e-4, atol=1e-4)
    else:
        e = np.exp(members - members.max(-1, keepdims=True))
        p = (e / e.sum(-1, keepdims=True)).mean(axis=1)
        np.testing.assert_allclose(got, np.log(p), rtol=1e-4, atol=1e-4)
    values = Head(units, "linear", "value", "regression")
    np.testing.assert_allclose(ops.convert_to_numpy(ensemble_mean(members, values)), members.mean(1), rtol=1e-6)


def spec_of(rows: pd.DataFrame, target: str, **kwargs):
    text = dict(TEXT_DEFAULTS)
    features = [c for c in rows.columns if c != target]
    return from_frame(rows, "t.csv", target, features, None, None, 64, True, 0.1, 0.2, 0, text, **kwargs)


def a_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.lognormal(4, 1, n)
    kind = rng.choice(["a", "b", "c"], n)
    price = 3 * size * np.where(kind == "a", 2.0, 1.0) + rng.normal(0, 5, n)
    rows = pd.DataFrame({"size": size.round(2).astype(str), "kind": kind, "price": np.abs(price).round(2)})
    rows.loc[::17, "size"] = None  # cells read as NA
    return rows


def test_the_members_each_learn_on_their_own_loss():
    splits = spec_of(a_table(), "price")
    spec = splits.spec
    assert [c["type"] for c in spec.table["columns"]] == ["number", "category"]
    head = Head(1, "linear", "value", "regression")
    keras.utils.set_random_seed(0)
    network = tabm(spec, head, k=4, units=[16])
    adapters = network.get_layer("adapters").kernel.numpy()
    assert set(np.unique(adapters)) == {-1.0, 1.0} and len({tuple(r) for r in adapters}) > 1  # they start apart
    model = MemberTraining(network, head)
    model.compile(optimizer="adam", loss="mse", metrics=head.metrics())
    x, y = splits.train[0][:64], splits.train[1][:64].reshape(-1, 1)
    members = ops.convert_to_numpy(model(x))
    assert members.shape == (64, 4, 1)
    loss = float(ops.convert_to_numpy(model.compute_loss(x, y, ops.convert_to_tensor(members))))
    assert loss == pytest.approx(float(np.mean((members[..., 0] - y) ** 2)), rel=1e-5)
    of_the_mean = float(np.mean((members[..., 0].mean(1, keepdims=True) - y) ** 2))
    assert loss > of_the_mean  # the mean of the losses exceeds the loss of the mean (the members' spread)
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    mean = ops.convert_to_numpy(network(x))
    assert scores["mae"] == pytest.approx(float(np.mean(np.abs(mean - y))), rel=1e-4)  # metrics: the ensemble


PLAIN = (
    NO_PROJECT
    + """
import json, keras, numpy as np
m = keras.models.load_model(sys.argv[1], safe_mode=True)
print(json.dumps(m.predict(np.load(sys.argv[2]), verbose=0).ravel().tolist()))
"""
)


def test_a_trained_tabm_loads_in_plain_keras(tmp_path):
    splits = spec_of(a_table(), "kind")
    spec = splits.spec
    head = Head(3, "linear", "sparse", "classification")
    keras.utils.set_random_seed(1)
    network = tabm(spec, head, k=3, units=[8])
    model = MemberTraining(network, head)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(splits.train[0], splits.train[1], epochs=2, verbose=0)
    assert any(layer.name == MEMBERS for layer in network.layers)
    network.save(tmp_path / "m.keras")
    x = splits.test[0][:5]
    np.save(tmp_path / "x.npy", x)
    out = run([sys.executable, "-I", "-c", PLAIN, str(tmp_path / "m.keras"), str(tmp_path / "x.npy")], tmp_path)
    plain = np.array(json.loads(out.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(plain, network.predict(x, verbose=0).ravel(), atol=1e-4)


def test_class_weight_auto_weighs_only_an_imbalanced_target():
    spec = DataSpec((3,), "classification", 2, ["no", "yes"], kind="tabular")
    rare = np.array([0] * 95 + [1] * 5)
    np.testing.assert_allclose(class_weights("auto", spec, rare), [100 / 190, 100 / 10])
    assert class_weights("auto", spec, np.array([0] * 60 + [1] * 40)) is None
    assert class_weights("auto", DataSpec((3,), "regression", kind="tabular"), np.zeros(10)) is None


def test_a_log_target_comes_back_in_its_own_units():
    rows = a_table()
    splits = spec_of(rows, "price", target_transform="log")
    spec = splits.spec
    assert spec.scaling["target_transform"] == "log1p"
    y = splits.train[1]
    assert abs(y.mean()) < 1e-5 and y.std() == pytest.approx(1.0, rel=1e-4)  # log, then standardized
    prices = rows["price"].astype(float).to_numpy()
    back = np.sort(np.concatenate([unscale_target(part[1], spec) for part in (splits.train, splits.val, splits.test)]))
    np.testing.assert_allclose(back, np.sort(prices), rtol=1e-4)
    assert spec_of(rows, "price", target_transform="auto").spec.scaling.get("target_transform") == "log1p"
    assert "target_transform" not in spec_of(rows, "price").spec.scaling  # the default: as it is
    negative = rows.assign(price=rows["price"].astype(float) - 1000)
    with pytest.raises(ConfigError, match="never negative"):
        spec_of(negative, "price", target_transform="log")
    assert "target_transform" not in spec_of(negative, "price", target_transform="auto").spec.scaling


def test_tabm_refuses_images_in_one_line():
    with pytest.raises(ConfigError, match="model=cnn"):
        tabm(DataSpec((8, 8, 1), "classification", 10, kind="image"), Head(10, "linear", "sparse", "classification"))


def test_data_csv_composes_tabm_with_early_stopping_and_any_option_overrides_it(compose):
    cfg = compose(["data=csv", "data.path=t.csv", "data.target=y"])
    assert cfg.model.name == "tabm" and cfg.optimizer.name == "adamw" and cfg.regularizer.name == "none"
    assert cfg.regularizer.early_stopping.patience == 16 and cfg.regularizer.early_stopping.restore_best_weights
    assert cfg.trainer.epochs == 200 and cfg.trainer.class_weight == "auto"
    cfg = compose(["data=csv", "data.path=t.csv", "data.target=y", "trainer=fast", "model=mlp"])
    assert cfg.trainer.epochs == 1 and cfg.model.name == "mlp" and cfg.regularizer.early_stopping.patience == 16
    assert compose([]).regularizer.early_stopping.patience == 0  # other data: no early stopping unless asked
    assert compose(["regularizer.early_stopping.patience=3"]).regularizer.early_stopping.patience == 3


@pytest.mark.parametrize(
    ("target", "head"),
    [
        ("price", Head(1, "linear", "value", "regression")),
        ("kind", Head(3, "linear", "sparse", "classification")),
        ("cheap", Head(1, "linear", "binary", "classification")),
    ],
    ids=["regression", "classes", "two-classes"],
)
def test_tabm_converts_to_tflite_with_the_same_outputs(tmp_path, target, head):
    import tensorflow as tf

    rows = a_table()
    rows["cheap"] = np.where(rows["price"].astype(float) < 100, "yes", "no")
    splits = spec_of(rows.drop(columns=[c for c in ("price", "cheap") if c != target]), target)
    keras.utils.set_random_seed(2)
    network = tabm(splits.spec, head, k=4, units=[8])
    network.export(tmp_path / "saved", verbose=False)
    lite = tf.lite.Interpreter(
        model_content=tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved")).convert()
    )
    x = splits.test[0][:7]
    lite.resize_tensor_input(0, x.shape)
    lite.allocate_tensors()
    lite.set_tensor(lite.get_input_details()[0]["index"], x)
    lite.invoke()
    got = lite.get_tensor(lite.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, ops.convert_to_numpy(network(x)), atol=1e-4)


def test_the_linear_baseline_cuts_a_columns_categories_as_the_network_does():
    from plugins.data.table_kind import _linear_frame, linear
    from plugins.data.tabular import MAX_CATEGORIES

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"plane": [f"N{i}" for i in rng.integers(0, 500, 3000)], "y": rng.normal(size=3000).round(3)})
    spec = spec_of(rows, "y").spec
    model = linear(spec).fit(_linear_frame(rows, spec), rows["y"].astype(float))
    assert model[:-1].transform(_linear_frame(rows, spec)).shape[1] == MAX_CATEGORIES + 1  # not 500


@pytest.mark.parametrize(
    ("target", "head", "weights"),
    [
        ("price", Head(1, "linear", "value", "regression"), None),
        ("kind", Head(3, "linear", "sparse", "classification"), None),
        ("cheap", Head(1, "linear", "binary", "classification"), [1.0, 3.0]),
        ("cheap", Head(2, "softmax", "sparse", "classification"), [1.0, 3.0]),
    ],
    ids=["regression", "classes", "one-logit-weighted", "two-softmax-weighted"],
)
def test_the_network_becomes_the_linear_model_fitted_on_its_rows(target, head, weights):
    from sklearn.linear_model import LogisticRegression, RidgeCV

    rows = a_table()
    rows["cheap"] = np.where(rows["price"].astype(float) < 100, "yes", "no")
    splits = spec_of(rows.drop(columns=[c for c in ("price", "cheap") if c != target]), target)
    keras.utils.set_random_seed(3)
    network = tabm(splits.spec, head, k=4, units=[8], linear_fit="candidate")
    model = MemberTraining(network, head)
    assert model.linear_fit == "candidate"
    x, y = splits.train
    name, kernel, bias = model.fit_linear_model(x, y, weights)
    assert name == ("ridge" if head.task == "regression" else "logistic_regression")
    model.become_linear(kernel, bias)
    members = ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(members, np.broadcast_to(members[:, :1], members.shape), atol=1e-6)  # all alike
    rows_seen = keras.Model(network.inputs, network.get_layer("linear").input).predict(x, verbose=0)
    embedded = slice(1, 1 + 16)  # one number column (size), embedded in 16: no weight from the linear model
    assert not kernel[embedded].any() and network.linear_columns == [0, *range(17, rows_seen.shape[1])]
    rows_seen = rows_seen[:, network.linear_columns]
    out = ops.convert_to_numpy(network(x))
    if head.task == "regression":
        expected = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(rows_seen, y).predict(rows_seen)
        np.testing.assert_allclose(out[:, 0], expected, atol=1e-4)
        assert np.sqrt(np.mean((out[:, 0] - y) ** 2)) < 0.5  # the line explains most of the standardized price
    else:
        sample_weight = None if weights is None else np.asarray(weights)[y.astype(int)]
        fitted = LogisticRegression(max_iter=1000).fit(rows_seen, y.astype(int), sample_weight=sample_weight)
        probabilities = ops.convert_to_numpy(head.probabilities(out))
        if head.units == 1:
            probabilities = np.concatenate([1 - probabilities, probabilities], axis=1)
        np.testing.assert_allclose(probabilities, fitted.predict_proba(rows_seen), atol=1e-4)


def test_the_validation_loss_is_the_saved_networks_weighted_loss():
    splits = spec_of(a_table(), "kind")
    head = Head(3, "linear", "sparse", "classification")
    keras.utils.set_random_seed(5)
    model = MemberTraining(tabm(splits.spec, head, k=4, units=[8]), head)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = splits.val
    w = np.where(y == 0, 2.0, 0.5).astype("float32")
    batches = [(x[:20], y[:20], w[:20]), (x[20:], y[20:], w[20:])]
    logits = ops.convert_to_numpy(model.network(x))
    each = -(logits[np.arange(len(y)), y.astype(int)] - np.log(np.exp(logits).sum(1)))
    assert model.validation_loss(batches) == pytest.approx(float(np.mean(each * w)), rel=1e-4)


@pytest.mark.parametrize(("target", "kept"), [("price", "ridge"), ("side", "network")])
def test_linear_fit_candidate_keeps_what_validation_prefers(tmp_path, compose, target, kept):
    from workflows.config.schema import resolve
    from workflows.stages.train import train

    rng = np.random.default_rng(6)
    a, b = rng.uniform(-1, 1, 600), rng.uniform(-1, 1, 600)
    rows = pd.DataFrame({"a": a, "b": b})
    if target == "price":  # a line: one epoch of the network is far from it, ridge is on it
        rows["price"], epochs = 3 * a - 2 * b + rng.normal(0, 0.1, 600), 1
    else:  # the same sign or not: no line separates it, the network learns it
        rows["side"], epochs = np.where(a * b > 0, "same", "other"), 60
    rows.to_csv(tmp_path / "t.csv", index=False)
    experiment = resolve(
        compose(
            [
                "data=csv",
                f"data.path={tmp_path / 't.csv'}",
                f"data.target={target}",
                "model.k=4",
                "model.units=[32,32]",
                "model.linear_fit=candidate",
                f"trainer.epochs={epochs}",
                "trainer.verbose=0",
                "optimizer.learning_rate=0.005",
            ]
        )
    )
    splits = experiment.load_data()
    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "models", tmp_path / "logs")
    choice = json.loads((tmp_path / "models" / "model.json").read_text())["training"]["linear_fit"]
    assert choice["kept"] == kept and choice["candidate"] == ("ridge" if target == "price" else "logistic_regression")
    assert (choice["val_loss"] < choice["network_val_loss"]) == (kept != "network")
    heads = keras.models.load_model(tmp_path / "models" / "model.keras").get_layer("tabm").get_layer("head")
    assert (not heads.kernel.numpy().any()) == (kept != "network")  # the linear model: members add nothing


def test_linear_fit_none_the_default_fits_nothing():
    splits = spec_of(a_table(), "price")
    head = Head(1, "linear", "value", "regression")
    network = tabm(splits.spec, head, k=4, units=[8])
    assert MemberTraining(network, head).linear_fit == "none"
    assert (
        MemberTraining(tabm(splits.spec, head, k=4, units=[8], linear=False), head).fit_linear_model(*splits.train)
        is None
    )  # no skip, nothing to fit
    with pytest.raises(ConfigError, match="linear_fit"):
        from plugins.registry import get

        get("model", "tabm").build({"linear_fit": "ridge"}, "model", spec=splits.spec, head=head)
