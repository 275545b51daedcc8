"""Image augmentation ops, registered as plugins; `build_pipeline` chains an augmentation config's ops.

Geometric ops (plugins/augmentation/affine.py) that follow one another are fused into one warp per image; the
others (plugins/augmentation/photometric.py) are Keras's layers, each applied with its probability.
"""

from __future__ import annotations

from typing import Any

from plugins.augmentation.warp import Affine, fuse


def build_pipeline(ops: list[Any]) -> Any:
    """One Keras layer applying `ops` in order, consecutive geometric ones fused; None for none."""
    if not ops:
        return None
    import keras

    from plugins.augmentation._keras_layers import as_layer

    return keras.Sequential([as_layer(op) for op in fuse(ops)], name="augmentation")


def numpy_pipeline(ops: list[Any]) -> Affine | None:
    """The ops as one NumPy warp (`Affine`), when they are all geometric and fuse into one; else None (then they
    run as Keras layers, `build_pipeline`)."""
    fused = fuse(ops)
    return fused[0] if len(fused) == 1 and isinstance(fused[0], Affine) else None
