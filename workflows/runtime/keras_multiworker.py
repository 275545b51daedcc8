"""Keras 3 `model.fit` under tf.distribute.MultiWorkerMirroredStrategy: the narrow fix it needs.

Keras issue 20585 (https://github.com/keras-team/keras/issues/20585):
multi-worker training is not supported upstream in Keras 3, and fit fails in
two places of keras/src/backend/tensorflow/trainer.py:

1. `TensorFlowTrainer._maybe_symbolic_build` averages the first data batch
   across workers with `strategy.reduce("MEAN", …)` only to learn its
   shapes: a collective on integer labels, outside any tf.function. The fix
   takes this worker's own first replica batch, which has the same shapes.
2. `reduce_per_replica` reduces the per-replica logs with
   `strategy.reduce("MEAN", v, axis=0)`, which fails on the scalar metrics.
   The fix reduces scalars with `axis=None` (the mean over replicas).

Nothing else changes, and only under MultiWorkerMirroredStrategy.
`install()` is idempotent; tests/workflows/runtime/test_distribute.py trains two
localhost workers, which fails without it.
"""

from __future__ import annotations

import tensorflow as tf
from keras.src import tree
from keras.src.backend.tensorflow import trainer as tf_trainer

_ORIGINAL_BUILD = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
_ORIGINAL_REDUCE = tf_trainer.reduce_per_replica


def _multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    strategy = self._distribute_strategy
    if strategy is None or not _multi_worker(strategy):
        return _ORIGINAL_BUILD(self, iterator=iterator, data_batch=data_batch)
    if iterator is not None:
        for _, _, it in iterator:
            batch = next(it)
            data_batch = tree.map_structure(
                lambda x: (
                    strategy.experimental_local_results(x)[0] if isinstance(x, tf.distribute.DistributedValues) else x
                ),
                batch,
            )
            break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def reduce_per_replica(values, strategy, reduction):
    if not _multi_worker(strategy) or reduction not in ("auto", "mean"):
        return _ORIGINAL_REDUCE(values, strategy, reduction)

    def _reduce(v):
        if not tf_trainer._is_per_replica_instance(v):
            return v
        rank = strategy.experimental_local_results(v)[0].shape.rank
        return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)

    return tree.map_structure(_reduce, values)


def install() -> None:
    """Puts the two overrides in place (the train/test functions look `reduce_per_replica` up at trace time)."""
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica


def installed() -> bool:
    return tf_trainer.reduce_per_replica is reduce_per_replica
