"""`kerasforge train [overrides…]`: one whole run without DVC, or, with `-m`, a sweep or a search.

kerasforge train optimizer=sgd                          # the pipeline in one process, in a run directory
kerasforge train -m optimizer=adam,sgd                  # a sweep: one run per value (workflows/runners/sweep.py)
kerasforge train -m hparams_search=optuna               # a search (workflows/runners/search.py)
kerasforge train --params params.yaml                   # the DVC train stage (= kerasforge stage train)
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Routes `kerasforge train …` by its arguments (the old `python -m workflows.train` did the same).

    Without `--params`, the whole pipeline runs in one process in Hydra's run directory (workflows/runners/
    pipeline.py); with `-m`, a sweep; with `-m hparams_search=…`, an Optuna search; with `--params`, the train stage.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a == "--params" or a.startswith("--params=") for a in argv):
        from workflows.stages.process import stage_main

        return stage_main("train", argv)
    if any(a in ("-m", "--multirun") for a in argv) and any(a.startswith("hparams_search=") for a in argv):
        from workflows.runners.search import main as search_main  # Optuna, driven by the project

        return search_main(argv)
    if any(a in ("-m", "--multirun") for a in argv):
        from workflows.runners.sweep import main as sweep_main

        return sweep_main(argv)
    from workflows.runners.pipeline import main as pipeline_main

    return pipeline_main(argv)
