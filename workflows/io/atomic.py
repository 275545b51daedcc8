"""Atomic writes: a reader sees the old file or the new one, never half of one.

Everything is written beside its target under a temporary name, then renamed
over it (`os.replace`, atomic on POSIX), so an interrupted run leaves the
previous model, data and metrics intact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yields a temporary path beside `target`; renames it over `target` on success.

    Args:
        target: the file to write.
        suffix: the temporary name's ending (Keras wants `.keras`).

    Example:
    >>> with atomic_path("models/model.keras", ".keras") as tmp:
    ...     model.save(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600, made what the user's umask gives any new file
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yields an empty temporary directory beside `target`; swaps it in on success.

    The old directory is renamed aside, the new one renamed in, then the old
    one deleted: at no moment is `target` half-written.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700, made what the user's umask gives any new directory
        old = None
        if target.exists():
            _keep_gitignores(target, tmp)
            old = target.parent / f".{target.name}.old.{os.getpid()}.{tmp.name.rsplit('.', 1)[-1]}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _keep_gitignores(old: Path, new: Path) -> None:
    """Carries the `.gitignore` files of the folder being replaced into its new content where it has none: DVC
    writes them inside its outputs (dvclive/train/plots/.gitignore) and git tracks them, so a replaced folder must
    not delete them."""
    for ignore in old.rglob(".gitignore"):
        kept = new / ignore.relative_to(old)
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ignore, kept)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale(target: Path) -> None:
    """Removes the temporary siblings of `target` (`.name.<pid>.*`) left by processes that no longer run
    (a `kill -9` in mid-write): the next write cleans up after a killed one."""
    for path in target.parent.glob(f".{target.name}.*"):
        parts = path.name[len(target.name) + 2 :].split(".")
        pid = parts[1] if parts[:1] == ["old"] and len(parts) > 1 else parts[0]
        if not pid.isdigit() or alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    """Whether a process of this machine with this id is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text(target: str | Path, text: str) -> None:
    """Writes `text` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def finite(obj: Any) -> Any:
    """`obj` with every NaN or infinite float replaced by None: JSON has no such numbers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(target: str | Path, obj: Any) -> None:
    """Writes `obj` as indented, strict JSON to `target` atomically (a non-finite number becomes null)."""
    write_text(target, json.dumps(finite(obj), indent=2, sort_keys=False, allow_nan=False) + "\n")
