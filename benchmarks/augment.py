"""Augmentation throughput: this project's fused warp, ImageDataGenerator, and the Keras 3 layer chain, in one run.

    pip install -e '.[bench]'          # tf_keras, for ImageDataGenerator
    python benchmarks/augment.py [--images 1024] [--repeats 3]

All three apply rotation ±20°, shifts ±0.2 and a random horizontal flip to
128×128×3 float images in batches of 32, on the CPU:
- project: the `idg` op (one RandomAffine: one projective warp per batch), its compiled call per batch;
- idg: tf_keras's ImageDataGenerator(...).flow(x, batch_size=32), as its users run it;
- keras_layers: RandomRotation, RandomTranslation, RandomFlip, their compiled call per batch;
- raw_warp: TensorFlow's warp kernel alone (ImageProjectiveTransformV3, bilinear, one fixed rotation and
  shift per image): the floor of any augmentation that warps once, and the chain warps twice.
Each is timed over the whole set after a warm-up pass; the median of the
repeats is reported. Then the training-step time of the project's default
CNN on the same images, fed by tf.data with the project's augmentation
online (parallel map, prefetch) and without.
Prints one JSON object with `project_img_s`, `idg_img_s`, `keras_layers_img_s`,
`raw_warp_img_s`, their ratios, and `online_step_time_ratio` (with / without augmentation: the median over 3 paired
rounds, each measuring both back to back).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

BATCH = 32
SIZE = 128


def timed_pass(run, images: int) -> float:
    start = time.perf_counter()
    run()
    return images / (time.perf_counter() - start)


def compiled(x: np.ndarray, layer) -> callable:
    """The layer's compiled call on each pre-built batch of 32 (as in a model, or a tf.data map)."""
    batches = [tf.constant(x[i : i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    call = tf.function(lambda b: layer(b, training=True))

    def run():
        for b in batches:
            call(b).numpy()

    return run


def raw_warp(batch, training=True):
    """TensorFlow's warp kernel alone on a batch: a fixed 20° rotation and shift, no random draws, no flip."""
    c, s = np.cos(np.pi / 9), np.sin(np.pi / 9)
    transforms = tf.constant([[c, -s, 25.0, s, c, -12.0, 0.0, 0.0]] * BATCH, tf.float32)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=batch,
        transforms=transforms,
        output_shape=[SIZE, SIZE],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )


def idg_flow(x: np.ndarray) -> callable:
    from tf_keras.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(
        rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, horizontal_flip=True, fill_mode="nearest"
    )
    steps = len(x) // BATCH

    def run():
        flow = generator.flow(x, batch_size=BATCH, shuffle=False)
        for _ in range(steps):
            next(flow)

    return run


def median_rate(run, images: int, repeats: int) -> float:
    run()  # warm-up: tracing, thread pools
    return statistics.median(timed_pass(run, images) for _ in range(repeats))


def step_time(x: np.ndarray, y: np.ndarray, augmenter, steps: int = 10) -> float:
    """Seconds per training step of the project's default CNN (`model=cnn`) fed by tf.data, augmenting online or not."""
    from plugins.data.base import DataSpec
    from workflows.config.command import compose, resolve

    keras.utils.set_random_seed(0)
    experiment = resolve(compose(["regularizer=none"]))
    spec = DataSpec((SIZE, SIZE, 3), "classification", 10, kind="image")
    head = experiment.head(spec)
    model = experiment.build_model(spec, head)
    model.compile("adam", experiment.build_loss(head))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH)
    if augmenter is not None:
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)  # warm-up
    start = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from plugins.augmentation.photometric import idg

    rng = np.random.default_rng(0)
    x = rng.random((args.images, SIZE, SIZE, 3), dtype=np.float32)
    y = rng.integers(0, 10, args.images)
    project = idg(seed=0, rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, horizontal_flip=True)
    chain = keras.Sequential(
        [
            keras.layers.RandomRotation(20 / 360, fill_mode="nearest", seed=0),
            keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=1),
            keras.layers.RandomFlip("horizontal", seed=2),
        ]
    )
    project_rate = median_rate(compiled(x, project), len(x), args.repeats)
    keras_rate = median_rate(compiled(x, chain), len(x), args.repeats)
    raw_rate = median_rate(compiled(x, raw_warp), len(x), args.repeats)
    idg_rate = median_rate(idg_flow(x), len(x) // BATCH * BATCH, args.repeats)
    # Paired rounds: on this machine the first models a process builds step up to 1.8× slower than later
    # ones, whatever their input pipeline; a round measures both conditions back to back.
    plains, augmenteds = [], []
    for _ in range(3):
        plains.append(step_time(x, y, None))
        augmenteds.append(step_time(x, y, project))
    ratio = statistics.median(a / p for a, p in zip(augmenteds, plains))
    plain, augmented = statistics.median(plains), statistics.median(augmenteds)
    print(
        json.dumps(
            {
                "project_img_s": round(project_rate, 1),
                "idg_img_s": round(idg_rate, 1),
                "keras_layers_img_s": round(keras_rate, 1),
                "project_vs_idg": round(project_rate / idg_rate, 2),
                "project_vs_keras_layers": round(project_rate / keras_rate, 2),
                "raw_warp_img_s": round(raw_rate, 1),
                "project_vs_raw_warp": round(project_rate / raw_rate, 2),
                "step_s_without_augmentation": round(plain, 4),
                "step_s_with_online_augmentation": round(augmented, 4),
                "online_step_time_ratio": round(ratio, 3),
                "step_s_runs": {"without": [round(v, 4) for v in plains], "with": [round(v, 4) for v in augmenteds]},
                "images": args.images,
                "batch": BATCH,
                "size": f"{SIZE}x{SIZE}x3",
                "repeats": args.repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
