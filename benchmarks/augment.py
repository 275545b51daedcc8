"""Augmentation throughput, side by side in one run: this project's geometric op (OpenCV's warp, offline and inside
tf.data), Albumentations on the identical op, TensorFlow's warp kernel, the Keras layer chain and ImageDataGenerator.

    pip install -e '.[bench]'          # tf_keras (ImageDataGenerator) and albumentations
    python benchmarks/augment.py [--images 512] [--repeats 3]

The op: rotation ±15°, shift ±10 %, a random horizontal flip, bilinear, reflected borders, on float32 images in
[0, 1] (what the project's prepared arrays hold; `--uint8` for 8-bit images), in batches of 32, at 128×128×3 and
224×224×3. Each method runs with one thread (OpenCV's, TensorFlow's and the project's pool set to one), and is
measured in images per CPU-second of this process (`time.process_time`: robust to other jobs on the machine), the
median of `--repeats` passes after a warm-up:

- project: `RandomAffine.augment_numpy` (the augment stage's copies: NumPy + OpenCV, no TensorFlow);
- project_online: the same layer in a tf.data map (`tf.numpy_function` per batch), as training runs it;
- albumentations: `A.Compose([A.Affine(rotate, translate_percent, border_mode=REFLECT), A.HorizontalFlip()])`,
  one call per image, as its users run it;
- tf_kernel: TensorFlow's `ImageProjectiveTransformV3` on the same batches (the project's kernel before OpenCV);
- keras_layers: RandomRotation, RandomTranslation, RandomFlip, their compiled call per batch;
- idg: tf_keras's `ImageDataGenerator(...).flow(x, batch_size=32)`.

Then `project_two_threads_speedup` (wall-clock images per second with the project's pool of two threads over one),
and the training-step time of the default CNN at 128×128 with online augmentation over without
(`online_step_time_ratio`: the median of 3 paired rounds). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from plugins.augmentation import warp as affine  # noqa: E402
from plugins.augmentation._keras_layers import RandomAffine  # noqa: E402

BATCH = 32
SIZES = (128, 224)


def per_cpu_second(run, images: int, repeats: int) -> float:
    """Images per CPU-second of this process: the median over `repeats` passes, after a warm-up pass."""
    run()
    rates = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        rates.append(images / (time.process_time() - start))
    return statistics.median(rates)


def per_second(run, images: int, repeats: int) -> float:
    run()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(images / (time.perf_counter() - start))
    return statistics.median(rates)


def layer() -> RandomAffine:
    return RandomAffine(rotation=15, width_shift=0.1, height_shift=0.1, horizontal_flip=True, seed=0)


def project_offline(x: np.ndarray):
    op = layer()

    def run():
        for i, start in enumerate(range(0, len(x), BATCH)):
            op.augment_numpy(x[start : start + BATCH], (0, i))

    return run


def project_online(x: np.ndarray):
    op = layer()
    data = tf.data.Dataset.from_tensor_slices(x).batch(BATCH).map(lambda b: op(b, training=True))

    def run():
        for _ in data:
            pass

    return run


def albumentations(x: np.ndarray):
    import albumentations as A

    compose = A.Compose(
        [
            A.Affine(rotate=(-15, 15), translate_percent=(-0.1, 0.1), border_mode=cv2.BORDER_REFLECT, p=1.0),
            A.HorizontalFlip(p=0.5),
        ]
    )

    def run():
        for image in x:
            compose(image=image)

    return run


def tf_kernel(x: np.ndarray):
    size = x.shape[1]
    batches = [tf.constant(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    c, s = np.cos(np.pi / 12), np.sin(np.pi / 12)
    transforms = tf.constant([[c, -s, 0.1 * size, s, c, -0.05 * size, 0.0, 0.0]] * BATCH, tf.float32)

    @tf.function
    def warp(b):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=b,
            transforms=transforms[: tf.shape(b)[0]],
            output_shape=[size, size],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="REFLECT",
        )

    def run():
        for b in batches:
            warp(b).numpy()

    return run


def keras_layers(x: np.ndarray):
    chain = keras.Sequential(
        [
            keras.layers.RandomRotation(15 / 360, fill_mode="reflect", seed=0),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=1),
            keras.layers.RandomFlip("horizontal", seed=2),
        ]
    )
    batches = [tf.constant(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    call = tf.function(lambda b: chain(b, training=True))

    def run():
        for b in batches:
            call(b).numpy()

    return run


def idg(x: np.ndarray):
    from tf_keras.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(
        rotation_range=15, width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True, fill_mode="reflect"
    )

    def run():
        flow = generator.flow(x, batch_size=BATCH, shuffle=False)
        for _ in range(len(x) // BATCH):
            next(flow)

    return run


def step_time(x: np.ndarray, y: np.ndarray, augmenter, steps: int = 10) -> float:
    """Seconds per training step of the default CNN (`model=cnn`) fed by tf.data, augmenting online or not."""
    from plugins.data.base import DataSpec
    from workflows.config.command import compose, resolve

    keras.utils.set_random_seed(0)
    experiment = resolve(compose(["regularizer=none"]))
    spec = DataSpec(x.shape[1:], "classification", 10, kind="image")
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


def online_step_ratio(rng) -> dict:
    """The default CNN's step at 128×128 with the project's online augmentation over without (paired rounds)."""
    x = rng.random((256, 128, 128, 3), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    plains, augmenteds = [], []
    for _ in range(3):  # paired rounds: a process's first models step slower, whatever their input
        plains.append(step_time(x, y, None))
        augmenteds.append(step_time(x, y, layer()))
    return {
        "online_step_time_ratio": round(statistics.median(a / p for a, p in zip(augmenteds, plains)), 3),
        "step_s": {"without": [round(v, 4) for v in plains], "with": [round(v, 4) for v in augmenteds]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--uint8", action="store_true", help="8-bit images instead of float32")
    parser.add_argument("--step-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if args.step_only:  # TensorFlow's default threads: a process of its own (they are fixed at its start)
        print(json.dumps(online_step_ratio(rng)))
        return
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    result: dict = {"per_cpu_second": {}, "ratios": {}}
    for size in SIZES:
        x = rng.random((args.images, size, size, 3), dtype=np.float32)
        if args.uint8:
            x = (x * 255).astype(np.uint8)
        # One thread each: OpenCV's own, TensorFlow's pools, and the project's.
        cv2.setNumThreads(1)
        affine._THREADS = 1
        rates = {
            "project": per_cpu_second(project_offline(x), len(x), args.repeats),
            "project_online": per_cpu_second(project_online(x), len(x), args.repeats),
            "albumentations": per_cpu_second(albumentations(x), len(x), args.repeats),
            "tf_kernel": per_cpu_second(tf_kernel(x), len(x), args.repeats),
            "keras_layers": per_cpu_second(keras_layers(x), len(x), args.repeats),
            "idg": per_cpu_second(idg(x), len(x) // BATCH * BATCH, args.repeats),
        }
        one = per_second(project_offline(x), len(x), args.repeats)
        affine._THREADS, affine._POOL = 2, None
        two = per_second(project_offline(x), len(x), args.repeats)
        affine._THREADS, affine._POOL = 1, None
        result["per_cpu_second"][str(size)] = {k: round(v, 1) for k, v in rates.items()}
        result["ratios"][str(size)] = {
            f"project_vs_{k}": round(rates["project"] / v, 2) for k, v in rates.items() if k != "project"
        } | {"project_two_threads_speedup": round(two / one, 2)}
    step = subprocess.run([sys.executable, __file__, "--step-only"], capture_output=True, text=True, check=True)
    result.update(json.loads(step.stdout.strip().splitlines()[-1]))
    result.update(images=args.images, batch=BATCH, dtype="uint8" if args.uint8 else "float32", repeats=args.repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
