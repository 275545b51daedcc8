"""Sound augmentation ops (plugins/augmentation/audio_ops.py): what each does to a waveform, seeded, training only."""

from __future__ import annotations

import numpy as np

from plugins.augmentation.audio_ops import Gain, Noise, TimeShift
from plugins.data.base import DataSpec


def tone(batch: int = 64, samples: int = 4000) -> np.ndarray:
    t = np.arange(samples) / 8000
    return np.tile(0.5 * np.sin(2 * np.pi * 300 * t), (batch, 1)).astype(np.float32)


def test_a_time_shift_moves_each_clip_and_fills_with_silence():
    x = np.zeros((32, 100), np.float32)
    x[:, 50] = 1.0  # one click in the middle
    out = np.asarray(TimeShift(0.2, seed=0)(x, training=True))
    where = out.argmax(axis=1)
    assert np.all(np.abs(where - 50) <= 20) and len(set(where.tolist())) > 5  # moved, by up to 20 samples
    assert np.allclose(out.sum(axis=1), 1.0)  # the click, once; the rest silence
    assert np.array_equal(np.asarray(TimeShift(0.2, seed=0)(x, training=False)), x)  # nothing at inference
    again = np.asarray(TimeShift(0.2, seed=0)(x, training=True))
    assert np.array_equal(out, again)  # seeded: the same draws


def test_gain_stays_within_its_decibels():
    x = tone()
    out = np.asarray(Gain(6.0, seed=1)(x, training=True))
    ratio_db = 20 * np.log10(np.abs(out).max(axis=1) / np.abs(x).max(axis=1))
    assert ratio_db.min() >= -6.01 and ratio_db.max() <= 6.01 and ratio_db.std() > 1  # spread over the range


def test_noise_is_added_at_the_drawn_signal_to_noise_ratio():
    x = tone()
    out = np.asarray(Noise(20.0, 20.0, seed=2)(x, training=True))
    snr = 10 * np.log10(np.mean(x**2, axis=1) / np.mean((out - x) ** 2, axis=1))
    assert np.allclose(snr, 20.0, atol=0.5)


def test_the_sound_ops_apply_to_sound_only(compose):
    from workflows.config.schema import resolve

    experiment = resolve(compose(["augmentation=speech"]))
    sound = DataSpec((4000,), "classification", 2, ["a", "b"], kind="audio", audio={"sample_rate": 8000})
    image = DataSpec((8, 8, 1), "classification", 2, ["a", "b"], kind="image")
    assert experiment.augments(sound) and not experiment.augments(image)
    out = np.asarray(experiment.build_augmenter(seed=0, spec=sound)(tone(4), training=True))
    assert out.shape == (4, 4000) and not np.allclose(out, tone(4))
    assert not resolve(compose(["augmentation=rotate_shift"])).augments(sound)  # image ops leave sound alone


def test_spec_augment_masks_runs_of_frames_and_bands_in_training_only(tmp_path):
    import keras

    from plugins.model.audio import SpecAugmentMasks

    x = np.ones((64, 100, 40), np.float32)
    layer = SpecAugmentMasks(time_masks=2, time_width=10, band_masks=2, band_width=5, seed=3)
    out = np.asarray(layer(x, training=True))
    assert np.array_equal(np.asarray(layer(x, training=False)), x)  # inference: unchanged
    frames_masked = (out == 0).all(axis=2).sum(axis=1)  # whole frames set to the mean (0), per clip
    bands_masked = (out == 0).all(axis=1).sum(axis=1)
    assert frames_masked.max() <= 20 and bands_masked.max() <= 10  # at most two runs of the widest
    assert frames_masked.std() > 0 and bands_masked.std() > 0 and (frames_masked > 0).mean() > 0.7  # drawn per clip
    masked = (out == 0).any(axis=2)
    starts = (np.diff(masked.astype(int), axis=1) == 1).sum(axis=1) + masked[:, 0]
    assert starts.max() <= 2  # runs, not scattered frames
    inputs = keras.Input((100, 40))
    model = keras.Model(inputs, SpecAugmentMasks(1, 5, 1, 3)(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.layers[-1].get_config()["band_width"] == 3
