"""The optimizers' value rules, without Keras: run on the config before TensorFlow is imported.

plugins/manifest.json names this function for every built-in optimizer
(`"check"`), so `kerasforge train optimizer.momentum=1.5` is refused in a
fraction of a second; `Plugin.build` runs it again on the built-in path.
"""

from __future__ import annotations

from plugins.registry import ConfigError


def check_optimizer(params: dict, where: str) -> None:
    """Refuses values Keras would take but that cannot train (or that it only fails on later).

    Args:
        params: the optimizer's parameters (those not given keep Keras's defaults, which pass).
        where: the config path, e.g. "optimizer".

    Raises:
        ConfigError: one line naming the value and the valid range.
    """
    rate = params.get("learning_rate")
    if isinstance(rate, (int, float)) and rate <= 0:
        raise ConfigError(f"{where}.learning_rate={rate} must be > 0, e.g. 0.001")
    momentum = params.get("momentum")
    if momentum is not None and not 0.0 <= momentum < 1.0:
        raise ConfigError(f"{where}.momentum={momentum} must be in [0, 1), e.g. 0.9")
    for key in ("clipnorm", "clipvalue", "global_clipnorm"):
        if params.get(key) is not None and params[key] <= 0:
            raise ConfigError(f"{where}.{key}={params[key]} must be > 0 (or null for no clipping)")
    if params.get("clipnorm") is not None and params.get("global_clipnorm") is not None:
        raise ConfigError(f"{where}: set clipnorm or global_clipnorm, not both")
    if params.get("weight_decay") is not None and params["weight_decay"] < 0:
        raise ConfigError(f"{where}.weight_decay={params['weight_decay']} must be ≥ 0")
    for key in ("beta_1", "beta_2", "rho"):
        if params.get(key) is not None and not 0.0 <= params[key] < 1.0:
            raise ConfigError(f"{where}.{key}={params[key]} must be in [0, 1)")
