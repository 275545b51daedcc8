"""Fine-tuning plugins: how a model with a pretrained backbone is trained in phases.

Contract. A builder receives its parameters and returns a
`plugins.finetune.phases.FineTune` (the phases: epochs with the backbone
frozen, then which of its layers to unfreeze and the backbone's learning-rate
multiplier) or None for ordinary training. The train stage runs the phases:
it freezes the backbone (the model's nested `keras.Model`, e.g. the
keras.applications base), fits, unfreezes, recompiles and fits on, the
learning-rate schedule continuing across the phases. Batch-normalization
layers of the backbone are never unfrozen: they stay in inference mode.

Example (`plugins/finetune/head_only.py` + `conf/finetune/head_only.yaml`
holding `name: head_only`):

    from plugins.finetune.phases import FineTune
    from plugins.registry import register

    @register("finetune", "head_only")
    def head_only(epochs: int = 5):
        return FineTune(frozen_epochs=epochs, unfreeze=0, backbone_lr=0.0)
"""
