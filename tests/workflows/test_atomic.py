"""Outputs written aside and renamed in: a replaced folder keeps the files git tracks inside it."""

from __future__ import annotations

import sys

from tests.conftest import ROOT, run
from workflows.io.atomic import atomic_dir, write_json


def test_a_replaced_folder_keeps_dvcs_gitignore_files(tmp_path):
    """The train stage's new dvclive/train/ deleted the git-tracked dvclive/train/plots/.gitignore DVC had written."""
    logs = tmp_path / "dvclive" / "train"
    (logs / "plots").mkdir(parents=True)
    (logs / "plots" / ".gitignore").write_text("/metrics\n")
    (logs / ".gitignore").write_text("/report.html\n")
    (logs / "old.json").write_text("{}")
    with atomic_dir(logs) as tmp:
        write_json(tmp / "metrics.json", {"loss": 0.1})
        (tmp / ".gitignore").write_text("/new\n")  # the new content's own wins
    assert (logs / "plots" / ".gitignore").read_text() == "/metrics\n"
    assert (logs / ".gitignore").read_text() == "/new\n"
    assert not (logs / "old.json").exists() and (logs / "metrics.json").exists()  # replaced as a whole otherwise


def test_an_interruption_after_outputs_were_written_says_what_it_left(capsys):
    """Ctrl-C while the train stage ran evaluate ahead printed "the previous outputs are left as they were", but the
    new model was already in models/."""
    from workflows.io.console import EXIT_INTERRUPTED, Interrupted, run_cli

    def after_writing(args):
        raise Interrupted("the train stage had finished and written models/, but DVC has not recorded them")

    def before_writing(args):
        raise KeyboardInterrupt

    assert run_cli(after_writing, []) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == (
        "interrupted: the train stage had finished and written models/, but DVC has not recorded them\n"
    )
    assert run_cli(before_writing, []) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted: the previous outputs are left as they were\n"


# A process that runs a command twice; an exit hook registered before them (so run after theirs) reports.
EXITING = """
import atexit, gc
atexit.register(lambda: print("at exit: frozen", gc.get_freeze_count() > 0, "enabled", gc.isenabled(), flush=True))
from workflows.io.console import run_cli
for _ in range(2):
    run_cli(lambda argv: [[object()] for _ in range(1000)], [])
print("commands done: frozen", gc.get_freeze_count() > 0, flush=True)
"""


def test_a_commands_process_leaves_its_objects_to_the_system_at_exit_not_before():
    """Python's shutdown walked every object again and again (1.2–1.7 s at the end of a TensorFlow process): they are
    frozen at exit; while commands run, the collector works as ever."""
    lines = run([sys.executable, "-c", EXITING], ROOT).stdout.splitlines()
    assert lines == ["commands done: frozen False", "at exit: frozen True enabled True"]
