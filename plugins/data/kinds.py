"""Data kinds: what one kind of data (images, tables, series…) knows about its own inputs, in one place.

The stages, serving and runners hold no branch on the kind of data: they ask the spec's kind (`kind_of(spec)`), and
the kind answers. A data plugin's `DataSpec.kind` names its kind; each kind is a `DataKind` subclass, registered
with `@register_kind`, beside the plugins that produce it (`plugins/data/image_kind.py` holds `ImageKind`,
`plugins/data/table_kind.py` `TableKind`, `plugins/data/timeseries.py` `SeriesKind`).

Adding a kind (say sound, read by a new `data=audio_folder` plugin):

    from plugins.data.kinds import DataKind, Evidence, register_kind
    from plugins.data import verdict

    @register_kind
    class AudioKind(DataKind):
        name = "audio"                        # the DataSpec.kind its data plugin writes

        def baseline(self, evidence: Evidence) -> dict:
            features = log_mel_statistics(evidence.x["train"])   # what a user would fit otherwise
            ...                                                  # fit on train, choose on val, score on test
            return {"baseline": {"model": "logistic_regression_log_mel", **verdict.paired(...)}}

Every method has a default that does nothing (no baseline, no picture of the mistakes), so a kind implements what
it has; a kind the stages do not know is a kind they treat alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from plugins.registry import ConfigError, did_you_mean

if TYPE_CHECKING:
    from plugins.data.base import DataSpec

# The built-in kinds' modules: imported at the first lookup, so that a kind registers without its plugins loaded.
BUILT_IN = {
    "image": "plugins.data.image_kind",
    "tabular": "plugins.data.table_kind",
    "sequence": "plugins.data.timeseries",
}


@dataclass
class Evidence:
    """What the evaluate stage hands a kind to judge its model beside a classical method.

    Attributes:
        spec: the data's spec.
        x: the prepared inputs of the "train", "val" and "test" splits (memory-mapped: read what you need).
        answers: their class ids, or values in the target's units.
        rows: their raw rows (a table's, a series' classical forecasts), None where the data has none.
        predicted: the model's class ids, or values in the target's units, on the test split.
        headline: the metric the verdict follows (`plugins.data.verdict.headline`).
    """

    spec: DataSpec
    x: dict[str, Any]
    answers: dict[str, np.ndarray]
    rows: dict[str, Any] = field(default_factory=dict)
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    headline: str = "accuracy"


class DataKind:
    """One kind of data's knowledge of its inputs; subclass it, set `name`, implement what the kind has.

    Attributes:
        name: the `DataSpec.kind` it serves.
        files: the endings of the files one example comes in (`.png`, `.wav`…), for `predict`; () for rows of a
            table (the default).
        noun: what the examples are called in messages.

    Methods (each has a default: a kind implements what it has):
        saved, network, saved_inputs: the in-model preprocessing put in front of the trained network (a table's
            encoding layers), the network behind it, and a split's raw inputs as the saved model takes them.
        baseline: the strongest classical method on the same test examples, with the paired verdict.
        mistakes_picture, insight: a picture of the worst mistakes (an image grid, spectrograms), and more of
            the test split's insight (a table's permutation importance).
        gather, check_files, file_batches, row_batches: what `predict` reads — the user's files (`files`) or one
            table of rows — checked before TensorFlow starts, then in batches, each bad input a one-line error.
        predictions: how the predictions are written (a row per input; a forecaster's next values).
        explain_inputs, explain: what `explain` reads (checked before TensorFlow), and the explanation it writes.
        serving: the exported model's signatures (raw inputs in), and the one TFLite converts.
        modality, augmenter, preview_figure: which augmentation ops apply, how they run, how they are shown.
    """

    name: ClassVar[str] = ""
    files: ClassVar[tuple[str, ...]] = ()  # the file name endings its model takes one example from (predict, explain)
    noun: ClassVar[str] = "rows"  # what an example is called in messages: "images", "sound files"

    def baseline(self, evidence: Evidence) -> dict[str, Any]:
        """The entries this kind adds to metrics.json beside the model's: `{"baseline": {…}}` (and a forecast's
        `mase`), or {} when the kind has no classical method (or the evidence lacks what it needs).

        Args:
            evidence: the splits, the model's predictions and the headline metric.
        """
        return {}

    def saved(self, network: Any, spec: DataSpec) -> tuple[Any, dict[str, Any]]:
        """The model to save, taking the raw inputs (`network` with the kind's preprocessing layers in front), and
        the entries it adds to the model card; the default: the network as trained, nothing added."""
        return network, {}

    def network(self, model: Any, spec: DataSpec) -> Any:
        """The part of a saved model that reads the prepared inputs (the inverse of `saved`); default: all of it."""
        return model

    def saved_inputs(self, x: np.ndarray, rows: Any, spec: DataSpec) -> Any:
        """A split's inputs as the saved model takes them, from its prepared inputs `x` and raw `rows` (None when
        the data has none); the default: the prepared inputs."""
        return x

    def insight(self, network: Any, head: Any, spec: DataSpec, rows: Any, y: np.ndarray, out: Path, batch: int):
        """Writes more of the test split's insight into `out` (beside mistakes.csv); the default writes nothing."""

    def mistakes_picture(self, x: np.ndarray, order: list[int], y, predicted, probs, spec: DataSpec, out: Path) -> None:
        """Draws the worst mistakes (`order`: their positions in the test split) into `out` (a PNG); the default
        draws nothing."""

    def modality(self, spec: DataSpec) -> str | None:
        """Which augmentation ops apply to this data: those registered with this `modality` ("image", "text",
        "audio"); None: no augmentation (the default: a config's image ops do no harm to other data)."""
        return None

    def augmenter(self, layers: list, spec: DataSpec) -> Any:
        """The applying ops' layers as one Keras layer on a batch of this kind's inputs (default: in a chain)."""
        import keras

        return keras.Sequential(layers, name="augmentation") if layers else None

    def preview_figure(self, rows: list[np.ndarray], spec: DataSpec):
        """A matplotlib figure of a few training examples (`rows[0]`) and augmented versions (`rows[1:]`); the
        default: a line saying the kind has no picture of them."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 1), dpi=100)
        ax.text(0.5, 0.5, f"{self.name} data: augmented, no preview", ha="center", va="center")
        ax.axis("off")
        return fig

    def gather(self, inputs: list[str], spec: DataSpec) -> Inputs:
        """The inputs of `predict` and `explain`, checked against what the model takes: files of this kind
        (`files`: folders walked recursively), or one table of rows (a kind without `files`).

        Raises:
            ConfigError: a missing path, a folder without such files, files for a model of rows, a table for a
                model of files, several tables, or a file that is neither.
        """
        files, tables = _listed(inputs, self.files, self.noun)
        if self.files:
            if tables:
                raise ConfigError(
                    f"{tables[0]}: this model takes {self.noun} ({'/'.join(e[1:] for e in self.files)}), not CSV "
                    f"rows; give {self.noun} or folders of them"
                )
            return Inputs(files)
        if files:
            raise ConfigError(
                f"{files[0]}: this model takes {spec.kind} rows of {spec.input_shape[0]} features, not "
                "files; give a CSV file with its feature columns"
            )
        if len(tables) != 1:
            raise ConfigError(
                f"give one CSV file (got {len(tables)}); this model takes rows of {spec.input_shape[0]} features"
            )
        return Inputs([], tables[0])

    def row_batches(self, table: Path, spec: DataSpec, batch_size: int) -> Iterator[tuple[list, Any, Any]]:
        """Batches of (row names, the saved model's inputs, the target's cells or None) read from one table file.

        Raises:
            ConfigError: this kind's model takes files (the default).
        """
        raise ConfigError(f"{table}: this model takes {self.noun}, not rows of a table")

    def predictions(self, spec: DataSpec, head: Any, table: Path | None) -> Any:
        """The writer of `predict`'s CSV (`plugins.model.outputs.Predictions`: a row per input, scored against a
        table's target cells)."""
        from plugins.model.outputs import Predictions

        return Predictions(spec, head, table)

    def explain_inputs(self, inputs: list[str], spec: DataSpec) -> Any:
        """What `explain` reads, checked before TensorFlow starts (handed back to `explain`).

        Raises:
            ConfigError: this kind's inputs are not explained (the default).
        """
        raise ConfigError(
            f"explain takes images, sound, table rows or text; a {self.name} model's inputs are not explained yet"
        )

    def explain(self, model: Any, head: Any, what: Any, spec: DataSpec, out: Path, steps: int, sanity: bool):
        """Explains each input of `what` (from `explain_inputs`) into the folder `out`; returns one summary row per
        input (`input`, `prediction`, `probability`, and what the method reports: a completeness gap…).

        Args:
            steps: Integrated Gradients' steps (a kind using another method may ignore them).
            sanity: also explain with a randomized copy of the model (`randomized_rank_correlation` per input).
        """
        raise ConfigError(f"a {self.name} model's inputs are not explained yet")

    def check_files(self, files: list[Path], spec: DataSpec) -> None:
        """Refuses, before TensorFlow starts, an input file that cannot be read (from its header: cheap); the
        default checks nothing (`file_batches` names a bad file when it reads it)."""

    def file_batches(self, files: list[Path], spec: DataSpec, batch_size: int) -> Iterator[tuple[list[Path], Any]]:
        """Batches of (the files, the model's inputs read from them); a kind of rows reads no files.

        Raises:
            ConfigError: this kind's model takes rows, not files.
        """
        raise ConfigError(f"a {self.name} model takes rows of a table, not files")

    def serving(self, model: Any, spec: DataSpec, outputs: Callable[[Any, Any], dict]) -> Serving:
        """The exported model's signatures (the SavedModel takes what a user has: raw inputs) and the one TFLite
        converts. The default: rows of numbers in raw units (`features`; the training scaling inside) and, for
        TFLite, the scaled rows (`scaled_features`: int8 quantizes its input with one scale for all features).

        Args:
            model: the saved Keras model.
            spec: the data's spec.
            outputs: `outputs(network, model_ready_inputs)` → the served outputs (probabilities and class ids, or
                values in the target's units).
        """
        import tensorflow as tf

        scaled = bool(spec.scaling and "mean" in spec.scaling)
        mean = tf.constant(spec.scaling["mean"] if scaled else 0.0, tf.float32)
        std = tf.constant(spec.scaling["std"] if scaled else 1.0, tf.float32)
        shape = [None, *spec.input_shape]

        def raw(x: np.ndarray, rows: Any) -> dict[str, np.ndarray]:
            """The test split's prepared rows in raw units: what a user gives the SavedModel."""
            if not scaled:
                return {"features": x}
            return {
                "features": x * np.asarray(spec.scaling["std"], np.float32)
                + np.asarray(spec.scaling["mean"], np.float32)
            }

        return Serving(
            endpoints=[
                (
                    "serving_default",
                    lambda features: outputs(model, (features - mean) / std),
                    [tf.TensorSpec(shape, tf.float32, name="features")],
                ),
                (
                    "scaled_features",
                    lambda scaled_features: outputs(model, scaled_features),
                    [tf.TensorSpec(shape, tf.float32, name="scaled_features")],
                ),
            ],
            tflite="scaled_features",
            checked="serving_default",
            network=model,
            inputs=raw,
        )


