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


@register("model", "audio_cnn", context=("spec", "head"), kinds=("audio",))
def audio_cnn(
    spec: DataSpec,
    head: Head,
    filters: list[int] = (64, 64, 96),
    kernel_size: int = 5,
    mel_bins: int = 40,
    dropout: float = 0.2,
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
    for width in filters:
        x = keras.layers.Conv1D(width, kernel_size, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
    x = MeanAndDeviation()(x)
    x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, head.layer()(x), name="audio_cnn")
