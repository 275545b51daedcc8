"""What every command shares at the console: errors become one line on stderr and an exit code, never a traceback.

`run_cli(task, argv)` runs a command's work; a `ConfigError`, an interrupt or a full disk ends it with one line.
Every command starts TensorFlow, if it comes to need it, at its first import and quietly
(`plugins.tf_startup.quiet_tensorflow`): its start-up chatter is filtered, so a one-line error stays one line.
And a command's process ends without a last walk of the garbage collector over everything it made
(`spare_the_collector_at_exit`): Python's shutdown collects again and again while it unloads the modules, which took
1.2–1.7 s at the end of every process that had imported TensorFlow, 0.2–0.3 s in the data stages'.
"""

from __future__ import annotations

import atexit
import errno
import gc
import sys
from collections.abc import Callable

from plugins.registry import ConfigError, redacted

EXIT_BAD_INPUT = 2
EXIT_NO_ROOM = 3
EXIT_INTERRUPTED = 130
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


HELP_FLAGS = ("-h", "--help")


def wants_help(argv: list[str]) -> bool:
    """Whether the arguments ask for help (`-h`, `--help`), which no config override can be."""
    return any(a in HELP_FLAGS for a in argv)


class Interrupted(KeyboardInterrupt):
    """An interruption that says what it left, when that is not "the previous outputs, as they were" (a stage that had
    already written its outputs when Ctrl-C came)."""


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
    spare_the_collector_at_exit()
    try:
        task(argv)
    except ConfigError as err:
        print(f"error: {redacted(str(err))}", file=sys.stderr)  # never a resolved ${oc.env:…} value
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as err:
        said = str(err) if isinstance(err, Interrupted) else "the previous outputs are left as they were"
        print(f"interrupted: {said}", file=sys.stderr)
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


def spare_the_collector_at_exit() -> None:
    """Moves every object out of the garbage collector's reach when the interpreter exits (once, however often called).

    At exit nothing the process made is needed any more and the operating system takes its memory back at once, yet
    Python's shutdown runs full collections as it unloads the modules. `gc.freeze` in an `atexit` hook leaves the
    objects to the system; it stops nothing else: the other exit hooks run (logs flushed, temporary folders
    removed), and an object whose last reference goes is released as ever (files closed) — only the collector's
    walks are spared. In a test's process it runs when the test session ends.
    """
    atexit.unregister(gc.freeze)  # registered once, however many commands a process runs
    atexit.register(gc.freeze)
