"""Config: compose `conf/` with Hydra, check it, resolve each group to its plugin.

Two ways in, one result:
- `compose(overrides)`: Hydra's composition of `conf/` (the direct CLI,
  `python -m workflows.train optimizer=sgd`);
- `load_params("params.yaml")`: what DVC composed (`dvc exp run -S …`) or
  what is committed (`dvc repro`).
Either goes through `resolve(cfg)`, which checks every group against its
plugin's schema and builds the cheap objects (optimizer, loss, penalty,
augmentation ops) so that bad values fail before any data is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf

from plugins.registry import ConfigError, Plugin, did_you_mean, first_line, get, validate_against

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
CONFIG_NAME = "config"

PLUGIN_GROUPS = ("data", "model", "loss", "optimizer", "schedule", "regularizer")
SECTIONS = (*PLUGIN_GROUPS, "augmentation", "trainer", "evaluate")


@dataclass
class TrainerConfig:
    """How `model.fit` runs: `trainer.*` in the config."""

    epochs: int = 30
    batch_size: int = 32
    seed: int = 0
    shuffle: bool = True
    shuffle_buffer: int = 10_000
    verbose: int = 2
    steps_per_execution: int = 1
    strategy: str = "auto"
    devices: list[str] | None = None
    precision: str = "float32"
    jit_compile: Any = "auto"
    deterministic: bool = False
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    backup: bool = True
    backup_root: str = ".kerasforge/backups"
    worker_timeout: float = 600.0


@dataclass
class EarlyStoppingConfig:
    """`regularizer.early_stopping.*`: stop when `monitor` stops improving (patience 0: never)."""

    patience: int = 0
    monitor: str = "val_loss"
    min_delta: float = 0.0
    restore_best_weights: bool = True


@dataclass
class RegularizerOptions:
    """The regularizer section's options beside its penalty plugin."""

    dropout: float | None = None
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


@dataclass
class AugmentationConfig:
    """`augmentation.*`: ops applied to training images, in order.

    Attributes:
        copies: augmented copies of each training image that the augment
            stage writes beside the originals (0 passes the data through).
        online: also augment every training batch inside tf.data while
            training (parallel map, prefetch): fresh variations each epoch.
        ops: a list of `{name: <op>, <param>: <value>…}`; see
            `python -m plugins list` for the ops.
    """

    copies: int = 0
    online: bool = False
    ops: list[Any] = field(default_factory=list)


@dataclass
class EvaluateConfig:
    """`evaluate.*`: options of the evaluate stage only (changing them does not retrain)."""

    batch_size: int = 256
    split: str = "test"


# -- composition ---------------------------------------------------------------------------------


def _missing_option(err: MissingConfigException) -> ConfigError:
    missing = err.missing_cfg_file or ""
    group, _, option = missing.rpartition("/")
    if group and err.options is not None:
        return ConfigError(
            f"unknown {group} option '{option}' (no conf/{group}/{option}.yaml); {did_you_mean(option, err.options)}"
        )
    return ConfigError(first_line(err))


def _unknown_key(full_key: str, overrides: list[str], conf_dir: Path) -> ConfigError:
    """Explains an override of a key that the composed config lacks."""
    section, _, key = full_key.partition(".")
    if section not in SECTIONS:
        return ConfigError(f"unknown config section '{section}' in '{full_key}'; {did_you_mean(section, SECTIONS)}")
    rest = [o for o in overrides if not o.lstrip("+~").startswith(full_key)]
    node = compose(rest, conf_dir).get(section)
    parts = key.split(".")
    depth = 0
    while depth < len(parts) - 1 and isinstance(node, DictConfig) and isinstance(node.get(parts[depth]), DictConfig):
        node = node[parts[depth]]
        depth += 1
    bad = parts[depth]
    present = set(node.keys()) if isinstance(node, DictConfig) else set()
    valid = set(present)
    if depth == 0:  # the section's own level: the plugin's schema and the section's options count too
        if section in PLUGIN_GROUPS and "name" in present:
            valid |= set(get(section, node.name).parameters)
        elif section in _SECTION_SCHEMAS:
            valid |= {f.name for f in dataclasses.fields(_SECTION_SCHEMAS[section])}
        if section in _EXTRAS:
            valid |= {f.name for f in dataclasses.fields(_EXTRAS[section])}
    if bad in valid and bad not in present:
        value = next((o.split("=", 1)[1] for o in overrides if o.startswith(full_key + "=")), "...")
        return ConfigError(
            f"{full_key} is a valid parameter but conf/ does not set it; add it with +{full_key}={value}"
        )
    return ConfigError(f"{full_key}: unknown key; {did_you_mean(bad, valid - {'name'})}")


