"""The one command, `kerasforge <command>` (and `python -m workflows <command>`), and the plumbing every command
shares: errors become one line on stderr, never a traceback.

    kerasforge --help                 # the commands, one line each (no TensorFlow)
    kerasforge train optimizer=sgd    # = python -m workflows.train optimizer=sgd
    kerasforge stage train --params params.yaml

`COMMANDS` is the one table: a command's name, the function that runs it (imported only when it runs) and its
line of help. The old spellings (`python -m workflows.train …`, `python -m workflows.search …`) are one-line
aliases (workflows/train.py, …) to this table. This is the top floor (workflows/__init__.py): the only module
that reads argv; the one-line errors themselves are workflows/io/console.py's `run_cli`.
"""

from __future__ import annotations

import sys

from plugins.registry import ConfigError
from workflows.io.console import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_NO_ROOM, run_cli, wants_help  # noqa: F401

# command → ("module:function taking argv", one line of help). The function returns the exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "workflows.runners.train_command:main",
        "one whole run (prepare → augment → train → evaluate) in a run directory; -m: a sweep",
    ),
    "sweep": ("workflows.cli:_cmd_sweep", "a grid of runs (Hydra multirun): comma-separated values, one run each"),
    "search": (
        "workflows.runners.search:main",
        "hyper-parameter search with Optuna: pruning, resumable, shared by processes",
    ),
    "study": ("workflows.runners.study:main", "compare variants over seeds (conf/studies/): a report in reports/"),
    "confirm": ("workflows.cli:_cmd_confirm", "rerun a search's best trials over seeds, with McNemar's test"),
    "report": (
        "workflows.runners.report_command:main",
        "collect runs (a multirun directory or DVC experiments) into a report",
    ),
    "show": ("workflows.reporting.show:main", "the test metrics, and whether this run computed them"),
    "predict": ("workflows.serve.predict:main", "label new images or table rows with a trained model"),
    "explain": (
        "workflows.serve.explain:main",
        "why the model decided: Integrated Gradients over an image or a row's columns, occlusion over text",
    ),
    "export": ("workflows.cli:_cmd_export", "a SavedModel and a TFLite model, each checked (the export stage)"),
    "config": ("workflows.config.command:main", "print or write the composed config (params.yaml)"),
    "plugins": ("plugins.__main__:main", "list the registered plugins and their parameters"),
    "stage": ("workflows.cli:_cmd_stage", "run one pipeline stage (what dvc repro runs): check, prepare, …, export"),
}


def usage() -> str:
    """`kerasforge --help`: the commands, one line each."""
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: kerasforge <command> [options…]   (or: python -m workflows <command> …)",
        "",
        "Optimize Keras models from configuration; every command takes --help.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The console script `kerasforge`: dispatches to the command table.

    Args:
        argv: `<command> [options…]` (default: sys.argv[1:]).

    Returns:
        The command's exit code (2 for an unknown command).
    """
    import importlib

    from plugins.registry import did_you_mean

    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else EXIT_BAD_INPUT
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"error: unknown command '{name}'; {did_you_mean(name, COMMANDS)} (kerasforge --help lists them)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    module, _, function = COMMANDS[name][0].partition(":")
    return int(getattr(importlib.import_module(module), function)(rest) or 0)


def _cmd_export(argv: list[str]) -> int:
    from workflows.stages.process import stage_main

    return stage_main("export", argv)


def _cmd_sweep(argv: list[str]) -> int:
    from workflows.runners.sweep import main as sweep

    return sweep(["-m", *argv])


def _cmd_stage(argv: list[str]) -> int:
    from workflows.stage import main as stage

    return stage(argv)


def _cmd_confirm(argv: list[str]) -> int:
    import argparse
    from pathlib import Path

    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(
            prog="kerasforge confirm",
            description="Reruns a search's K best trials "
            "and its baseline over --seeds seeds, with McNemar's exact test.",
        )
        parser.add_argument("study_dir", help="a search's directory, e.g. multirun/search/digits-val_accuracy-max")
        parser.add_argument("--top", type=int, default=2, help="how many of the best trials (2)")
        parser.add_argument("--seeds", type=int, default=3, help="training seeds per config (3)")
        parser.add_argument("--name", default="confirm", help="the report's file name (confirm)")
        parser.add_argument("--out", default="reports", help="where to write (reports)")
        ns = parser.parse_args(args)
        if not Path(ns.study_dir).is_dir():
            raise ConfigError(f"{ns.study_dir} is not a search's directory (multirun/search/<study>)")
        from workflows.runners.confirm import confirm

        print(confirm(Path(ns.study_dir), ns.top, list(range(ns.seeds)), ns.name, Path(ns.out)))

    return run_cli(task, argv)
