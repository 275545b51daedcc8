"""Augmentation plugins: image ops, chained in order by `augmentation.ops`.

Contract. A builder receives `seed` (context: the framework derives one per
op from `trainer.seed`) and its parameters, and returns a Keras layer that
maps a batch of images `(batch, height, width, channels)`, float32 in
[0, 1], to a batch of the same shape, random when called with
`training=True` and seeded by `seed`. Register with `context=("seed",)`;
`geometric=True` lets consecutive geometric ops fuse into one warp (the
layer must then be a `RandomAffine`); `mixes_labels=True` marks an op that
takes `{"images", "labels"}` and mixes one-hot labels (online only).

Example (`plugins/augmentation/invert.py` + `conf/augmentation/invert.yaml`
holding `copies: 1`, `ops: [{name: invert}]`):

    import keras
    from plugins.registry import register

    @register("augmentation", "invert", context=("seed",))
    def invert(seed: int, probability: float = 0.5) -> keras.layers.Layer:
        return keras.layers.RandomInvert(factor=probability, seed=seed)
"""
