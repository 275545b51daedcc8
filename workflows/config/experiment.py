"""The assembly of Keras objects from a checked config: `Experiment`.

`workflows.schema.resolve(cfg)` checks a composed config and returns an
Experiment; its methods build the model, loss, optimizer, schedule,
callbacks and augmentation layers. `Experiment.for_stage(stage)` is the
view a pipeline stage gets: it holds only the config sections the stage
declares in `workflows/config/stage_table.py`, and reading any other one is an error,
so that no stage can depend on a parameter DVC does not know it reads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf

from plugins.registry import Plugin
from plugins.registry import get as plugin

if TYPE_CHECKING:
    from workflows.config.sections import (
        AugmentationConfig,
        EvaluateConfig,
        ExportConfig,
        RegularizerOptions,
        TrainerConfig,
    )


class UndeclaredRead(AssertionError):
    """A stage read a config section it does not declare in the stage table (a bug of the stage's code)."""


class _Undeclared:
    """Stands in for a config section a stage did not declare; any use of it raises UndeclaredRead."""

    def __init__(self, path: str, stage: str):
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_stage", stage)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise UndeclaredRead(
            f"stage '{self._stage}' reads {self._path}.{name}, which workflows/config/stage_table.py does not declare "
            "among its params: declare it there (and regenerate dvc.yaml with `make dvc-yaml`)"
        )


class _Partial:
    """A config section of which a stage declares only some keys (e.g. `trainer.seed`)."""

    def __init__(self, section: Any, path: str, keys: set[str], stage: str):
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_undeclared", _Undeclared(path, stage))

    def __getattr__(self, name: str):
        if name in self._keys:
            return getattr(self._section, name)
        return getattr(self._undeclared, name)


@dataclass
class Choice:
    """One group's plugin with its checked parameters."""

    plugin: Plugin
    params: dict[str, Any]
    where: str

    def build(self, **context: Any) -> Any:
        return self.plugin.build(self.params, self.where, **context)

    def build_offering(self, **offered: Any) -> Any:
        """Builds the plugin with those of the `offered` context values that it declares (see `register`)."""
        return self.build(**{k: v for k, v in offered.items() if k in self.plugin.context})


