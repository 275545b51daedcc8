"""Sound as users have it (plugins/data/audio.py): WAV, FLAC and Ogg files, any rate, mono or stereo, any length."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from plugins.data.audio import audio_folder, read_clip
from plugins.registry import ConfigError


def tone(seconds: float, rate: int, hz: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * hz * t).astype(np.float32)
    return np.column_stack([wave] * channels) if channels > 1 else wave


def a_folder(root, per_class: int = 12):
    """Two classes of tones (low, high) in mixed formats, rates, channels and lengths."""
    formats = [("wav", 16_000, 1), ("flac", 44_100, 2), ("ogg", 22_050, 1)]
    for label, hz in (("low", 220.0), ("high", 1760.0)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            ending, rate, channels = formats[i % 3]
            soundfile.write(root / label / f"{i}.{ending}", tone(0.5 + 0.05 * i, rate, hz, channels), rate)
    return root


def test_files_of_any_format_rate_and_channels_become_clips_of_one_length(tmp_path):
    splits = a_folder(tmp_path / "tones")
    found = audio_folder(str(splits), sample_rate=8_000)
    spec = found.spec
    assert spec.kind == "audio" and spec.class_names == ["high", "low"] and spec.audio["sample_rate"] == 8_000
    seconds = spec.audio["clip_seconds"]
    assert 0.5 < seconds <= 0.5 + 0.05 * 11 and spec.input_shape == (round(seconds * 8_000),)
    x, y = found.train
    assert x.dtype == np.float32 and x.shape[1:] == spec.input_shape and np.abs(x).max() <= 1.0
    assert sorted(found.rows["train"]["file"].str.rsplit(".", n=1).str[-1].unique()) == ["flac", "ogg", "wav"]


def test_a_stereo_file_at_another_rate_is_mixed_down_and_resampled(tmp_path):
    left_right = np.column_stack([tone(1.0, 44_100, 440.0), np.zeros(44_100, np.float32)])
    soundfile.write(tmp_path / "s.flac", left_right, 44_100)
    clip = read_clip(tmp_path / "s.flac", 8_000, 4_000)  # half a second at 8 kHz
    assert clip.shape == (4_000,) and abs(np.abs(clip).max() - 0.25) < 0.02  # the mean of the two channels
    spectrum = np.abs(np.fft.rfft(clip))
    assert abs(np.argmax(spectrum) * 8_000 / 4_000 - 440) <= 2  # still 440 Hz after resampling
    padded = read_clip(tmp_path / "s.flac", 8_000, 16_000)  # two seconds asked of a one-second file: silence after
    assert np.abs(padded[8_100:]).max() == 0.0


def test_a_two_hour_file_costs_only_its_clip(tmp_path):
    """Only what the clip needs is decoded: a long recording is bounded by the clip, not by its length."""
    import tracemalloc

    rate = 8_000
    with soundfile.SoundFile(tmp_path / "long.wav", "w", rate, 1, subtype="PCM_16") as out:
        block = tone(60.0, rate, 300.0)
        for _ in range(120):  # two hours
            out.write(block)
    tracemalloc.start()
    clip = read_clip(tmp_path / "long.wav", rate, rate)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert clip.shape == (rate,) and peak < 5_000_000  # 115 MB of samples in the file; a few hundred kB read


def test_empty_corrupt_and_one_class_folders_are_one_line(tmp_path):
    root = a_folder(tmp_path / "tones", per_class=6)
    soundfile.write(root / "low" / "empty.wav", np.zeros(0, np.float32), 16_000)
    with pytest.raises(ConfigError, match=r"empty.wav: holds no sound \(0 frames\).*data.on_bad_file=skip"):
        audio_folder(str(root))
    (root / "low" / "empty.wav").unlink()
    (root / "high" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(ConfigError, match=r"broken.wav: not a sound file this reads"):
        audio_folder(str(root))
    skipped = audio_folder(str(root), on_bad_file="skip")
    assert skipped.skipped == [str(root / "high" / "broken.wav")]
    only = tmp_path / "one"
    (only / "yes").mkdir(parents=True)
    soundfile.write(only / "yes" / "a.wav", tone(0.5, 16_000, 440.0), 16_000)
    with pytest.raises(ConfigError, match="classification needs at least two sub-folders"):
        audio_folder(str(only))
