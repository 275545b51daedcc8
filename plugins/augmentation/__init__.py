"""Augmentation plugins: image ops, chained in order by `augmentation.ops`.

Contract. A builder receives `seed` (context: the framework derives one per
op from `trainer.seed`) and its parameters, and returns a Keras layer that
maps a batch of images `(batch, height, width, channels)`, float32 in
[0, 1], to a batch of the same shape, random when called with
`training=True` and seeded by `seed`. Register with `context=("seed",)`;
`geometric=True` lets consecutive geometric ops fuse into one warp (the
op must then return a `plugins.augmentation.warp.Affine`: NumPy and OpenCV,
which the augment stage runs without TensorFlow); `mixes_labels=True` marks
an op that takes `{"images", "labels"}` and mixes one-hot labels (online
only). Import Keras inside the builder, not at the module's top: listing
the ops and the augment stage's geometric copies then start no TensorFlow.

Example (`plugins/augmentation/invert.py` + `conf/augmentation/invert.yaml`
holding `copies: 1`, `ops: [{name: invert}]`):

    from plugins.registry import register

    @register("augmentation", "invert", context=("seed",))
    def invert(seed: int, probability: float = 0.5):
        import keras

        return keras.layers.RandomInvert(factor=probability, seed=seed)
"""

VALUE_RANGE = (0.0, 1.0)  # the pixel values the image ops take and give (what the data plugins produce)
