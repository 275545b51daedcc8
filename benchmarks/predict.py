"""`workflows.predict` on a folder of photographs against the hand-written equivalent, in one run.

    python benchmarks/predict.py [--images 3000] [--side 64] [--repeats 3]

Writes `--images` JPEG crops of the two photographs scikit-learn ships into
a folder, saves an (untrained) CNN with its card as the train stage would,
then times, alternately and `--repeats` times each:
- kerasforge: `workflows.predict.predict([folder], models, out.csv)` — list,
  decode and resize as in training, stream batches of 256, write the CSV;
- hand-written: the file list, a tf.data pipeline (`decode_image`, `resize`,
  parallel map, batch 256, prefetch), `model.predict` over it, the
  probabilities written with NumPy (`np.savetxt`).
Prints one JSON object: the median seconds of each, images per second and
`ratio` = hand-written time / kerasforge time (≥ 0.9 is the goal: no slower
than a tenth behind what a user would write).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_photos(folder: Path, count: int, side: int) -> list[Path]:
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    photos = load_sample_images().images
    files = []
    for i in range(count):
        image = photos[i % 2]
        h, w = image.shape[:2]
        crop_side = int(rng.integers(64, 200))
        top, left = int(rng.integers(0, h - crop_side)), int(rng.integers(0, w - crop_side))
        crop = tf.cast(
            tf.round(tf.image.resize(image[top : top + crop_side, left : left + crop_side], (side, side))), tf.uint8
        )
        path = folder / f"class{i % 4}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_jpeg(crop).numpy())
        files.append(path)
    return sorted(files)


def save_untrained_model(model_dir: Path, side: int) -> None:
    from plugins.data.base import DataSpec
    from workflows.config.command import compose, resolve
    from workflows.stages.train import model_card, save_model

    experiment = resolve(compose(["model=cnn"]))
    spec = DataSpec((side, side, 3), "classification", 4, [f"class{k}" for k in range(4)], kind="image")
    head = experiment.head(spec)
    model = experiment.build_model(spec, head)
    save_model(model, model_card(model, head, spec), model_dir)


def hand_written(files: list[Path], model_dir: Path, out: Path, side: int) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from plugins import load_plugins

    load_plugins()
    model = keras.models.load_model(model_dir / "model.keras")

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), (side, side), antialias=True)

    ds = tf.data.Dataset.from_tensor_slices([str(f) for f in files]).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    probs = tf.nn.softmax(model.predict(ds.batch(256).prefetch(tf.data.AUTOTUNE), verbose=0)).numpy()
    np.savetxt(out, probs, delimiter=",", fmt="%.6g")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from plugins.tf_startup import quiet_tensorflow

    quiet_tensorflow()
    from workflows.serve.predict import predict

    work = Path(tempfile.mkdtemp(prefix="kerasforge-predict-bench."))
    files = write_photos(work / "photos", args.images, args.side)
    save_untrained_model(work / "models", args.side)
    times: dict[str, list[float]] = {"kerasforge": [], "hand_written": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        predict([str(work / "photos")], work / "models", work / "ours.csv", batch_size=256, quiet=True)
        times["kerasforge"].append(time.perf_counter() - start)
        start = time.perf_counter()
        hand_written(files, work / "models", work / "theirs.csv", args.side)
        times["hand_written"].append(time.perf_counter() - start)
    ours, theirs = statistics.median(times["kerasforge"]), statistics.median(times["hand_written"])
    print(
        json.dumps(
            {
                "images": args.images,
                "side": args.side,
                "repeats": args.repeats,
                "kerasforge_s": round(ours, 3),
                "hand_written_s": round(theirs, 3),
                "kerasforge_images_per_s": round(args.images / ours, 1),
                "hand_written_images_per_s": round(args.images / theirs, 1),
                "ratio": round(theirs / ours, 3),
                "goal": ">= 0.9",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