@dataclass
class Serving:
    """What a kind's exported model serves (`DataKind.serving`).

    Attributes:
        endpoints: the SavedModel's signatures: (name, function of the named inputs, input signature).
        tflite: the signature TFLite converts; its one input takes the prepared inputs (as training saw them).
        checked: the signature the export's check feeds with the test split's raw inputs (`inputs`).
        network: the part of the model that reads the prepared inputs (a table's network behind its encoding).
        inputs: `inputs(prepared_x, raw_rows)` → the checked signature's inputs, by name, for the test split.
    """

    endpoints: list[tuple[str, Callable, list]]
    tflite: str
    checked: str
    network: Any
    inputs: Callable[[np.ndarray, Any], dict[str, Any]]


def mistakes_axes(count: int, columns: int, cell: tuple[float, float]):
    """A matplotlib figure of `count` panels in rows of `columns` (each `cell` inches), every axis off: the frame
    of a kind's picture of its worst mistakes, its margins set here (room for a one-line title above each panel
    and the figure's title), so that it is saved as it is — `tight_layout` and a tight bounding box would lay the
    grid out twice more, most of the picture's cost. Returns (figure, the panels in order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(columns, count)
    rows = (count + cols - 1) // cols
    width, height = cell[0] * cols, cell[1] * rows + 0.4
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(left=0.1 / width, right=1 - 0.1 / width, bottom=0.1 / height, top=1 - 0.55 / height)
    fig.subplots_adjust(wspace=0.1, hspace=0.3 / (cell[1] - 0.3))
    for ax in axes.ravel():
        ax.axis("off")
    return fig, list(axes.ravel())


TABLES = (".csv", ".tsv", ".txt", ".gz", ".parquet", ".pq")  # what predict and explain read as a table of rows


@dataclass
class Inputs:
    """What to predict on or explain: files the model's data kind reads (images, sound…), or one table file."""

    files: list[Path]
    table: Path | None = None


