"""Resumable training: Keras's BackupAndRestore, with each backup written atomically and one directory per worker.

Keras writes the weights and the epoch counter as two files; a kill between
the two leaves a mismatched pair. Here each backup goes to a new directory,
and a one-line `latest` pointer is replaced atomically once it is complete:
a killed run resumes from its last complete epoch. Keras 3's callback is
not worker-aware (every worker would write the same files), so each worker
gets its own directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import keras

from plugins.registry import ConfigError
from workflows.io.atomic import write_text


def backup_dir(root: str | Path, config_yaml: str, run_dir: str | Path, worker: int = 0) -> Path:
    """This run's backup directory: one per config and run directory, and per worker.

    A changed config never resumes a stale run, and two runs of the same config in different run directories
    (two `python -m workflows.train` side by side) never share or resume each other's backup; the same command
    run again in the same directory resumes.
    """
    key = f"{config_yaml}\n{Path(run_dir).resolve()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    directory = Path(root) / digest / f"worker-{worker}"
    try:  # before the first epoch, not at its end
        directory.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=".probe-", dir=directory))
        probe.rmdir()
    except OSError as err:
        raise ConfigError(
            f"trainer.backup_root={root}: epoch backups cannot be written there ({err.strerror}); "
            "set trainer.backup_root to a writable folder, or trainer.backup=false"
        ) from None
    return directory


def latest_backup(directory: Path) -> Path | None:
    """The last complete backup in `directory` (what its `latest` pointer names), or None."""
    pointer = Path(directory) / "latest"
    return Path(directory) / pointer.read_text().strip() if pointer.exists() else None


def _read_latest(directory: Path, name: str, default: Any) -> Any:
    """A JSON file of the last complete backup, or `default` when there is none."""
    latest = latest_backup(directory)
    path = latest / name if latest else None
    return json.loads(path.read_text()) if path and path.exists() else default


def resume_epoch(directory: Path) -> int:
    """The epoch a run resumes at (0 when there is no complete backup)."""
    return int(_read_latest(directory, "training_metadata.json", {"epoch": 0})["epoch"])


def resumed_logs(directory: Path) -> list[dict[str, float]]:
    """The epoch logs (loss, val_accuracy…) of the epochs the last complete backup holds, oldest first."""
    return _read_latest(directory, "epoch_logs.json", [])


def _seed_states(model: keras.Model) -> list:
    """The random-number states of the model's layers (Dropout…): `save_weights` leaves them out."""
    return [v for v in model.non_trainable_variables if "seed_generator" in v.path]


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """keras.callbacks.BackupAndRestore whose backups are complete or absent, never half-written.

    It also keeps the layers' random-number states (Keras's `save_weights`
    omits them), so that a resumed run draws the dropout masks the killed
    one would have drawn, and the logs of every epoch so far, so that the
    resumed run's training curves start at epoch 0 (see `resumed_logs()`).

    Args:
        backup_dir: this worker's directory (see `backup_dir()`); removed when training ends normally.
    """

    def __init__(self, backup_dir: str | Path):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self._epoch_logs = resumed_logs(Path(backup_dir))
        self._point_at_latest()

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_logs = [*self._epoch_logs[:epoch], {k: float(v) for k, v in (logs or {}).items()}]
        super().on_epoch_end(epoch, logs)

    def _point_at_latest(self) -> None:
        latest = latest_backup(Path(self.backup_dir))
        if latest is not None:
            self._weights_path = str(latest / "latest.weights.h5")
            self._training_metadata_path = str(latest / "training_metadata.json")

    def _save_model(self):
        root = Path(self.backup_dir)
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".epoch-", dir=root))
        self.model.save_weights(str(tmp / "latest.weights.h5"), overwrite=True)
        (tmp / "training_metadata.json").write_text(
            json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen})
        )
        (tmp / "epoch_logs.json").write_text(json.dumps(self._epoch_logs))
        (tmp / "seed_states.json").write_text(json.dumps([v.numpy().tolist() for v in _seed_states(self.model)]))
        name = f"epoch-{self._current_epoch}"
        shutil.rmtree(root / name, ignore_errors=True)
        os.replace(tmp, root / name)
        write_text(root / "latest", name)  # the commit point
        for old in root.glob("epoch-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        self._point_at_latest()

    def _load_model(self):
        super()._load_model()
        states = Path(self._training_metadata_path).parent / "seed_states.json"
        if states.exists():
            for variable, value in zip(_seed_states(self.model), json.loads(states.read_text()), strict=True):
                variable.assign(value)
