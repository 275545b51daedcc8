"""Validation in one place: the schema of every config section, and `resolve(cfg)`.

Each plugin group's section is checked against its plugin's schema (the
builder's signature, see plugins/registry.py); the other sections
(`trainer`, `augmentation`, `evaluate`) against the dataclasses below. Every
error is one line that starts with the full config path of the bad key
(`augmentation.ops.0.fill_mode: …`) and names the fix.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, ListConfig, OmegaConf

from plugins.registry import ConfigError, did_you_mean, get, interpolated, redact, validate_against
from workflows.config.cluster import check as check_trainer
from workflows.config.experiment import Choice, Experiment
from workflows.config.sections import (
    PLUGIN_GROUPS,
    SECTIONS,
    AugmentationConfig,
    EvaluateConfig,
    ExportConfig,
    RegularizerOptions,
    TrainerConfig,
)

if TYPE_CHECKING:
    from workflows.config.stage_table import Stage

_SECTION_SCHEMAS = {
    "trainer": TrainerConfig,
    "augmentation": AugmentationConfig,
    "evaluate": EvaluateConfig,
    "export": ExportConfig,
}

# Options that a group's section holds beside its plugin's parameters.
_EXTRAS = {"regularizer": RegularizerOptions}


def _choose(group: str, node: Any, where: str | None = None) -> tuple[Choice, Any]:
    """The group's plugin with its checked parameters, and the section's extra options (or None)."""
    where = where or group
    if not isinstance(node, (dict, DictConfig)) or "name" not in node:
        raise ConfigError(f"{where}: needs a 'name:' naming a {group} plugin (see `python -m plugins list`)")
    hidden = interpolated(node)  # values an error must not echo (`${oc.env:TOKEN}`)
    params: dict[str, Any] = (
        cast(dict[str, Any], OmegaConf.to_container(node, resolve=True)) if isinstance(node, DictConfig) else dict(node)
    )
    plugin = get(group, str(params.pop("name")))
    extras = None
    if group in _EXTRAS:
        schema = _EXTRAS[group]
        given = {k: params.pop(k) for k in list(params) if k in _extra_names(group)}
        extras = OmegaConf.to_object(
            OmegaConf.merge(
                OmegaConf.structured(schema), validate_against(schema, given, where, f"the {group} section")
            )
        )
    return Choice(plugin, plugin.validate(params, where, hidden), where), extras


def _check_ranges(
    trainer: TrainerConfig, augmentation: AugmentationConfig, evaluate: EvaluateConfig, export: ExportConfig
) -> None:
    for where, value, low in (
        ("trainer.epochs", trainer.epochs, 1),
        ("trainer.batch_size", trainer.batch_size, 1),
        ("augmentation.copies", augmentation.copies, 0),
        ("evaluate.batch_size", evaluate.batch_size, 1),
        ("trainer.steps_per_execution", trainer.steps_per_execution, 1),
        ("trainer.shuffle_buffer", trainer.shuffle_buffer, 1),
        ("export.calibration_rows", export.calibration_rows, 1),
    ):
        if value < low:
            raise ConfigError(f"{where}={value} must be at least {low}")
    check_trainer(trainer)  # strategies, precisions, TF_CONFIG, thread counts, worker timeout
    weights = trainer.class_weight
    if isinstance(weights, str) and weights not in ("balanced", "auto"):
        raise ConfigError(
            f"trainer.class_weight='{weights}' is unknown; {did_you_mean(weights, ['balanced', 'auto'])} "
            "(or null, or a mapping from class name to weight)"
        )
    if weights is not None and not isinstance(weights, (str, dict, DictConfig)):
        raise ConfigError(
            f"trainer.class_weight={weights!r} must be null, balanced, auto, or a mapping from class name to "
            "weight, e.g. '{cat: 1.0, dog: 4.0}'"
        )
    if isinstance(weights, (dict, DictConfig)):
        for name, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ConfigError(f"trainer.class_weight.{name!s}={value!r} must be a finite number ≥ 0")
    if trainer.jit_compile not in ("auto", True, False):
        raise ConfigError(f"trainer.jit_compile={trainer.jit_compile!r} must be auto, true or false")
    quantize = ("none", "float16", "dynamic_range", "int8")
    if export.quantize not in quantize:
        raise ConfigError(f"export.quantize='{export.quantize}' is unknown; {did_you_mean(export.quantize, quantize)}")
    if evaluate.split not in ("val", "test"):
        raise ConfigError(
            f"evaluate.split='{evaluate.split}' is unknown; {did_you_mean(evaluate.split, ['val', 'test'])}"
        )


def _check_interpolations(node: Any, path: str = "") -> None:
    """Resolves every interpolation (`${oc.env:TOKEN}`) once: one that fails is a one-line error naming it; the
    resolved values are marked so that no error message shows them (they may be secrets)."""
    if not isinstance(node, (DictConfig, ListConfig)):
        return
    keys: list[Any] = list(node.keys()) if isinstance(node, DictConfig) else list(range(len(node)))
    for key in keys:
        where = f"{path}.{key}" if path else str(key)
        if OmegaConf.is_interpolation(node, key):
            raw = cast(Any, node._get_node(key))._value()
            try:
                value = node[key]
            except Exception as err:  # noqa: BLE001 — OmegaConf's resolvers raise many kinds
                raise ConfigError(
                    f"{where}: {raw} cannot be resolved ({type(err).__name__}); set what it refers to or give a value"
                ) from None
            redact([str(value)])
        else:
            _check_interpolations(node._get_node(key), where)


def _check_finite(node: Any, path: str = "") -> None:
    """Refuses NaN and infinite numbers anywhere in the config: no option can take them."""
    if isinstance(node, (DictConfig, dict)):
        items = node.items_ex(resolve=False) if isinstance(node, DictConfig) else node.items()
        for key, value in items:
            _check_finite(value, f"{path}.{key!s}" if path else str(key))
    elif isinstance(node, (list, tuple)) or OmegaConf.is_list(node):
        for i, value in enumerate(node):
            _check_finite(value, f"{path}.{i}")
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"{path}={node}: options take finite numbers only; give a finite value")


def resolve(cfg: DictConfig | dict, stage: Stage | None = None) -> Experiment:
    """Checks a composed config and resolves every group to its plugin.

    Builds the optimizer, the loss, the penalty and the augmentation ops once,
    so that values their constructors refuse fail here, before any data is
    read or any model trained.

    Args:
        cfg: a composed config (from `compose` or `load_params`).
        stage: check only the sections this stage reads and return its view
            (`Experiment.for_stage`): a DVC stage process, where DVC reruns a
            stage only when what it reads changed, checks its own sections and
            imports only the plugins it uses (preparing a NumPy data set then
            does not start TensorFlow). The direct command line checks all.

    Returns:
        The Experiment.

    Raises:
        ConfigError: one line naming the bad key or value and the fix.
    """
    if stage is not None:
        return _resolve_sections(cfg, {r.partition(".")[0] for r in stage.reads}).for_stage(stage.name, stage.reads)
    return _resolve_sections(cfg, set(SECTIONS))


def _check_names(cfg: DictConfig, wanted: set[str], augmentation: AugmentationConfig) -> None:
    """Every built-in plugin's parameters from the manifest (no Keras, no TensorFlow): names, types and declared values;
    `_choose` checks the rest once the plugin is imported."""
    from plugins import manifest
    from plugins.registry import interpolated

    nodes = [(f"augmentation.ops.{i}", "augmentation", op) for i, op in enumerate(augmentation.ops)]
    nodes += [(group, group, cfg[group]) for group in PLUGIN_GROUPS if group in wanted]
    for where, group, node in nodes:
        if not isinstance(node, (dict, DictConfig)) or "name" not in node:
            continue  # `_choose` says what is wrong
        values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
        params = {str(k): v for k, v in cast(dict, values).items() if k != "name" and k not in _extra_names(group)}
        manifest.check(group, str(node["name"]), params, where, interpolated(node))


def _extra_names(group: str) -> set[str]:
    """The options a group's section holds beside its plugin's parameters (`regularizer.dropout`, …)."""
    return {f.name for f in dataclasses.fields(_EXTRAS[group])} if group in _EXTRAS else set()


def _check_without_plugins(cfg: DictConfig, wanted: set[str]) -> dict[str, Any]:
    """The rules that need neither data nor a plugin's module (so neither Keras nor TensorFlow): the sections, their
    schemas and ranges, the trainer's rules, and every built-in plugin's parameter names (plugins/manifest.json).

    Returns:
        The typed sections (`trainer`, `augmentation`, `evaluate`, `export`).
    """
    for key in cfg.keys():
        if key not in SECTIONS and key not in ("hydra", "hparams_search"):  # the search's own section: search.py
            raise ConfigError(f"unknown config section '{key!s}'; {did_you_mean(str(key), SECTIONS)}")
    for key in SECTIONS:
        if key not in cfg:
            raise ConfigError(f"the config has no '{key}' section; add it to conf/config.yaml's defaults")
    for key in SECTIONS:  # not the `hydra` node: its run-time interpolations resolve only inside Hydra's jobs
        _check_interpolations(cfg[key], key)
    _check_finite({key: cfg[key] for key in SECTIONS})
    sections = {
        key: schema(**validate_against(schema, cfg[key], key, f"the {key} section"))
        for key, schema in _SECTION_SCHEMAS.items()
    }
    _check_ranges(sections["trainer"], sections["augmentation"], sections["evaluate"], sections["export"])
    _check_names(cfg, wanted, sections["augmentation"])  # from plugins/manifest.json: before any plugin imports Keras
    _check_across(cfg, wanted, sections["trainer"])
    _check_privacy(cfg, wanted)
    return sections


def _check_across(cfg: DictConfig, wanted: set[str], trainer: TrainerConfig) -> None:
    """The rules between sections that no one plugin can check alone (the schedule's warm-up against the epochs), and
    the regularizer section's own options (beside its plugin's parameters)."""
    if "regularizer" in wanted and isinstance(cfg.get("regularizer"), DictConfig):
        dropout = cfg.regularizer.get("dropout")
        if isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and not 0.0 <= dropout < 1.0:
            raise ConfigError(f"regularizer.dropout={dropout} must be in [0, 1) (or null to keep the model's)")
    if "schedule" in wanted and "schedule" in cfg:
        warmup = cfg.schedule.get("warmup_epochs")
        if isinstance(warmup, (int, float)) and not isinstance(warmup, bool) and not 0 <= warmup < trainer.epochs:
            raise ConfigError(
                f"schedule.warmup_epochs={warmup} must be in [0, trainer.epochs={trainer.epochs}); lower it, "
                "or raise trainer.epochs"
            )


# Models whose batch normalization no option removes: DP-SGD refuses them before any data is read.
BATCH_NORM_ALWAYS = ("resnet", "resnet50", "mobilenet_v2", "efficientnet_b0", "audio_cnn")


def _check_privacy(cfg: DictConfig, wanted: set[str]) -> None:
    """DP-SGD needs each row's gradient to be its own: a model with batch normalization (it mixes a batch's rows) is
    refused here, before the data is read, with the fix."""
    if not {"privacy", "model"} <= wanted or not isinstance(cfg.get("privacy"), DictConfig):
        return
    if cfg.privacy.get("name") != "dp_sgd" or not isinstance(cfg.get("model"), DictConfig):
        return
    trainer = cfg.get("trainer")
    if isinstance(trainer, DictConfig) and trainer.get("strategy") == "multi_worker":
        raise ConfigError(  # each worker would take its own share of batches: rows drawn in several at one step
            "privacy=dp_sgd cannot train on several machines yet (each worker would draw its own Poisson batch, "
            "so one step would see more rows than accounted): use trainer.strategy=mirrored (one machine's GPUs) "
            "or one_device"
        )
    name = cfg.model.get("name")
    if cfg.model.get("batch_norm") is True:
        raise ConfigError(
            f"privacy=dp_sgd cannot train model '{name}' with batch normalization (it mixes the rows of a batch, so "
            "one row's gradient is not its own): set model.batch_norm=group (group normalization) or false"
        )
    if name in BATCH_NORM_ALWAYS:
        raise ConfigError(
            f"privacy=dp_sgd cannot train model '{name}': it has batch normalization, which mixes the rows of a batch; "
            "use model=cnn model.batch_norm=group, or model=mlp"
        )


def precheck(cfg: DictConfig | dict, stage: Stage | None = None) -> None:
    """What `resolve` checks first, without importing a plugin (no Keras, no TensorFlow): for the commands to call
    before TensorFlow is set up, so that a misspelt key or a bad value is one line in a moment.

    Args:
        cfg: the composed config.
        stage: check only what this stage reads (default: everything).
    """
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    wanted = set(PLUGIN_GROUPS) if stage is None else {r.partition(".")[0] for r in stage.reads}
    _check_without_plugins(cfg, wanted)
    if stage is None:  # the whole run: the user's files too (a DVC run does it in its check stage)
        check_data(cfg)


def check_data(cfg: DictConfig) -> dict[str, Any]:
    """The user's data files against the config, and the loss against their task, before TensorFlow: the data
    plugin's own `inspect` function reads the header and a sample (plugins/data/checks.py).

    Returns:
        The data's facts (`{"task": …}`; {} for a plugin that declares none).

    Raises:
        ConfigError: no such file or folder, a column the file lacks, a task the target cannot have, a loss for
            classes on a regression.
    """
    from plugins import manifest

    data = cfg.get("data")
    if not isinstance(data, DictConfig) or "name" not in data:
        return {}
    params = {str(k): v for k, v in cast(dict, OmegaConf.to_container(data, resolve=True)).items() if k != "name"}
    facts = manifest.inspect("data", str(data.name), params, "data")
    loss = cfg.get("loss")
    labels = manifest.entry("loss", str(loss.name)).get("labels") if isinstance(loss, DictConfig) else None
    if facts.get("task") == "regression" and labels not in (None, "value", "auto"):
        raise ConfigError(
            f"loss '{loss.name}' is for classification but the data is a regression task; use loss=auto (the "
            "task's own), loss=mse, loss=mae or loss=huber"
        )
    model = cfg.get("model")
    kinds = manifest.entry("model", str(model.name)).get("kinds") if isinstance(model, DictConfig) else None
    if kinds and facts.get("kind") and facts["kind"] not in kinds:
        takers = sorted(name for name, e in manifest.models().items() if facts["kind"] in e.get("kinds", ()))
        fits = "".join(f"model={n}, or " for n in takers)
        raise ConfigError(
            f"model '{model.name}' takes {' or '.join(kinds)} data, but data={data.name} is {facts['kind']} data; "
            f"use {fits}model=mlp (any data)"
        )
    return facts


def _resolve_sections(cfg: DictConfig | dict, wanted: set[str]) -> Experiment:
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    sections = _check_without_plugins(cfg, wanted)
    ops = _augmentation_ops(sections["augmentation"]) if "augmentation" in wanted else []
    chosen = {group: _choose(group, cfg[group]) if group in wanted else (None, None) for group in PLUGIN_GROUPS}
    options = chosen["regularizer"][1]
    if options is not None:
        _check_regularizer_options(options)
    experiment = Experiment(  # the groups not wanted by a stage are None: its view cannot read them
        cfg=cfg,
        **cast(dict[str, Any], {group: choice for group, (choice, _) in chosen.items()}),
        regularizer_options=cast(Any, options),
        augmentation_ops=ops,
        **cast(dict[str, Any], sections),
    )
    return experiment


def _augmentation_ops(augmentation: AugmentationConfig) -> list[Choice]:
    """The augmentation ops' plugins; label mixers (mixup, cutmix) only online."""
    ops = [_choose("augmentation", op, f"augmentation.ops.{i}")[0] for i, op in enumerate(augmentation.ops)]
    mixers = [op.plugin.name for op in ops if op.plugin.meta.get("mixes_labels")]
    if mixers and not augmentation.online:
        raise ConfigError(
            f"augmentation ops {', '.join(mixers)} mix labels within a batch, so they run online only; "
            "set augmentation.online=true"
        )
    return ops


def _check_regularizer_options(options: RegularizerOptions) -> None:
    # regularizer.dropout's range is checked with the sections, before any plugin (`_check_across`)
    if options.early_stopping.patience < 0:
        raise ConfigError("regularizer.early_stopping.patience must be ≥ 0 (0: no early stopping)")
