"""Fine-tuning's value rules, without Keras: run on the config before TensorFlow is imported (see
plugins/optimizer/checks.py)."""

from __future__ import annotations

from plugins.registry import ConfigError


def check_two_phase(params: dict, where: str) -> None:
    """Refuses negative epochs or layers, an `unfreeze` that is neither "all" nor a number, a negative rate.

    Args:
        params: two_phase's parameters.
        where: the config path, e.g. "finetune".

    Raises:
        ConfigError: one line naming the value and what it must be.
    """
    frozen, unfreeze, rate = params.get("frozen_epochs"), params.get("unfreeze"), params.get("backbone_lr")
    if isinstance(frozen, int) and frozen < 0:
        raise ConfigError(f"{where}.frozen_epochs: {frozen} must be ≥ 0")
    if unfreeze is not None and str(unfreeze) != "all":
        try:
            layers = int(unfreeze)
        except ValueError:
            raise ConfigError(f"{where}.unfreeze: '{unfreeze}' must be 'all' or a number of layers, e.g. 20") from None
        if layers < 0:
            raise ConfigError(f"{where}.unfreeze: {layers} must be ≥ 0 (or 'all')")
    if isinstance(rate, (int, float)) and not rate >= 0:
        raise ConfigError(f"{where}.backbone_lr: {rate} must be ≥ 0 (a multiple of optimizer.learning_rate)")
