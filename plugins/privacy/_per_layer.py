"""Each row's gradient norm from each layer's inputs and output gradients, with one forward and one backward pass.

DP-SGD needs every row's gradient norm, then the sum of the rows' clipped gradients. `tape.jacobian` computes every
row's gradient of every weight (a vectorised backward pass per row: 10–33× a plain step here). For the layers whose
weight gradient is a product of what flows in and what flows back — Dense, EinsumDense, Conv1D/2D, Embedding, Group
and Layer normalization — it is cheaper to record, in one forward pass, each layer's input `a` and to take, in one
backward pass, the gradient `g` of the summed loss with respect to the layer's pre-activation output (a zero "probe"
added there). Each row's weight gradient is then a product of its own `a` and `g` (rows do not mix without batch
norm):

- EinsumDense: each row's kernel gradient, one einsum with the batch kept (small kernels: TabM's);
- Dense on a row vector: ‖a gᵀ‖² = ‖a‖²·‖g‖², never materialised ("ghost" norm, Goodfellow 2015); on a sequence,
  the row's gradient aᵀg (features × units) or, when the sequence is shorter, the ghost norm Σ (aaᵀ ⊙ ggᵀ)
  (Li et al., 2022);
- Conv: the row's gradient from its image patches (im2col) and g, rows taken a bounded number at a time;
- Embedding: Σₜₛ [idₜ = idₛ] gₜ·gₛ;
- normalization: the scale's gradient Σ x̂ ⊙ g and the shift's Σ g, per channel.

The clipped sum reuses the same `a` and `g` with each row's factor min(1, C/‖∇ᵢ‖) ("book-keeping", Bu et al.,
2023): no second backward pass. A network with another layer that owns weights (LSTM, attention, a custom layer)
is served by the jacobian (`PrivateModel` chooses).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import keras
import tensorflow as tf
from keras import ops

PATCH_BYTES = 2**27  # a Conv's image patches computed together (rows × positions × kernel size × 4 bytes)


def _supported(layer) -> bool:
    """Whether `layer`'s per-row gradients are computed here: the plain forms of the layers above."""
    if getattr(layer, "quantization_mode", None) or getattr(layer, "lora_enabled", False):
        return False
    kind = type(layer)
    if kind is keras.layers.Dense:
        return True
    if kind in (keras.layers.Conv1D, keras.layers.Conv2D):
        return layer.data_format == "channels_last" and layer.groups == 1
    if kind is keras.layers.Embedding:
        return True
    if kind is keras.layers.EinsumDense:
        return _einsum_parts(layer) is not None
    if kind in (keras.layers.GroupNormalization, keras.layers.LayerNormalization):
        axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
        return axes == [-1] and not getattr(layer, "rms_scaling", False)  # the channels last, Keras's default
    return False


def layers_of(network: keras.Model) -> list | None:
    """The layers whose weights DP-SGD trains, when every trainable weight belongs to one this module serves, each
    called once per forward pass; None otherwise (the jacobian serves that network)."""
    owners = []
    for layer in network._flatten_layers(include_self=True, recursive=True):
        own = [v for v in layer._trainable_variables if v.trainable] if layer.trainable else []
        if not own:
            continue
        if not _supported(layer) or len(getattr(layer, "_inbound_nodes", [])) > 1:  # unserved, or shared
            return None
        owners.append(layer)
    served = {id(v) for layer in owners for v in layer.trainable_variables}
    if {id(v) for v in network.trainable_variables} != served:
        return None
    return owners