def _listed(inputs: list[str], extensions: tuple[str, ...], noun: str) -> tuple[list[Path], list[Path]]:
    """The files with one of `extensions` (folders walked recursively) and the table files among the inputs."""
    files: list[Path] = []
    tables: list[Path] = []
    kinds = "/".join(e[1:] for e in extensions) or "none"
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in extensions and p.is_file())
            if not found:
                raise ConfigError(f"{path}: the folder holds no {noun} ({kinds})")
            files += found
        elif not path.is_file():
            raise ConfigError(f"{path}: no such file or folder")
        elif extensions and path.suffix.lower() in extensions:
            files.append(path)
        elif path.suffix.lower() in TABLES:
            tables.append(path)
        else:
            raise ConfigError(f"{path}: not one of {noun} ({kinds}) nor a CSV file")
    return files, tables


_KINDS: dict[str, DataKind] = {}


def register_kind(cls: type[DataKind]) -> type[DataKind]:
    """Registers a DataKind subclass under its `name` (a class decorator).

    Raises:
        ConfigError: a kind without a name, or a second kind of the same name.
    """
    if not cls.name:
        raise ConfigError(f"data kind {cls.__name__} has no name; set name = '…' (the DataSpec.kind it serves)")
    if cls.name in _KINDS and type(_KINDS[cls.name]) is not cls:
        raise ConfigError(
            f"data kind '{cls.name}' is registered twice ({type(_KINDS[cls.name]).__name__}, {cls.__name__})"
        )
    _KINDS[cls.name] = cls()
    return cls


def kind_of(spec: DataSpec | str) -> DataKind:
    """The kind of a spec (or of a kind's name): a built-in's module is imported on first use; another kind's
    module registers it when its data plugin is imported (the data group is discovered).

    Raises:
        ConfigError: no kind of that name (the known ones named).
    """
    import importlib

    name = spec if isinstance(spec, str) else spec.kind
    if name not in _KINDS and name in BUILT_IN:
        importlib.import_module(BUILT_IN[name])
    if name not in _KINDS:
        from plugins.registry import REGISTRY

        REGISTRY.discover("data")
    if name not in _KINDS:
        raise ConfigError(f"no data kind '{name}' is registered; {did_you_mean(name, sorted(_KINDS))}")
    return _KINDS[name]
