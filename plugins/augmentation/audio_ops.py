"""Sound augmentation ops: a shift in time, a change of gain, noise at a signal-to-noise ratio, on raw waveforms.

Registered with `modality="audio"`: the framework applies them to sound only (`data=audio_folder`), online in
tf.data or offline as copies, as the image ops to images. Each op is a Keras layer on float32 waveforms
`(batch, samples)`, one random draw per clip, random with `training=True` and seeded by its `seed`.

    kerasforge train data=audio_folder data.directory=speech augmentation=speech
"""

from __future__ import annotations

from typing import Any

from plugins.registry import register

CONTEXT = ("seed",)


@register(
    "augmentation", "time_shift", context=CONTEXT, modality="audio", values={"max_fraction": {"between": [0.0, 1.0]}}
)
def time_shift(seed: int, max_fraction: float = 0.1) -> Any:
    """Random shift in time (sound only): each clip moves by up to `max_fraction` of its length.

    Args:
        seed: the op's seed (given by the framework).
        max_fraction: the largest shift, as a share of the clip.
    """
    from plugins.augmentation._audio_layers import TimeShift

    return TimeShift(max_fraction, seed=seed)


@register("augmentation", "gain", context=CONTEXT, modality="audio", values={"max_db": {"min": 0.0, "max": 40.0}})
def gain(seed: int, max_db: float = 6.0) -> Any:
    """Random gain (sound only): each clip louder or quieter by up to `max_db` decibels.

    Args:
        seed: the op's seed (given by the framework).
        max_db: the largest change, in decibels.
    """
    from plugins.augmentation._audio_layers import Gain

    return Gain(max_db, seed=seed)


@register(
    "augmentation",
    "noise",
    context=CONTEXT,
    modality="audio",
    values={"min_snr_db": {"min": -20.0, "max": 80.0}, "max_snr_db": {"min": -20.0, "max": 80.0}},
)
def noise(seed: int, min_snr_db: float = 10.0, max_snr_db: float = 30.0) -> Any:
    """Random white noise (sound only), at a signal-to-noise ratio in [min_snr_db, max_snr_db] decibels.

    Args:
        seed: the op's seed (given by the framework).
        min_snr_db: the noisiest ratio.
        max_snr_db: the cleanest ratio.
    """
    if min_snr_db > max_snr_db:
        from plugins.registry import ConfigError

        raise ConfigError(f"augmentation noise: min_snr_db={min_snr_db} is above max_snr_db={max_snr_db}; swap them")
    from plugins.augmentation._audio_layers import Noise

    return Noise(min_snr_db, max_snr_db, seed=seed)


def __getattr__(name: str):
    """The Keras layers (TimeShift, Gain, Noise), imported on first use: Keras starts TensorFlow."""
    from plugins.augmentation import _audio_layers

    try:
        return getattr(_audio_layers, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
