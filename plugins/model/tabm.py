"""TabM: a table's network as an efficient ensemble of MLPs (Gorishniy et al. 2024, "TabM: Advancing Tabular Deep
Learning with Parameter-Efficient Ensembling"), in plain Keras layers and ops.

Why this one: on public tabular benchmarks (TabArena, the TabM and RealMLP papers' own) TabM and RealMLP are the
networks that rank above gradient boosting; TabM needs no tuning to get there and is short. Its recipe here:

- **Numbers as piecewise-linear encodings** (Gorishniy et al. 2022): each number column's value becomes its
  position inside the training rows' quantile bins (the table's encoding keeps them: `quantiles`), and a linear
  map per column turns that into an embedding. A skewed column is read by its ranks, a step by its bins.
- **k members** that share the MLP's weights and differ by a multiplicative adapter on their input (random signs
  at the start: TabM-mini) and by their own output head. Each member's loss is trained on its own (the training
  wrapper `MemberTraining`); the saved model averages the members' predictions (probabilities for classes).

Everything is built from Keras's own layers and ops, so the saved model loads in plain Keras.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from plugins.data.base import DataSpec
from plugins.data.table_kind import RIDGE_ALPHAS
from plugins.data.tabular import QUANTILE_BINS, column_width
from plugins.model.head import Head
from plugins.model.text import has_text, split_row, tfidf
from plugins.registry import ConfigError, register

MEMBERS = "members"  # the layer whose output is every member's prediction: (batch, k, outputs)
LINEAR = "linear"  # the linear skip's Dense layer (model.linear=true)
LINEAR_ROWS = 20_000  # model.linear_fit: the linear model is fitted on at most this many training rows
_WIDEST_LINEAR = 4096  # a wider skip reads a text column's vocabulary: no linear model is fitted to it
_FAR = 1.0e6  # the open side of the first and last bins (a standardized value never reaches it)


@register(
    "model",
    "tabm",
    context=("spec", "head"),
    kinds=("tabular",),
    values={"linear_fit": {"choices": ["none", "candidate"]}},
)
def tabm(
    spec: DataSpec,
    head: Head,
    k: int = 16,
    units: list[int] = (256, 256),
    embedding_dim: int = 16,
    bins: int = QUANTILE_BINS,
    dropout: float = 0.1,
    activation: str = "relu",
    text_units: int = 8,
    text_dropout: float = 0.5,
    linear: bool = True,
    linear_fit: str = "none",
) -> keras.Model:
    """TabM-mini with piecewise-linear number embeddings: an ensemble of `k` MLPs that share their weights.

    Args:
        spec: a table's spec (`spec.table`: its columns, their quantiles); a shipped array of numbers takes the
            standard normal's quantiles as its bins.
        head: the output head.
        k: ensemble members (1: a plain MLP on the embeddings).
        units: width of each shared hidden layer.
        embedding_dim: each number column's embedding width (0: numbers enter as they are).
        bins: at most this many quantile bins per number column (the encoding keeps QUANTILE_BINS).
        dropout: after each hidden layer.
        activation: the hidden layers' activation.
        text_units: a text column's TF-IDF vector (words and n-grams, computed in the model) is projected to this
            many numbers before it joins the row (the projection holds vocabulary × text_units weights).
        text_dropout: dropout on that projection (a vocabulary overfits a few thousand rows within epochs).
        linear: a linear model of the row added to every member's output (a skip connection: a table whose target
            is nearly linear in its columns — common, and where small tables leave a network short — is then
            learnt as that line plus what the members add).
        linear_fit: "candidate": after training, the linear model scikit-learn fits on the training rows as the
            skip reads them (ridge regression, or logistic regression with the training's class weights) is a
            candidate beside the trained network — the network becomes it (the skip set, the members' heads at
            zero) when its validation loss is lower; "none": no linear model is fitted.

    Returns:
        A functional keras.Model: encoded rows in, the members' mean prediction out (the layer `members` holds
        each member's, for training).

    Example:
        `kerasforge train data=csv data.path=penguins.csv data.target=species model=tabm model.k=32`
    """
    if len(spec.input_shape) != 1:
        raise ConfigError(
            f"model 'tabm' reads table rows, but the data's examples have shape {spec.input_shape}; use model=cnn "
            "for images, model=conv1d or model=lstm for series"
        )
    if k < 1 or bins < 1:
        raise ConfigError(f"model.k and model.bins must be at least 1 (got k={k}, bins={bins})")
    inputs = keras.Input(spec.input_shape)
    parts = _embedded(inputs, spec, embedding_dim, bins)
    plain = list(parts)  # what the linear skip reads: the row, and each text's whole TF-IDF vector
    if has_text(spec):  # each text column: its TF-IDF bag of words and n-grams, projected to `text_units`
        _, texts = split_row(inputs, spec)
        for tokens, c in texts:
            bag = tfidf(tokens, c)
            plain.append(bag)
            projected = keras.layers.Dense(text_units, activation=activation, name=f"{c['input']}.projected")(bag)
            parts.append(keras.layers.Dropout(text_dropout)(projected))  # 20,000 words overfit a few thousand rows
    if not parts:
        raise ConfigError("model 'tabm' found no column to read in this table")
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="row")(parts)
    width = int(x.shape[-1])
    # Each member's copy of the row, scaled by its own adapter (random ±1 at the start: the members differ).
    adapters = keras.layers.EinsumDense("nd,kd->nkd", (k, width), kernel_initializer="ones", name="adapters")
    x = adapters(x)
    for index, size in enumerate(units):  # shared by the members: Dense maps the last axis
        x = keras.layers.Dense(size, activation=activation, name=f"shared_{index}")(x)
        x = keras.layers.Dropout(dropout)(x)
    # Each member's own head. Its bias is a weight (starting at 0) on a constant 1 appended to the features: TFLite's
    # converter fails on this einsum's separate bias when a member has one output (a regression).
    x = keras.layers.Concatenate(name="with_one")([x, ops.ones_like(x[..., :1])])
    heads = keras.layers.EinsumDense(
        "nkd,kdo->nko",
        output_shape=(k, head.units),
        activation=None if linear else head.activation,
        name="head",
        dtype="float32",
    )
    members = heads(x)
    if linear:  # a linear model of the row beside the members, in each member's output (before its activation)
        linear_in = plain[0] if len(plain) == 1 else keras.layers.Concatenate(name="linear_input")(plain)
        straight = keras.layers.Dense(head.units, kernel_initializer="zeros", name=LINEAR, dtype="float32")(linear_in)
        members = keras.layers.Add(name="with_linear", dtype="float32")([members, ops.expand_dims(straight, 1)])
        members = keras.layers.Activation(head.activation, dtype="float32")(members)
    members = keras.layers.Identity(name=MEMBERS, dtype="float32")(members)
    model = keras.Model(inputs, ensemble_mean(members, head), name="tabm")
    model.linear_fit = linear_fit if linear else "none"  # read by the training (MemberTraining), not saved
    if linear:  # the skip's columns a linear model of the row reads: all but the numbers' learnt embeddings
        numbers = len(_number_positions(spec, bins)[0])
        embedded = range(numbers, numbers + numbers * embedding_dim if embedding_dim > 0 else numbers)
        model.linear_columns = [i for i in range(int(linear_in.shape[-1])) if i not in embedded]
    heads.kernel.assign(ops.concatenate([heads.kernel[:, :-1], ops.zeros_like(heads.kernel[:, -1:])], axis=1))
    if k > 1:  # the members start apart: each adapter random ±1 (drawn from Keras's seed: trainer.seed)
        signs = keras.random.uniform((k, width), seed=keras.random.SeedGenerator()) < 0.5
        adapters.kernel.assign(ops.where(signs, -1.0, 1.0))
    return model


def _number_positions(spec: DataSpec, bins: int) -> tuple[list[int], list[int], list[list[float]]]:
    """(the encoded row's number positions, its other positions, each number's bin edges)."""
    if not spec.table:  # a shipped array of standardized numbers: the standard normal's quantiles
        from statistics import NormalDist

        normal = [round(NormalDist().inv_cdf(q), 6) for q in np.linspace(0, 1, bins + 1)[1:-1]]
        return list(range(spec.input_shape[0])), [], [normal] * spec.input_shape[0]
    numbers, others, edges, at = [], [], [], 0
    for c in spec.table["columns"]:
        if c["type"] == "text":
            continue
        width = column_width(c)
        if c["type"] == "number":
            numbers.append(at)
            edges.append(_thinned(c.get("quantiles") or [0.0], bins))
            others.extend(range(at + 1, at + width))
        else:
            others.extend(range(at, at + width))
        at += width
    return numbers, others, edges


def _thinned(edges: list[float], bins: int) -> list[float]:
    """At most `bins` + 1 of a column's edges, evenly spaced among them."""
    if len(edges) <= bins + 1:
        return list(edges)
    return [edges[round(i)] for i in np.linspace(0, len(edges) - 1, bins + 1)]


def piecewise_linear(x, edges: list[list[float]]):
    """Each column's value as its position in each of its bins: 0 before the bin, 1 after it, linear inside; the
    first bin open to the left and the last to the right (so values beyond the training range still move).

    Args:
        x: (batch, F) standardized values.
        edges: per column, its sorted bin edges (at least one).

    Returns:
        (batch, F, T): T the most bins of any column; a column with fewer has zeros in the rest.
    """
    t = max(1, max(len(e) - 1 for e in edges))
    lower = np.full((len(edges), t), _FAR, "float32")
    width = np.ones((len(edges), t), "float32")
    low_clip, high_clip = np.zeros((len(edges), t), "float32"), np.zeros((len(edges), t), "float32")
    for f, e in enumerate(edges):
        if len(e) < 2:  # a constant column: one open bin around its value
            lower[f, 0], low_clip[f, 0], high_clip[f, 0] = e[0], -_FAR, _FAR
            continue
        n = len(e) - 1
        lower[f, :n] = e[:-1]
        width[f, :n] = np.maximum(np.diff(e), 1e-6)
        high_clip[f, :n] = 1.0
        low_clip[f, 0], high_clip[f, n - 1] = -_FAR, _FAR
        if n == 1:
            low_clip[f, 0], high_clip[f, 0] = -_FAR, _FAR
    z = ops.divide(ops.subtract(ops.expand_dims(x, -1), lower), width)
    return ops.minimum(ops.maximum(z, low_clip), high_clip)


def _embedded(inputs, spec: DataSpec, dim: int, bins: int) -> list:
    """The row's numbers embedded (piecewise-linear encoding, a linear map per column, ReLU) beside their
    standardized values, and its other encoded values (missing indicators, one-hot categories); text columns are
    left to the caller."""
    numbers, others, edges = _number_positions(spec, bins)
    parts = []
    if numbers:
        x = ops.take(inputs, numbers, axis=1)
        # The values themselves (a linear relation needs no bins), their tails softly clipped as RealMLP does:
        # x / √(1 + (x/3)²) keeps |x| < 3 nearly as is and bounds the rest, so that one far value (a mansion's lot
        # area, 20 standard deviations out) cannot dominate a row.
        parts.append(ops.divide(x, ops.sqrt(1.0 + ops.square(x / 3.0))))
        if dim > 0:
            embedded = keras.layers.EinsumDense(
                "nft,ftd->nfd",
                output_shape=(len(numbers), dim),
                bias_axes="fd",
                activation="relu",
                name="number_embeddings",
            )(piecewise_linear(x, edges))
            parts.append(keras.layers.Reshape((len(numbers) * dim,), name="numbers_embedded")(embedded))
    if others:
        parts.append(ops.take(inputs, others, axis=1))
    return parts


def ensemble_mean(members, head: Head):
    """The members' mean prediction, in the head's own form: the mean value (a regression) or probability, and for
    logits the logits of the mean probability (so that the loss and every reader of logits still apply).

    Args:
        members: (batch, k, outputs).
        head: the output head.
    """
    k = int(members.shape[1])
    if head.task == "regression" or head.activation != "linear":
        return ops.mean(members, axis=1)
    log_k = math.log(k)
    if head.units == 1:  # one sigmoid logit: log p̄ − log(1 − p̄)
        log_p = ops.logsumexp(ops.log_sigmoid(members), axis=1) - log_k
        log_q = ops.logsumexp(ops.log_sigmoid(-members), axis=1) - log_k
        return log_p - log_q
    return ops.logsumexp(ops.log_softmax(members, axis=-1), axis=1) - log_k


def has_members(network) -> bool:
    """Whether a network is an ensemble whose members are trained each on its own loss."""
    return any(layer.name == MEMBERS for layer in getattr(network, "layers", []))


class MemberTraining(keras.Model):
    """Trains an ensemble's members each on its own loss (TabM's rule: the mean of the members' losses, not the
    loss of their mean); metrics, validation and early stopping see the ensemble's mean prediction, as saved.
    The train stage saves `network` alone.

    Args:
        network: a model with a `members` layer (`tabm`).
        head: its output head.
    """

    def __init__(self, network, head: Head):
        super().__init__(name=f"members_of_{network.name}")
        self.network = network
        self.head = head
        self.members = keras.Model(network.inputs, network.get_layer(MEMBERS).output)
        self.built = network.built

    def call(self, x, training=False):
        return self.members(x, training=training)

    @property
    def linear_fit(self) -> str:
        """Whether the linear model fitted on the training rows is a candidate beside the trained network
        (`model.linear_fit`): none | candidate."""
        return getattr(self.network, "linear_fit", "none")

    def fit_linear_model(self, x: np.ndarray, y: np.ndarray, class_weights=None):
        """The linear model scikit-learn fits on these rows as the linear skip reads them, the numbers' learnt
        embeddings aside (their weights 0): a ridge regression (its penalty chosen by leave-one-out, as `RidgeCV`
        does) or a logistic regression (the classes weighed as the training weighs them), as the skip's weights.

        Args:
            x: encoded training rows (at most `LINEAR_ROWS` are read).
            y: their targets as the loss sees them (standardized values, or class ids).
            class_weights: one weight per class id (`trainer.class_weight`), or None.

        Returns:
            (its name — "ridge" or "logistic_regression" —, the skip's kernel, its bias), or None when there is none
            to fit: no linear skip, a skip reading a text column's vocabulary (its TF-IDF rows would not fit in
            memory as numbers), or a class missing from the rows.
        """
        if LINEAR not in {layer.name for layer in self.network.layers}:
            return None
        skip = self.network.get_layer(LINEAR)
        if int(skip.kernel.shape[0]) > _WIDEST_LINEAR:
            return None
        rows = keras.Model(self.network.inputs, skip.input).predict(x[:LINEAR_ROWS], batch_size=4096, verbose=0)
        # The row as a linear model reads it (values, missing indicators, one-hot categories, TF-IDF): the numbers'
        # learnt embeddings are the network's features, and keep no weight here.
        columns = getattr(self.network, "linear_columns", list(range(rows.shape[1])))
        rows, y = rows[:, columns], np.asarray(y[:LINEAR_ROWS])
        if self.head.task == "regression":
            from sklearn.linear_model import RidgeCV

            fitted = RidgeCV(alphas=RIDGE_ALPHAS).fit(rows, y.reshape(len(y), -1))
            name, kernel, bias = "ridge", fitted.coef_.reshape(-1, rows.shape[1]).T, fitted.intercept_.ravel()
        else:
            from sklearn.linear_model import LogisticRegression

            ids = y.astype(int).ravel()
            if len(np.unique(ids)) != max(2, self.head.units):  # a class absent: its logit would have no weights
                return None
            weights = None if class_weights is None else np.asarray(class_weights, np.float64)[ids]
            fitted = LogisticRegression(max_iter=1000).fit(rows, ids, sample_weight=weights)
            name, kernel, bias = "logistic_regression", fitted.coef_.T, fitted.intercept_
            if self.head.units == 2:  # one logit, shared as ±½ by the two classes' softmax
                kernel, bias = np.concatenate([-kernel, kernel], axis=1) / 2, np.array([-bias[0], bias[0]]) / 2
        full = np.zeros((int(skip.kernel.shape[0]), kernel.shape[1]))
        full[columns] = kernel
        return name, full, bias

    def become_linear(self, kernel: np.ndarray, bias: np.ndarray) -> None:
        """The network as that linear model: the skip's weights set, the members' heads at zero (they add
        nothing)."""
        skip = self.network.get_layer(LINEAR)
        skip.kernel.assign(np.asarray(kernel, "float32"))
        skip.bias.assign(np.asarray(bias, "float32"))
        heads = self.network.get_layer("head")
        heads.kernel.assign(ops.zeros_like(heads.kernel))

    def validation_loss(self, batches) -> float:
        """The saved network's loss (the members' mean prediction, as saved) over validation batches, each row
        weighed as the batches weigh it."""
        total, rows = 0.0, 0
        for x, y, *weights in batches:
            predicted = self.network(x, training=False)
            n = int(ops.shape(x)[0])
            total += float(self.loss(y, predicted, sample_weight=weights[0] if weights else None)) * n
            rows += n
        return total / max(rows, 1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        k = int(y_pred.shape[1])
        flat = ops.reshape(y_pred, (-1, y_pred.shape[-1]))  # row-major: each row's k members together
        y = ops.repeat(y, k, axis=0)
        if sample_weight is not None:
            sample_weight = ops.repeat(sample_weight, k, axis=0)
        return super().compute_loss(x=x, y=y, y_pred=flat, sample_weight=sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, ensemble_mean(y_pred, self.head), sample_weight)