class Recorder:
    """Runs `network` once with each served layer's input and pre-activation output recorded (a zero probe added
    to the latter, watched by `tape`), then turns the probes' gradients into per-row norms and clipped sums.

    Args:
        network: the model being trained.
        layers: `layers_of(network)`.
    """

    def __init__(self, network: keras.Model, layers: list):
        self.network, self.layers = network, layers
        self.records: dict[int, tuple] = {}

    @contextlib.contextmanager
    def _recording(self, tape: tf.GradientTape):
        def wrap(layer):
            forward = _FORWARD[type(layer)]

            def call(inputs, *args, **kwargs):
                if id(layer) in self.records:
                    raise RuntimeError(f"{layer.name} ran twice in one pass: its rows' gradients would be sums")
                a, z, finish, extra = forward(layer, inputs)
                probe = tf.zeros_like(z)
                tape.watch(probe)
                self.records[id(layer)] = (layer, a, probe, extra)
                return finish(z + probe)

            return call

        for layer in self.layers:  # the instance's `call`, which Layer.__call__ looks up, for this pass only
            object.__setattr__(layer, "call", wrap(layer))
        try:
            yield
        finally:
            for layer in self.layers:
                object.__delattr__(layer, "call")

    def forward(self, x, tape: tf.GradientTape):
        """The network's training-mode outputs for `x`, recording; call inside `tape`."""
        self.records = {}
        with self._recording(tape):
            return self.network(x, training=True)

    def clipped_sum(self, total, tape: tf.GradientTape, l2_norm_clip: float):
        """The sum of the rows' clipped gradients (one per trainable variable, the network's order) and each row's
        gradient norm before clipping.

        Args:
            total: the sum of the rows' (weighted) losses, computed inside `tape` from `forward`'s outputs.
            tape: the tape that watched the forward pass.
            l2_norm_clip: C.
        """
        records = [self.records[id(layer)] for layer in self.layers]
        probes = tape.gradient(total, [probe for _, _, probe, _ in records])
        parts = [
            _GRADIENTS[type(layer)](layer, a, tf.cast(g, tf.float32), extra)
            for (layer, a, _, extra), g in zip(records, probes)
        ]
        norms = tf.sqrt(tf.add_n([squared for squared, _ in parts]))
        factors = tf.minimum(1.0, l2_norm_clip / tf.maximum(norms, 1e-12))
        sums = {}
        for (layer, *_), (_, clipped) in zip(records, parts):
            for variable, gradient in zip(_variables(layer), clipped(factors)):
                sums[id(variable)] = tf.reshape(gradient, variable.shape)
        return [sums[id(v)] for v in self.network.trainable_variables], norms


def _variables(layer) -> list:
    """The layer's weights in the order its `_GRADIENTS` entry returns their gradients."""
    if isinstance(layer, (keras.layers.GroupNormalization, keras.layers.LayerNormalization)):
        return [
            v for v in (layer.gamma if layer.scale else None, layer.beta if layer.center else None) if v is not None
        ]
    if isinstance(layer, keras.layers.Embedding):
        return [layer.embeddings]
    return [v for v in (layer.kernel, layer.bias) if v is not None]


def _einsum_parts(layer) -> tuple[str, str, str] | None:
    """An EinsumDense's (input, kernel, output) specs when each row's kernel gradient is one einsum: no ellipsis, the
    batch the first axis of the input and of the output and not an axis of the kernel."""
    inputs, _, output = layer.equation.partition("->")
    source, _, kernel = inputs.partition(",")
    if "." in layer.equation or not source or source[0] != output[:1] or source[0] in kernel:
        return None
    return source, kernel, output


# -- forward: (layer, inputs) -> (recorded input, pre-activation output, the rest of the call, extra) -----------------


def _dense_forward(layer, inputs):
    z = ops.matmul(inputs, layer.kernel)
    if layer.bias is not None:
        z = ops.add(z, layer.bias)
    return inputs, z, layer.activation or (lambda t: t), None


def _einsum_forward(layer, inputs):
    z = ops.einsum(layer.equation, inputs, layer.kernel)
    if layer.bias is not None:
        z = ops.add(z, layer.bias)
    return inputs, z, layer.activation or (lambda t: t), None


def _conv_forward(layer, inputs):
    if layer.padding == "causal":  # as Keras's Conv1D: left-padded, then valid (the patches see the padded input)
        inputs = ops.pad(inputs, layer._compute_causal_padding())
        z = ops.conv(inputs, layer.kernel, list(layer.strides), "valid", layer.data_format, layer.dilation_rate)
    else:
        z = layer.convolution_op(inputs, layer.kernel)
    if layer.use_bias:
        z = ops.add(z, ops.reshape(layer.bias, (1,) * (layer.rank + 1) + (layer.filters,)))
    return inputs, z, layer.activation or (lambda t: t), None


def _embedding_forward(layer, inputs):
    ids = ops.cast(inputs, "int32")
    z = ops.take(layer.embeddings, ids, axis=0)
    return ids, z, lambda t: ops.cast(t, layer.compute_dtype), None


