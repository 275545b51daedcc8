"""DP-SGD's training step as a Keras model around the user's network, and its Poisson-sampled batches
(plugins/privacy/dp_sgd.py says what and why). Imported by the train stage when `privacy=dp_sgd`."""

from __future__ import annotations

import keras
import numpy as np

from plugins.loss.keras_losses import per_row
from plugins.privacy._per_layer import Recorder, layers_of

PASS_BYTES = 2**28  # per-row gradients of one pass, with room for pfor's intermediates (measured: ~8× the gradients)


def rows_for(network, largest: int = 512) -> int:
    """Rows per pass: all of a batch for a small network (pfor vectorises best over many rows), fewer for a large
    one, so that a pass's per-row gradients (rows × weights × 4 bytes, ~8× that in pfor's intermediates) stay
    within PASS_BYTES: a 600k-weight CNN takes 13 rows a pass, a 5k-weight MLP the whole batch."""
    weights = max(1, sum(int(np.prod(v.shape)) for v in network.trainable_variables))
    return max(1, min(largest, PASS_BYTES // (32 * weights)))


class PrivateModel(keras.Model):
    """Trains `network` with DP-SGD: each row's gradient clipped to `l2_norm_clip`, the sum noised once with
    N(0, (σ·C)²), divided by the expected batch size, plus the weight penalties' gradient (it reads no row), and
    applied by the compiled optimizer. Inference is the network's; the train stage saves the network alone.

    Each row's gradient norm and the clipped sum come from each layer's inputs and output gradients when every
    layer with weights is one `plugins/privacy/_per_layer.py` serves (Dense, EinsumDense, Conv, Embedding, Group and
    Layer normalization: `per_row_gradients == "layers"`, one forward and one backward pass); otherwise from every row's
    gradient (`tape.jacobian` with pfor, `per_row_gradients == "jacobian"`).

    Args:
        network: the model to train (no batch normalization).
        l2_norm_clip: C.
        noise_multiplier: σ.
        expected_batch: n·q, the mean of the Poisson-sampled batch sizes.
        seed: the noise's seed.
        rows_per_pass: the jacobian's rows whose per-row gradients are computed together (memory: rows × the
            weights' size); None: as many as fit in PASS_BYTES (`rows_for`).
        per_layer: whether to take the per-layer route when the network allows it (False: the jacobian, always).
    """

    def __init__(
        self,
        network,
        l2_norm_clip: float,
        noise_multiplier: float,
        expected_batch: float,
        seed=None,
        rows_per_pass: int | None = None,
        per_layer: bool = True,
    ):
        super().__init__(name=f"private_{network.name}")
        layers = layers_of(network) if per_layer else None
        self.recorder = None if layers is None else Recorder(network, layers)
        self.per_row_gradients = "jacobian" if layers is None else "layers"
        self.rows_per_pass = int(rows_per_pass or rows_for(network))
        self.network = network
        self.l2_norm_clip, self.noise_multiplier = float(l2_norm_clip), float(noise_multiplier)
        self.expected_batch = float(expected_batch)
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.built = network.built  # its weights are the network's, built already (backups need them)

    def call(self, x, training=False):
        return self.network(x, training=training)

    def _row_losses(self, y, y_pred, sample_weight):
        """Each row's loss, times its sample weight (class weights) when it has one: what each row's gradient is of."""
        losses = per_row(self.loss, y, y_pred)
        if sample_weight is None:
            return losses
        return losses * keras.ops.cast(keras.ops.reshape(sample_weight, [-1]), losses.dtype)

    def _clipped_sum(self, x, y, sample_weight):
        """The sum of one slice's clipped per-row gradients, its outputs and its rows' gradient norms."""
        import tensorflow as tf

        variables = self.network.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.network(x, training=True)
            losses = self._row_losses(y, y_pred, sample_weight)
        jacobians = tape.jacobian(losses, variables, experimental_use_pfor=True)
        flat = [tf.reshape(j, [tf.shape(j)[0], -1]) for j in jacobians]
        norms = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(f), axis=1) for f in flat]))
        factors = tf.minimum(1.0, self.l2_norm_clip / tf.maximum(norms, 1e-12))
        return [tf.tensordot(factors, j, axes=[[0], [0]]) for j in jacobians], y_pred, norms

    def clipped_noised_gradients(self, x, y, sample_weight=None):
        """The noised mean of the clipped per-row gradients, the outputs, and each row's gradient norm before
        clipping (for the tests). The batch's rows are taken `rows_per_pass` at a time (a `tf.while_loop`): the
        per-row gradients of a pass are held in memory together (rows × weights), not the whole batch's."""
        import tensorflow as tf

        variables = self.network.trainable_variables
        if self.recorder is not None:
            with tf.GradientTape() as tape:
                outputs = self.recorder.forward(x, tape)
                total = tf.reduce_sum(self._row_losses(y, outputs, sample_weight))
            sums, norms = self.recorder.clipped_sum(total, tape, self.l2_norm_clip)
            return self._noised(sums), outputs, norms
        n = tf.shape(x)[0]
        step = self.rows_per_pass

        def body(start, sums, outputs, norms):
            end = tf.minimum(start + step, n)
            weights = None if sample_weight is None else sample_weight[start:end]
            part, y_pred, part_norms = self._clipped_sum(x[start:end], y[start:end], weights)
            sums = [a + b for a, b in zip(sums, part)]
            return end, sums, outputs.write(start // step, y_pred), norms.write(start // step, part_norms)

        zeros = [tf.zeros_like(v) for v in variables]
        shape = tf.TensorShape([None, *self.network.output.shape[1:]])  # each pass's outputs: its rows
        outputs = tf.TensorArray(self.compute_dtype, 0, dynamic_size=True, infer_shape=False, element_shape=shape)
        norms = tf.TensorArray(tf.float32, 0, dynamic_size=True, infer_shape=False, element_shape=[None])
        _, sums, outputs, norms = tf.while_loop(
            lambda start, *_: start < n, body, (tf.constant(0), zeros, outputs, norms), parallel_iterations=1
        )
        return self._noised(sums), outputs.concat(), norms.concat()

    def _noised(self, sums):
        """(The clipped sum + N(0, (σ·C)²)) / (n·q), plus the gradient of the weight penalties: they read the
        weights alone, so they need no clipping or noise (as Opacus leaves weight decay to the optimizer)."""
        import tensorflow as tf

        variables = self.network.trainable_variables
        with tf.GradientTape() as tape:
            penalties = self.network._get_regularization_losses()  # the weights' own, not activity losses
            penalty = tf.add_n(penalties) if penalties else None
        penalized = tape.gradient(penalty, variables) if penalty is not None else [None] * len(variables)
        # Under a distribution strategy each replica holds a part of the batch, and the optimizer sums the replicas'
        # gradients: the clipped sums add up to the batch's; the noise is drawn on the first replica alone (the
        # replicas' draws are the same numbers: summed, they would double it), the penalty's gradient split.
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        first = 1.0 if context is None else tf.cast(tf.equal(context.replica_id_in_sync_group, 0), tf.float32)
        gradients = []
        for summed, v, extra in zip(sums, variables, penalized):
            noise = keras.random.normal(v.shape, stddev=self.noise_multiplier * self.l2_norm_clip, seed=self.noise_seed)
            gradient = (summed + noise * first) / self.expected_batch
            gradients.append(gradient if extra is None else gradient + extra / replicas)
        return gradients

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        gradients, y_pred, _ = self.clipped_noised_gradients(x, y, sample_weight)
        self.optimizer.apply(gradients, self.network.trainable_variables)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        self._loss_tracker.update_state(loss, sample_weight=keras.ops.shape(y_pred)[0])  # the logged loss
        return self.compute_metrics(x, y, y_pred, sample_weight)


def poisson_batches(x: np.ndarray, y: np.ndarray, q: float, seed: int, weights: np.ndarray | None = None):
    """An endless tf.data stream of Poisson-sampled batches: at each step every row joins with probability `q`,
    independently (batch sizes vary: mean n·q, variance n·q·(1 − q)); seeded, step by step.

    Args:
        x, y: the training rows (in memory).
        q: the sampling rate.
        seed: the draws' seed.
        weights: each row's sample weight (class weights), or None.
    """
    import tensorflow as tf

    n = len(x)
    xs, ys = tf.constant(x), tf.constant(y)
    ws = None if weights is None else tf.constant(weights, tf.float32)

    def draw(step):
        chosen = tf.reshape(
            tf.where(tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), step])) < q), [-1]
        )
        batch = (tf.gather(xs, chosen), tf.gather(ys, chosen))
        return batch if ws is None else (*batch, tf.gather(ws, chosen))

    return tf.data.Dataset.counter().map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def refuse_batch_norm(model) -> None:
    """A one-line error when the network has batch normalization (it mixes the rows of a batch)."""
    from plugins.registry import ConfigError

    found = [layer.name for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    if found:
        raise ConfigError(
            f"privacy=dp_sgd cannot train batch normalization ({found[0]}…): it mixes the rows of a batch, so one "
            "row's gradient is not its own; set model.batch_norm=group (group normalization) or false, or pick a "
            "model without it (model=mlp)"
        )