def compose(overrides: list[str] | tuple[str, ...] = (), conf_dir: Path = CONF_DIR, hydra_config: bool = False) -> DictConfig:
    """Composes `conf/` with Hydra, turning its errors into one-line ConfigErrors.

    Args:
        overrides: Hydra overrides, e.g. `["optimizer=sgd", "optimizer.learning_rate=0.05"]`.
        conf_dir: the config directory.
        hydra_config: keep the `hydra` node (for its run directory).

    Returns:
        The composed config.

    Example:
    >>> cfg = compose(["model=mlp", "trainer.epochs=1"])
    """
    overrides = list(overrides)
    try:
        with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
            return hydra_compose(CONFIG_NAME, overrides, return_hydra_config=hydra_config)
    except MissingConfigException as err:
        raise _missing_option(err) from None
    except ConfigCompositionException as err:
        full_key = getattr(err.__cause__, "full_key", None)
        if full_key and "Could not override" in str(err):
            raise _unknown_key(str(full_key), overrides, conf_dir) from None
        raise ConfigError(" ".join(str(err).split("\n")[:2]).strip()) from None
    except HydraException as err:
        raise ConfigError(f"bad override: {first_line(err)}") from None


def load_params(path: str | Path = "params.yaml") -> DictConfig:
    """Reads a composed config (DVC's params.yaml)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist; run `make params` to compose it from conf/")
    return OmegaConf.load(path)


# -- resolution ----------------------------------------------------------------------------------

_SECTION_SCHEMAS = {"trainer": TrainerConfig, "augmentation": AugmentationConfig, "evaluate": EvaluateConfig}


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


# Options that a group's section holds beside its plugin's parameters.
_EXTRAS = {"regularizer": RegularizerOptions}


def _choose(group: str, node: Any, where: str | None = None) -> tuple[Choice, Any]:
    """The group's plugin with its checked parameters, and the section's extra options (or None)."""
    where = where or group
    if not isinstance(node, (dict, DictConfig)) or "name" not in node:
        raise ConfigError(f"{where}: needs a 'name:' naming a {group} plugin (see `python -m plugins list`)")
    params = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    plugin = get(group, str(params.pop("name")))
    extras = None
    if group in _EXTRAS:
        schema = _EXTRAS[group]
        names = {f.name for f in dataclasses.fields(schema)}
        given = {k: params.pop(k) for k in list(params) if k in names}
        extras = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), validate_against(schema, given, where, f"the {group} section")))
    return Choice(plugin, plugin.validate(params, where), where), extras


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
    regularizer_options: RegularizerOptions
    augmentation: AugmentationConfig
    augmentation_ops: list[Choice]
    trainer: TrainerConfig
    evaluate: EvaluateConfig

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
        return self.loss.build_offering(from_logits=head.from_logits, binary=head.labels == "binary")

    def build_schedule(self, steps_per_epoch: int):
        """The schedule plugin's LearningRateSchedule, callback, or None (constant)."""
        return self.schedule.build(
            learning_rate=self.optimizer.params["learning_rate"], steps_per_epoch=steps_per_epoch,
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
                    monitor=stopping.monitor, patience=stopping.patience, min_delta=stopping.min_delta,
                    restore_best_weights=stopping.restore_best_weights,
                )
            )
        return out

    def build_regularizer(self, n_train: int = 1):
        return self.regularizer.build_offering(n_train=n_train)

    def build_model(self, spec, head, n_train: int = 1):
        """The model plugin's model, with the penalty on every kernel and `regularizer.dropout` on every Dropout."""
        from plugins.regularizer import attach_to_kernels, set_dropout

        model = self.model.build(spec=spec, head=head)
        attach_to_kernels(model, self.build_regularizer(n_train))
        if self.regularizer_options.dropout is not None:
            set_dropout(model, self.regularizer_options.dropout)
        return model

    def build_augmenter(self, seed: int | None = None):
        """The augmentation ops chained into one Keras layer, or None when there are none."""
        from plugins.augmentation.image_ops import build_pipeline

        seed = self.trainer.seed if seed is None else seed
        return build_pipeline([op.build(seed=seed + i) for i, op in enumerate(self.augmentation_ops)
                               if not op.plugin.meta.get("mixes_labels")])

    def build_label_mixers(self, seed: int | None = None) -> list:
        """The ops that mix images and labels within a batch (mixup, cutmix), run online after one-hot encoding."""
        seed = self.trainer.seed if seed is None else seed
        return [op.build(seed=seed + i) for i, op in enumerate(self.augmentation_ops) if op.plugin.meta.get("mixes_labels")]


