"""Stage 2, augment: the training set plus augmented copies of it, written to disk.

`kerasforge stage augment --params params.yaml` reads data/prepared/train
and writes data/augmented/train (the format of workflows/io/datastore.py): the originals followed by
`augmentation.copies` augmented copies of each (0 passes the data through).
Validation and test data are never augmented.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from workflows.config.experiment import Experiment
from workflows.io.atomic import atomic_dir
from workflows.io.datastore import load_arrays, load_spec, save_split
from workflows.io.layout import REPO, Layout

if TYPE_CHECKING:
    from plugins.data.base import DataSpec, Split


def augment(experiment: Experiment, train: Split, spec: DataSpec, batch_size: int = 256) -> Split:
    """Appends `augmentation.copies` augmented copies of every training example.

    Deterministic: the ops are seeded from `trainer.seed`. Without copies, or on data that is not images
    (the ops are image ops), the split is returned as it is.

    Args:
        experiment: the resolved config.
        train: the training split: an (x, y) pair of arrays or an unbatched dataset of (x, y).
        spec: the data's spec.
        batch_size: images augmented per call.

    Returns:
        The originals followed by the copies (an unbatched dataset), or `train` itself.
    """
    if experiment.augmentation.copies == 0 or not experiment.augments(spec):
        return train
    import tensorflow as tf

    from plugins.data.base import as_dataset, size

    augmenter = experiment.build_augmenter(spec=spec)
    originals = as_dataset(train)
    out = originals
    for _ in range(experiment.augmentation.copies):  # streamed batch by batch: memory does not grow with the data
        copy = originals.batch(batch_size).map(lambda x, y: (augmenter(x, training=True), y)).unbatch()
        out = out.concatenate(copy)
    return out.apply(tf.data.experimental.assert_cardinality(size(train) * (1 + experiment.augmentation.copies)))


def preview(experiment: Experiment, train: Split, spec: DataSpec, path, count: int = 8, samples: int = 3) -> None:
    """A PNG grid: `count` training images (top row) and `samples` augmented versions of each below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workflows.io.atomic import atomic_path

    augments = experiment.augments(spec)
    if not augments:
        fig, ax = plt.subplots(figsize=(4, 1), dpi=100)
        text = "no image augmentation in this config" if spec.kind == "image" else f"no augmentation: {spec.kind} data"
        ax.text(0.5, 0.5, text, ha="center", va="center")
        ax.axis("off")
    else:
        from plugins.data.base import to_numpy

        augmenter = experiment.build_augmenter(spec=spec)
        x = np.asarray(to_numpy(train)[0][:count] if isinstance(train, tuple) else to_numpy(train.take(count))[0])
        rows = [x] + [np.asarray(augmenter(x, training=True)) for _ in range(samples)]
    if augments and spec.kind != "image":
        fig = _text_preview(rows, spec)
    elif augments:
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
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def _text_preview(rows: list[np.ndarray], spec: DataSpec, words: int = 14):
    """A figure of the first text column of each example, as its words: the original, then each augmented copy."""
    import matplotlib.pyplot as plt

    from plugins.augmentation.text_ops import text_slices
    from plugins.data.tabular import text_columns

    column = text_columns(spec.table)[0]
    start, length = text_slices(spec)[0]
    vocabulary = ["", "[UNK]", *column["vocabulary"]]

    def said(row) -> str:
        ids = [int(i) for i in row[start : start + length] if int(i) > 0][:words]
        return " ".join(vocabulary[i] if i < len(vocabulary) else "[UNK]" for i in ids)

    lines = []
    for example in range(len(rows[0])):
        lines += [f"{'original' if r == 0 else f'augmented {r}'}: {said(rows[r][example])}" for r in range(len(rows))]
        lines.append("")
    fig, ax = plt.subplots(figsize=(10, 0.18 * len(lines) + 0.4), dpi=100)
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", family="monospace", fontsize=7)
    ax.axis("off")
    fig.suptitle(f"text augmentation preview: column '{column['name']}' (first {words} tokens)", fontsize=9)
    return fig


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> None:
    """The augment stage: data/prepared/train → data/augmented/train, and the preview grid (below `layout.root`)."""
    spec = load_spec(layout.prepared)
    original = load_arrays("train", layout.prepared)  # memory-mapped: read as the copies are made
    train = augment(experiment, original, spec)
    with atomic_dir(layout.augmented) as tmp:
        if train is original:  # nothing to add: the same bytes, without starting TensorFlow
            (tmp / "train").mkdir()
            for name in ("x.npy", "y.npy"):
                shutil.copyfile(layout.prepared / "train" / name, tmp / "train" / name)
        else:
            save_split(train, tmp / "train")
    preview(experiment, original, spec, layout.preview)
