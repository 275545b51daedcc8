"""Where the stages read and write, below a root: the repository (DVC) or a run directory (direct CLI, sweeps).

The same relative paths whichever way a pipeline runs, so a run directory
of `python -m workflows.train` looks like the repository after `dvc repro`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """The paths of a pipeline's files below `root`.

    Example:
    >>> Layout(Path("outputs/run")).models
    PosixPath('outputs/run/models')
    """

    root: Path = Path(".")

    def path(self, ref: str) -> Path:
        """A Layout attribute (`models`) or attribute/rest (`eval/metrics.json`) below `root`; any other
        reference as a path below `root` (`previews/augmentation.png`).

        Example:
        >>> Layout(Path("run")).path("eval/metrics.json")
        PosixPath('run/eval/metrics.json')
        """
        head, _, rest = ref.partition("/")
        if not isinstance(getattr(Layout, head, None), property):
            return self.root / ref
        base = getattr(self, head)
        return base / rest if rest else base

    @property
    def checked(self) -> Path:
        """check → a constant note that the config passed the data-free checks (DVC's order: check first)."""
        return self.root / "data" / "checked.txt"

    @property
    def source(self) -> Path:
        """check → the fingerprint of the user's data file or folder (`data.path`, `data.directory`): DVC reruns
        prepare when it changes, without the file being named in dvc.yaml."""
        return self.root / "data" / "source.json"

    @property
    def prepared(self) -> Path:
        """prepare → {train,val,test}/ and spec.json."""
        return self.root / "data" / "prepared"

    @property
    def augmented(self) -> Path:
        """augment → train/."""
        return self.root / "data" / "augmented"

    @property
    def preview(self) -> Path:
        """augment → originals beside augmented samples (PNG)."""
        return self.root / "previews" / "augmentation.png"

    @property
    def models(self) -> Path:
        """train → model.keras and model.json."""
        return self.root / "models"

    @property
    def export(self) -> Path:
        """export → saved_model/, model.tflite, check.json."""
        return self.root / "models" / "export"

    @property
    def train_logs(self) -> Path:
        """train → DVCLive metrics and curves."""
        return self.root / "dvclive" / "train"

    @property
    def eval(self) -> Path:
        """evaluate → metrics.json and plots/."""
        return self.root / "eval"


REPO = Layout()