def _check_ranges(trainer: TrainerConfig, augmentation: AugmentationConfig, evaluate: EvaluateConfig) -> None:
    for where, value, low in (
        ("trainer.epochs", trainer.epochs, 1),
        ("trainer.batch_size", trainer.batch_size, 1),
        ("augmentation.copies", augmentation.copies, 0),
        ("evaluate.batch_size", evaluate.batch_size, 1),
        ("trainer.steps_per_execution", trainer.steps_per_execution, 1),
        ("trainer.shuffle_buffer", trainer.shuffle_buffer, 1),
    ):
        if value < low:
            raise ConfigError(f"{where}={value} must be at least {low}")
    if trainer.jit_compile not in ("auto", True, False):
        raise ConfigError(f"trainer.jit_compile={trainer.jit_compile!r} must be auto, true or false")
    from workflows.distribute import check as check_distribution

    check_distribution(trainer)
    if evaluate.split not in ("val", "test"):
        raise ConfigError(f"evaluate.split='{evaluate.split}' is unknown; {did_you_mean(evaluate.split, ['val', 'test'])}")


def resolve(cfg: DictConfig | dict) -> Experiment:
    """Checks a composed config and resolves every group to its plugin.

    Builds the optimizer, the loss, the penalty and the augmentation ops once,
    so that values their constructors refuse fail here, before any data is
    read or any model trained.

    Args:
        cfg: a composed config (from `compose` or `load_params`).

    Returns:
        The Experiment.

    Raises:
        ConfigError: one line naming the bad key or value and the fix.
    """
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    for key in cfg.keys():
        if key not in SECTIONS and key != "hydra":
            raise ConfigError(f"unknown config section '{key}'; {did_you_mean(str(key), SECTIONS)}")
    for key in SECTIONS:
        if key not in cfg:
            raise ConfigError(f"the config has no '{key}' section; add it to conf/config.yaml's defaults")
    sections = {
        key: schema(**validate_against(schema, cfg[key], key, f"the {key} section"))
        for key, schema in _SECTION_SCHEMAS.items()
    }
    ops = [
        _choose("augmentation", op, f"augmentation.ops[{i}]")[0] for i, op in enumerate(sections["augmentation"].ops)
    ]
    _check_ranges(sections["trainer"], sections["augmentation"], sections["evaluate"])
    chosen = {group: _choose(group, cfg[group]) for group in PLUGIN_GROUPS}
    experiment = Experiment(
        cfg=cfg,
        **{group: choice for group, (choice, _) in chosen.items()},
        regularizer_options=chosen["regularizer"][1],
        augmentation_ops=ops,
        **sections,
    )
    mixers = [op.plugin.name for op in ops if op.plugin.meta.get("mixes_labels")]
    if mixers and not experiment.augmentation.online:
        raise ConfigError(
            f"augmentation ops {', '.join(mixers)} mix labels within a batch, so they run online only; "
            "set augmentation.online=true"
        )
    dropout = experiment.regularizer_options.dropout
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise ConfigError(f"regularizer.dropout={dropout} must be in [0, 1) (or null to keep the model's)")
    if experiment.regularizer_options.early_stopping.patience < 0:
        raise ConfigError("regularizer.early_stopping.patience must be ≥ 0 (0: no early stopping)")
    experiment.build_optimizer()
    experiment.callbacks()
    experiment.build_regularizer()
    experiment.build_augmenter()
    experiment.loss.build_offering(from_logits=True, binary=False)
    return experiment


def to_yaml(cfg: DictConfig) -> str:
    """The config as DVC's params.yaml holds it (resolved, no `hydra` node)."""
    container = {key: cfg[key] for key in cfg if key != "hydra"}
    return OmegaConf.to_yaml(OmegaConf.to_container(OmegaConf.create(container), resolve=True))


def main(argv: list[str] | None = None) -> int:
    """`python -m workflows.config [--out params.yaml] [overrides…]`: the composed, checked config as YAML."""
    import sys

    from workflows.atomic import write_text
    from workflows.cli import run_cli

    def task(args: list[str]) -> None:
        out = None
        if args[:1] == ["--out"]:
            if len(args) < 2:
                raise ConfigError("--out needs a file name, e.g. --out params.yaml")
            out, args = args[1], args[2:]
        cfg = compose(args)
        resolve(cfg)
        if out:
            write_text(out, to_yaml(cfg))
        else:
            sys.stdout.write(to_yaml(cfg))

    return run_cli(task, argv)


if __name__ == "__main__":
    raise SystemExit(main())
