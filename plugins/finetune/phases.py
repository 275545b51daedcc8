"""Two-phase fine-tuning: train the new head on a frozen backbone, then unfreeze its top and train on, slower."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.finetune.checks import check_two_phase
from plugins.registry import register


@dataclass(frozen=True)
class FineTune:
    """The phases of fine-tuning.

    Attributes:
        frozen_epochs: epochs (of `trainer.epochs`) with the whole backbone frozen.
        unfreeze: how many of the backbone's top layers with weights to unfreeze afterwards (an int; 0: none), or
            "all". Batch-normalization layers stay frozen, in inference mode, whatever this says.
        backbone_lr: the unfrozen backbone's learning rate, as a multiple of the optimizer's (and its schedule's).
    """

    frozen_epochs: int
    unfreeze: int | str
    backbone_lr: float


@register("finetune", "none")
def none() -> None:
    """Ordinary training: every layer trains from the first epoch, at one learning rate."""
    return None


@register("finetune", "two_phase", check=check_two_phase)
def two_phase(frozen_epochs: int = 5, unfreeze: str = "all", backbone_lr: float = 0.1) -> FineTune:
    """Phase one trains the head on the frozen backbone; phase two unfreezes its top layers at a lower rate.

    Args:
        frozen_epochs: epochs with the backbone frozen (the first ones of `trainer.epochs`).
        unfreeze: "all", or the number of the backbone's top layers with weights to unfreeze (e.g. 20).
        backbone_lr: the backbone's learning rate in phase two, as a multiple of the optimizer's.

    Returns:
        The FineTune plan (the values checked by `check_two_phase`, which the registry runs first).

    Example:
        `python -m workflows.train model=mobilenet_v2 model.weights=imagenet finetune=two_phase finetune.unfreeze=30`
    """
    return FineTune(frozen_epochs, int(unfreeze) if str(unfreeze) != "all" else "all", float(backbone_lr))
