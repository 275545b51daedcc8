"""Batch norm that is right at the end of any run: a short run on a folder of real photographs.

Before kerasforge recalibrated the moving statistics, 4 epochs of the default CNN on such a folder scored
0.92 in training mode and 0.25 (chance: one class for every image) in inference mode.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_sample_images

from tests.conftest import ROOT, run

pytestmark = pytest.mark.slow


def photo_folder(root, per_class: int = 60, size: int = 48):
    """4 classes of crops of the two photographs scikit-learn ships (china.jpg, flower.jpg): the left and right
    halves of each. Random positions and scales, resized; PNG and JPEG, RGB, grey and RGBA files mixed."""
    rng = np.random.default_rng(0)
    photos = load_sample_images().images
    classes = {"china_left": (0, 0), "china_right": (0, 1), "flower_left": (1, 0), "flower_right": (1, 1)}
    for name, (photo, half) in classes.items():
        image = photos[photo]
        h, w = image.shape[:2]
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            side = int(rng.integers(64, 160))
            top = int(rng.integers(0, h - side))
            left = int(rng.integers(half * w // 2, (half + 1) * w // 2 - side))
            crop = tf.image.resize(image[top : top + side, left : left + side], (size, size), antialias=True)
            crop = tf.cast(tf.round(crop), tf.uint8)
            if i % 5 == 3:
                crop = tf.image.rgb_to_grayscale(crop)
            elif i % 5 == 4:
                crop = tf.concat([crop, tf.fill((size, size, 1), tf.constant(255, tf.uint8))], axis=-1)
            data = (
                tf.io.encode_png(crop) if i % 2 else tf.io.encode_jpeg(crop if crop.shape[-1] != 4 else crop[..., :3])
            )
            (folder / f"{i}.{'png' if i % 2 else 'jpg'}").write_bytes(data.numpy())
    return root


def test_a_short_run_on_real_photographs_predicts_in_inference_mode_what_it_learned(tmp_path):
    photos = photo_folder(tmp_path / "photos")
    out = tmp_path / "run"
    run(
        [
            sys.executable,
            "-m",
            "workflows.train",
            "data=image_folder",
            f"data.directory={photos}",
            "data.target_size=[48,48]",
            "model=cnn",
            "augmentation=none",
            "trainer.epochs=2",
            "trainer.verbose=0",
            "trainer.backup=false",
            f"hydra.run.dir={out}",
        ],
        ROOT,
    )

    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["examples"] == 48
    # In inference mode the saved model does at least what it does in training mode (where dropout is on and
    # batch norm uses each batch's statistics), on the same training rows…
    assert metrics["train_accuracy"] >= metrics["train_accuracy_training_mode"] - 0.05, metrics
    # …and it has learned something: far above chance (0.25), not one class for every image.
    assert metrics["train_accuracy"] > 0.6 and metrics["accuracy"] > 0.5, metrics
    predicted = {row["predicted"] for row in json.loads((out / "eval" / "plots" / "confusion.json").read_text())}
    assert len(predicted) >= 3


def test_the_validation_curve_is_of_the_model_that_would_be_saved(tmp_path):
    """On a short run over photographs the per-epoch validation accuracy sat at chance (0.25) on most epochs and the
    validation loss climbed to 22, while the saved model tested at 1.0: the curves were of the network before its
    batch-norm statistics were recalibrated, and early stopping and the pruner acted on them."""
    import csv

    photos = photo_folder(tmp_path / "photos")
    out = tmp_path / "run"
    overrides = ["data=image_folder", f"data.directory={photos}", "data.target_size=[48,48]", "model=cnn"]
    more = ["augmentation=none", "trainer.epochs=4", "trainer.verbose=0", "trainer.backup=false"]
    run([sys.executable, "-m", "workflows.train", *overrides, *more, f"hydra.run.dir={out}"], ROOT)
    curves = out / "dvclive" / "train" / "plots" / "metrics" / "eval"
    with (curves / "accuracy.tsv").open() as handle:
        accuracy = [float(row["accuracy"]) for row in csv.DictReader(handle, delimiter="\t")]
    with (curves / "loss.tsv").open() as handle:
        loss = [float(row["loss"]) for row in csv.DictReader(handle, delimiter="\t")]
    assert len(accuracy) == 4 and min(accuracy) > 0.4, accuracy  # never the one-class network of chance level
    assert max(loss) < 3, loss
    card = json.loads((out / "models" / "model.json").read_text())
    assert card["training"]["batch_norm_recalibrated_on_batches"] > 0
