"""kerasforge's workflows: the pipeline's stages and the commands that run them, in floors by role.

A floor imports only from the floors below it (and from `plugins/`, floor 0, which imports nothing of
workflows/), in any form: at module level, inside functions, under `TYPE_CHECKING`. Runners hand callbacks to
stages as arguments; nothing reaches up. `.importlinter`'s layers contract in pyproject.toml holds the rule in CI
(`make lint`).

    7  cli.py, __main__.py     the one command (`kerasforge`): its table, --help; the only reader of argv
                               (and the old spellings, `python -m workflows.train` …: one-line aliases to it)
    6  runners/                the stage process (DVC's), the pipeline in one process, sweeps, searches, studies,
                               confirmation; the commands that train
    5  serve/ | reporting/     predict on new inputs | read runs back: tables, plots, show (no TensorFlow)
    4  stages/                 one module per DVC stage: run(experiment, layout, *, callbacks=())
    3  runtime/                one training's machinery: strategies, multi-worker, backups, batch norm, fine-tuning
    2  config/                 compose, schemas and checks, the stage table, the Experiment (no TensorFlow at import)
    1  io/                     atomic writes, Layout, the data between stages, one-line errors

Importing this package imports nothing heavy: each command imports TensorFlow only if it needs it.
"""
