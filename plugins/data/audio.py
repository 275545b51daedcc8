"""Sound: a folder of recordings, one sub-folder per class (`data=audio_folder`), and the audio kind.

    speech/
      yes/  a.wav  b.flac  …
      no/   c.ogg  …

Each file is decoded with `soundfile` (WAV, FLAC, Ogg Vorbis, MP3: libsndfile's formats; TensorFlow's `decode_wav`
reads WAV only), mixed down to mono, resampled to `sample_rate` (SciPy's polyphase filter), then cut or padded
with silence to `clip_seconds`. The examples are raw waveforms, float32 in [-1, 1]: the log-mel spectrogram is
computed inside the model (Keras's `MelSpectrogram` layer, plugins/model/audio.py), so the saved model takes sound.

Bounded memory: only the first `clip_seconds` of a file are decoded (a two-hour recording costs its first seconds),
and the clip length defaults to the 95th percentile of the files' durations, at most MAX_SECONDS.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from plugins.data import verdict
from plugins.data.base import DataSpec, Splits, class_files, split_indices
from plugins.data.checks import inspect_folder
from plugins.data.kinds import DataKind, Evidence, register_kind
from plugins.registry import ConfigError, check_values, register

EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
MAX_SECONDS = 30.0  # the longest clip the default takes (a file's first 30 s at most)
VALUES = {
    "sample_rate": {"min": 1000, "max": 192_000},
    "clip_seconds": {"min": 0.05, "max": 600.0},
    "on_bad_file": {"choices": ["fail", "skip"]},
    "val_fraction": {"between": [0.0, 1.0]},
    "test_fraction": {"between": [0.0, 1.0]},
}
MEL_BINS = 40  # log-mel bands of the baseline's features (and the default model's)


@register("data", "audio_folder", task="classification", values=VALUES, inspect=inspect_folder, kind="audio")
def audio_folder(
    directory: str,
    sample_rate: int = 16_000,
    clip_seconds: float | None = None,
    on_bad_file: str = "fail",
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Splits:
    """Recordings in one sub-folder per class, as raw waveforms of one length (see the module).

    Args:
        directory: the folder of class sub-folders, relative to the repository root.
        sample_rate: the rate every file is resampled to (Hz).
        clip_seconds: every clip's length: longer files are cut, shorter ones padded with silence; null: the 95th
            percentile of the files' durations (at most 30 s).
        on_bad_file: "fail" (a one-line error naming the file) or "skip" (left out, listed by the prepare stage) for
            a file that cannot be decoded or holds no sound.
        val_fraction: share of the files kept for validation.
        test_fraction: share of the files kept for the test.
        seed: the (stratified) split's seed.

    Returns:
        Splits of float32 waveforms (clip samples,) and int32 class ids, with each file's path as its row.

    Example:
        `kerasforge train data=audio_folder data.directory=speech`
    """
    check_values(VALUES, {"sample_rate": sample_rate, "clip_seconds": clip_seconds, "on_bad_file": on_bad_file}, "data")
    classes, files, labels = class_files(Path(directory), EXTENSIONS, noun="sound files")
    durations, skipped = {}, []
    for file in files:
        try:
            durations[file] = _duration(file)
        except ConfigError:
            if on_bad_file == "fail":
                raise
            skipped.append(str(file))
    kept = [(f, y) for f, y in zip(files, labels) if f in durations]
    seconds = clip_seconds or min(MAX_SECONDS, float(np.percentile([durations[f] for f, _ in kept], 95)))
    samples = max(1, int(round(seconds * sample_rate)))
    x = np.stack([read_clip(f, sample_rate, samples) for f, _ in kept])
    y = np.asarray([label for _, label in kept], np.int32)
    if len(set(y.tolist())) < 2:
        raise ConfigError(f"{directory}: the readable files are of one class only; classification needs two")
    spec = DataSpec((samples,), "classification", len(classes), classes, kind="audio")
    spec.audio = {"sample_rate": sample_rate, "clip_seconds": seconds}
    parts = split_indices(y, val_fraction, test_fraction, seed, stratify=True)
    import pandas as pd

    names = np.asarray([str(f) for f, _ in kept])
    rows = {name: pd.DataFrame({"file": names[index]}) for name, index in zip(("train", "val", "test"), parts)}
    return Splits(*((x[i], y[i]) for i in parts), spec, skipped=skipped, rows=rows)


def _duration(file: Path) -> float:
    """A file's duration in seconds, from its header (nothing decoded).

    Raises:
        ConfigError: not a sound file libsndfile reads, or an empty one.
    """
    import soundfile

    try:
        info = soundfile.info(str(file))
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise ConfigError(f"{file}: not a sound file this reads (WAV, FLAC, Ogg Vorbis, MP3): {err}") from None
    if info.frames == 0 or info.samplerate <= 0:
        raise ConfigError(f"{file}: holds no sound (0 frames); remove it, or set data.on_bad_file=skip")
    return info.frames / info.samplerate


def read_clip(file: Path | str, sample_rate: int, samples: int) -> np.ndarray:
    """The first `samples` samples of a file at `sample_rate`, mono, float32 in [-1, 1], padded with silence.

    Only what the clip needs is decoded: the first samples × (the file's rate / sample_rate) frames.

    Raises:
        ConfigError: a file that cannot be decoded.
    """
    import soundfile
    from scipy.signal import resample_poly

    try:
        info = soundfile.info(str(file))
        frames = int(math.ceil(samples * info.samplerate / sample_rate)) + 16
        audio, rate = soundfile.read(str(file), frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise ConfigError(f"{file}: cannot be decoded ({err}); remove it, or set data.on_bad_file=skip") from None
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        g = math.gcd(int(rate), int(sample_rate))
        mono = resample_poly(mono, sample_rate // g, int(rate) // g).astype(np.float32)
    clip = np.zeros(samples, np.float32)
    clip[: min(samples, len(mono))] = mono[:samples]
    return np.clip(clip, -1.0, 1.0)


def log_mel_statistics(waves: np.ndarray, sample_rate: int, chunk: int = 256) -> np.ndarray:
    """Each waveform's log-mel spectrogram (Keras's `MelSpectrogram`, as the model computes it), summarized over
    time by each band's mean and deviation: the classical speech features (2 × MEL_BINS per clip)."""
    import keras

    layer = mel_layer(sample_rate)
    out = []
    for start in range(0, len(waves), chunk):
        mel = np.asarray(layer(keras.ops.convert_to_tensor(np.asarray(waves[start : start + chunk], np.float32))))
        out.append(np.concatenate([mel.mean(axis=2), mel.std(axis=2)], axis=1))
    return np.concatenate(out)


