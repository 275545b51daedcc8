"""Data plugins: each returns `Splits` (train/val/test datasets and a `DataSpec`)."""

from plugins.data import csv_files, images, sklearn_datasets  # noqa: F401  (registers)
from plugins.data.base import DataSpec, Splits, split_arrays, to_numpy

__all__ = ["DataSpec", "Splits", "split_arrays", "to_numpy"]
