"""Stage 0, check: the whole config, checked before any stage reads data or starts TensorFlow.

`python -m workflows.check --params params.yaml` tracks every key of
params.yaml (its DVC params are the whole file), so that DVC runs it whenever
anything there changes — a section no other stage reads included. It refuses
what no stage can honour under DVC: an unknown section (`-S +trainr.epochs=5`),
cross-validation (`-S cv=kfold`) and a search (`-S hparams_search=optuna`),
which would otherwise be recorded as experiments with the baseline's metrics.
Its output never changes, so its rerun reruns nothing after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from workflows.atomic import write_text
from workflows.experiment import Experiment
from workflows.layout import REPO, Layout

NOTE = "params.yaml passed the data-free checks (workflows/check.py); this file does not change.\n"


def run(experiment: Experiment, layout: Layout = REPO, *, callbacks: Sequence = ()) -> None:
    """The check stage: the config was checked by the stage process (workflows.stages.stage_main); records it."""
    write_text(layout.checked, NOTE)


def main(argv: list[str] | None = None) -> int:
    from workflows.stages import stage_main

    return stage_main("check", argv)


if __name__ == "__main__":
    raise SystemExit(main())