def mel_layer(sample_rate: int, bins: int = MEL_BINS):
    """The log-mel spectrogram of raw waveforms: 25 ms windows every 10 ms, `bins` mel bands, in decibels."""
    import keras

    window = int(round(0.025 * sample_rate))
    return keras.layers.MelSpectrogram(
        fft_length=1 << (window - 1).bit_length(),
        sequence_length=window,
        sequence_stride=int(round(0.010 * sample_rate)),
        sampling_rate=sample_rate,
        num_mel_bins=bins,
        min_freq=20.0,
        max_freq=sample_rate / 2,
        power_to_db=True,
    )


@register_kind
class AudioKind(DataKind):
    """Raw waveforms at one sample rate (`spec.audio["sample_rate"]`); the model computes their spectrogram."""

    name = "audio"
    files = EXTENSIONS
    noun = "sound files"

    def modality(self, spec: DataSpec) -> str | None:
        return "audio"  # the sound ops (plugins/augmentation/audio_ops.py): shift, gain, noise

    def check_files(self, files: list[Path], spec: DataSpec) -> None:
        for file in files:
            _duration(file)  # an empty or undecodable file, named from its header

    def file_batches(self, files: list[Path], spec: DataSpec, batch_size: int):
        """Clips read as training read them (mono, resampled, cut or padded); a file that cannot be decoded or
        holds no sound is a one-line error naming it."""
        rate, samples = int(spec.audio["sample_rate"]), int(spec.input_shape[0])
        for start in range(0, len(files), batch_size):
            part = files[start : start + batch_size]
            yield part, np.stack([read_clip(f, rate, samples) for f in part])

    def explain_inputs(self, inputs: list[str], spec: DataSpec) -> list[Path]:
        found = self.gather(inputs, spec).files
        self.check_files(found, spec)
        return found

    def explain(self, model, head, what, spec, out, steps, sanity):
        """Occlusion of time–frequency patches, drawn over each clip's spectrogram (plugins/data/audio_explain.py)."""
        from plugins.data.audio_explain import explain_clips

        rate, samples = int(spec.audio["sample_rate"]), int(spec.input_shape[0])
        clips = ((file, read_clip(file, rate, samples)) for file in what)
        return explain_clips(model, head, spec, clips, out, sanity)

    def mistakes_picture(self, x, order, y, predicted, probs, spec, out: Path) -> None:
        from plugins.data.audio_explain import mistakes_spectrograms

        mistakes_spectrograms(x, order, y, predicted, probs, spec, out)

    def baseline(self, evidence: Evidence) -> dict[str, Any]:
        """Log-mel statistics (each band's mean and deviation over time) and a logistic regression, fitted on the
        training clips, with the paired verdict on the test clips."""
        x, spec = evidence.x, evidence.spec
        if x.get("train") is None or spec.task != "classification":
            return {}
        rate = int((spec.audio or {}).get("sample_rate", 16_000))
        features = {split: log_mel_statistics(x[split], rate) for split in ("train", "test")}
        found = verdict.logistic_regression(
            "logistic_regression_log_mel", features, evidence.answers, evidence.predicted, evidence.headline
        )
        return {"baseline": found}
