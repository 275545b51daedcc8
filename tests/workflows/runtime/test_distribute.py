"""Parallel training on TensorFlow's own runtime: mirrored replicas, two workers, precision, resume, determinism."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from plugins.registry import ConfigError
from tests.conftest import ROOT, last_json, run, subprocess_env
from workflows.config.cluster import read_tf_config
from workflows.config.command import resolve

TRAIN = [sys.executable, "-m", "workflows.train"]
SMALL = [
    "model=mlp",
    "model.units=[16]",
    "model.dropout=0.0",
    "augmentation=none",
    "trainer.verbose=2",
    "trainer.batch_size=64",
    "schedule=constant",
    "regularizer=none",
]

MIRRORED_VS_ONE_DEVICE = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
import keras
from workflows.config.command import compose, resolve
from workflows.stages.train import train

out = {}
for name, extra in (("one", ["trainer.strategy=one_device", "trainer.devices=[/cpu:0]"]),
                    ("mirrored", ["trainer.strategy=mirrored", "trainer.devices=[/cpu:0,/cpu:1]"])):
    e = resolve(compose(["model=mlp", "model.units=[16]", "model.dropout=0.0", "augmentation=none", "optimizer=sgd",
                         "optimizer.learning_rate=0.5", "schedule=constant", "regularizer=none", "trainer.epochs=1",
                         "trainer.batch_size=64", "trainer.shuffle=false", "trainer.verbose=0", "trainer.backup=false",
                         *extra]))
    s = e.load_data()
    card_dir = Path(sys.argv[1]) / name
    # one step of a 64-example batch
    train(e, (s.train[0][:64], s.train[1][:64]), s.val, s.spec, card_dir / "m", card_dir / "l")
    m = keras.models.load_model(card_dir / "m" / "model.keras")
    out[name] = {"weights": [w.tolist() for w in m.get_weights()],
                 "replicas": json.loads((card_dir / "m" / "model.json").read_text())["training"]["replicas"]}
print(json.dumps(out))
"""


