"""Stage 2, augment: the training set plus augmented copies of it, written to disk.

`kerasforge stage augment --params params.yaml` reads data/prepared/train
and writes data/augmented/train (the format of workflows/io/datastore.py): the originals followed by
`augmentation.copies` augmented copies of each (0 passes the data through).
Validation and test data are never augmented.

Geometric ops on images (the default) run without TensorFlow: one OpenCV warp per image, its matrix drawn from the
seed (`trainer.seed`, the copy, the batch), batch by batch into a memory-mapped file (`write_copies`). Other ops
(photometric, text, sound) run as Keras layers in a tf.data pipeline.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
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


def write_copies(op, train: tuple, copies: int, directory: Path, seed: int, batch_size: int = 256) -> int:
    """Writes the originals and `copies` warped copies of each into `directory` (x.npy, y.npy), batch by batch.

    Args:
        op: the fused geometric op (`plugins.augmentation.warp.Affine`).
        train: the (x, y) arrays (memory-mapped: read a batch at a time).
        copies: augmented copies of each example.
        directory: the split's directory (created).
        seed: the copies' seed; batch `b` of copy `c` draws from (seed, c, b): the same bytes run after run.
        batch_size: images warped per call.

    Returns:
        The number of examples written.
    """
    x, y = train
    directory.mkdir(parents=True, exist_ok=True)
    n = len(x)
    xs = np.lib.format.open_memmap(
        directory / "x.npy", mode="w+", dtype=x.dtype, shape=(n * (1 + copies), *x.shape[1:])
    )
    ys = np.lib.format.open_memmap(
        directory / "y.npy", mode="w+", dtype=y.dtype, shape=(n * (1 + copies), *y.shape[1:])
    )
    for c in range(1 + copies):
        for b, start in enumerate(range(0, n, batch_size)):
            part = np.asarray(x[start : start + batch_size])
            xs[c * n + start : c * n + start + len(part)] = part if c == 0 else op.augment_numpy(part, (seed, c, b))
            ys[c * n + start : c * n + start + len(part)] = y[start : start + batch_size]
    xs.flush()
    ys.flush()
    del xs, ys
    return n * (1 + copies)


def preview(experiment: Experiment, train: Split, spec: DataSpec, path, count: int = 8, samples: int = 3) -> None:
    """A PNG of `count` training examples and `samples` augmented versions of each, drawn by the data's kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workflows.io.atomic import atomic_path

    if not experiment.augments(spec):
        fig, ax = plt.subplots(figsize=(4, 1), dpi=100)
        ax.text(0.5, 0.5, f"no augmentation of {spec.kind} data in this config", ha="center", va="center")
        ax.axis("off")
    else:
        from plugins.data.base import to_numpy
        from plugins.data.kinds import kind_of

        augmenter = experiment.build_numpy_augmenter(spec=spec) or experiment.build_augmenter(spec=spec)
        x = np.asarray(to_numpy(train)[0][:count] if isinstance(train, tuple) else to_numpy(train.take(count))[0])
        rows = [x] + [np.asarray(augmenter(x, training=True)) for _ in range(samples)]
        fig = kind_of(spec).preview_figure(rows, spec)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> None:
    """The augment stage: data/prepared/train → data/augmented/train, and the preview grid (below `layout.root`)."""
    spec = load_spec(layout.prepared)
    original = load_arrays("train", layout.prepared)  # memory-mapped: read as the copies are made
    copies = experiment.augmentation.copies
    warp = experiment.build_numpy_augmenter(spec=spec) if copies and experiment.augments(spec) else None
    train = original if warp is not None else augment(experiment, original, spec)
    with atomic_dir(layout.augmented) as tmp:
        if warp is not None:  # geometric ops: OpenCV, without starting TensorFlow
            write_copies(warp, original, copies, tmp / "train", experiment.trainer.seed)
        elif train is original:  # nothing to add: the same bytes, without starting TensorFlow
            (tmp / "train").mkdir()
            for name in ("x.npy", "y.npy"):
                shutil.copyfile(layout.prepared / "train" / name, tmp / "train" / name)
        else:
            save_split(train, tmp / "train")
    preview(experiment, original, spec, layout.preview)