def _normalized(layer, inputs):
    """x̂: the layer's normalization without its scale and shift (Keras's own arithmetic)."""
    if isinstance(layer, keras.layers.LayerNormalization):
        return ops.layer_normalization(ops.cast(inputs, "float32"), None, None, -1, layer.epsilon)
    grouped = ops.cast(layer._reshape_into_groups(inputs), "float32")  # (..., groups, channels per group)
    axes = [i for i in range(1, len(grouped.shape)) if i != len(grouped.shape) - 2]
    mean, variance = ops.moments(grouped, axes=axes, keepdims=True)
    return ops.reshape((grouped - mean) * ops.rsqrt(variance + layer.epsilon), ops.shape(inputs))


def _norm_forward(layer, inputs):
    xhat = _normalized(layer, inputs)
    z = xhat
    if layer.scale:
        z = z * ops.cast(layer.gamma, z.dtype)
    if layer.center:
        z = z + ops.cast(layer.beta, z.dtype)
    return None, z, lambda t: ops.cast(t, layer.compute_dtype), xhat


_FORWARD: dict[type, Callable] = {
    keras.layers.Dense: _dense_forward,
    keras.layers.EinsumDense: _einsum_forward,
    keras.layers.Conv1D: _conv_forward,
    keras.layers.Conv2D: _conv_forward,
    keras.layers.Embedding: _embedding_forward,
    keras.layers.GroupNormalization: _norm_forward,
    keras.layers.LayerNormalization: _norm_forward,
}


# -- gradients: (layer, a, g, extra) -> (each row's squared norm, factors -> the clipped sums) ------------------------


def _rows(t, width):
    """(rows, positions, width): a sequence's or an image's positions in one axis."""
    return tf.reshape(t, [tf.shape(t)[0], -1, width])


def _bias(g3, squared, sums):
    """Adds a bias (a shift) to a layer's parts: its row gradient is g summed over positions."""
    row = tf.reduce_sum(g3, axis=1)
    return squared + tf.reduce_sum(tf.square(row), axis=1), lambda factors: [
        *sums(factors),
        tf.tensordot(factors, row, 1),
    ]


def _dense_gradients(layer, a, g, _):
    a = tf.cast(a, tf.float32)
    units, features = g.shape[-1], a.shape[-1]
    if len(a.shape) == 2:  # a row vector: ‖a gᵀ‖ = ‖a‖·‖g‖
        squared = tf.reduce_sum(tf.square(a), 1) * tf.reduce_sum(tf.square(g), 1)

        def sums(factors):
            return [tf.matmul(a, g * factors[:, None], transpose_a=True)]

        g3 = g[:, None, :]
    else:
        a3, g3 = _rows(a, features), _rows(g, units)
        positions = a.shape[1:-1].num_elements() if a.shape[1:-1].is_fully_defined() else None
        if positions is not None and positions * positions < features * units:  # the ghost norm is smaller
            squared = tf.reduce_sum(tf.matmul(a3, a3, transpose_b=True) * tf.matmul(g3, g3, transpose_b=True), [1, 2])
        else:
            squared = tf.reduce_sum(tf.square(tf.einsum("bti,bto->bio", a3, g3)), [1, 2])

        def sums(factors):
            return [tf.einsum("bti,bto->io", a3, g3 * factors[:, None, None])]

    return _bias(g3, squared, sums) if layer.bias is not None else (squared, sums)


def _einsum_gradients(layer, a, g, _):
    """Each row's kernel gradient, materialised: the kernel's gradient einsum with the batch kept (TabM's adapters,
    heads and number embeddings are a few thousand weights); the bias's, g summed over the axes it is broadcast on."""
    source, kernel, output = _einsum_parts(layer)
    batch = source[0]
    per_row = tf.einsum(f"{source},{output}->{batch}{kernel}", tf.cast(a, tf.float32), g)
    squared = tf.reduce_sum(tf.square(tf.reshape(per_row, [tf.shape(per_row)[0], -1])), 1)
    parts = [per_row]
    if layer.bias is not None:  # its axes: the output's from the first bias axis on, 1 where not a bias axis
        first = min(output.index(c) for c in layer.bias_axes)
        rows = tf.reduce_sum(g, axis=list(range(1, first))) if first > 1 else g
        kept = [i + 1 for i, c in enumerate(output[first:]) if c not in layer.bias_axes]
        rows = tf.reduce_sum(rows, axis=kept, keepdims=True) if kept else rows
        squared += tf.reduce_sum(tf.square(tf.reshape(rows, [tf.shape(rows)[0], -1])), 1)
        parts.append(rows)
    return squared, lambda factors: [tf.tensordot(factors, rows, 1) for rows in parts]


