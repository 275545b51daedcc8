"""A trial's outcome, in its result.json: the one writer for sweeps (`kerasforge sweep`) and searches.

keras-tuner's distinction: a **failed** trial (its config trains badly or not at all: an error of its own) is
recorded and the sweep or search goes on; a **fatal** error (the machine's, not the trial's: no memory, no room
on the disk) is recorded and stops it, since every later trial would meet it too.

    {"status": "ok", ...}  {"status": "failed", "error": "ValueError: ..."}  {"status": "fatal", ...}
    {"status": "pruned", ...} (a search's pruner stopped it: neither)
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflows.io.atomic import write_json

FATAL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_fatal(err: BaseException) -> bool:
    """Whether an error is the machine's (no memory, no room on the disk) rather than the trial's."""
    return isinstance(err, MemoryError) or (isinstance(err, OSError) and err.errno in FATAL_ERRNOS)


def message(err: BaseException) -> str:
    """An error as one line: its type and its message's first line."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def record(out_dir: Path, status: str, **fields: Any) -> None:
    """Writes the trial's result.json (atomically): its status first, then what the runner knows of it."""
    write_json(Path(out_dir) / "result.json", {"status": status, **fields})


def attempt(
    out_dir: Path, run: Callable[[], dict[str, Any]], passthrough: tuple[type[BaseException], ...] = (), **fields: Any
) -> tuple[dict[str, Any] | None, str | None]:
    """Runs one trial: its metrics, or its failure recorded in result.json; a fatal error is recorded, then raised.

    Args:
        out_dir: the trial's directory.
        run: the trial's work, returning its metrics.
        passthrough: exceptions left to the caller, unrecorded (a search's `optuna.TrialPruned`).
        **fields: what result.json says of the trial beside its status (its sampled values…).

    Returns:
        (metrics, None) when it ran, (None, the error's line) when it failed; the caller records success.

    Example:
    >>> metrics, error = attempt(out, lambda: run_pipeline(experiment, out), values={"lr": 0.1})
    """
    try:
        return run(), None
    except passthrough:
        raise
    except Exception as err:  # noqa: BLE001 — a trial's own failure is recorded; the machine's is raised
        line = message(err)
        if is_fatal(err):
            record(out_dir, "fatal", error=line, **fields)
            raise
        record(out_dir, "failed", error=line, **fields)
        return None, line
