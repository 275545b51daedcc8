"""The geometric ops as a Keras layer: `RandomAffine` runs `plugins.augmentation.warp.Affine` (NumPy draws, OpenCV's
warp) inside tf.data's and Keras's graphs, through one `tf.numpy_function` per batch; its `SeedGenerator` gives
each batch its seed. Imported when a training pipeline is built (Keras starts TensorFlow)."""

from __future__ import annotations

import keras

from plugins.augmentation.warp import Affine


@keras.saving.register_keras_serializable(package="kerasforge.augmentation", name="RandomAffine")
class RandomAffine(keras.layers.Layer):
    """Random rotation, shifts, zoom, shear and flips, composed into one warp per image, as a Keras layer.

    Args:
        **params: `Affine`'s arguments (rotation, width_shift, height_shift, zoom, shear, horizontal_flip,
            vertical_flip, probabilities, flip_probability, fill_mode, fill_value, interpolation, seed).

    Example:
    >>> layer = RandomAffine(rotation=20, width_shift=0.2, height_shift=0.2, horizontal_flip=True, seed=0)
    >>> augmented = layer(images, training=True)
    """

    def __init__(self, name=None, dtype=None, trainable=True, **params):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self.affine = Affine(**params)
        self.seed_generator = keras.random.SeedGenerator(self.affine.seed)

    def __getattr__(self, name: str):
        affine = self.__dict__.get("affine")
        if affine is not None and hasattr(affine, name):  # components(), matrices(), augment_numpy(), rotation…
            return getattr(affine, name)
        raise AttributeError(f"'RandomAffine' has no attribute '{name}'")

    def call(self, images, training=True):
        if not training or not self.affine.components():
            return images
        import tensorflow as tf  # tf.numpy_function: OpenCV's warp inside tf.data's (and Keras's) graphs

        seed = keras.random.randint((2,), 0, 2**31 - 1, seed=self.seed_generator, dtype="int32")
        out = tf.numpy_function(self.affine.augment_numpy, [images, seed], images.dtype, stateful=False)
        out.set_shape(images.shape)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def merge(self, other: RandomAffine) -> RandomAffine | None:
        """One layer doing both, or None when they overlap or fill differently."""
        merged = self.affine.merge(other.affine)
        return None if merged is None else RandomAffine(**merged.config())

    def get_config(self):
        return {**super().get_config(), **self.affine.config()}


def as_layer(op):
    """A geometric op (`Affine`) as a Keras layer; any other op as it is."""
    return RandomAffine(**op.config()) if isinstance(op, Affine) else op
