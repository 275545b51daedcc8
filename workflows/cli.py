"""Thin command-line wrappers: errors become one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from plugins.registry import ConfigError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def run_cli(task: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Runs `task(argv)`; a ConfigError or an interrupt ends it with one line and an exit code.

    Returns:
        0 on success, 2 on bad input, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        task(argv)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: the previous outputs are left as they were", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def stage_main(stage: Callable, doc: str, argv: list[str] | None = None, setup: Callable | None = None) -> int:
    """The entry point of a DVC stage: reads `--params` (params.yaml), resolves it, runs `stage(experiment)`.

    `setup(params)`, if given, runs on the composed config before it is resolved (train's early TensorFlow setup).
    """

    def task(args: list[str]) -> None:
        parser = argparse.ArgumentParser(description=doc)
        parser.add_argument("--params", nargs="?", const="params.yaml", default="params.yaml",
                            help="the composed config (default: params.yaml)")
        ns = parser.parse_args(args)
        from workflows.config import load_params, resolve

        params = load_params(ns.params)
        if setup is not None:
            setup(params)
        stage(resolve(params))

    return run_cli(task, argv)
