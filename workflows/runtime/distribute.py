"""Where and how training runs: the distribution strategy, precision, threads, determinism.

`trainer.strategy`:
- `auto`: MirroredStrategy over every GPU when there is more than one, else the default (one device);
- `default`: TensorFlow's default strategy (one device, the first GPU if any);
- `one_device`: `trainer.devices[0]` (default "/gpu:0" if there is a GPU, else "/cpu:0");
- `mirrored`: MirroredStrategy over `trainer.devices` (default: every GPU, else the CPU);
- `multi_worker`: MultiWorkerMirroredStrategy, the cluster read from TF_CONFIG.

TensorFlow's own runtime does the work; nothing here is a home-made
all-reduce. The Keras 3 fix needed for `multi_worker` lives in
workflows/runtime/keras_multiworker.py.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from plugins.registry import ConfigError, first_line
from workflows.config.cluster import Cluster, check_early, read_tf_config

if TYPE_CHECKING:  # imported where used: checking a config does not start TensorFlow
    import tensorflow as tf

_EARLY_STRATEGY: tf.distribute.Strategy | None = None
_WATCHDOG: PeerWatchdog | None = None


def watchdog() -> PeerWatchdog | None:
    """The running PeerWatchdog of a multi-worker process (stopped after the first training batch)."""
    return _WATCHDOG


def early_setup(cfg) -> None:
    """What TensorFlow accepts only before its first operation: thread pools and a MultiWorkerMirroredStrategy.

    The command lines call this right after reading the config, before
    resolving it (which already builds TensorFlow objects).

    Args:
        cfg: the composed config (its `trainer` section is read as it is).
    """
    trainer = cfg.get("trainer") or {}
    check_early(trainer)  # on the values as given: nothing else has checked them yet
    import tensorflow as tf

    global _EARLY_STRATEGY
    try:
        if trainer.get("intra_op_threads"):
            tf.config.threading.set_intra_op_parallelism_threads(int(trainer.get("intra_op_threads")))
        if trainer.get("inter_op_threads"):
            tf.config.threading.set_inter_op_parallelism_threads(int(trainer.get("inter_op_threads")))
    except (RuntimeError, ValueError) as err:
        raise ConfigError(f"trainer.intra_op_threads/inter_op_threads: {first_line(err)}") from None
    if trainer.get("strategy") == "multi_worker" and _EARLY_STRATEGY is None:
        global _WATCHDOG
        from workflows.runtime import keras_multiworker

        cluster = read_tf_config()
        keras_multiworker.install()
        # Creating the strategy already waits for the other workers: watch from here to the first batch.
        _WATCHDOG = PeerWatchdog(float(trainer.get("worker_timeout", 600.0)), cluster).start()
        _EARLY_STRATEGY = tf.distribute.MultiWorkerMirroredStrategy()


def configure_runtime(trainer) -> None:
    """Seeds, determinism and precision: process-wide settings, made before a model is built.

    `trainer.deterministic` sets the seeds and TensorFlow's op determinism
    (`tf.config.experimental.enable_op_determinism`): two runs give the same
    weights, at some cost in speed (some kernels have slower deterministic
    versions; see the README).
    """
    import keras
    import tensorflow as tf

    if trainer.strategy != "multi_worker":  # (a multi-worker strategy may already hold Keras state: early_setup)
        # Keras names layers from process-wide counters: a model built after others in the same process (the
        # direct command line, a search's later trials) would save as `input_layer_2`, `dense_5`… Fresh counters
        # give the same model.keras, byte for byte, whichever way the run is made; and free the previous models.
        keras.backend.clear_session()
    keras.utils.set_random_seed(trainer.seed)
    # TensorFlow exports only enable_op_determinism; its framework config also has the inverse, needed
    # so that one process (a sweep, the tests) can run deterministic and ordinary trainings in turn.
    from tensorflow.python.framework import config as tf_framework_config

    if trainer.deterministic:
        tf.config.experimental.enable_op_determinism()
    elif tf_framework_config.is_op_determinism_enabled():
        tf_framework_config.disable_op_determinism()
    keras.mixed_precision.set_global_policy(trainer.precision)


def make_strategy(trainer) -> tf.distribute.Strategy:
    """The `trainer.strategy` as a tf.distribute.Strategy (see the module's doc)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = list(trainer.devices or [])
    if trainer.strategy == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if trainer.strategy == "default":
        return tf.distribute.get_strategy()
    if trainer.strategy == "one_device":
        return tf.distribute.OneDeviceStrategy(devices[0] if devices else ("/gpu:0" if gpus else "/cpu:0"))
    if trainer.strategy == "mirrored":
        try:
            return tf.distribute.MirroredStrategy(devices=devices or None)
        except (ValueError, RuntimeError) as err:
            raise ConfigError(f"trainer.devices={devices}: {first_line(err)}") from None
    if _EARLY_STRATEGY is None:
        raise ConfigError(
            "trainer.strategy=multi_worker: TensorFlow needs the strategy before its first operation; start training "
            "with `python -m workflows.train` (or call workflows.distribute.early_setup(cfg) first)"
        )
    return _EARLY_STRATEGY


def cluster_of(strategy: tf.distribute.Strategy) -> Cluster | None:
    """This worker's Cluster under MultiWorkerMirroredStrategy, else None."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return read_tf_config()
    return None


_WATCHDOG_CODE = """
import os, sys, time
parent, timeout, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if os.getppid() != parent:  # the worker is gone: nothing to watch
        sys.exit(0)
    time.sleep(0.2)
print(message, file=sys.stderr, flush=True)
os.kill(parent, 9)
"""


class PeerWatchdog:
    """Ends a worker whose peers never come up, with a clear error, instead of letting it hang.

    TensorFlow waits for the other workers inside C++ code that holds
    Python's interpreter lock, so no thread or signal handler of the
    worker's own can act: a small watchdog process prints the error and
    kills the worker (exit status 137) after `timeout` seconds, unless
    `done()` (called after the first training batch, when every worker has
    answered) stops it first.
    """

    def __init__(self, timeout: float, cluster: Cluster):
        others = [w for i, w in enumerate(cluster.workers) if i != cluster.rank]
        self._message = (
            f"error: the other workers ({', '.join(others)}) did not all come up within trainer.worker_timeout="
            f"{timeout:g} s; start every worker with its own TF_CONFIG task index, or raise the timeout"
        )
        self._timeout = timeout
        self._process = None

    def start(self) -> PeerWatchdog:
        import atexit
        import subprocess

        self._process = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG_CODE, str(os.getpid()), str(self._timeout), self._message]
        )
        atexit.register(self.done)
        return self

    def done(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
