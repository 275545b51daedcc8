"""TensorFlow's start-up chatter is dropped from stderr; everything else passes through."""

from __future__ import annotations

import os
import sys

import pytest

from plugins.tf_startup import chatter, filtered_stderr
from tests.conftest import ROOT, run

START_UP = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795602494.120774    3209 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1795602494.121085    3209 cudart_stub.cc:31] Could not find cuda drivers on your machine.",
]
KEPT = [
    "W0000 00:00:1795602494.121085    3209 some_op.cc:12] a real warning",
    "error: something the user must see",
]


def test_start_up_lines_are_dropped_and_the_rest_kept_in_order(capfd):
    with filtered_stderr(chatter()):
        for line in [START_UP[0], KEPT[0], *START_UP[1:], KEPT[1]]:
            os.write(2, (line + "\n").encode())
    assert capfd.readouterr().err.splitlines() == KEPT


def test_the_cuinit_error_is_dropped_only_without_an_nvidia_device(monkeypatch):
    cuinit = "E0000 00:00:1795602496.787123    3281 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)"
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    assert chatter().match(cuinit)
    monkeypatch.setattr("glob.glob", lambda pattern: ["/dev/nvidia0"])
    assert not chatter().match(cuinit)


# Imports Keras as a command does (through the quiet start), then reports what the collector sees.
STARTED = """
import gc, sys
from plugins.tf_startup import quiet_tensorflow
quiet_tensorflow()
import keras
frozen = gc.get_freeze_count()
garbage = gc.collect()
print(frozen, gc.isenabled(), "tensorflow" in sys.modules, garbage)
"""


@pytest.mark.parametrize("level", ["2", "0"])
def test_the_start_puts_tensorflows_objects_out_of_the_collectors_reach_and_turns_it_back_on(level):
    """Every full collection walked TensorFlow's and Keras's 400,000 objects again (1.6 s of a 1-epoch train stage):
    they are frozen after the import, at either log level, and the collector runs again for what comes after."""
    result = run([sys.executable, "-c", STARTED], ROOT, TF_CPP_MIN_LOG_LEVEL=level)
    frozen, enabled, imported, garbage = result.stdout.split()[-4:]
    assert int(frozen) > 100_000
    assert (enabled, imported) == ("True", "True")
    assert int(garbage) < 1_000  # paused during the import, the collector had nothing left to free in it
