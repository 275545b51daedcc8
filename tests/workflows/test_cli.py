"""Every command answers `--help` with its usage, at once: no TensorFlow, no config composed."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT, error_lines, run

COMMANDS = [
    ["workflows.train"],
    ["workflows.train", "-m"],
    ["workflows.search"],
    ["workflows.config"],
    ["workflows.show"],
    ["workflows.stages"],
    ["workflows.predict"],
    ["workflows.report"],
    ["workflows.study"],
    ["workflows.export"],
    ["workflows", "stage", "evaluate"],  # the stages: `kerasforge stage NAME` (their old modules moved)
    ["workflows", "stage", "prepare"],
    ["workflows", "stage", "augment"],
    ["workflows", "train"],
    ["workflows", "search"],
    ["plugins"],
]

# Runs a command's main() as `python -m` would, then says whether TensorFlow was imported.
HELP = """
import runpy, sys
module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
print("exit", code, "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_prints_usage_without_tensorflow(command):
    result = run([sys.executable, "-c", HELP, *command, "--help"], ROOT, check=False)
    assert result.stdout.startswith("usage:"), result.stdout[:300] + result.stderr[-500:]
    assert result.stdout.splitlines()[-1] == "exit 0 False"
    assert "error" not in result.stderr.lower()


def test_config_commands_list_the_groups_and_their_options():
    text = run([sys.executable, "-m", "workflows.train", "--help"], ROOT).stdout
    assert "config groups" in text
    line = next(line for line in text.splitlines() if line.strip().startswith("optimizer "))
    assert "adam" in line and "sgd" in line
    assert any(line.strip().startswith("hparams_search ") for line in text.splitlines())


def test_one_command_lists_every_command_without_tensorflow():
    from workflows.cli import COMMANDS

    result = run([sys.executable, "-c", HELP, "workflows", "--help"], ROOT, check=False)
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert listed == list(COMMANDS) and result.stdout.splitlines()[-1] == "exit 0 False"


@pytest.mark.parametrize(
    "command",
    [
        "train",
        "sweep",
        "search",
        "study",
        "confirm",
        "report",
        "show",
        "predict",
        "explain",
        "export",
        "config",
        "plugins",
        "stage",
    ],
)
def test_every_command_of_the_table_answers_help(command):
    result = run([sys.executable, "-c", HELP, "workflows", command, "--help"], ROOT, check=False)
    assert result.stdout.startswith("usage:"), result.stdout[:300] + result.stderr[-500:]
    assert result.stdout.splitlines()[-1] == "exit 0 False"


def test_an_unknown_command_or_stage_names_the_closest():
    result = run([sys.executable, "-m", "workflows", "tarin"], ROOT, check=False)
    assert result.returncode == 2 and error_lines(result.stderr)[0].startswith(
        "error: unknown command 'tarin'; did you mean 'train'?"
    )
    result = run([sys.executable, "-m", "workflows", "stage", "evalute"], ROOT, check=False)
    assert result.returncode == 2 and "did you mean 'evaluate'?" in result.stderr


def test_the_console_script_is_the_same_table():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"kerasforge": "workflows.cli:main"}
    dvc = (ROOT / "dvc.yaml").read_text()
    assert "cmd: python -m workflows.stage train --params params.yaml" in dvc  # DVC runs `kerasforge stage`'s code
