"""The losses' value rules, without Keras: run on the config before TensorFlow is imported (see
plugins/optimizer/checks.py)."""

from __future__ import annotations

from plugins.registry import ConfigError


def check_label_smoothing(params: dict, where: str) -> None:
    """Refuses a label smoothing outside [0, 1) and a negative focal gamma.

    Args:
        params: the loss's parameters.
        where: the config path, e.g. "loss".

    Raises:
        ConfigError: one line naming the value and the valid range.
    """
    smoothing = params.get("label_smoothing")
    if smoothing is not None and not 0.0 <= smoothing < 1.0:
        raise ConfigError(f"{where}.label_smoothing={smoothing} must be in [0, 1), e.g. 0.1")
    gamma = params.get("gamma")
    if gamma is not None and gamma < 0:
        raise ConfigError(f"{where}.gamma={gamma} must be ≥ 0 (0 is plain cross-entropy)")
