"""Shared fixtures: composed configs, tiny overrides, a fresh project copy in a git repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# No network and no telemetry in tests; quieter TensorFlow.
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["DVCLIVE_NO_ANALYTICS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Small and quick: one epoch of a small MLP, one augmented copy.
TINY = ["model=mlp", "model.units=[32]", "trainer=fast", "augmentation.copies=1"]

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "kerasforge tests",
    "GIT_AUTHOR_EMAIL": "tests@kerasforge.invalid",
    "GIT_COMMITTER_NAME": "kerasforge tests",
    "GIT_COMMITTER_EMAIL": "tests@kerasforge.invalid",
}


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this venv's bin first, no telemetry, a git identity."""
    env = {**os.environ, **GIT_IDENTITY, **extra}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    """Runs a command, returns its result; on an unexpected exit code fails with its output."""
    result = subprocess.run(cmd, cwd=cwd, env=subprocess_env(**env), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def last_json(stdout: str):
    """The JSON document a command printed last (after Keras's progress lines)."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def error_lines(stderr: str) -> list[str]:
    """The non-blank lines of stderr: TensorFlow's start-up chatter is filtered by plugins/tf_startup.py, not here."""
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def compose():
    """Hydra's composition of the project's conf/ (the real one)."""
    from workflows.config.command import compose as compose_config

    return compose_config


def project_files() -> list[str]:
    """The project's files as git sees them: tracked, plus new ones not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [f for f in out if (ROOT / f).is_file()]


def make_project_copy(dest: Path, defaults: dict[str, str] | None = None, overrides: list[str] = ()) -> Path:
    """A fresh git repository holding the project, its conf/ made tiny, committed.

    Args:
        dest: an empty directory.
        defaults: conf/config.yaml defaults to replace, e.g. {"trainer": "fast"}.
        overrides: extra `key: value` lines for conf/config.yaml.

    Returns:
        `dest`, with params.yaml recomposed from the changed conf/.
    """
    for name in project_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    config = dest / "conf" / "config.yaml"
    text = config.read_text()
    for group, option in (defaults or {}).items():
        lines = [f"  - {group}: {option}" if line.startswith(f"  - {group}:") else line for line in text.splitlines()]
        text = "\n".join(lines) + "\n"
    config.write_text(text + "".join(f"{line}\n" for line in overrides))
    run([sys.executable, "-m", "workflows.config", "--out", "params.yaml"], dest)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "project copy"], dest)
    return dest


TINY_DEFAULTS = {"model": "mlp", "trainer": "fast"}


# The start of a `python -I -c` script that runs where the project cannot be imported (its editable install
# included): what follows uses plain Keras only, as a receiver of the model would.
NO_PROJECT = """
import importlib.abc, sys
class NoProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("plugins", "workflows", "tests"):
            raise ImportError("the project is not importable here: " + name)
sys.meta_path.insert(0, NoProject())
"""
