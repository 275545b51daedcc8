"""DP-SGD's mechanism (plugins/privacy): tested on what makes the guarantee hold, not on accuracy — a broken
mechanism trains fine.

- each row's clipped gradient has an L2 norm of at most C, and rows under C are left as they are, by both routes
  to the per-row norms (each layer's inputs and output gradients, and the jacobian), which agree on every layer the
  first serves;
- the weight penalties' gradient is added beside the clipped sum, not clipped with each row;
- on two replicas (MirroredStrategy on two logical CPUs) a step is the one-device step: the clipped sums add up, the
  noise is drawn once (not once per replica), the penalty counted once;
- the noise added to the summed gradient has a standard deviation of σ·C (measured over thousands of weights);
- ε as recorded is recomputed independently: without subsampling, T Gaussian steps are one Gaussian mechanism of
  noise σ/√T, whose exact (ε, δ) is Balle & Wang's (2018) closed form; the PLD accountant must agree with it;
- Poisson batches have the mean n·q and the variance n·q·(1 − q) of the sampling accounted;
- a model with batch normalization is refused, before any data is read.
"""

from __future__ import annotations

import json
import math
import sys

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from scipy.optimize import brentq
from scipy.stats import norm

from plugins.data.csv_files import from_frame
from plugins.data.tabular import TEXT_DEFAULTS
from plugins.model.head import Head
from plugins.model.tabm import tabm
from plugins.privacy._private_model import PrivateModel, poisson_batches, refuse_batch_norm
from plugins.privacy.dp_sgd import DPSGD, epsilon
from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run
from workflows.config.compose import compose
from workflows.config.schema import precheck


def network(inputs: int = 20, classes: int = 3, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    x = keras.Input((inputs,))
    h = keras.layers.Dense(64, activation="tanh")(x)
    return keras.Model(x, keras.layers.Dense(classes)(h))


def private(
    sigma: float, clip: float, expected: float = 32.0, rows_per_pass: int = 16, per_layer: bool = True, net=None
) -> PrivateModel:
    model = PrivateModel(
        net or network(), clip, sigma, expected, seed=1, rows_per_pass=rows_per_pass, per_layer=per_layer
    )
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert model.per_row_gradients == ("layers" if per_layer else "jacobian")
    return model


def rows(n: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 20)).astype(np.float32) * rng.uniform(0.1, 20, size=(n, 1)).astype(np.float32)
    return x, rng.integers(0, 3, n)


ROUTES = pytest.mark.parametrize("per_layer", [True, False], ids=["layers", "jacobian"])


@ROUTES
def test_each_rows_clipped_gradient_is_at_most_c_and_smaller_ones_are_kept(per_layer):
    x, y = rows()
    clip = 10.0  # about the median row's norm here
    model = private(0.0, clip, expected=1.0, per_layer=per_layer)
    for i in range(len(x)):  # one row at a time: the summed clipped gradient is that row's clipped gradient
        _, _, norms = model.clipped_noised_gradients(x[i : i + 1], y[i : i + 1])
        gradients, _, _ = model.clipped_noised_gradients(x[i : i + 1], y[i : i + 1])
        clipped = math.sqrt(sum(float(tf.reduce_sum(g**2)) for g in gradients))
        raw = float(norms[0])
        assert clipped <= clip * (1 + 1e-5)
        assert clipped == pytest.approx(min(raw, clip), rel=1e-4)
    _, _, norms = model.clipped_noised_gradients(x, y)
    assert float(tf.reduce_max(norms)) > clip > float(tf.reduce_min(norms))  # the test data had both kinds of rows


@ROUTES
def test_the_batch_gradient_is_the_sum_of_the_rows_clipped_gradients(per_layer):
    x, y = rows(8)
    model = private(0.0, 0.5, expected=8.0, rows_per_pass=3, per_layer=per_layer)  # jacobian: passes of 3, 3, 2 rows
    whole, outputs, norms = model.clipped_noised_gradients(x, y)
    assert outputs.shape[0] == 8 and norms.shape[0] == 8
    one_by_one = [model.clipped_noised_gradients(x[i : i + 1], y[i : i + 1])[0] for i in range(8)]
    for k, g in enumerate(whole):
        assert np.allclose(np.asarray(g), sum(np.asarray(o[k]) for o in one_by_one), atol=1e-5)  # both / 8


