"""The weight penalties' value rules, without Keras: run on the config before TensorFlow is imported (see
plugins/optimizer/checks.py)."""

from __future__ import annotations

from plugins.registry import ConfigError


def check_strengths(params: dict, where: str) -> None:
    """Refuses a negative penalty strength (`l1`, `l2`, scikit-learn's `alpha`).

    Args:
        params: the regularizer's parameters.
        where: the config path, e.g. "regularizer".

    Raises:
        ConfigError: one line naming the value.
    """
    for key in ("l1", "l2", "alpha"):
        value = params.get(key)
        if isinstance(value, (int, float)) and value < 0:
            raise ConfigError(f"{where}.{key}={value} must be ≥ 0")
