"""Every command answers `--help` with its usage, at once: no TensorFlow, no config composed."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT, run

COMMANDS = [
    ["workflows.train"], ["workflows.train", "-m"], ["workflows.search"], ["workflows.config"], ["workflows.show"],
    ["workflows.stages"], ["workflows.predict"], ["workflows.report"], ["workflows.study"], ["workflows.export"],
    ["workflows.evaluate"], ["workflows.prepare"], ["workflows.augment"], ["plugins"],
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