def test_the_noise_has_standard_deviation_sigma_times_c():
    x, y = rows()
    sigma, clip, expected = 1.3, 0.7, 32.0
    noisy = private(sigma, clip, expected)
    quiet = private(0.0, clip, expected)
    quiet.set_weights(noisy.get_weights())
    a, _, _ = noisy.clipped_noised_gradients(x, y)
    b, _, _ = quiet.clipped_noised_gradients(x, y)
    noise = np.concatenate([(np.asarray(p) - np.asarray(q)).ravel() * expected for p, q in zip(a, b)])
    assert len(noise) > 1000
    assert noise.std() == pytest.approx(sigma * clip, rel=0.05) and abs(noise.mean()) < 0.1 * sigma * clip
    again, _, _ = noisy.clipped_noised_gradients(x, y)
    assert not np.allclose(np.asarray(again[0]), np.asarray(a[0]))  # fresh noise at every step


def images() -> keras.Model:
    x = keras.Input((12, 12, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    h = keras.layers.GroupNormalization(4)(h)
    h = keras.layers.Conv2D(6, 3, strides=2, padding="valid", dilation_rate=1)(h)
    h = keras.layers.LayerNormalization()(keras.layers.Flatten()(h))
    return keras.Model(x, keras.layers.Dense(3)(h))


def tokens() -> keras.Model:
    x = keras.Input((10,), dtype="int32")
    h = keras.layers.Embedding(12, 8)(x)  # 12 tokens in 10 places: rows repeat tokens
    h = keras.layers.Conv1D(5, 3, padding="causal", activation="relu")(h)
    h = keras.layers.Dense(4)(h)  # a sequence, 10² > 5 × 4 weights: each row's gradient materialised
    h = keras.layers.Conv1D(5, 2, padding="same", dilation_rate=2)(h)
    h = keras.layers.Dense(64, use_bias=False)(h[:, :3])  # 3² < 5 × 64: the ghost norm
    return keras.Model(x, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(h)))


def einsums() -> keras.Model:
    """EinsumDense as TabM uses it (embeddings with a bias on two axes, adapters, per-member heads), and biases on
    a non-leading axis and broadcast over one."""
    x = keras.Input((4, 6))
    h = keras.layers.EinsumDense("nft,ftd->nfd", (4, 5), bias_axes="fd", activation="relu")(x)
    h = keras.layers.EinsumDense("nfd,fde->nfe", (4, 3), bias_axes="f")(h)  # the bias is (4, 1)
    h = keras.layers.EinsumDense("nd,kd->nkd", (2, 12))(keras.layers.Flatten()(h))
    h = keras.layers.Dense(7, activation="relu")(h)  # on (rows, members, features): shared by the members
    h = keras.layers.EinsumDense("nkd,kdo->nko", (2, 3), bias_axes="o")(h)
    return keras.Model(x, keras.layers.GlobalAveragePooling1D()(h))


def a_tabm() -> keras.Model:
    """The real thing: plugins/model/tabm.py's network on a small table (numbers and a category)."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"a": rng.normal(size=300), "b": rng.lognormal(size=300), "c": rng.choice(["x", "y"], 300)})
    rows["label"] = np.where(rows["a"] + (rows["c"] == "x") > 0.5, "yes", "no")
    splits = from_frame(rows, "t.csv", "label", ["a", "b", "c"], None, None, 64, True, 0.1, 0.2, 0, dict(TEXT_DEFAULTS))
    network = tabm(splits.spec, Head(2, "linear", "sparse", "classification"), k=4, units=[16], dropout=0.0)
    network.rows = np.asarray(splits.train[0][:16])
    return network


def row_by_row(net: keras.Model, x, y, clip: float):
    """The reference: each row's gradient alone (a tape per row), its norm, and the sum of the clipped gradients."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norms, total = [], [np.zeros(v.shape) for v in net.trainable_variables]
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            value = loss(y[i : i + 1], net(x[i : i + 1], training=True))
        grads = [np.asarray(tf.convert_to_tensor(g)) for g in tape.gradient(value, net.trainable_variables)]
        norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
        norms.append(norm)
        total = [t + g * min(1.0, clip / norm) for t, g in zip(total, grads)]
    return np.asarray(norms), total


@pytest.mark.parametrize("build", [images, tokens, einsums, a_tabm])
def test_each_layers_route_agrees_with_each_rows_own_gradient(build):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    net = build()
    shape = net.input.shape[1:]
    if build is a_tabm:
        x = net.rows
    elif build is tokens:
        x = rng.integers(0, 12, (16, *shape)).astype(np.int32)
    else:
        x = rng.normal(size=(16, *shape)).astype(np.float32)
    y = rng.integers(0, net.output.shape[-1], 16)
    model = private(0.0, 0.5, expected=1.0, per_layer=True, net=net)  # expected 1: the sum itself
    gradients, outputs, norms = model.clipped_noised_gradients(tf.constant(x), tf.constant(y))
    reference_norms, reference = row_by_row(net, x, y, 0.5)
    assert np.allclose(norms, reference_norms, rtol=1e-4) and reference_norms.max() > 0.5  # some rows are clipped
    assert np.allclose(outputs, net(x), atol=1e-5)
    for a, b in zip(gradients, reference):
        assert np.allclose(a, b, atol=1e-5), np.abs(np.asarray(a) - b).max()


def test_a_network_with_an_unserved_or_shared_layer_takes_the_jacobian():
    x = keras.Input((5, 3))
    recurrent = keras.Model(x, keras.layers.Dense(3)(keras.layers.LSTM(4)(x)))
    assert PrivateModel(recurrent, 1.0, 1.0, 8.0).per_row_gradients == "jacobian"
    x = keras.Input((4,))
    shared = keras.layers.Dense(4)
    assert PrivateModel(keras.Model(x, shared(shared(x))), 1.0, 1.0, 8.0).per_row_gradients == "jacobian"
    assert PrivateModel(network(), 1.0, 1.0, 8.0).per_row_gradients == "layers"


@ROUTES
def test_weight_penalties_are_added_beside_the_clipped_sum(per_layer):
    x, y = rows()
    net = network()
    for layer in net.layers[1:]:
        layer.kernel.regularizer = keras.regularizers.L2(0.1)
    model = private(0.0, 1e-9, expected=32.0, per_layer=per_layer, net=net)  # the rows' part: nearly nothing
    gradients, _, _ = model.clipped_noised_gradients(x, y)
    for g, v in zip(gradients, net.trainable_variables):
        expected = 0.2 * np.asarray(v) if v.regularizer is not None else np.zeros(v.shape)  # d(0.1‖w‖²)/dw
        assert np.allclose(g, expected, atol=1e-6)


def exact_gaussian_epsilon(sigma: float, steps: int, delta: float) -> float:
    """Balle & Wang (2018): the Gaussian mechanism of sensitivity 1 and noise s is (ε, δ)-DP for
    δ = Φ(1/(2s) − εs) − e^ε Φ(−1/(2s) − εs); T compositions are one mechanism with s = σ/√T."""
    s = sigma / math.sqrt(steps)

    def gap(eps):
        return norm.cdf(1 / (2 * s) - eps * s) - math.exp(eps) * norm.cdf(-1 / (2 * s) - eps * s) - delta

    return brentq(gap, 1e-6, 500)


@pytest.mark.parametrize(("sigma", "steps"), [(1.0, 10), (2.0, 100), (4.0, 1000)])
def test_epsilon_is_recomputed_independently_without_subsampling(sigma, steps):
    exact = exact_gaussian_epsilon(sigma, steps, 1e-5)
    assert epsilon(sigma, 1.0, steps, 1e-5, "pld") == pytest.approx(exact, rel=0.02)
    assert exact <= epsilon(sigma, 1.0, steps, 1e-5, "rdp") <= 1.5 * exact  # RDP: an upper bound, looser


def test_a_target_epsilon_is_reached_and_the_plan_reproduces():
    plan = DPSGD(target_epsilon=2.0).plan(n_train=5000, batch_size=100, epochs=5)
    assert plan["delta"] == pytest.approx(1 / 50_000) and plan["steps"] == 250 and plan["sampling_rate"] == 0.02
    assert 1.9 <= plan["epsilon"] <= 2.0
    again = epsilon(plan["noise_multiplier"], plan["sampling_rate"], plan["steps"], plan["delta"], "pld")
    assert again == pytest.approx(plan["epsilon"], rel=1e-6)
    looser = DPSGD(target_epsilon=None, noise_multiplier=plan["noise_multiplier"] * 0.8).plan(5000, 100, 5)
    assert looser["epsilon"] > plan["epsilon"]  # less noise, more privacy spent
    with pytest.raises(ConfigError, match="not below 1/n"):
        DPSGD(delta=0.001).plan(n_train=5000, batch_size=100, epochs=5)


def test_poisson_batches_have_the_accounted_mean_and_variance():
    n, q = 1000, 0.05
    x = np.arange(n, dtype=np.float32)[:, None]
    sizes, seen = [], np.zeros(n)
    for bx, _ in poisson_batches(x, np.zeros(n, np.int32), q, seed=3).take(1500):
        sizes.append(len(bx))
        seen[np.asarray(bx[:, 0], int)] += 1
    sizes = np.asarray(sizes)
    assert sizes.mean() == pytest.approx(n * q, rel=0.03)
    assert sizes.var() == pytest.approx(n * q * (1 - q), rel=0.15)
    assert seen.min() > 40 and seen.max() < 120  # every row drawn about 75 times: independent, uniform
    first = [len(b) for b, _ in poisson_batches(x, np.zeros(n, np.int32), q, seed=3).take(5)]
    assert first == list(sizes[:5])  # seeded


def test_batch_normalization_is_refused():
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2)(keras.layers.BatchNormalization()(x)))
    with pytest.raises(ConfigError, match="batch_norm=group"):
        refuse_batch_norm(model)
    refuse_batch_norm(network())  # none: accepted


