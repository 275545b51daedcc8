"""Fine-tuning a pretrained backbone in phases (`finetune=two_phase`; the plan is plugins/finetune/phases.py).

Phase one trains the head on the frozen backbone. Phase two unfreezes the
backbone's top layers (never its batch-normalization layers: frozen, they
stay in inference mode, as Keras's transfer-learning guide advises) and
trains on with the backbone's learning rate multiplied by `backbone_lr`.
Keras has no per-variable learning rate, so the optimizer's update step is
given the scaled rate for the backbone's variables (any optimizer, any
schedule: the rate the step receives is what it multiplies its update by).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins.registry import ConfigError

if TYPE_CHECKING:
    import keras


def backbone_of(model: keras.Model, model_name: str) -> keras.Model:
    """The model's backbone: its one nested `keras.Model` layer (the keras.applications base)."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ConfigError(
            f"finetune=two_phase needs a model with a pretrained backbone (resnet50, mobilenet_v2, "
            f"efficientnet_b0 with model.weights); model '{model_name}' has none: use finetune=none"
        )
    return nested[0]


def _is_batch_norm(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def freeze(backbone: keras.Model) -> None:
    """Freezes every layer of the backbone (its batch normalization then runs in inference mode)."""
    backbone.trainable = False


def unfreeze(backbone: keras.Model, top: int | str) -> list[str]:
    """Unfreezes the backbone's `top` last layers with weights ("all": every one), batch normalization excepted.

    Returns:
        The names of the unfrozen layers.
    """
    backbone.trainable = True  # sets every layer; then freeze back what stays frozen
    weighted = [layer for layer in backbone.layers if layer.weights and not _is_batch_norm(layer)]
    chosen = weighted if top == "all" else (weighted[len(weighted) - int(top) :] if int(top) else [])
    names = {layer.name for layer in chosen}
    for layer in backbone.layers:
        layer.trainable = layer.name in names
    return [layer.name for layer in chosen]


def continue_with_backbone_rate(
    optimizer, model: keras.Model, backbone: keras.Model, multiplier: float, iterations: int
) -> None:
    """Builds `optimizer` on the model's trainable variables, continues its step count (so that the schedule goes
    on where phase one left it), and scales the learning rate of the backbone's variables by `multiplier`."""
    optimizer.build(model.trainable_variables)
    optimizer.iterations.assign(iterations)
    backbone_ids = {id(v) for v in backbone.trainable_variables}
    indices = {i for i, v in enumerate(optimizer._trainable_variables) if id(v) in backbone_ids}
    step = optimizer.update_step

    def update_step(gradient, variable, learning_rate):
        # `_get_variable_index` finds a variable however the strategy hands it over (a replica's copy, a value).
        if optimizer._get_variable_index(variable) in indices:
            learning_rate = learning_rate * multiplier
        return step(gradient, variable, learning_rate)

    optimizer.update_step = update_step
