"""A model for sound: log-mel frames inside the model, a small 1-D CNN over them, mean-and-deviation pooling."""

from __future__ import annotations

import keras

from plugins.data.base import DataSpec
from plugins.model.head import Head
from plugins.registry import ConfigError, register


@keras.saving.register_keras_serializable(package="kerasforge")
class MeanAndDeviation(keras.layers.Layer):
    """Each channel's mean and standard deviation over time: a clip of any length as one vector (statistics
    pooling, as speaker and language recognisers summarize their frames)."""

    def call(self, x):
        mean = keras.ops.mean(x, axis=1)
        deviation = keras.ops.sqrt(keras.ops.maximum(keras.ops.var(x, axis=1), 1e-6))
        return keras.ops.concatenate([mean, deviation], axis=-1)


@keras.saving.register_keras_serializable(package="kerasforge")
class BandMeanNormalization(keras.layers.Layer):
    """Each mel band minus its mean over the clip (cepstral mean normalization): a microphone's or a phone line's
    colouring is a constant per band in decibels, and goes; what is said stays."""

    def call(self, x):
        return x - keras.ops.mean(x, axis=1, keepdims=True)


@keras.saving.register_keras_serializable(package="kerasforge")
class SpecAugmentMasks(keras.layers.Layer):
    """SpecAugment's masks (Park et al., 2019), in training only: `time_masks` stretches of up to `time_width` frames
    and `band_masks` runs of up to `band_width` mel bands set to the clip's mean (0 after normalization), drawn
    anew for every clip of every batch. Inference passes the spectrogram through unchanged.

    Args:
        time_masks: stretches of time masked per clip.
        time_width: the longest stretch, in frames (10 ms each).
        band_masks: runs of bands masked per clip.
        band_width: the longest run, in mel bands.
        seed: the random draws' seed.
    """

    def __init__(self, time_masks=2, time_width=10, band_masks=2, band_width=5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.time_masks, self.time_width, self.band_masks, self.band_width = (
            time_masks,
            time_width,
            band_masks,
            band_width,
        )
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _keep(self, batch, length, masks: int, width: int):
        """(batch, length) of 1 where no mask falls, 0 under any of `masks` runs of up to `width` positions."""
        ops = keras.ops
        keep = ops.ones((batch, length))
        positions = ops.cast(ops.arange(length), "float32")[None, :]
        for _ in range(masks):
            run = ops.floor(keras.random.uniform((batch, 1), 0.0, width + 1.0, seed=self.generator))
            start = ops.floor(keras.random.uniform((batch, 1), seed=self.generator) * ops.cast(length, "float32"))
            keep = keep * ops.cast(ops.logical_or(positions < start, positions >= start + run), "float32")
        return keep

    def call(self, x, training=False):
        if not training or (self.time_masks == 0 and self.band_masks == 0):
            return x
        shape = keras.ops.shape(x)  # (batch, frames, bands)
        keep = self._keep(shape[0], shape[1], self.time_masks, self.time_width)[:, :, None]
        keep = keep * self._keep(shape[0], shape[2], self.band_masks, self.band_width)[:, None, :]
        return x * keep

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "band_masks": self.band_masks,
            "band_width": self.band_width,
            "seed": self.seed,
        }


@register("model", "audio_cnn", context=("spec", "head"), kinds=("audio",))
def audio_cnn(
    spec: DataSpec,
    head: Head,
    filters: list[int] = (64, 64, 96),
    kernel_size: int = 5,
    mel_bins: int = 40,
    dropout: float = 0.2,
    time_masks: int = 0,
    band_masks: int = 0,
) -> keras.Model:
    """Raw waveforms → log-mel spectrogram (Keras's `MelSpectrogram`, 25 ms windows every 10 ms) → normalized per
    band → 1-D convolutions over time (batch norm, ReLU) → each channel's mean and deviation over time → the head.

    Args:
        spec: the data's spec (`spec.audio["sample_rate"]`, the clip's samples).
        head: the output head.
        filters: channels of each convolution.
        kernel_size: frames each convolution reads.
        mel_bins: mel bands of the spectrogram.
        dropout: dropout before the head.
        time_masks: SpecAugment's time masks per clip in training (up to 10 frames each; 0: none).
        band_masks: SpecAugment's frequency masks per clip in training (up to 5 mel bands each; 0: none).

    Returns:
        A functional keras.Model that takes raw sound.

    Example:
        `kerasforge train data=audio_folder data.directory=speech model=audio_cnn`
    """
    from plugins.data.audio import mel_layer

    if spec.kind != "audio" or not spec.audio:
        raise ConfigError(f"model 'audio_cnn' takes sound (data=audio_folder), not {spec.kind} data; use model=mlp")
    inputs = keras.Input(spec.input_shape)
    mel = mel_layer(int(spec.audio["sample_rate"]), mel_bins)(inputs)  # (batch, bins, frames), in decibels
    x = keras.layers.Permute((2, 1))(mel)  # (batch, frames, bins)
    x = BandMeanNormalization()(x)  # the channel's colouring aside (a phone line, a microphone)
    x = keras.layers.LayerNormalization(axis=-1)(x)  # each frame's bands about their mean: loudness aside
    if time_masks or band_masks:  # masked after normalization: a masked cell holds the clip's mean
        x = SpecAugmentMasks(time_masks, 10, band_masks, min(5, mel_bins // 4))(x)
    for width in filters:
        x = keras.layers.Conv1D(width, kernel_size, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
    x = MeanAndDeviation()(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name="audio_cnn")