def test_the_command_line_refuses_batch_norm_before_reading_data(tmp_path):
    command = ["-m", "workflows", "train", "privacy=dp_sgd", f"hydra.run.dir={tmp_path / 'run'}"]
    result = run(["python", "-X", "importtime", *command], ROOT, check=False)
    lines = [line for line in error_lines(result.stderr) if not line.startswith("import time:")]
    assert result.returncode == 2 and len(lines) == 1 and "model.batch_norm=group" in lines[0], result.stderr[-1500:]
    assert "| tensorflow" not in result.stderr and not (tmp_path / "run").exists()


REPLICAS = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from plugins.privacy._private_model import PrivateModel

def step(strategy, sigma, penalty, x, y):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((64,))
        dense = keras.layers.Dense(64, kernel_regularizer=keras.regularizers.L2(penalty) if penalty else None)
        model = PrivateModel(keras.Model(inputs, dense(inputs)), 1.0, sigma, 8.0, seed=3)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss=loss)
    before = dense.kernel.numpy().copy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return (dense.kernel.numpy() - before).tolist(), before.tolist()

rng = np.random.default_rng(0)
zeros, data = np.zeros((8, 64), np.float32), rng.normal(size=(8, 64)).astype(np.float32)
labels = rng.integers(0, 64, 8)
out = {}
for name, strategy in (("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
                       ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
    out[name] = {"noise": step(strategy, 1.5, 0.0, zeros, labels)[0],  # zero inputs: the kernel's update is noise
                 "penalty": step(strategy, 0.0, 0.1, zeros, labels),
                 "signal": step(strategy, 0.0, 0.0, data, labels)[0]}
print(json.dumps(out))
"""


def test_two_replicas_take_the_one_device_step():
    result = run([sys.executable, "-c", REPLICAS], ROOT)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    one, two = out["one"], out["two"]
    noise = np.asarray(two["noise"]) * 8.0  # × n·q: the noise added to the clipped sum
    assert noise.std() == pytest.approx(1.5, rel=0.05)  # σ·C, not √2 or 2 times it
    change, before = (np.asarray(v) for v in two["penalty"])
    assert np.allclose(-change, 0.2 * before, atol=1e-6)  # d(0.1‖w‖²)/dw, counted once
    assert np.allclose(two["signal"], one["signal"], atol=1e-6) and np.abs(one["signal"]).max() > 1e-3


def test_several_machines_are_refused_before_any_data(monkeypatch):
    cluster = {"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    cfg = compose(["privacy=dp_sgd", "model=mlp", "trainer.strategy=multi_worker"])
    with pytest.raises(ConfigError, match="cannot train on several machines yet"):
        precheck(cfg)
    precheck(compose(["privacy=dp_sgd", "model=mlp", "trainer.strategy=mirrored"]))  # one machine: served