def _patches(layer, a):
    """Each output position's input patch, (rows, positions, kernel size), in the kernel's (…, in, out) order."""
    images = a if layer.rank == 2 else a[:, None]  # a sequence is an image one row high
    size = (1, *layer.kernel_size) if layer.rank == 1 else layer.kernel_size
    strides = (1, *layer.strides) if layer.rank == 1 else layer.strides
    rates = (1, *layer.dilation_rate) if layer.rank == 1 else layer.dilation_rate
    padding = "VALID" if layer.padding == "causal" else layer.padding.upper()  # causal: `a` is padded already
    patches = tf.image.extract_patches(images, [1, *size, 1], [1, *strides, 1], [1, *rates, 1], padding)
    return _rows(patches, patches.shape[-1])


def _conv_gradients(layer, a, g, _):
    a = tf.cast(a, tf.float32)
    g3 = _rows(g, layer.filters)
    size = int(tf.TensorShape(layer.kernel.shape[:-1]).num_elements())
    positions = g.shape[1:-1].num_elements() if g.shape[1:-1].is_fully_defined() else 4096
    step = max(1, PATCH_BYTES // (4 * positions * (size + layer.filters)))
    n = tf.shape(a)[0]

    def body(start, out):  # a pass of `step` rows: their patches, then each row's kernel gradient
        end = tf.minimum(start + step, n)
        per_row = tf.einsum("btk,bto->bko", _patches(layer, a[start:end]), g3[start:end])
        return end, out.write(start // step, per_row)

    out = tf.TensorArray(tf.float32, 0, dynamic_size=True, infer_shape=False, element_shape=[None, size, layer.filters])
    _, out = tf.while_loop(lambda start, _: start < n, body, (tf.constant(0), out), parallel_iterations=1)
    per_row = out.concat()
    squared = tf.reduce_sum(tf.square(per_row), [1, 2])

    def sums(factors):
        return [tf.tensordot(factors, per_row, 1)]

    return _bias(g3, squared, sums) if layer.use_bias else (squared, sums)


def _embedding_gradients(layer, ids, g, _):
    width = g.shape[-1]
    ids2, g3 = tf.reshape(ids, [tf.shape(ids)[0], -1]), _rows(g, width)
    same = tf.cast(tf.equal(ids2[:, :, None], ids2[:, None, :]), tf.float32)  # a token's rows add up
    squared = tf.reduce_sum(same * tf.matmul(g3, g3, transpose_b=True), [1, 2])

    def sums(factors):
        weighted = tf.reshape(g3 * factors[:, None, None], [-1, width])
        return [tf.math.unsorted_segment_sum(weighted, tf.reshape(ids2, [-1]), layer.input_dim)]

    return squared, sums


def _norm_gradients(layer, _, g, xhat):
    channels = g.shape[-1]
    g3 = _rows(g, channels)
    squared, parts = tf.zeros_like(g3[:, 0, 0]), []
    if layer.scale:
        scale_rows = tf.reduce_sum(_rows(xhat, channels) * g3, axis=1)
        squared += tf.reduce_sum(tf.square(scale_rows), 1)
        parts.append(scale_rows)
    if layer.center:
        shift_rows = tf.reduce_sum(g3, axis=1)
        squared += tf.reduce_sum(tf.square(shift_rows), 1)
        parts.append(shift_rows)
    return squared, lambda factors: [tf.tensordot(factors, rows, 1) for rows in parts]


_GRADIENTS: dict[type, Callable] = {
    keras.layers.Dense: _dense_gradients,
    keras.layers.EinsumDense: _einsum_gradients,
    keras.layers.Conv1D: _conv_gradients,
    keras.layers.Conv2D: _conv_gradients,
    keras.layers.Embedding: _embedding_gradients,
    keras.layers.GroupNormalization: _norm_gradients,
    keras.layers.LayerNormalization: _norm_gradients,
}
