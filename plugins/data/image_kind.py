"""Images (`data=image_folder`, the shipped picture sets): the kind's classical baseline — a logistic regression on
downsampled pixels — and the picture of its worst mistakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from plugins.data import verdict
from plugins.data.base import DataSpec
from plugins.data.images import EXTENSIONS
from plugins.data.kinds import DataKind, Evidence, mistakes_axes, register_kind
from plugins.registry import ConfigError

PIXELS = 16  # an image's side for the pixel baseline: at most 16 × 16 × channels features
PIXEL_ROWS = 10_000  # training images the pixel baseline is fitted on, at most (a stratified draw)
GRID = 16  # images in mistakes.png


@register_kind
class ImageKind(DataKind):
    """Pictures (height, width, channels), values in [0, 1]."""

    name = "image"
    files = EXTENSIONS
    noun = "images"

    def file_batches(self, files, spec, batch_size: int):
        return image_batches(files, spec, batch_size)

    def baseline(self, evidence: Evidence) -> dict[str, Any]:
        x = evidence.x
        if evidence.spec.task != "classification" or x.get("train") is None or np.ndim(x["test"]) != 4:
            return {}
        images = {"train": x["train"], "test": x["test"]}
        return {
            "baseline": pixels_compare(images, evidence.answers, evidence.spec, evidence.predicted, evidence.headline)
        }

    def modality(self, spec) -> str | None:
        return "image" if len(spec.input_shape) == 3 else None

    def augmenter(self, layers, spec):
        from plugins.augmentation.image_ops import build_pipeline

        return build_pipeline(layers)  # consecutive geometric ops fused into one warp

    def preview_figure(self, rows, spec):
        """A grid: the originals on top, each augmented version below."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(
            len(rows), len(rows[0]), figsize=(1.2 * len(rows[0]), 1.2 * len(rows)), dpi=100, squeeze=False
        )
        for r, row in enumerate(rows):
            for c, image in enumerate(row):
                ax = axes[r][c]
                ax.imshow(
                    np.clip(image.squeeze(-1) if image.shape[-1] == 1 else image[..., :3], 0, 1),
                    cmap="gray" if image.shape[-1] == 1 else None,
                    vmin=0,
                    vmax=1,
                )
                ax.set_xticks([])
                ax.set_yticks([])
            axes[r][0].set_ylabel("original" if r == 0 else f"augmented {r}", fontsize=7)
        fig.suptitle("augmentation preview (top: originals)", fontsize=9)
        fig.tight_layout()
        return fig

    def serving(self, model, spec, outputs):
        """Encoded image files (`image_bytes`, decoded and resized as in training) and decoded pixels (`pixels`,
        what TFLite takes: phones decode with their own libraries)."""
        import tensorflow as tf

        from plugins.data.kinds import Serving

        decode = _decode(spec)
        pixels = [tf.TensorSpec([None, *spec.input_shape], tf.float32, name="pixels")]
        return Serving(
            endpoints=[
                (
                    "serving_default",
                    lambda image_bytes: outputs(model, decode(image_bytes)),
                    [tf.TensorSpec([None], tf.string, name="image_bytes")],
                ),
                ("pixels", lambda pixels: outputs(model, pixels), pixels),
            ],
            tflite="pixels",
            checked="pixels",
            network=model,
            inputs=lambda x, rows: {"pixels": x},
        )

    def explain_inputs(self, inputs, spec):
        return self.gather(inputs, spec).files

    def explain(self, model, head, what, spec, out, steps, sanity):
        """Integrated Gradients of the predicted class's probability, from a black image to the input, as a heatmap
        over the image (`<image>.png`, titled with the class and its probability)."""
        return explain_images(model, head, spec, what, out, steps, sanity)

    def mistakes_picture(self, x, order, y, predicted, probs, spec, out: Path) -> None:
        if np.ndim(x) == 4:
            mistakes_grid(x, order, y, predicted, probs, spec, out)


def downsampled(x: np.ndarray, side: int = PIXELS, chunk: int = 512) -> np.ndarray:
    """Images (n, height, width, channels) as flat rows of block means, at most `side` × `side` × channels: what a
    classical model reads of a picture. Read `chunk` images at a time (a memory-mapped split stays on disk).

    Example:
        >>> downsampled(np.ones((2, 64, 64, 3))).shape
        (2, 768)
    """
    n, h, w = x.shape[:3]
    bh, bw = -(-h // side), -(-w // side)  # block sizes (ceil); the image's edge is repeated to whole blocks
    out = []
    for start in range(0, n, chunk):
        part = np.asarray(x[start : start + chunk], np.float32)
        part = np.pad(part, ((0, 0), (0, -h % bh), (0, -w % bw), (0, 0)), mode="edge")
        rows, cols = part.shape[1] // bh, part.shape[2] // bw
        out.append(part.reshape(len(part), rows, bh, cols, bw, -1).mean(axis=(2, 4)).reshape(len(part), -1))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def pixels_compare(
    images: dict[str, np.ndarray],
    answers: dict[str, np.ndarray],
    spec,
    predicted: np.ndarray,
    metric: str,
    seed: int = 0,
) -> dict[str, Any]:
    """The classical baseline of an image classifier: a logistic regression on downsampled, standardized pixels
    (`downsampled`), fitted on (at most PIXEL_ROWS of) the training images, scored on the test images beside the
    model, with the paired verdict on the headline metric.

    Args:
        images: the "train" and "test" images (n, height, width, channels), memory-mapped or not.
        answers: their class ids.
        spec: the data's spec.
        predicted: the model's class ids on the test images.
        metric: the headline metric (`headline`).
        seed: the draw's and the model's seed.
    """
    y_train = np.asarray(answers["train"])
    features = downsampled(images["train"])
    if len(y_train) > PIXEL_ROWS:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(y_train)), train_size=PIXEL_ROWS, random_state=seed, stratify=y_train)
        features, y_train = features[np.sort(keep)], y_train[np.sort(keep)]
    out = verdict.logistic_regression(
        "logistic_regression_pixels",
        {"train": features, "test": downsampled(images["test"])},
        {"train": y_train, "test": answers["test"]},
        predicted,
        metric,
        c=0.1,
        seed=seed,
    )
    out["inputs"] = f"{features.shape[1]} pixel values (block means), {len(y_train)} images"
    return out


