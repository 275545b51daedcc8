"""Stage 0, check: the whole config, checked before any stage reads data or starts TensorFlow.

`kerasforge stage check --params params.yaml` tracks every key of
params.yaml (its DVC params are the whole file), so that DVC runs it whenever
anything there changes — a section no other stage reads included. It refuses
what no stage can honour under DVC: an unknown section (`-S +trainr.epochs=5`),
cross-validation (`-S cv=kfold`) and a search (`-S hparams_search=optuna`),
which would otherwise be recorded as experiments with the baseline's metrics.
Its output never changes, so its rerun reruns nothing after it.

It also writes the fingerprint of the user's own data (`data.path` of
`data=csv`, `data.directory` of `data=image_folder`: a file's MD5, a folder's
file names, sizes and modification times) into data/source.json. The stage is
always run (`always_changed`), and the prepare stage depends on that file: DVC
reruns prepare when the data changes, with nothing named in dvc.yaml.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workflows.config.experiment import Experiment
from workflows.config.schema import check_data
from workflows.io.atomic import write_json, write_text
from workflows.io.layout import REPO, Layout

NOTE = "params.yaml passed the data-free checks (workflows/stages/check.py); this file does not change.\n"


def fingerprint(params: dict[str, Any], root: Path = Path(".")) -> dict[str, Any]:
    """What identifies the data plugin's own files: `{"path": …, "md5": …}` for a file, `{"directory": …, "files":
    n, "md5": …}` (of names, sizes and modification times) for a folder; {} for data that ships with a package."""
    for key in ("path", "directory"):
        value = params.get(key)
        if not isinstance(value, str) or not value:
            continue
        where = root / value
        if where.is_file():
            digest = hashlib.md5()
            with where.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return {key: value, "md5": digest.hexdigest()}
        if where.is_dir():
            digest, count = hashlib.md5(), 0
            for file in sorted(p for p in where.rglob("*") if p.is_file()):
                stat = file.stat()
                digest.update(f"{file.relative_to(where).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                count += 1
            return {key: value, "files": count, "md5": digest.hexdigest()}
        return {key: value, "missing": True}  # the prepare stage says what is wrong
    return {}


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> None:
    """The check stage: the config was checked by the stage process (workflows.stages.process.stage_main);
    records it, and the fingerprint of the user's data."""
    check_data(experiment.cfg)  # the user's file's header and a sample: a typo is one line before prepare reads it
    write_text(layout.checked, NOTE)
    write_json(layout.source, fingerprint(dict(experiment.data.params), layout.root))
