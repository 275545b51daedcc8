"""Sound's pictures: a clip's explanation by occlusion of time–frequency patches, and the worst mistakes'
spectrograms.

Occlusion (Zeiler & Fergus, 2014) rather than gradients: the model's input is a waveform, and a gradient over
samples draws no picture a listener reads. Each patch — a band of frequencies over a stretch of time — is removed
from the clip's short-time Fourier transform, the clip is resynthesised (SciPy's `istft`), and the patch's score is
the predicted class's probability with the clip whole minus without the patch: what the model heard there. The
patches are drawn over the clip's spectrogram (`<clip>.png`), and every patch's score is in `patches.csv`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from plugins.data.attribution import class_output, prediction, randomized, rank_correlation
from plugins.data.kinds import mistakes_axes
from plugins.model.outputs import file_name

TIME_PATCHES = 10  # stretches of time per clip
BAND_PATCHES = 8  # bands of frequency (equal on the mel scale, as the model hears)
GRID = 12  # spectrograms in mistakes.png


def _stft(wave: np.ndarray, rate: int):
    from scipy.signal import stft

    window = max(16, int(round(0.025 * rate)))
    return stft(wave, fs=rate, nperseg=window, noverlap=window - max(1, int(round(0.010 * rate))))


def _mel_edges(rate: int, bands: int) -> np.ndarray:
    """Frequencies (Hz) cutting 20 Hz … Nyquist into `bands` bands of equal width on the mel scale."""
    mel = np.linspace(2595 * np.log10(1 + 20 / 700), 2595 * np.log10(1 + rate / 2 / 700), bands + 1)
    return 700 * (10 ** (mel / 2595) - 1)


def occluded(wave: np.ndarray, rate: int, times: int = TIME_PATCHES, bands: int = BAND_PATCHES):
    """The clip with each time–frequency patch removed, one variant per patch (band-major), and the patches' edges.

    Returns:
        (variants: (times · bands, samples) float32, time edges in seconds, frequency edges in Hz).
    """
    from scipy.signal import istft

    freqs, frames, z = _stft(wave, rate)
    time_edges = np.linspace(0, len(wave) / rate, times + 1)
    freq_edges = _mel_edges(rate, bands)
    window = max(16, int(round(0.025 * rate)))
    variants = []
    for b in range(bands):
        in_band = (freqs >= freq_edges[b]) & (
            freqs <= freq_edges[b + 1] if b == bands - 1 else freqs < freq_edges[b + 1]
        )
        if b == 0:
            in_band |= freqs < freq_edges[0]  # the lowest band takes what lies below 20 Hz too
        for t in range(times):
            in_time = (frames >= time_edges[t]) & (
                frames < time_edges[t + 1] if t < times - 1 else frames <= time_edges[-1] + 1
            )
            patch = z.copy()
            patch[np.ix_(in_band, in_time)] = 0
            _, back = istft(patch, fs=rate, nperseg=window, noverlap=window - max(1, int(round(0.010 * rate))))
            variants.append(np.resize(back, len(wave)) if len(back) < len(wave) else back[: len(wave)])
    return np.asarray(variants, np.float32), time_edges, freq_edges


def occlusion_scores(model, head, wave: np.ndarray, cls: int, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each patch's score, (bands, times): the predicted class's probability whole minus without the patch."""
    variants, time_edges, freq_edges = occluded(wave, rate)
    f = class_output(model, head, cls)
    whole = float(np.asarray(f(wave[None]))[0])
    scores = np.concatenate([np.asarray(f(variants[i : i + 64])) for i in range(0, len(variants), 64)])
    return (whole - scores).reshape(BAND_PATCHES, TIME_PATCHES), time_edges, freq_edges


def spectrogram_db(wave: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequencies, times, power in dB) of a clip, for drawing."""
    freqs, frames, z = _stft(wave, rate)
    return freqs, frames, 10 * np.log10(np.abs(z) ** 2 + 1e-10)


def explain_clips(model, head, spec: Any, clips, out: Path, sanity: bool) -> list[dict]:
    """`<clip>.png` per clip (its spectrogram under the patches' scores) and `patches.csv`; one summary row each.

    Args:
        clips: (file, waveform as training read it) pairs.
    """
    rate = int(spec.audio["sample_rate"])
    shuffled = randomized(model) if sanity else None
    summary, long = [], []
    for file, wave in clips:
        probs = np.asarray(head.probabilities(model(wave[None], training=False)))[0]
        cls, label, prob = prediction(probs, head, spec)
        scores, time_edges, freq_edges = occlusion_scores(model, head, wave, cls, rate)
        row = {"input": str(file), "prediction": label, "probability": prob}
        if shuffled is not None:
            row["randomized_rank_correlation"] = rank_correlation(
                scores, occlusion_scores(shuffled, head, wave, cls, rate)[0]
            )
        long += [
            {
                "input": str(file),
                "start_s": f"{time_edges[t]:.3f}",
                "end_s": f"{time_edges[t + 1]:.3f}",
                "low_hz": f"{freq_edges[b]:.0f}",
                "high_hz": f"{freq_edges[b + 1]:.0f}",
                "attribution": f"{scores[b, t]:.6g}",
            }
            for b in range(BAND_PATCHES)
            for t in range(TIME_PATCHES)
        ]
        png = out / f"{file_name(str(Path(file).with_suffix('')), 'input')}.png"
        _patches_png(wave, rate, scores, time_edges, freq_edges, f"{label} (p={prob:.2f})", png)
        summary.append(row)
    with (out / "patches.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["input", "start_s", "end_s", "low_hz", "high_hz", "attribution"])
        writer.writeheader()
        writer.writerows(long)
    return summary


def _patches_png(wave, rate, scores, time_edges, freq_edges, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    freqs, frames, power = spectrogram_db(wave, rate)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax in axes:
        ax.pcolormesh(frames, freqs, power, shading="auto", cmap="gray_r", vmin=power.max() - 80)
        ax.set_yscale("symlog", linthresh=500)
        ax.set_xlabel("seconds")
    axes[0].set_ylabel("Hz")
    axes[0].set_title("input", fontsize=9)
    top = float(np.abs(scores).max()) or 1.0
    mesh = axes[1].pcolormesh(time_edges, freq_edges, scores, cmap="RdBu_r", vmin=-top, vmax=top, alpha=0.55)
    fig.colorbar(mesh, ax=axes[1], label="p(whole) − p(without the patch)")
    axes[1].set_title(f"occlusion: {title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)


def mistakes_spectrograms(x: np.ndarray, order: list[int], y, predicted, probs, spec: Any, out: Path) -> None:
    """mistakes.png: the worst mistakes' spectrograms, each titled `true → predicted (p)`."""
    import matplotlib.pyplot as plt

    shown = order[:GRID]
    if not shown:
        return
    rate = int(spec.audio["sample_rate"])
    names = spec.class_names or [str(i) for i in range(spec.num_classes)]
    fig, axes = mistakes_axes(len(shown), 3, (3.2, 2.4))
    for ax, i in zip(axes, shown):
        freqs, frames, power = spectrogram_db(np.asarray(x[i], np.float32), rate)
        ax.pcolormesh(frames, freqs, power, shading="auto", cmap="magma", vmin=power.max() - 80)
        ax.set_title(f"{names[int(y[i])]} → {names[int(predicted[i])]} ({probs[i, predicted[i]]:.2f})", fontsize=8)
    fig.suptitle("most confident mistakes (true → predicted, p): spectrograms", fontsize=9)
    fig.savefig(out, dpi=100)
    plt.close(fig)