def test_mirrored_on_two_logical_devices_equals_one_device(tmp_path):
    result = run([sys.executable, "-c", MIRRORED_VS_ONE_DEVICE, str(tmp_path)], ROOT)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["one"]["replicas"] == 1 and out["mirrored"]["replicas"] == 2
    one = [np.array(w) for w in out["one"]["weights"]]
    mirrored = [np.array(w) for w in out["mirrored"]["weights"]]
    for a, b in zip(one, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(np.abs(w).sum() > 0 for w in one)


def free_ports(n: int) -> list[int]:
    """Free ports below the kernel's ephemeral range, which bind(0) and outgoing connections draw from: between
    the check here and TensorFlow's own bind, nothing else on the machine is handed the same port."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    ports: list[int] = []
    for port in range(max(1024, low - 8000 + (os.getpid() % 4000)), low):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError("no free port below the ephemeral range")


def start_two_workers(tmp_path, epochs: int, stderr=subprocess.PIPE) -> list[subprocess.Popen]:
    """Two `python -m workflows.train` processes forming one multi-worker cluster on localhost."""
    workers = [f"localhost:{p}" for p in free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(
            subprocess.Popen(
                [
                    *TRAIN,
                    *SMALL,
                    f"trainer.epochs={epochs}",
                    "trainer.strategy=multi_worker",
                    "trainer.backup=false",
                    "trainer.worker_timeout=120",
                    f"hydra.run.dir={tmp_path / f'worker{index}'}",
                ],
                cwd=ROOT,
                env=subprocess_env(TF_CONFIG=tf_config),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        )
    return procs


@pytest.mark.slow
def test_two_localhost_workers_train_one_model(tmp_path):
    """Fails without workflows/runtime/keras_multiworker.py (Keras issue 20585)."""
    procs = start_two_workers(tmp_path, epochs=2)
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    chief, other = (last_json(out) for out, _ in outputs)
    assert chief["train"] == other["train"]  # the same model, trained together: identical reduced metrics
    assert "accuracy" in chief and "accuracy" not in other  # the chief evaluates
    assert (tmp_path / "worker0" / "models" / "model.keras").exists()
    assert not (tmp_path / "worker1" / "models").exists()  # only the chief writes
    card = json.loads((tmp_path / "worker0" / "models" / "model.json").read_text())
    assert card["training"]["replicas"] == 2  # one CPU replica on each of the two workers


@pytest.mark.slow
def test_a_peer_lost_during_training_is_a_one_line_error_and_nothing_is_saved(tmp_path):
    procs = start_two_workers(tmp_path, epochs=200, stderr=subprocess.STDOUT)
    seen, deadline = "", time.time() + 180
    while "Epoch 2/" not in seen and time.time() < deadline:
        seen += procs[1].stdout.readline()
    assert "Epoch 2/" in seen, seen[-2000:]
    os.killpg(procs[1].pid, signal.SIGKILL)
    procs[1].wait()
    out, _ = procs[0].communicate(timeout=240)
    assert procs[0].returncode == 2, out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith(("error:", "Traceback"))]
    assert lines and lines[0].startswith("error: a peer worker was lost during training"), out[-3000:]
    assert "Traceback" not in out
    assert not (tmp_path / "worker0" / "models").exists()


@pytest.mark.slow
def test_a_worker_whose_peers_never_come_up_gives_up(tmp_path):
    workers = [f"localhost:{p}" for p in free_ports(2)]
    tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": 0}})
    start = time.time()
    result = run(
        [
            *TRAIN,
            *SMALL,
            "trainer.epochs=1",
            "trainer.strategy=multi_worker",
            "trainer.worker_timeout=5",
            "trainer.backup=false",
            f"hydra.run.dir={tmp_path / 'w'}",
        ],
        ROOT,
        check=False,
        timeout=120,
        TF_CONFIG=tf_config,
    )
    assert result.returncode in (-9, 137)  # killed by its watchdog (SIGKILL)
    assert f"the other workers ({workers[1]}) did not all come up within trainer.worker_timeout=5 s" in result.stderr
    assert time.time() - start < 90


@pytest.mark.parametrize(
    ("tf_config", "expected"),
    [
        (None, "trainer.strategy=multi_worker needs the TF_CONFIG environment variable"),
        ("{not json", "TF_CONFIG is not valid JSON"),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
            "task index 3 is not one of the 1",
        ),
        ('{"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker", "index": 0}}', "'host:port'"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "task type 'ps' is unknown"),
    ],
)
def test_malformed_tf_config_is_a_one_line_error(compose, monkeypatch, tf_config, expected):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ConfigError) as err:
        resolve(compose(["trainer.strategy=multi_worker"]))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_tf_config_roles(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}),
    )
    assert not read_tf_config().is_chief  # with a chief, worker 0 is not it


def test_unknown_strategy_and_precision(compose):
    with pytest.raises(ConfigError, match="trainer.strategy='mirored' is unknown; did you mean 'mirrored'"):
        resolve(compose(["trainer.strategy=mirored"]))
    with pytest.raises(ConfigError, match="trainer.precision='mixed_float61' is unknown; did you mean 'mixed_float16'"):
        resolve(compose(["trainer.precision=mixed_float61"]))


def test_mixed_precision_scales_the_loss_and_keeps_outputs_float32(compose, tmp_path):
    from workflows.stages.train import train

    experiment = resolve(
        compose([*SMALL, "trainer.epochs=1", "trainer.precision=mixed_float16", "trainer.backup=false"])
    )
    splits = experiment.load_data()
    try:
        metrics = train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l")
        model = keras.models.load_model(tmp_path / "m" / "model.keras")
        hidden = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense) and layer.name != "head")
        assert hidden.compute_dtype == "float16"
        assert model.get_layer("head").compute_dtype == "float32"
        assert model.predict(np.zeros((1, 8, 8, 1)), verbose=0).dtype == np.float32
        assert np.isfinite(metrics["loss"])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_compile_options_reach_keras(compose, tmp_path):
    from workflows.stages.train import train

    experiment = resolve(
        compose(
            [
                *SMALL,
                "trainer.epochs=1",
                "trainer.jit_compile=true",
                "trainer.backup=false",
                "trainer.steps_per_execution=4",
            ]
        )
    )
    splits = experiment.load_data()
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.update(jit=self.model.jit_compile, spe=self.model.steps_per_execution)

    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l", callbacks=[Probe()])
    assert seen == {"jit": True, "spe": 4}


DETERMINISTIC = [*SMALL, "model.dropout=0.2", "trainer.epochs=6", "trainer.deterministic=true", "trainer.backup=true"]


def weights_of(run_dir):
    return keras.models.load_model(run_dir / "models" / "model.keras").get_weights()


@pytest.mark.slow
def test_killed_run_resumes_from_its_backup_and_ends_as_an_uninterrupted_one(tmp_path):
    backups = f"trainer.backup_root={tmp_path / 'backups'}"
    killed = subprocess.Popen(
        [*TRAIN, *DETERMINISTIC, backups, f"hydra.run.dir={tmp_path / 'a'}"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = ""
    deadline = time.time() + 120
    while "Epoch 4/6" not in seen and time.time() < deadline:
        seen += killed.stdout.readline()
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert "Epoch 4/6" in seen
    assert not (tmp_path / "a" / "models").exists()  # nothing half-written
    run([*TRAIN, *DETERMINISTIC, backups, f"hydra.run.dir={tmp_path / 'a'}"], ROOT)
    card = json.loads((tmp_path / "a" / "models" / "model.json").read_text())
    assert card["training"]["resumed_at_epoch"] >= 3 and card["training"]["epochs_run"] == 6
    assert not list((tmp_path / "backups").rglob("*.h5"))  # a finished run removes its backup
    run([*TRAIN, *DETERMINISTIC, backups, f"hydra.run.dir={tmp_path / 'b'}"], ROOT)  # uninterrupted
    assert json.loads((tmp_path / "b" / "models" / "model.json").read_text())["training"]["resumed_at_epoch"] == 0
    for resumed, straight in zip(weights_of(tmp_path / "a"), weights_of(tmp_path / "b")):
        np.testing.assert_array_equal(resumed, straight)
    for curve in ("train/loss.tsv", "eval/accuracy.tsv"):  # the resumed run's curves cover all 6 epochs
        resumed, straight = (
            (tmp_path / r / "dvclive" / "train" / "plots" / "metrics" / curve).read_text() for r in "ab"
        )
        assert len(resumed.splitlines()) == 1 + 6 and resumed == straight


def test_deterministic_runs_are_identical(compose, tmp_path):
    from workflows.stages.train import train

    experiment = resolve(compose([*DETERMINISTIC, "trainer.epochs=2", "trainer.backup=false"]))
    splits = experiment.load_data()
    first = train(experiment, splits.train, splits.val, splits.spec, tmp_path / "1" / "models", tmp_path / "1" / "l")
    second = train(experiment, splits.train, splits.val, splits.spec, tmp_path / "2" / "models", tmp_path / "2" / "l")
    assert first == second
    for a, b in zip(weights_of(tmp_path / "1"), weights_of(tmp_path / "2")):
        np.testing.assert_array_equal(a, b)
