"""Image augmentation ops, registered as plugins; `build_pipeline` chains an augmentation config's ops.

Geometric ops (plugins/augmentation/affine.py) that follow one another are
fused into one warp per batch; the others (plugins/augmentation/photometric.py)
are Keras's layers, each applied with its probability.
"""

from __future__ import annotations

import keras

from plugins.augmentation.affine import fuse


def build_pipeline(layers: list[keras.layers.Layer]) -> keras.Sequential | None:
    """One Keras layer applying `layers` in order, consecutive geometric ones fused; None for none."""
    if not layers:
        return None
    return keras.Sequential(fuse(layers), name="augmentation")
