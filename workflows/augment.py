"""Stage 2, augment: the training set plus augmented copies of it, written to disk.

`python -m workflows.augment` reads params.yaml and data/prepared/train, and
writes data/augmented/train: the originals followed by
`augmentation.copies` augmented copies of each (0 passes the data through).
Validation and test data are never augmented.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from plugins.data import DataSpec, to_numpy
from plugins.registry import ConfigError
from workflows.atomic import atomic_dir
from workflows.cli import stage_main
from workflows.config import Experiment
from workflows.layout import AUGMENTED, PREPARED
from workflows.prepare import load_spec, load_split


def augment(experiment: Experiment, train: tf.data.Dataset, spec: DataSpec, batch_size: int = 256) -> tf.data.Dataset:
    """Appends `augmentation.copies` augmented copies of every training example.

    Deterministic: the ops are seeded from `trainer.seed`.

    Args:
        experiment: the resolved config.
        train: the training split, unbatched (x, y).
        spec: the data's spec.
        batch_size: images augmented per call.

    Returns:
        The originals followed by the copies, unbatched.
    """
    augmenter = experiment.build_augmenter()
    copies = experiment.augmentation.copies
    if augmenter is None or copies == 0:
        return train
    if len(spec.input_shape) != 3:
        raise ConfigError(
            f"augmentation ops need images (height, width, channels) but the data's examples have shape "
            f"{spec.input_shape}; use augmentation=none"
        )
    x, y = to_numpy(train)
    xs, ys = [x], [y]
    for _ in range(copies):
        for start in range(0, len(x), batch_size):
            batch = augmenter(x[start : start + batch_size], training=True)
            xs.append(np.asarray(batch, dtype=x.dtype))
        ys.append(y)
    return tf.data.Dataset.from_tensor_slices((np.concatenate(xs), np.concatenate(ys)))


def run(experiment: Experiment) -> None:
    """The DVC stage: data/prepared/train → data/augmented/train."""
    spec = load_spec(PREPARED)
    train = augment(experiment, load_split("train", PREPARED), spec)
    with atomic_dir(AUGMENTED) as tmp:
        train.save(str(tmp / "train"))


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
