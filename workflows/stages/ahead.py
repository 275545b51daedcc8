"""Stages run ahead: under `dvc repro`, the train stage's process also runs evaluate and export.

DVC runs each stage as a process of its own, and each of train, evaluate
and export imports TensorFlow (4–10 s of CPU on a 2-core machine) to load
the same model. When the train stage has written its outputs, its process
has both at hand, so it runs the stages that follow it (`Stage.ahead`)
straight away, each into a hand-off folder `.kerasforge/ahead/<stage>/`:
a run root whose inputs are links to the repository's files and below
which the stage writes its outputs, what it printed, what it returned, and
a key over everything its outputs depend on — the content of its code (the
files dvc.yaml lists for it), its DVC params, the content of its data deps
(the model just written, the prepared data), and the Python that ran it.

When DVC then runs that stage, its process computes the key again, before
TensorFlow is imported: the same key publishes the hand-off (each output
folder replaced atomically, as the stage itself does; its lines printed
again) and the stage is done. Any other key (a dep changed in between;
`dvc repro evaluate` after an edit of the evaluate section) drops the
hand-off and the stage runs as ever. Either way the hand-off is used once.

Running ahead is only a head start: an error there is left to the stage's
own process, which meets it again and reports it (one note on stderr says
so), and a multi-worker training runs nothing ahead. It is on under DVC
only (`DVC_STAGE` set); `KERASFORGE_AHEAD=0` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

from workflows.config.stage_table import BY_NAME, ROOT, Stage, code_deps
from workflows.io.atomic import atomic_dir, write_json, write_text
from workflows.io.layout import REPO, Layout

AHEAD = Path(".kerasforge") / "ahead"  # below the repository: DVC runs every stage there


class Published(NamedTuple):
    """A hand-off that was published: what the stage returned when it ran ahead."""

    result: Any


def key(stage: Stage, cfg: Mapping[str, Any], layout: Layout = REPO, memo: dict[Path, str] | None = None) -> str:
    """What `stage`'s outputs depend on, as one hex digest (no TensorFlow, no model loaded).

    Args:
        stage: the stage.
        cfg: the composed config (params.yaml's content).
        layout: where the stage's data deps are.
        memo: the digests of data files already read, to share between the keys of stages made at one moment.

    Returns:
        A SHA-256 over the stage's name, the Python running it, its params (`stage.reads`), the bytes of its
        code (`code_deps`) and the relative path and bytes of every file of its data deps.
    """
    digest, memo = hashlib.sha256(), {} if memo is None else memo
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    params = {name: _select(cfg, name) for name in stage.reads}
    digest.update(json.dumps([stage.name, sys.executable, params], sort_keys=True, default=str).encode())
    for ref in code_deps(stage):
        for file in _files(ROOT / ref):
            digest.update(f"{file.relative_to(ROOT)}\0".encode() + file.read_bytes())
    for ref in stage.deps:  # by content: DVC rewrites the outputs it has just cached (a copy from its cache)
        for file in _files(layout.path(ref)):
            if file not in memo:
                with open(file, "rb") as handle:
                    memo[file] = hashlib.file_digest(handle, "blake2b").hexdigest()
            digest.update(f"{file.relative_to(layout.root)}\0{memo[file]}\0".encode())
    return digest.hexdigest()


def run_ahead(stage: Stage, cfg: Mapping[str, Any], run: Callable[[Stage, Layout], Any]) -> list[str]:
    """Runs the stages that follow `stage` (`stage.ahead`) into their hand-off folders, under DVC.

    Args:
        stage: the stage that has just finished in this process (train).
        cfg: the composed config.
        run: runs a stage on a layout (`workflows.stages.process.run_stage` on the stage's resolved config).

    Returns:
        The stages whose hand-off was written.
    """
    done: list[str] = []
    if not stage.ahead or not _enabled() or not os.environ.get("DVC_STAGE"):
        return done
    if ((cfg.get("trainer") or {}).get("strategy")) == "multi_worker":
        return done  # every worker would run it; the chief alone has the model
    memo: dict[Path, str] = {}  # the followers share the prepared data and the model: each file read once
    keys = {name: key(BY_NAME[name], cfg, memo=memo) for name in stage.ahead}  # the deps before any of them runs
    for name in stage.ahead:
        follower, folder = BY_NAME[name], AHEAD / name
        shutil.rmtree(folder, ignore_errors=True)  # a previous model's: stale now
        try:
            with atomic_dir(folder) as tmp:
                write_text(tmp / "key", keys[name])
                root = Layout(tmp / "root")
                for ref in follower.deps:
                    link = root.path(ref)
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(REPO.path(ref).resolve())
                with _captured() as printed:
                    result = run(follower, root)
                write_json(tmp / "result.json", result)
                write_json(tmp / "printed.json", printed)
                write_json(tmp / CONTENTS, _contents(tmp))  # last: what a whole hand-off holds, file by file
            done.append(name)
        except Exception as err:  # noqa: BLE001 — a head start only: the stage's own process meets it again
            shutil.rmtree(folder, ignore_errors=True)
            reason = (str(err).splitlines() or [""])[0]
            print(
                f"note: the {name} stage was not run ahead ({type(err).__name__}: {reason}); DVC runs it next",
                file=sys.stderr,
            )
    return done


def publish(stage: Stage, cfg: Mapping[str, Any]) -> Published | None:
    """Publishes `stage`'s hand-off when its key is the stage's key now; removes the hand-off either way.

    Args:
        stage: the stage DVC runs (evaluate, export).
        cfg: the composed config.

    Returns:
        What the stage returned when it ran ahead, or None when there is nothing to publish (run the stage).
    """
    folder = AHEAD / stage.name
    if not (folder / "result.json").is_file():
        return None
    handed = Layout(folder / "root")
    try:
        if not _enabled() or (folder / "key").read_text() != key(stage, cfg):
            return None
        if not all(handed.path(head).is_dir() for head in heads(stage)):
            return None
        if not _whole(folder):
            print(
                f"note: the {stage.name} stage's hand-off is damaged (a file missing or changed since it was written); "
                "the stage runs here",
                file=sys.stderr,
            )
            return None
        for head in heads(stage):
            with atomic_dir(REPO.path(head)) as tmp:  # an error here leaves the previous folder as it was
                shutil.copytree(handed.path(head), tmp, dirs_exist_ok=True)
                for kept in KEPT:  # DVC's own files in the folder (git-tracked): never deleted by a publish
                    if (REPO.path(head) / kept).is_file() and not (tmp / kept).exists():
                        shutil.copy2(REPO.path(head) / kept, tmp / kept)
        printed = json.loads((folder / "printed.json").read_text())
        sys.stdout.write(printed["stdout"])
        sys.stderr.write(printed["stderr"])
        print(
            f"{stage.name}: published what the train stage's process ran ahead on the same model, data, code and "
            "params (KERASFORGE_AHEAD=0 runs it here instead)",
            file=sys.stderr,
        )
        return Published(json.loads((folder / "result.json").read_text()))
    except (OSError, ValueError):  # an unreadable hand-off: the stage runs itself
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


CONTENTS = "contents.json"  # written last into a hand-off: every other file's size and digest
KEPT = (".gitignore",)  # files DVC keeps in an output folder, which a stage does not write


def _contents(folder: Path) -> dict[str, list[Any]]:
    """Every file below `folder` but CONTENTS (links followed: the hand-off's inputs are links to the repository's
    files, and are left out), by relative path: [size, BLAKE2b digest]."""
    out: dict[str, list[Any]] = {}
    for file in sorted(f for f in folder.rglob("*") if f.is_file() and not f.is_symlink() and f.name != CONTENTS):
        if any(part.is_symlink() for part in file.relative_to(folder).parents if part != Path(".")):
            continue
        with file.open("rb") as handle:
            out[file.relative_to(folder).as_posix()] = [
                file.stat().st_size,
                hashlib.file_digest(handle, "blake2b").hexdigest(),
            ]
    return out


def _whole(folder: Path) -> bool:
    """Whether a hand-off holds exactly what it held when written: its CONTENTS, file by file."""
    try:
        recorded = json.loads((folder / CONTENTS).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded == _contents(folder)


def heads(stage: Stage) -> set[str]:
    """The output folders a stage replaces as a whole: the Layout attributes its outputs are below (`eval`)."""
    return {ref.partition("/")[0] for ref in (*stage.outs, *stage.metrics, *stage.plots)}


def _enabled() -> bool:
    return os.environ.get("KERASFORGE_AHEAD", "1") != "0"


def _select(cfg: Mapping[str, Any], name: str) -> Any:
    """`cfg[a][b]` for `a.b`; None where a part is absent."""
    node: Any = cfg
    for part in name.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _files(path: Path) -> list[Path]:
    """A file, or a folder's files (sorted; no __pycache__), or none when `path` is absent."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


@contextlib.contextmanager
def _captured() -> Iterator[dict[str, str]]:
    """What the stage prints (its warnings), kept to be printed again by its own process."""
    out, err = io.StringIO(), io.StringIO()
    printed = {"stdout": "", "stderr": ""}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield printed
    finally:
        printed.update(stdout=out.getvalue(), stderr=err.getvalue())
