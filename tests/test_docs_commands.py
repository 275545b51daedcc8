"""Every `kerasforge …` line of the README and the documentation is checked: a config command's overrides compose
and pass the config's checks (`kerasforge config` would accept them), another command exists and takes the options
the line gives it (its `--help`, as docs/reference/commands.md prints it). Lines whose files are the reader's own
(a data path, a folder, a model directory) are checked without those files: the docs say they need them."""

from __future__ import annotations

import re
import shlex

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT
from workflows.cli import COMMANDS
from workflows.config.compose import compose
from workflows.config.schema import _check_without_plugins
from workflows.config.sections import PLUGIN_GROUPS

CONFIG_COMMANDS = ("train", "sweep", "search", "config")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def command_lines() -> list[tuple[str, str]]:
    """(page, line) for each `kerasforge …` line inside a bash block (continuations joined, comments cut)."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", page.read_text(), re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("kerasforge "):
                    found.append((str(page.relative_to(ROOT)), line))
    return found


LINES = command_lines()


def test_the_docs_show_commands_at_all():
    assert len(LINES) > 40 and {p for p, _ in LINES} >= {"README.md"}


def words(line: str) -> list[str]:
    line = re.split(r"\s+#\s", line + " ", maxsplit=1)[0]  # a trailing comment
    line = re.split(r"\s*(?:&&|\|\||\||;|>)\s*", line)[0]  # the first command of a pipe or list
    return shlex.split(line)


def first_point(override: str) -> str:
    key, value = override.split("=", 1)
    return f"{key}={value.split(',')[0]}" if "," in value and value[:1] not in "[{('\"" else override


@pytest.mark.parametrize(("page", "line"), LINES, ids=[f"{p}:{i}" for i, (p, _) in enumerate(LINES)])
def test_each_command_line_is_accepted(page, line):
    parts = words(line)
    command, args = parts[1], parts[2:]
    if command.startswith("-"):
        assert command in ("--help", "-h", "--version"), line
        return
    assert command in COMMANDS, f"{page}: `{line}`: no command '{command}'"
    if "--help" in args or "-h" in args:
        return
    if command in CONFIG_COMMANDS:
        overrides = [a for a in args if "=" in a and not a.startswith("-")]
        overrides = [first_point(o) for o in overrides]  # a grid (a,b,c): its first point
        cfg = compose([o for o in overrides if not o.startswith("hydra.")])
        _check_without_plugins(OmegaConf.create(cfg), set(PLUGIN_GROUPS))  # all but the reader's own files
        return
    helps = (ROOT / "docs" / "reference" / "commands.md").read_text()
    section = helps.split(f"## `kerasforge {command}`", 1)[1].split("\n## ", 1)[0]
    for option in (a.split("=", 1)[0] for a in args if a.startswith("--")):
        assert option in section, f"{page}: `{line}`: kerasforge {command} has no option {option}"
