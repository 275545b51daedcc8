"""The data between stages on disk: byte-reproducible, memory-mapped NumPy files.

A split is a directory holding `x.npy` and `y.npy` (NumPy's own format:
a fixed header — dtype, shape — then the raw example bytes). The data set's
spec is `spec.json` beside the splits.

Why not `tf.data.Dataset.save`: it writes random run-id directories and
metadata, so the same data gets a new hash on every run and DVC reruns
every later stage. A `.npy` file holds nothing but the header and the
bytes of the examples, so the same examples give the same file, and DVC's
hashes and run cache hold. It is written in chunks and read memory-mapped,
so neither writing nor reading holds a large image set in memory; and
writing or reading it needs no TensorFlow (the prepare stage of an array
data set does not start TensorFlow at all).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.registry import ConfigError
from workflows.io.atomic import atomic_dir, write_text

if TYPE_CHECKING:
    import tensorflow as tf

    from plugins.data.base import DataSpec, Splits

SKIPPED = "skipped.txt"  # beside the splits: the input files the data plugin left out, one per line
IN_MEMORY_BYTES = 256 << 20  # a split up to this size becomes one in-memory tensor; larger ones are streamed
CHUNK = 512  # examples per read (and per write) when streaming
ROWS = "rows.parquet"  # beside a table's encoded split: its raw rows, as the user's file had them


def save_split(split: Any, directory: str | Path) -> int:
    """Writes a split — an (x, y) pair of arrays, or an unbatched tf.data.Dataset of (x, y) — into `directory`.

    Args:
        split: the examples; a dataset is streamed chunk by chunk into memory-mapped files.
        directory: the split's directory (created).

    Returns:
        The number of examples written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(split, tuple):
        x, y = (np.ascontiguousarray(a) for a in split)
        if len(x) != len(y):
            raise ConfigError(f"{directory}: {len(x)} inputs but {len(y)} labels; a data plugin must give one each")
        np.save(directory / "x.npy", x, allow_pickle=False)
        np.save(directory / "y.npy", y, allow_pickle=False)
        return len(x)
    return _stream(split, directory)


def _stream(ds: tf.data.Dataset, directory: Path) -> int:
    count = int(ds.cardinality())
    if count < 0:  # unknown or infinite: count first (a data plugin's stream is finite)
        count = int(ds.reduce(np.int64(0), lambda n, _: n + 1))
    specs = ds.element_spec
    files = [
        np.lib.format.open_memmap(
            directory / f"{name}.npy", mode="w+", dtype=spec.dtype.as_numpy_dtype, shape=(count, *spec.shape)
        )
        for name, spec in zip("xy", specs)
    ]
    start = 0
    for xb, yb in ds.batch(CHUNK).as_numpy_iterator():
        for out, batch in zip(files, (xb, yb)):
            out[start : start + len(batch)] = batch
        start += len(xb)
    for out in files:
        out.flush()
    del files
    if start != count:
        raise ConfigError(f"{directory}: the data plugin announced {count} examples but gave {start}")
    return count


def load_arrays(name: str, data_dir: str | Path, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The split `data_dir/name` as (x, y) arrays, memory-mapped (nothing read until used) unless `mmap` is false.

    Raises:
        ConfigError: the split is missing or damaged (the stage to rerun is named).
    """
    directory = Path(data_dir) / name
    arrays = []
    for part in ("x", "y"):
        path = directory / f"{part}.npy"
        if not path.is_file():
            raise ConfigError(f"{path} is missing: run the stage that writes {Path(data_dir)} first (dvc repro)")
        try:
            arrays.append(np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False))
        except (ValueError, OSError, EOFError):
            raise ConfigError(
                f"{path} is damaged (truncated or not a .npy file); rerun the stage that writes "
                f"{Path(data_dir)} (dvc repro -f)"
            ) from None
    x, y = arrays
    if len(x) != len(y):
        raise ConfigError(
            f"{directory}: x.npy and y.npy differ in length; rerun the stage that writes it (dvc repro -f)"
        )
    return x, y


def load_split(name: str, data_dir: str | Path) -> tf.data.Dataset:
    """The split `data_dir/name` as an unbatched tf.data.Dataset of (x, y), in the order written.

    A split up to IN_MEMORY_BYTES is one in-memory tensor (the fastest input); a larger one is read from the
    memory-mapped files CHUNK examples at a time, so memory does not grow with the data set.
    """
    import tensorflow as tf

    x, y = load_arrays(name, data_dir)
    if x.nbytes + y.nbytes <= IN_MEMORY_BYTES:
        return tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y)))

    def read(start):
        return x[start : start + CHUNK], y[start : start + CHUNK]

    def chunk(start):
        xb, yb = tf.numpy_function(read, [start], (tf.as_dtype(x.dtype), tf.as_dtype(y.dtype)), stateful=False)
        return tf.ensure_shape(xb, (None, *x.shape[1:])), tf.ensure_shape(yb, (None, *y.shape[1:]))

    ds = tf.data.Dataset.range(0, len(x), CHUNK).map(chunk, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.unbatch().apply(tf.data.experimental.assert_cardinality(len(x)))


def save_splits(splits: Splits, out_dir: str | Path) -> None:
    """Writes every split and the spec into `out_dir`, atomically (the old directory is replaced only when done)."""

    with atomic_dir(out_dir) as tmp:
        for name, split in splits.items():
            save_split(split, tmp / name)
            if splits.rows is not None:
                save_rows(splits.rows[name], tmp / name / ROWS)
        write_text(tmp / "spec.json", splits.spec.to_json())
        if splits.skipped:
            (tmp / SKIPPED).write_text("".join(f"{name}\n" for name in splits.skipped))


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


def save_rows(rows: Any, path: Path) -> None:
    """A table's raw rows (a pandas DataFrame) as Parquet: the same rows give the same bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(rows, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path, compression="zstd")


def load_rows(name: str, data_dir: str | Path) -> Any:
    """The raw rows of split `name` (a DataFrame of the file's cells, plus its line number `row`), or None when the
    data is not a table."""
    path = Path(data_dir) / name / ROWS
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()
