"""Command-line plumbing shared by every command: errors become one line on stderr, never a traceback.

Every command starts TensorFlow, if it comes to need it, at its first import and quietly
(`plugins.tf_startup.quiet_tensorflow`): its start-up chatter is filtered, so a one-line error stays one
line, and a command that does not need it (a bad option name, printing metrics) does not pay for it.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

from plugins.registry import ConfigError, redacted

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

    lines = [f"usage: {prog} [GROUP=OPTION …] [KEY=VALUE …]", "", summary, "",
             "config groups (GROUP=OPTION picks conf/GROUP/OPTION.yaml; KEY=VALUE sets one value, e.g. "
             "optimizer.learning_rate=0.01):"]
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


def run_cli(task: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Runs `task(argv)`; a ConfigError or an interrupt ends it with one line and an exit code.

    Args:
        task: the command's work, given the arguments.
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        0 on success, 2 on bad input, 130 when interrupted.
    """
    from plugins.tf_startup import quiet_tensorflow

    argv = sys.argv[1:] if argv is None else list(argv)
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
        print(f"error: no space left on the device{where} ({err.strerror}); free some space and run again: "
              "the previous outputs are left as they were (every output is written aside, then renamed)",
              file=sys.stderr)
        return EXIT_NO_ROOM
    return 0
