"""The one command, `kerasforge <command>` (and `python -m workflows <command>`), and the plumbing every command
shares: errors become one line on stderr, never a traceback.

    kerasforge --help                 # the commands, one line each (no TensorFlow)
    kerasforge train optimizer=sgd    # = python -m workflows.train optimizer=sgd
    kerasforge stage train --params params.yaml

`COMMANDS` is the one table: a command's name, the function that runs it (imported only when it runs) and its
line of help. The old spellings (`python -m workflows.train …`, `python -m workflows.search …`) call the same
functions.

Every command starts TensorFlow, if it comes to need it, at its first import and quietly
(`plugins.tf_startup.quiet_tensorflow`): its start-up chatter is filtered, so a one-line error stays one
line, and a command that does not need it (a bad option name, printing metrics) does not pay for it.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

from plugins.registry import ConfigError, redacted

# command → ("module:function taking argv", one line of help). The function returns the exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "workflows.train:main",
        "one whole run (prepare → augment → train → evaluate) in a run directory; -m: a sweep",
    ),
    "sweep": ("workflows.cli:_cmd_sweep", "a grid of runs (Hydra multirun): comma-separated values, one run each"),
    "search": ("workflows.search:main", "hyper-parameter search with Optuna: pruning, resumable, shared by processes"),
    "study": ("workflows.study:main", "compare variants over seeds (conf/studies/): a report in reports/"),
    "confirm": ("workflows.cli:_cmd_confirm", "rerun a search's best trials over seeds, with McNemar's test"),
    "report": ("workflows.report:main", "collect runs (a multirun directory or DVC experiments) into a report"),
    "show": ("workflows.show:main", "the test metrics, and whether this run computed them"),
    "predict": ("workflows.predict:main", "label new images or CSV rows with a trained model"),
    "export": ("workflows.export:main", "a SavedModel and a TFLite model, each checked (the export stage)"),
    "config": ("workflows.config:main", "print or write the composed config (params.yaml)"),
    "plugins": ("plugins.__main__:main", "list the registered plugins and their parameters"),
    "stage": ("workflows.cli:_cmd_stage", "run one pipeline stage (what dvc repro runs): check, prepare, …, export"),
}

EXIT_BAD_INPUT = 2
EXIT_NO_ROOM = 3
EXIT_INTERRUPTED = 130
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


HELP_FLAGS = ("-h", "--help")


def config_help(prog: str, summary: str, examples: tuple[str, ...] = ()) -> str:
    """The usage of a command that takes config overrides: its config groups and their options, read from conf/.

    Reads only the YAML files' names (no composition, no plugin, no TensorFlow), so that `--help` answers at once.

    Args:
        prog: the command as typed, e.g. `python -m workflows.train`.
        summary: one or two lines on what the command does.
        examples: command lines to show.

    Returns:
        The text to print.
    """
    from workflows.compose import CONF_DIR

    lines = [
        f"usage: {prog} [GROUP=OPTION …] [KEY=VALUE …]",
        "",
        summary,
        "",
        "config groups (GROUP=OPTION picks conf/GROUP/OPTION.yaml; KEY=VALUE sets one value, e.g. "
        "optimizer.learning_rate=0.01):",
    ]
    groups = sorted(p for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    width = max((len(g.name) for g in groups), default=0)
    for group in groups:
        options = sorted(f.stem for f in group.glob("*.yaml"))
        lines.append(f"  {group.name:<{width}}  {', '.join(options)}")
    lines += ["", "every plugin's parameters: python -m plugins list; the composed config: python -m workflows.config"]
    if examples:
        lines += ["", "examples:", *(f"  {e}" for e in examples)]
    return "\n".join(lines)


def wants_help(argv: list[str]) -> bool:
    """Whether the arguments ask for help (`-h`, `--help`), which no config override can be."""
    return any(a in HELP_FLAGS for a in argv)


def run_cli(
    task: Callable[[list[str]], object], argv: list[str] | None = None, usage: Callable[[], str] | None = None
) -> int:
    """Runs `task(argv)`; a ConfigError or an interrupt ends it with one line and an exit code.

    Args:
        task: the command's work, given the arguments.
        argv: the arguments (default: sys.argv[1:]).
        usage: the command's help text (`config_help`, for a command that takes config overrides, which `-h`
            or `--help` cannot be one of): printed instead of running the task when the arguments ask for it.

    Returns:
        0 on success or help, 2 on bad input, 130 when interrupted.
    """
    from plugins.tf_startup import quiet_tensorflow

    argv = sys.argv[1:] if argv is None else list(argv)
    if usage is not None and wants_help(argv):
        print(usage())
        return 0
    quiet_tensorflow()
    try:
        task(argv)
    except ConfigError as err:
        print(f"error: {redacted(str(err))}", file=sys.stderr)  # never a resolved ${oc.env:…} value
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: the previous outputs are left as they were", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as err:
        if err.errno not in _NO_ROOM:
            raise
        where = f" writing {err.filename}" if err.filename else ""
        print(
            f"error: no space left on the device{where} ({err.strerror}); free some space and run again: "
            "the previous outputs are left as they were (every output is written aside, then renamed)",
            file=sys.stderr,
        )
        return EXIT_NO_ROOM
    return 0


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


def _cmd_sweep(argv: list[str]) -> int:
    from workflows.sweep import main as sweep

    return sweep(["-m", *argv])


def _cmd_stage(argv: list[str]) -> int:
    from workflows.stages import BY_NAME, stage_main

    names = ", ".join(BY_NAME)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            f"usage: kerasforge stage NAME [--params params.yaml] [--root RUN_DIR]\n\nRuns one stage of the "
            f"pipeline, as dvc repro does. Stages: {names}. `kerasforge stage NAME --help` for its options."
        )
        return 0 if argv else EXIT_BAD_INPUT
    if argv[0] not in BY_NAME:
        from plugins.registry import did_you_mean

        print(f"error: unknown stage '{argv[0]}'; {did_you_mean(argv[0], BY_NAME)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return stage_main(argv[0], argv[1:])


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
        from workflows.confirm import confirm

        print(confirm(Path(ns.study_dir), ns.top, list(range(ns.seeds)), ns.name, Path(ns.out)))

    return run_cli(task, argv)
