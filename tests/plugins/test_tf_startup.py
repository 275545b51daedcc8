"""TensorFlow's start-up chatter is dropped from stderr; everything else passes through."""

from __future__ import annotations

import os

from plugins.tf_startup import chatter, filtered_stderr

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
