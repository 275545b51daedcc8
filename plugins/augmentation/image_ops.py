"""Image augmentation ops: Keras preprocessing layers, registered as plugins.

An augmentation config lists ops; `build_pipeline` chains them into one
layer. The seed comes from `trainer.seed`, so the same seed gives the same
augmented images.
"""

from __future__ import annotations

import keras

from plugins.registry import register

register("augmentation", "flip", context=("seed",))(keras.layers.RandomFlip)
register("augmentation", "rotation", context=("seed",))(keras.layers.RandomRotation)
register("augmentation", "translation", context=("seed",))(keras.layers.RandomTranslation)
