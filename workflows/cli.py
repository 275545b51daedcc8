"""Command-line plumbing shared by every command: errors become one line on stderr, never a traceback.

A command that needs TensorFlow calls `plugins.tf_startup.start_tensorflow()` once it has read its
arguments and config (so that bad option names fail in a fraction of a second), before the first
plugin lookup: TensorFlow's start-up chatter is then filtered, and a one-line error stays one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from plugins.registry import ConfigError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def run_cli(task: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Runs `task(argv)`; a ConfigError or an interrupt ends it with one line and an exit code.

    Args:
        task: the command's work, given the arguments.
        argv: the arguments (default: sys.argv[1:]).

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
