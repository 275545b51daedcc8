"""Stage 3, train: the augmented training set and the validation split → the model, its card and its curves.

As a DVC stage, `kerasforge stage train --params params.yaml` reads the augmented training set and the
validation split, trains, and writes models/model.keras, models/model.json and the DVCLive curves in
dvclive/train/, all atomically. The direct command line (`kerasforge train [overrides…]`) runs it inside the
whole pipeline (workflows/runners/train_command.py).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.data.base import to_numpy
from plugins.data.kinds import kind_of
from plugins.registry import ConfigError
from workflows.config.compose import to_yaml
from workflows.config.experiment import Experiment
from workflows.io.atomic import atomic_dir, atomic_path, remove_stale, write_json
from workflows.io.card import WITHOUT_PRIVACY, model_digest
from workflows.io.datastore import load_spec, load_split
from workflows.io.layout import REPO, Layout

if TYPE_CHECKING:  # TensorFlow is imported where it is used: `python -m workflows.train` refuses bad input first
    import keras
    import tensorflow as tf

    from plugins.data.base import DataSpec, Split
    from plugins.model.head import Head


def batches(
    ds: Split,
    head: Head,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    augmenter=None,
    shuffle_buffer: int = 10_000,
    mixers=(),
    class_weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batches (x, y) with the labels in the form the loss takes; shuffled, and augmented online, for training.

    The shuffle buffer holds at most `shuffle_buffer` examples (the whole set when it is smaller), so memory
    stays bounded however large the data set on disk. With `class_weights` (one per class id), batches are
    (x, y, sample_weight): each example's loss is weighted by its class's weight.
    """
    import tensorflow as tf

    from plugins.data.base import as_dataset

    ds = as_dataset(ds)
    if shuffle:
        size = int(ds.cardinality())
        ds = ds.shuffle(
            min(size, shuffle_buffer) if size > 0 else shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    ds = ds.batch(batch_size)
    if augmenter is not None:  # one warp per batch, in tf.data's threads, overlapping the training step
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    if class_weights is not None:
        table = tf.constant(class_weights, tf.float32)
        ds = ds.map(
            lambda x, y: (x, head.encode(y), tf.gather(table, tf.cast(y, tf.int32))),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return ds.prefetch(tf.data.AUTOTUNE)
    ds = ds.map(lambda x, y: (x, head.encode(y)), num_parallel_calls=tf.data.AUTOTUNE)
    for mixer in mixers:  # mixup, cutmix: on one-hot labels
        ds = ds.map(lambda x, y, m=mixer: _mix(m, x, y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _mix(mixer, x, y):
    out = mixer({"images": x, "labels": y}, training=True)
    return out["images"], out["labels"]


def class_weights(setting: Any, spec: DataSpec, labels: np.ndarray | None) -> np.ndarray | None:
    """`trainer.class_weight` as one weight per class id.

    Args:
        setting: null, "balanced" (n / (classes × count of the class) on the training set, as scikit-learn's
            `compute_class_weight`), "auto" (balanced when the target is imbalanced — the verdict's headline is
            then balanced accuracy, plugins/data/verdict.py — else none; none for a regression), or a mapping
            from class name to weight (classes not named weigh 1).
        spec: the data's spec (classes and their names).
        labels: the training set's class ids ("balanced" counts them).

    Returns:
        The weights, or None for no weighting.

    Raises:
        ConfigError: weights for a regression task, or a class name the data does not have.
    """
    if setting == "auto":
        from plugins.data.verdict import headline

        imbalanced = (
            spec.task == "classification" and headline(spec.task, labels, spec.num_classes) == "balanced_accuracy"
        )
        setting = "balanced" if imbalanced else None
    if setting is None:
        return None
    if spec.task != "classification":
        raise ConfigError("trainer.class_weight weights classes, but the data is a regression task; set it to null")
    names = spec.class_names or [str(i) for i in range(spec.num_classes)]
    if setting == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(labels)
        weights = np.ones(spec.num_classes)
        weights[present] = compute_class_weight("balanced", classes=present, y=np.asarray(labels))
        return weights
    from plugins.registry import did_you_mean

    weights = np.ones(spec.num_classes)
    for name, value in dict(setting).items():
        if str(name) not in names:
            raise ConfigError(
                f"trainer.class_weight.{name}: the data has no class '{name}'; {did_you_mean(str(name), names)}"
            )
        weights[names.index(str(name))] = float(value)
    present = np.unique(labels) if labels is not None else np.arange(spec.num_classes)
    if not (weights[present.astype(int)] > 0).any():
        raise ConfigError(
            "trainer.class_weight gives every class of the training set a weight of 0: no example "
            "counts, and the model would learn nothing; give at least one class a weight > 0"
        )
    return weights


def model_card(model: keras.Model, head: Head, spec: DataSpec) -> dict[str, Any]:
    """What evaluation and people need to know about a saved model."""
    import tensorflow as tf

    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return {
        "params": int(model.count_params()),
        "trainable_params": int(sum(int(tf.size(w)) for w in model.trainable_weights)),
        "head": head.to_dict(),
        "spec": json.loads(json.dumps(spec.__dict__)),
        "summary": "\n".join(lines),
    }


def train(
    experiment: Experiment,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    spec: DataSpec,
    model_dir: Path = REPO.models,
    logs_dir: Path = REPO.train_logs,
    callbacks: list[keras.callbacks.Callback] = (),
    train_labels: np.ndarray | None = None,
) -> dict[str, float]:
    """Builds, compiles and fits the configured model; saves it atomically.

    The model, its card and the DVCLive logs replace the previous ones only
    once training has finished: an interrupted run leaves them as they were.

    Args:
        experiment: the resolved config.
        train_ds: training examples, unbatched (x, y).
        val_ds: validation examples, unbatched (x, y).
        spec: the data's spec.
        model_dir: where model.keras and model.json go.
        logs_dir: where DVCLive writes the training curves.
        callbacks: more Keras callbacks.
        train_labels: the training set's labels, when at hand (`trainer.class_weight=balanced` counts them;
            otherwise they are read from `train_ds`).

    Returns:
        The last epoch's metrics (`loss`, `accuracy`, `val_loss`, `val_accuracy`…).

    Example:
    >>> experiment = resolve(compose(["trainer.epochs=1"]))
    >>> splits = experiment.load_data()
    >>> train(experiment, splits.train, splits.val, splits.spec, tmp / "models", tmp / "logs")
    """
    from plugins.data.base import as_dataset

    train_ds, val_ds = as_dataset(train_ds), as_dataset(val_ds)
    trainer = experiment.trainer
    if trainer.class_weight in ("balanced", "auto") and train_labels is None:
        train_labels = np.concatenate([y.numpy() for _, y in train_ds.batch(4096)])
    weights = class_weights(trainer.class_weight, spec, train_labels)
    run = _Training.start(experiment, spec, int(train_ds.cardinality()))
    run.build()
    resumed, earlier_logs = run.backups(model_dir)
    train_batches, val_batches = run.inputs(train_ds, val_ds, weights, resumed)
    baseline_dir = Path(model_dir) / WITHOUT_PRIVACY
    model_dir, logs_dir, scratch = _output_dirs(run.cluster, model_dir, logs_dir)
    with atomic_dir(logs_dir) as tmp_logs:
        live = _live(tmp_logs, earlier_logs, resumed)
        history, epochs_fitted = run.fit(train_batches, val_batches, live, resumed, tmp_logs, list(callbacks))
        last = {key: float(values[-1]) for key, values in history.history.items()}
        used = run.recalibrate(train_ds, val_batches, last)
        run.choose_linear(train_ds, val_batches, weights, last)
        saved, card = run.finish()
        card["training"] = {
            **run.plan,
            "epochs_run": (resumed + epochs_fitted) * run.plan["epochs_per_log_step"],
            "resumed_at_epoch": resumed,
            "phases": [list(p) for p in run.phases],
            "strategy": type(run.strategy).__name__,
            "replicas": run.strategy.num_replicas_in_sync,
            "batch_norm_recalibrated_on_batches": used,
            "linear_fit": run.linear,
        }
        save_model(saved, card, model_dir)
    if run.privacy is not None and run.privacy.baseline:
        _train_without_privacy(experiment, train_ds, val_ds, spec, model_dir, baseline_dir, train_labels)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    return last


def _train_without_privacy(experiment, train_ds, val_ds, spec, model_dir: Path, baseline_dir: Path, labels) -> None:
    """Trains a private run's baseline into `baseline_dir`, its card naming the private model it belongs to
    (`baseline_of`: that file's SHA-256), so that the evaluation never pairs a model with another run's baseline (an
    interrupted run leaves the previous pair, which no longer matches)."""
    train(
        experiment.without_privacy(), train_ds, val_ds, spec, baseline_dir, baseline_dir / "logs", train_labels=labels
    )
    if (baseline_dir / "model.json").exists() and (Path(model_dir) / "model.keras").exists():
        card = json.loads((baseline_dir / "model.json").read_text())
        write_json(baseline_dir / "model.json", {**card, "baseline_of": model_digest(model_dir)})


@dataclass
class _Training:
    """One training's state, phase by phase: `start` (runtime, strategy, plan), `build` (model, optimizer),
    `backups`, `inputs` (the batches), `fit` (model.fit per phase), `recalibrate`, `finish` (the model as saved)."""

    experiment: Experiment
    spec: DataSpec
    head: Head
    plan: dict[str, int]
    strategy: Any
    cluster: Any
    peers: Any
    finetune: Any
    phases: list[tuple[int, int]]
    model: Any = None
    backbone: Any = None
    callbacks: list = field(default_factory=list)
    augmenter: Any = None
    mixers: list = field(default_factory=list)
    train_ds: Any = None
    privacy: Any = None  # DP-SGD's settings (plugins/privacy/dp_sgd.py), None for ordinary training
    private: dict[str, Any] = field(default_factory=dict)  # its plan: σ, q, steps, ε, δ
    recalibrator: Any = None  # batch norm's Recalibration, shared by the epochs and the end (`_recalibration`)
    linear: dict[str, Any] = field(default_factory=dict)  # model.linear_fit's choice, for the card

    @classmethod
    def start(cls, experiment: Experiment, spec: DataSpec, n_train: int) -> _Training:
        """TensorFlow's runtime and the strategy from the checked trainer section, then the plan of the epochs."""
        from workflows.runtime.distribute import cluster_of, configure_runtime, make_strategy, watchdog

        configure_runtime(experiment.trainer)
        strategy = make_strategy(experiment.trainer)
        cluster = cluster_of(strategy)
        peers = watchdog() if cluster else None
        plan = plan_epochs(experiment, n_train)
        head = experiment.head(spec)
        finetune = experiment.finetune.build()
        phases = fit_phases(plan["fit_epochs"], finetune, experiment)
        run = cls(experiment, spec, head, plan, strategy, cluster, peers, finetune, phases)
        run.privacy = experiment.privacy.build() if experiment.privacy is not None else None
        if run.privacy is not None:  # σ calibrated (or ε computed) before the model is built: a bad plan stops here
            if experiment.full_batch:
                raise ConfigError("privacy=dp_sgd samples batches; a full-batch optimizer (gd) has none: use sgd")
            run.private = run.privacy.plan(n_train, plan["batch_size"], experiment.trainer.epochs)
        return run

    def compile(self, optimizer) -> None:
        self.model.compile(
            optimizer=optimizer,
            loss=self.experiment.build_loss(self.head),
            metrics=self.head.metrics(),
            steps_per_execution=self.plan["steps_per_execution"],
            jit_compile=self.experiment.trainer.jit_compile,
        )

    def build(self) -> None:
        """The model (its backbone frozen for fine-tuning's first phase), compiled, under the strategy's scope."""
        from plugins.model.tabm import MemberTraining, has_members

        with self.strategy.scope():
            self.model = self.experiment.build_model(self.spec, self.head, n_train=self.plan["n_train"])
            if self.privacy is not None:  # the network trained by DP-SGD's step (plugins/privacy/_private_model.py)
                from plugins.privacy._private_model import PrivateModel, refuse_batch_norm

                refuse_batch_norm(self.model)
                self.model = PrivateModel(
                    self.model,
                    self.private["l2_norm_clip"],
                    self.private["noise_multiplier"],
                    self.private["sampling_rate"] * self.plan["n_train"],
                    seed=self.experiment.trainer.seed + 3,
                )
            elif has_members(self.model):  # an ensemble (model=tabm): each member trained on its own loss
                self.model = MemberTraining(self.model, self.head)
            if self.finetune is not None:
                from workflows.runtime.finetune import backbone_of, freeze

                self.backbone = backbone_of(self.model, self.experiment.model.plugin.name)
                freeze(self.backbone)
            self.compile(self.experiment.build_optimizer(self.plan["steps_per_epoch"]))
        self.callbacks = [
            StopOnNonFinite(self.experiment),
            *self.experiment.callbacks(self.plan["steps_per_epoch"]),
        ]

    def _linear_model(self, train_ds, weights):
        """(name, kernel, bias) of the linear model fitted on the training rows (`MemberTraining.fit_linear_model`),
        or None."""
        from plugins.model.tabm import LINEAR_ROWS

        return self.model.fit_linear_model(*to_numpy(train_ds.take(LINEAR_ROWS)), weights)

    def choose_linear(self, train_ds, val_batches, weights, last: dict[str, float]) -> None:
        """With `model.linear_fit=candidate`, the linear model fitted on the training rows replaces the trained
        network when its validation loss is lower (the network then is that model: its members' heads at zero);
        both losses and the choice go into the card, and the kept model's validation figures into `last`."""
        from plugins.model.tabm import MemberTraining

        if not isinstance(self.model, MemberTraining) or self.model.linear_fit != "candidate":
            return
        fitted = self._linear_model(train_ds, weights)
        if fitted is None:
            return
        trained = self.model.network.get_weights()
        network_loss = self.model.validation_loss(val_batches)
        with self.strategy.scope():
            self.model.become_linear(*fitted[1:])
        linear_loss = self.model.validation_loss(val_batches)
        kept = fitted[0] if linear_loss < network_loss else "network"
        if kept == "network":
            self.model.network.set_weights(trained)
        else:
            evaluated = self.model.evaluate(val_batches, verbose=0, return_dict=True)
            last.update({f"val_{k}": float(v) for k, v in evaluated.items()})
        self.linear.update(
            {"candidate": fitted[0], "val_loss": linear_loss, "network_val_loss": network_loss, "kept": kept}
        )

    def backups(self, model_dir: Path) -> tuple[int, list[dict]]:
        """Epoch backups (`trainer.backup`): the epoch a killed run resumes at, and its earlier epochs' logs."""
        from workflows.runtime.backup import AtomicBackupAndRestore, backup_dir, resume_epoch, resumed_logs

        trainer = self.experiment.trainer
        if trainer.backup and self.finetune is not None:
            print(
                "note: finetune=two_phase runs without epoch backups (a killed run starts again from epoch 0)",
                file=sys.stderr,
            )
            return 0, []
        if not trainer.backup:
            return 0, []
        rank = self.cluster.rank if self.cluster else 0
        backups = backup_dir(trainer.backup_root, to_yaml(self.experiment.cfg, secrets=True), model_dir, rank)
        self.callbacks.append(AtomicBackupAndRestore(backups))
        return resume_epoch(backups), resumed_logs(backups)

    def inputs(self, train_ds, val_ds, weights, resumed: int):
        """The training stream (augmented online, mixed, weighted as configured; the epochs a resumed run has done
        skipped) and the validation batches."""
        import keras

        experiment, trainer, plan = self.experiment, self.experiment.trainer, self.plan
        online = experiment.augmentation.online
        self.augmenter = (
            experiment.build_augmenter(trainer.seed + 1, self.spec)
            if online and experiment.augments(self.spec)
            else None
        )
        self.mixers = experiment.build_label_mixers(trainer.seed + 1) if online else []
        if self.mixers and weights is not None:
            raise ConfigError("trainer.class_weight cannot weight the mixed labels of mixup/cutmix; drop one of them")
        if self.mixers and self.head.labels != "one_hot":
            raise ConfigError(
                f"mixup/cutmix make soft labels, which loss '{experiment.loss.plugin.name}' does not take; "
                "use loss=categorical_crossentropy"
            )
        # One endless stream of batches, fit_steps per epoch: epoch k always sees the k-th shuffle, so a
        # resumed run skips exactly the batches the killed one had consumed, and continues identically.
        stream = batches(
            train_ds,
            self.head,
            plan["batch_size"],
            trainer.shuffle and not experiment.full_batch,
            trainer.seed,
            self.augmenter,
            trainer.shuffle_buffer,
            self.mixers,
            weights,
        )
        if self.privacy is not None:  # Poisson-sampled batches: the guarantee holds as accounted
            stream = self._private_stream(train_ds, weights)
        stream = (stream.cache() if experiment.full_batch else stream).repeat().skip(resumed * plan["fit_steps"])
        if self.peers:
            peers = self.peers
            self.callbacks.append(keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: peers.done()))
        self.train_ds = train_ds  # what batch norm is recalibrated on (before each validation, and at the end)
        # Validation weighs the classes as training does: with balanced weights its accuracy is the balanced
        # accuracy (each class's recall, averaged), which early stopping and the search then follow.
        return stream, batches(val_ds, self.head, trainer.batch_size, class_weights=weights)

    def _private_stream(self, train_ds, weights):
        """DP-SGD's batches: Poisson-sampled from the training rows (held in memory), augmented and encoded as
        `batches` does; label mixing is refused (a mixed row's gradient is two rows')."""
        import tensorflow as tf

        from plugins.privacy._private_model import poisson_batches

        if self.mixers:
            raise ConfigError("privacy=dp_sgd cannot mix rows (mixup/cutmix): use augmentation without them")
        x, y = to_numpy(train_ds)
        row_weights = None if weights is None else np.asarray(weights, np.float32)[y.astype(int)]
        stream = poisson_batches(x, y, self.private["sampling_rate"], self.experiment.trainer.seed, row_weights)
        augmenter, head = self.augmenter, self.head

        def prepare(x, y, *w):
            x = augmenter(x, training=True) if augmenter is not None else x
            return (x, head.encode(y), *w)

        return stream.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def fit(self, train_batches, val_batches, live, resumed: int, logs_dir: Path, extra: list):
        """`model.fit` for each phase (fine-tuning's second phase unfreezes and recompiles first); a lost peer
        worker is a one-line error."""
        import tensorflow as tf
        from dvclive.keras import DVCLiveCallback

        epochs_fitted, history = 0, None
        # Batch norm's moving statistics lag a short run's weights: recalibrated before each validation, so that the
        # curves, early stopping, schedules and the pruner see the model as it would be saved.
        validation = self._recalibrated_validation(val_batches)
        try:
            for index, (start, end) in enumerate(self.phases):
                if index:
                    self._unfreeze(start)
                logger = DVCLiveCallback(live=live) if index == len(self.phases) - 1 else _KeepLiveOpen(live)
                history = self.model.fit(
                    train_batches.skip((start - resumed) * self.plan["fit_steps"]) if start else train_batches,
                    validation_data=None if validation else val_batches,
                    initial_epoch=start,
                    epochs=end,
                    steps_per_epoch=self.plan["fit_steps"],
                    verbose=self.experiment.trainer.verbose,
                    shuffle=False,  # tf.data shuffles (batches() above)
                    callbacks=[
                        *validation,
                        *self.callbacks,
                        logger,
                        *tensorboard(self.experiment.trainer, logs_dir),
                        *extra,
                    ],
                )
                epochs_fitted += len(history.history.get("loss", []))
        except (
            tf.errors.UnavailableError,
            tf.errors.DeadlineExceededError,
            tf.errors.CancelledError,
            tf.errors.InternalError,
            tf.errors.AbortedError,
        ) as err:
            if self.cluster is None:
                raise
            raise ConfigError(
                f"a peer worker was lost during training ({type(err).__name__}); nothing was saved. Restart every "
                "worker with the same command: each resumes from its last backed-up epoch"
            ) from None
        return history, epochs_fitted

    def _unfreeze(self, start: int) -> None:
        """Fine-tuning's phase two: unfreeze, recompile with the backbone's rate, go on."""
        from workflows.runtime.finetune import continue_with_backbone_rate, unfreeze

        with self.strategy.scope():
            unfreeze(self.backbone, self.finetune.unfreeze)
            optimizer = self.experiment.build_optimizer(self.plan["steps_per_epoch"])
            continue_with_backbone_rate(
                optimizer, self.model, self.backbone, self.finetune.backbone_lr, start * self.plan["fit_steps"]
            )
            self.compile(optimizer)

    def _recalibration_batches(self, train_ds):
        """The training batches batch norm is recalibrated on (shuffled and augmented as training saw them)."""
        trainer, plan = self.experiment.trainer, self.plan
        return batches(
            train_ds,
            self.head,
            plan["batch_size"],
            trainer.shuffle,
            trainer.seed + 2,
            self.augmenter,
            trainer.shuffle_buffer,
            self.mixers,
        )

    def _recalibration(self):
        """The model's `Recalibration` (workflows/runtime/batchnorm.py), one for the run: the per-epoch and the
        final recalibration share its compiled function. None without batch norm or with recalibration off."""
        from workflows.runtime.batchnorm import Recalibration, batch_norm_layers

        layers = batch_norm_layers(self.model)
        if not (self.experiment.trainer.recalibrate_batch_norm and layers):
            return None
        if self.recalibrator is None or self.recalibrator.layers != layers:  # fine-tuning unfroze a backbone's
            self.recalibrator = Recalibration(self.model)
        return self.recalibrator

    def _recalibrated_validation(self, val_batches) -> list:
        """[the callback that validates after recalibrating] for a model with batch norm, else []."""
        from workflows.runtime.batchnorm import validate_recalibrated

        recalibration = self._recalibration()
        if recalibration is None:
            return []
        return [validate_recalibrated(recalibration, self._recalibration_batches(self.train_ds), val_batches)]

    def recalibrate(self, train_ds, val_batches, last: dict[str, float]) -> int:
        """Batch norm's moving statistics (momentum 0.99) lag far behind a short run's weights: replaced by their
        plain average over training batches seen with the final weights (workflows/runtime/batchnorm.py), and the
        validation figures of the model as saved put into `last`. Returns the batches used (0: none)."""
        from workflows.runtime.batchnorm import batches_needed

        recalibration, plan = self._recalibration(), self.plan
        if recalibration is None:
            return 0
        batches = self._recalibration_batches(train_ds)
        used = recalibration(batches, batches_needed(plan["n_train"], plan["batch_size"]), keep_random_state=False)
        if used:
            evaluated = self.model.evaluate(val_batches, verbose=0, return_dict=True)
            last.update({f"val_{k}": float(v) for k, v in evaluated.items()})
        return used

    def finish(self) -> tuple[Any, dict[str, Any]]:
        """The model as saved (finite weights, Keras's own loss objects, a table's encoding in front) and its card."""
        from plugins.loss.keras_losses import portable_loss
        from plugins.model.tabm import MemberTraining

        model, head, plan = self.model, self.head, self.plan
        if self.privacy is not None or isinstance(model, MemberTraining):  # the network alone is saved, compiled
            with self.strategy.scope():
                model.network.compile(optimizer=model.optimizer, loss=model.loss, metrics=head.metrics())
            model = model.network
        if not all(np.isfinite(w).all() for w in model.get_weights()):
            raise ConfigError(
                "training diverged: the model's weights are not finite; nothing was saved. "
                f"{StopOnNonFinite.advice(self.experiment)}"
            )
        if portable_loss(model.loss) is not model.loss:  # so that plain Keras loads it (plugins/loss: portable_loss)
            with self.strategy.scope():
                model.compile(
                    optimizer=model.optimizer,
                    loss=portable_loss(model.loss),
                    metrics=head.metrics(),
                    steps_per_execution=plan["steps_per_execution"],
                    jit_compile=self.experiment.trainer.jit_compile,
                )
        card = model_card(model, head, self.spec)
        kind = kind_of(self.spec)
        with self.strategy.scope():
            saved, entries = kind.saved(model, self.spec)  # the kind's preprocessing in front: raw inputs in
            if saved is not model:
                # The trained optimizer moves out with its state (its slots are the network's, which the front
                # shares): the network inside keeps none, so the file holds the weights and one optimizer state,
                # not two (a text column's 20,000-word layer made that 7 MB where 3.8 suffice).
                optimizer, model.optimizer, model.compiled = model.optimizer, None, False
                saved.compile(optimizer=optimizer, loss=model.loss, metrics=head.metrics())
        card.update(entries)
        if self.privacy is not None:
            from plugins.privacy.dp_sgd import in_words

            card["privacy"] = {**self.private, "guarantee": in_words(self.private)}
        return saved, card


def _output_dirs(cluster, model_dir: Path, logs_dir: Path) -> tuple[Path, Path, Path | None]:
    """Only the chief writes the model, the metrics and the logs; other workers write into a scratch directory (a
    killed worker's scratch is removed by the next worker that starts on this machine)."""
    if cluster is None or cluster.is_chief:
        return model_dir, logs_dir, None
    remove_stale(Path(tempfile.gettempdir()) / "kerasforge-worker")
    scratch = Path(tempfile.mkdtemp(prefix=f".kerasforge-worker.{os.getpid()}."))
    return scratch / "models", scratch / "logs", scratch


def _live(logs_dir: Path, earlier_logs: list[dict], resumed: int):
    """DVCLive writing into `logs_dir`; a resumed run's curves start at epoch 0, not where it resumed."""
    from dvclive.utils import standardize_metric_name

    from dvclive import Live

    live = Live(dir=str(logs_dir), dvcyaml=None, save_dvc_exp=False, report=None)
    if len(earlier_logs) >= resumed:
        for logs in earlier_logs[:resumed]:
            for name, value in logs.items():
                live.log_metric(standardize_metric_name(name, "dvclive.keras"), value)
            live.next_step()
    return live


def fit_phases(fit_epochs: int, finetune, experiment: Experiment) -> list[tuple[int, int]]:
    """The (first epoch, end epoch) of each `model.fit` call: one for ordinary training; fine-tuning's frozen phase
    and the phase after it (either may be empty, and is then left out)."""
    if finetune is None:
        return [(0, fit_epochs)]
    if experiment.full_batch:
        raise ConfigError("finetune=two_phase needs a mini-batch optimizer, not gd")
    if finetune.frozen_epochs > fit_epochs:
        raise ConfigError(
            f"finetune.frozen_epochs={finetune.frozen_epochs} is more than trainer.epochs={fit_epochs}; "
            "lower it or train longer"
        )
    return [(a, b) for a, b in ((0, finetune.frozen_epochs), (finetune.frozen_epochs, fit_epochs)) if b > a]


def _KeepLiveOpen(live):  # noqa: N802 — a callback class made on first use, so that Keras is imported only then
    """DVCLive's Keras callback minus its `live.end()` at the end of a fit: for every fit but the last."""
    from dvclive.keras import DVCLiveCallback

    class KeepLiveOpen(DVCLiveCallback):
        def on_train_end(self, logs=None):
            pass

    return KeepLiveOpen(live=live)


def tensorboard(trainer, logs_dir: Path) -> list:
    """`trainer.tensorboard: true`: Keras's TensorBoard callback, writing into <logs>/tensorboard/ (the train logs'
    temporary directory while training, so `tensorboard --logdir dvclive` follows a run live; dvclive/train/
    tensorboard/ once it has finished)."""
    if not trainer.tensorboard:
        return []
    import keras

    return [keras.callbacks.TensorBoard(log_dir=str(Path(logs_dir) / "tensorboard"), histogram_freq=1)]


class StopOnNonFinite:
    """A Keras callback (made by `__new__`, so that Keras is imported only when training) that stops training
    with a one-line ConfigError as soon as an epoch's loss or validation loss is not finite: nothing is saved,
    the previous model and metrics stay as they were."""

    def __new__(cls, experiment: Experiment):
        import keras

        class _Stop(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                for key in ("loss", "val_loss"):
                    value = (logs or {}).get(key)
                    if value is not None and not math.isfinite(float(value)):
                        raise ConfigError(
                            f"training diverged: {key} is {float(value)} after epoch {epoch + 1}; "
                            f"nothing was saved. {cls.advice(experiment)}"
                        )

        return _Stop()

    @staticmethod
    def advice(experiment: Experiment) -> str:
        rate = experiment.optimizer.params.get("learning_rate")
        return (
            f"Lower optimizer.learning_rate (now {rate}), add +optimizer.clipnorm=1.0, or look for extreme "
            "values in the data"
        )


def plan_epochs(experiment: Experiment, n_train: int) -> dict[str, int]:
    """How `trainer.epochs` map onto `model.fit`.

    Mini-batch optimizers: one fit epoch per epoch, ceil(n / batch_size)
    steps each. Full-batch `gd`: one step per epoch on all n examples; the
    epochs run in groups of k (the largest divisor of `epochs` up to
    epochs/200) inside one compiled loop (`steps_per_execution=k`), so that
    40,000 epochs take seconds; curves are then logged every k epochs.

    Returns:
        n_train, batch_size, steps_per_epoch (optimizer steps per epoch, for
        schedules), fit_epochs, fit_steps (steps per fit epoch),
        steps_per_execution, epochs_per_log_step.
    """
    trainer = experiment.trainer
    if n_train <= 0:
        raise ConfigError("the training split is empty; lower data.val_fraction/test_fraction")
    if experiment.full_batch:
        group = max(d for d in range(1, max(1, trainer.epochs // 200) + 1) if trainer.epochs % d == 0)
        return {
            "n_train": n_train,
            "batch_size": n_train,
            "steps_per_epoch": 1,
            "fit_epochs": trainer.epochs // group,
            "fit_steps": group,
            "steps_per_execution": group,
            "epochs_per_log_step": group,
        }
    return {
        "n_train": n_train,
        "batch_size": trainer.batch_size,
        "steps_per_epoch": math.ceil(n_train / trainer.batch_size),
        "fit_epochs": trainer.epochs,
        "fit_steps": math.ceil(n_train / trainer.batch_size),
        "steps_per_execution": trainer.steps_per_execution,
        "epochs_per_log_step": 1,
    }


def save_model(model: keras.Model, card: dict[str, Any], model_dir: Path = REPO.models) -> None:
    """Writes model.keras and model.json into `model_dir`, each atomically; the same weights give the same bytes."""
    with atomic_path(Path(model_dir) / "model.keras", suffix=".keras") as tmp:
        model.save(tmp)
        reproducible_zip(tmp)
    write_json(Path(model_dir) / "model.json", card)


def _renumber_shared(node: Any, ids: dict[int, int]) -> Any:
    """Keras marks an object shared by several layers (the one penalty on every kernel) with its memory address,
    `shared_object_id`; numbered 1, 2… in order of appearance instead, it still ties them together on load."""
    if isinstance(node, dict):
        return {
            k: (ids.setdefault(v, len(ids) + 1) if k == "shared_object_id" else _renumber_shared(v, ids))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared(v, ids) for v in node]
    return node


def reproducible_zip(path: Path) -> None:
    """Rewrites a `.keras` file without what changes from one save to the next: Keras's `date_saved` in
    metadata.json, the weights entry's zip timestamp, and shared objects' memory addresses in config.json. Keras
    reads none of them when loading; with them gone, DVC's hash of models/model.keras changes only when the model
    does."""
    import zipfile

    path = Path(path)
    fixed = path.with_name(path.name + ".zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(fixed, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata).encode()
            elif info.filename == "config.json":
                data = json.dumps(_renumber_shared(json.loads(data), {})).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            target.writestr(entry, data)
    os.replace(fixed, path)


def setup(cfg) -> None:
    """The train stage's set-up, before its config is resolved: what TensorFlow accepts only before its first
    operation (thread pools, a multi-worker strategy). The stage process calls it
    (workflows.stages.process.stage_main)."""
    from workflows.runtime.distribute import early_setup

    early_setup(cfg)


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> dict[str, float]:
    """The train stage: data/augmented/train + data/prepared/val → models/, dvclive/train/ (below `layout.root`).

    Args:
        experiment: the stage's view of the resolved config.
        layout: where the files are.
        callbacks: more Keras callbacks for every `model.fit` (a search's pruning callback): handed down by the
            runner, never looked up.
    """
    from workflows.io.datastore import load_arrays

    spec = load_spec(layout.prepared)
    labels = (
        load_arrays("train", layout.augmented)[1] if experiment.trainer.class_weight in ("balanced", "auto") else None
    )
    return train(
        experiment,
        load_split("train", layout.augmented),
        load_split("val", layout.prepared),
        spec,
        layout.models,
        layout.train_logs,
        callbacks=list(callbacks),
        train_labels=labels,
    )