def mistakes_grid(x: np.ndarray, order: list[int], y, predicted, probs, spec: Any, out: Path) -> None:
    """mistakes.png: the worst mistakes' images, each titled `true → predicted (p)`."""
    import matplotlib.pyplot as plt

    shown = order[:GRID]
    if not shown:
        return
    names = spec.class_names or [str(i) for i in range(spec.num_classes)]
    fig, axes = mistakes_axes(len(shown), 4, (2.2, 2.4))
    for ax, i in zip(axes, shown):
        image = np.asarray(x[i], np.float32)
        image = (image - image.min()) / (np.ptp(image) or 1.0)
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None)
        ax.set_title(f"{names[int(y[i])]} → {names[int(predicted[i])]} ({probs[i, predicted[i]]:.2f})", fontsize=8)
    fig.suptitle("most confident mistakes (true → predicted, p)", fontsize=9)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def image_batches(files: list[Path], spec: DataSpec, batch_size: int) -> Iterator[tuple[list[Path], np.ndarray]]:
    """Batches of decoded images, decoded in parallel by tf.data; an unreadable file is a one-line error naming it."""
    import tensorflow as tf

    from plugins.data.images import decode_dataset

    height, width, channels = spec.input_shape
    ds = decode_dataset(files, [0] * len(files), (height, width), channels).batch(batch_size)
    done = 0
    iterator = iter(ds.prefetch(tf.data.AUTOTUNE))
    while True:
        try:
            x, _ = next(iterator)
        except StopIteration:
            return
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError):
            # The parallel stream does not say which file failed: decode the next ones one by one to name it.
            from plugins.data.images import DECODER_NOISE
            from plugins.tf_startup import filtered_stderr

            with filtered_stderr(DECODER_NOISE):
                _name_the_bad_file(tf, files[done:], channels)
            raise
        yield files[done : done + len(x)], x.numpy()
        done += len(x)


def _name_the_bad_file(tf, files: list[Path], channels: int) -> None:
    """Decodes `files` one by one; the first that fails is a one-line error naming it."""
    from plugins.data.images import decode_failure

    for file in files:
        reason = decode_failure(tf, file, channels)
        if reason is not None:
            raise ConfigError(
                f"{file} is not a readable image with {channels} channel(s) ({reason}); fix it, or leave it out"
            ) from None  # called while the parallel stream's own error is being handled


def _decode(spec: DataSpec):
    """Encoded image bytes → the model's pixels, exactly as `plugins.data.images.decode_dataset` does in training."""
    import tensorflow as tf

    height, width, channels = spec.input_shape

    def decode(data):
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), (height, width), antialias=True)
        return tf.ensure_shape(image, (height, width, channels))

    return lambda images: tf.map_fn(
        decode, images, fn_output_signature=tf.TensorSpec((height, width, channels), tf.float32)
    )


def explain_images(model, head, spec: DataSpec, files: list[Path], out: Path, steps: int, sanity: bool) -> list[dict]:
    """A heatmap PNG per image; returns one summary row per image."""
    from plugins.data.attribution import (
        class_output,
        heatmap_png,
        integrated_gradients,
        prediction,
        randomized,
        rank_correlation,
    )
    from plugins.model.outputs import file_name

    rows, shuffled = [], randomized(model) if sanity else None
    for names, x in image_batches(files, spec, 32):
        probs = np.asarray(head.probabilities(model(x, training=False)))
        for name, image, p in zip(names, x, probs):
            cls, label, prob = prediction(p, head, spec)
            attributions, gap = integrated_gradients(class_output(model, head, cls), image, np.zeros_like(image), steps)
            row = {"input": str(name), "prediction": label, "probability": prob, "completeness_gap": gap}
            if shuffled is not None:
                other, _ = integrated_gradients(class_output(shuffled, head, cls), image, np.zeros_like(image), steps)
                row["randomized_rank_correlation"] = rank_correlation(attributions.sum(-1), other.sum(-1))
            png = out / f"{file_name(str(Path(name).with_suffix('')), 'input')}.png"
            heatmap_png(image, attributions, f"{label} (p={prob:.2f})", png)
            rows.append(row)
    return rows
