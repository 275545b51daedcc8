"""The data between stages on disk: byte-reproducible, streamed, TensorFlow's own record format.

A split is a directory:

    meta.json              {"count": N, "x": {"dtype", "shape"}, "y": {...}, "shards": ["00000", …]}
    x-00000.tfrecord       one record per example: the raw bytes of x (little-endian)
    y-00000.tfrecord       one record per example: the raw bytes of y

`tf.data.Dataset.save` is not used because it writes random run-id
directories and metadata, so the same data gets a new hash on every run and
DVC reruns every later stage. Raw records hold nothing but the example
bytes and TFRecord's framing (length and CRC), so the same examples give
the same files, and DVC's hashes and run cache hold. Shards bound each
file's size; reading streams them in order (`tf.data.TFRecordDataset`),
so memory does not grow with the data set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plugins.registry import ConfigError

if TYPE_CHECKING:
    import tensorflow as tf

    from plugins.data.base import DataSpec, Splits

SHARD_BYTES = 64 << 20  # 64 MiB of examples per shard
META = "meta.json"


def save_split(ds: tf.data.Dataset, directory: str | Path, batch_size: int = 1024) -> int:
    """Writes an unbatched (x, y) dataset into `directory` (created; must not hold another split).

    Args:
        ds: unbatched (x, y) pairs of fixed shapes.
        directory: the split's directory.
        batch_size: examples converted to NumPy at a time.

    Returns:
        The number of examples written.
    """
    import tensorflow as tf

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    x_spec, y_spec = ds.element_spec
    fields = {"x": x_spec, "y": y_spec}
    meta = {name: {"dtype": spec.dtype.name, "shape": [int(d) for d in spec.shape]} for name, spec in fields.items()}
    example_bytes = sum(max(1, int(np.prod(m["shape"]))) * np.dtype(m["dtype"]).itemsize for m in meta.values())
    per_shard = max(1, SHARD_BYTES // example_bytes)
    count, shards, writers = 0, [], None
    try:
        for xb, yb in ds.batch(batch_size).as_numpy_iterator():
            for name, array in (("x", xb), ("y", yb)):
                if list(array.shape[1:]) != meta[name]["shape"]:
                    raise ConfigError(f"{directory}: examples of different shapes ({name} {array.shape[1:]}); "
                                      "the data plugin must give one shape")
            for i in range(len(xb)):
                if count % per_shard == 0:
                    if writers:
                        for w in writers:
                            w.close()
                    shards.append(f"{len(shards):05d}")
                    writers = [tf.io.TFRecordWriter(str(directory / f"{n}-{shards[-1]}.tfrecord")) for n in "xy"]
                writers[0].write(_little_endian(xb[i]).tobytes())
                writers[1].write(_little_endian(yb[i]).tobytes())
                count += 1
    finally:
        for w in writers or ():
            w.close()
    meta = {"count": count, **meta, "shards": shards}
    (directory / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return count


def _little_endian(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))


def load_split(name: str, data_dir: str | Path) -> tf.data.Dataset:
    """The split `data_dir/name` written by `save_split`, as an unbatched (x, y) dataset, in the order written.

    Raises:
        ConfigError: the split is missing or incomplete (which stage to rerun is named).
    """
    import tensorflow as tf

    directory = Path(data_dir) / name
    meta = _read_meta(directory)
    files = {n: [str(directory / f"{n}-{s}.tfrecord") for s in meta["shards"]] for n in "xy"}
    for path in (*files["x"], *files["y"]):
        if not Path(path).is_file():
            raise ConfigError(f"{path} is missing: {directory} is incomplete; rerun the stage that writes it "
                              "(dvc repro -f, or delete the directory)")
    dtypes = {n: tf.as_dtype(meta[n]["dtype"]) for n in "xy"}
    shapes = {n: meta[n]["shape"] for n in "xy"}

    def decode(x, y):  # a batch of records → a batch of examples
        return (tf.reshape(tf.io.decode_raw(x, dtypes["x"]), [-1, *shapes["x"]]),
                tf.reshape(tf.io.decode_raw(y, dtypes["y"]), [-1, *shapes["y"]]))

    ds = tf.data.Dataset.zip(tf.data.TFRecordDataset(files["x"]), tf.data.TFRecordDataset(files["y"]))
    ds = ds.batch(256).map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
    return ds.apply(tf.data.experimental.assert_cardinality(meta["count"]))


def _read_meta(directory: Path) -> dict:
    path = directory / META
    if not path.is_file():
        raise ConfigError(f"{path} is missing: run the stage that writes {directory.parent} first (dvc repro)")
    try:
        meta = json.loads(path.read_text())
        int(meta["count"]), list(meta["shards"]), meta["x"]["dtype"], meta["y"]["shape"]  # noqa: B018
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is damaged; rerun the stage that writes {directory.parent} (dvc repro -f)") from None
    return meta


def count(name: str, data_dir: str | Path) -> int:
    """How many examples the split holds, from its metadata (nothing else is read)."""
    return int(_read_meta(Path(data_dir) / name)["count"])


def save_splits(splits: Splits, out_dir: str | Path) -> None:
    """Writes every split and the spec into `out_dir`, atomically (the old directory is replaced only when done)."""
    from workflows.atomic import atomic_dir

    with atomic_dir(out_dir) as tmp:
        for name, ds in splits.items():
            save_split(ds, tmp / name)
        splits.spec.save(tmp / "spec.json")


def load_spec(data_dir: str | Path) -> DataSpec:
    """The DataSpec written beside the splits."""
    from plugins.data.base import DataSpec

    path = Path(data_dir) / "spec.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: run the prepare stage first (dvc repro prepare)")
    try:
        return DataSpec.load(path)
    except (ValueError, TypeError, KeyError):
        raise ConfigError(f"{path} is damaged; rerun the prepare stage (dvc repro -f prepare)") from None
