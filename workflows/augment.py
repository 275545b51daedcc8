"""Stage 2, augment: the training set plus augmented copies of it, written to disk.

`python -m workflows.augment --params params.yaml` reads data/prepared/train
and writes data/augmented/train (the format of workflows/datastore.py): the originals followed by
`augmentation.copies` augmented copies of each (0 passes the data through).
Validation and test data are never augmented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from plugins.registry import ConfigError
from workflows.atomic import atomic_dir
from workflows.datastore import load_spec, load_split, save_split
from workflows.experiment import Experiment
from workflows.layout import REPO, Layout

if TYPE_CHECKING:
    import tensorflow as tf

    from plugins.data.base import DataSpec


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
    import tensorflow as tf

    augmenter = experiment.build_augmenter()
    copies = experiment.augmentation.copies
    if augmenter is None or copies == 0:
        return train
    if len(spec.input_shape) != 3:
        raise ConfigError(
            f"augmentation ops need images (height, width, channels) but the data's examples have shape "
            f"{spec.input_shape}; use augmentation=none"
        )
    out = train
    for _ in range(copies):  # streamed batch by batch: memory does not grow with the data set
        copy = train.batch(batch_size).map(lambda x, y: (augmenter(x, training=True), y)).unbatch()
        out = out.concatenate(copy)
    return out.apply(tf.data.experimental.assert_cardinality(int(train.cardinality()) * (1 + copies)))


def preview(experiment: Experiment, train: tf.data.Dataset, spec: DataSpec, path, count: int = 8, samples: int = 3) -> None:
    """A PNG grid: `count` training images (top row) and `samples` augmented versions of each below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workflows.atomic import atomic_path

    augmenter = experiment.build_augmenter()
    if augmenter is None or len(spec.input_shape) != 3:
        fig, ax = plt.subplots(figsize=(4, 1), dpi=100)
        ax.text(0.5, 0.5, "no image augmentation in this config", ha="center", va="center")
        ax.axis("off")
    else:
        x, _ = next(iter(train.take(count).batch(count)))
        rows = [x.numpy()] + [np.asarray(augmenter(x, training=True)) for _ in range(samples)]
        fig, axes = plt.subplots(len(rows), len(rows[0]), figsize=(1.2 * len(rows[0]), 1.2 * len(rows)), dpi=100,
                                 squeeze=False)
        for r, row in enumerate(rows):
            for c, image in enumerate(row):
                ax = axes[r][c]
                ax.imshow(np.clip(image.squeeze(-1) if image.shape[-1] == 1 else image[..., :3], 0, 1),
                          cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
            axes[r][0].set_ylabel("original" if r == 0 else f"augmented {r}", fontsize=7)
        fig.suptitle("augmentation preview (top: originals)", fontsize=9)
        fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def run(experiment: Experiment, layout: Layout = REPO) -> None:
    """The augment stage: data/prepared/train → data/augmented/train, and the preview grid (below `layout.root`)."""
    spec = load_spec(layout.prepared)
    original = load_split("train", layout.prepared)
    train = augment(experiment, original, spec)
    with atomic_dir(layout.augmented) as tmp:
        save_split(train, tmp / "train")
    preview(experiment, original, spec, layout.preview)


def main(argv: list[str] | None = None) -> int:
    from workflows.stages import stage_main

    return stage_main("augment", argv)


if __name__ == "__main__":
    raise SystemExit(main())