@dataclass
class Experiment:
    """A checked config: each group resolved to its plugin; builds the Keras objects."""

    cfg: DictConfig
    data: Choice
    model: Choice
    loss: Choice
    optimizer: Choice
    schedule: Choice
    regularizer: Choice
    finetune: Choice
    privacy: Choice
    cv: Choice
    regularizer_options: RegularizerOptions
    augmentation: AugmentationConfig
    augmentation_ops: list[Choice]
    trainer: TrainerConfig
    evaluate: EvaluateConfig
    export: ExportConfig

    def load_data(self):
        """The data plugin's Splits."""
        return self.data.build()

    def head(self, spec):
        from plugins.model.head import resolve_head

        return resolve_head(spec, self.loss.plugin)

    @property
    def full_batch(self) -> bool:
        """Whether the optimizer takes one step per epoch on the whole training set (`gd`)."""
        return bool(self.optimizer.plugin.meta.get("full_batch"))

    def build_loss(self, head):
        return self.loss.build_offering(from_logits=head.from_logits, binary=head.labels == "binary", task=head.task)

    def build_schedule(self, steps_per_epoch: int):
        """The schedule plugin's LearningRateSchedule, callback, or None (constant)."""
        return self.schedule.build(
            learning_rate=self.optimizer.params["learning_rate"],
            steps_per_epoch=steps_per_epoch,
            epochs=self.trainer.epochs,
        )

    def build_optimizer(self, steps_per_epoch: int = 1):
        """The optimizer, its learning rate following the schedule when that is a LearningRateSchedule."""
        import keras

        schedule = self.build_schedule(steps_per_epoch)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            return self.optimizer.build(learning_rate=schedule)
        return self.optimizer.build()

    def callbacks(self, steps_per_epoch: int = 1) -> list:
        """Keras callbacks the config asks for: a reduce-on-plateau schedule, early stopping."""
        import keras

        out = []
        schedule = self.build_schedule(steps_per_epoch)
        if isinstance(schedule, keras.callbacks.Callback):
            out.append(schedule)
        stopping = self.regularizer_options.early_stopping
        if stopping.patience > 0:
            out.append(
                keras.callbacks.EarlyStopping(
                    monitor=stopping.monitor,
                    patience=stopping.patience,
                    min_delta=stopping.min_delta,
                    restore_best_weights=stopping.restore_best_weights,
                )
            )
        return out

    def build_regularizer(self, n_train: int = 1):
        return self.regularizer.build_offering(n_train=n_train)

    def build_model(self, spec, head, n_train: int = 1):
        """The model plugin's model, with the penalty on every kernel and `regularizer.dropout` on every Dropout;
        a forecaster's adds the seasonal naive to its output when its data asks (`data.seasonal_skip`)."""
        from plugins.regularizer.weight_penalties import attach_to_kernels, set_dropout

        model = self.model.build(spec=spec, head=head)
        if spec.series and spec.series.get("seasonal_skip"):
            from plugins.model.head import with_seasonal_naive

            model = with_seasonal_naive(model, spec)
        attach_to_kernels(model, self.build_regularizer(n_train))
        if self.regularizer_options.dropout is not None:
            set_dropout(model, self.regularizer_options.dropout)
        return model

    def augments(self, spec) -> bool:
        """Whether any of the config's ops applies to data of this spec: the ops registered with the data kind's
        `modality` (image ops to images, text ops to tables with text, sound ops to sound); other data passes
        through unaugmented (so the default image augmentation does no harm to a CSV)."""
        return bool(self._ops_for(spec))

    def _ops_for(self, spec) -> list:
        """The ops (label mixers aside) of the modality the data's kind has (`DataKind.modality`)."""
        from plugins.data.kinds import kind_of

        modality = "image" if spec is None else kind_of(spec).modality(spec)  # no spec: a config's image ops
        return [
            op
            for op in self.augmentation_ops
            if not op.plugin.meta.get("mixes_labels") and op.plugin.meta.get("modality", "image") == modality
        ]

    def build_augmenter(self, seed: int | None = None, spec=None):
        """The ops that apply to the data chained into one Keras layer, or None when there are none.

        Args:
            seed: the first op's seed (each next op's is one more); default: `trainer.seed`.
            spec: the data's spec: text ops for a table with text columns, else (or without one) image ops.
        """
        seed = self.trainer.seed if seed is None else seed
        applies = {id(op) for op in self._ops_for(spec)}
        numbered = [(i, op) for i, op in enumerate(self.augmentation_ops) if id(op) in applies]
        layers = [op.build(seed=seed + i) for i, op in numbered]
        from plugins.data.kinds import kind_of

        if spec is None:  # a config's image ops on their own (the catalogue's checks)
            from plugins.augmentation.image_ops import build_pipeline

            return build_pipeline(layers)
        return kind_of(spec).augmenter(layers, spec)

    def build_numpy_augmenter(self, seed: int | None = None, spec=None):
        """The ops that apply to the data as one NumPy warp (`plugins.augmentation.warp.Affine`: OpenCV, no
        TensorFlow) when they are all geometric and fuse into one; None otherwise (they run as Keras layers).

        Args:
            seed: the first op's seed (each next op's is one more); default: `trainer.seed`.
            spec: the data's spec.
        """
        from plugins.augmentation.image_ops import numpy_pipeline

        seed = self.trainer.seed if seed is None else seed
        applies = {id(op) for op in self._ops_for(spec)}
        ops = [op.build(seed=seed + i) for i, op in enumerate(self.augmentation_ops) if id(op) in applies]
        return numpy_pipeline(ops) if ops else None

    def build_label_mixers(self, seed: int | None = None) -> list:
        """The ops that mix images and labels within a batch (mixup, cutmix), run online after one-hot encoding."""
        seed = self.trainer.seed if seed is None else seed
        return [
            op.build(seed=seed + i) for i, op in enumerate(self.augmentation_ops) if op.plugin.meta.get("mixes_labels")
        ]

    def without_privacy(self) -> Experiment:
        """The same experiment trained without differential privacy: a private run's baseline.

        Example:
        >>> resolve(compose(["privacy=dp_sgd"])).without_privacy().privacy.build() is None
        True
        """
        cfg = cast(DictConfig, OmegaConf.create(OmegaConf.to_container(self.cfg)))
        if "privacy" in cfg:
            cfg.privacy = {"name": "none"}
        return dataclasses.replace(self, cfg=cfg, privacy=Choice(plugin("privacy", "none"), {}, "privacy"))

    def for_stage(self, stage: str, reads: tuple[str, ...]) -> Experiment:
        """The view of this Experiment that a stage gets: only the sections (or `section.key`s) in `reads`.

        Args:
            stage: the stage's name, for messages.
            reads: config paths the stage declares, e.g. `("augmentation", "trainer.seed")`.

        Returns:
            A copy whose other sections raise UndeclaredRead when read.
        """
        whole = {r for r in reads if "." not in r}
        keys: dict[str, set[str]] = {}
        for r in reads:
            if "." in r:
                section, _, key = r.partition(".")
                keys.setdefault(section, set()).add(key)

        def view(section: str, value: Any) -> Any:
            if section in whole:
                return value
            if section in keys:
                return _Partial(value, section, keys[section], stage)
            return _Undeclared(section, stage)

        owner = {"regularizer_options": "regularizer", "augmentation_ops": "augmentation"}
        changes = {
            f.name: view(owner.get(f.name, f.name), getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "cfg"
        }
        cfg = {s: self.cfg[s] for s in self.cfg if s in whole}
        for section, names in keys.items():
            cfg[section] = {k: self.cfg[section][k] for k in sorted(names) if k in self.cfg[section]}
        narrowed = cast(DictConfig, OmegaConf.create(OmegaConf.to_container(OmegaConf.create(cfg))))
        return dataclasses.replace(self, cfg=narrowed, **changes)
