"""Stage 1, prepare: the data plugin's train/val/test split, written to disk.

`python -m workflows.prepare` reads params.yaml and writes data/prepared/
({train,val,test}/ as tf.data snapshots, spec.json), atomically.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from plugins.data import DataSpec, Splits
from workflows.atomic import atomic_dir
from workflows.cli import stage_main
from workflows.config import Experiment
from workflows.layout import PREPARED


def prepare(experiment: Experiment) -> Splits:
    """Loads and splits the configured data set.

    Args:
        experiment: the resolved config.

    Returns:
        The data plugin's Splits.
    """
    return experiment.load_data()


def save_splits(splits: Splits, out_dir: Path = PREPARED) -> None:
    """Writes every split (tf.data's save format) and the spec into `out_dir`, atomically."""
    with atomic_dir(out_dir) as tmp:
        for name, ds in splits.items():
            ds.save(str(tmp / name))
        splits.spec.save(tmp / "spec.json")


def load_split(name: str, data_dir: Path = PREPARED) -> tf.data.Dataset:
    """One split written by `save_splits` (or by the augment stage)."""
    return tf.data.Dataset.load(str(Path(data_dir) / name))


def load_spec(data_dir: Path = PREPARED) -> DataSpec:
    return DataSpec.load(Path(data_dir) / "spec.json")


def main(argv: list[str] | None = None) -> int:
    return stage_main(lambda experiment: save_splits(prepare(experiment)), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
