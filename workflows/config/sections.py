"""The config's sections as typed records: `trainer`, `augmentation`, `evaluate`, `export`, and the regularizer's
options beside its penalty. `workflows.config.schema` checks a composed config against them; an `Experiment` holds
them. Plain dataclasses: no plugin, no Keras."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PLUGIN_GROUPS = ("data", "model", "loss", "optimizer", "schedule", "regularizer", "finetune", "privacy", "cv")
SECTIONS = (*PLUGIN_GROUPS, "augmentation", "trainer", "evaluate", "export")


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
    recalibrate_batch_norm: bool = True
    class_weight: Any = None
    tensorboard: bool = False


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


@dataclass
class ExportConfig:
    """`export.*`: options of the export stage only (workflows/stages/export.py; changing them does not retrain).

    Attributes:
        quantize: TensorFlow Lite quantization: none, float16, dynamic_range or int8.
        calibration_rows: training rows that calibrate int8 activations.
    """

    quantize: str = "none"
    calibration_rows: int = 200
