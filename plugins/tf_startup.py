"""TensorFlow's start-up, with its pre-logging chatter filtered out of stderr.

TensorFlow 2.21 logs a few INFO lines (oneDNN, CUDA stubs) through absl before
its logging is initialised, so `TF_CPP_MIN_LOG_LEVEL` cannot hide them: C++
writes them straight to file descriptor 2, where they bury the one-line
errors of the command lines. While TensorFlow is imported, and its devices
listed once, file descriptor 2 points at a temporary file; then every line
is written back except those INFO lines, absl's "before InitializeLog"
warning and, on a machine with no NVIDIA device, CUDA's "failed call to
cuInit" (there is no GPU to find). Warnings and errors pass through, and
`TF_CPP_MIN_LOG_LEVEL=0` turns the filter off.

A command line calls `quiet_tensorflow()` first: TensorFlow is then started
this way at its first import, wherever that happens, and not at all by a
command that turns out not to need it (printing metrics, preparing an
array data set, refusing a bad option).

The start also spares Python's garbage collector the work of walking
TensorFlow and Keras: their import makes about 400,000 objects that live as
long as the process and hold no garbage (a collection right after the
import frees none), yet every full collection walked them again — seven
during the import itself and ten in a 1-epoch train stage, 1.6 s of its
14 s. The collector is paused while they are imported, and they are then
moved out of its reach (`gc.freeze`, Python's own means for objects made
once and kept).
"""

from __future__ import annotations

import contextlib
import gc
import glob
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator

_INFO = r"I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
_ABSL = r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
_NO_GPU = r"E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit"


def chatter() -> re.Pattern[str]:
    """The pattern of the start-up lines to drop on this machine."""
    patterns = [_INFO, _ABSL]
    if not glob.glob("/dev/nvidia[0-9]*"):
        patterns.append(_NO_GPU)
    return re.compile("^(?:" + "|".join(patterns) + ")")


@contextlib.contextmanager
def filtered_stderr(drop: re.Pattern[str]) -> Iterator[None]:
    """Sends file descriptor 2 to a temporary file; on exit writes back the lines that `drop` does not match."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not drop.match(line))
            if kept:
                os.write(2, kept.encode())


def start_tensorflow() -> None:
    """Imports TensorFlow and Keras and lists the devices, quietly (a no-op once TensorFlow is imported).

    Their objects are then out of the garbage collector's reach (see the module's doc); with
    `TF_CPP_MIN_LOG_LEVEL=0`, stderr is left as it is.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    quiet = os.environ["TF_CPP_MIN_LOG_LEVEL"] not in ("", "0")
    collecting = gc.isenabled()
    gc.disable()
    try:
        with filtered_stderr(chatter()) if quiet else contextlib.nullcontext():
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # CUDA is probed here, not at the first operation
    finally:
        if collecting:
            gc.enable()
    gc.freeze()
    import logging

    # Every new model (each trial of a search, each stage of a run) traces Keras's predict function afresh, and
    # TensorFlow counts those traces together as "retracing": a warning about user code that is not there.
    logging.getLogger("tensorflow").addFilter(
        lambda record: "triggered tf.function retracing" not in record.getMessage()
    )


class _QuietFirstImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `tensorflow` or `keras` at their first import, and imports them through `start_tensorflow()`."""

    NAMES = ("tensorflow", "keras")

    def find_spec(self, name, path=None, target=None):
        if name not in self.NAMES:
            return None
        sys.meta_path.remove(self)  # once: the real import below goes through the ordinary finders
        start_tensorflow()
        if name not in sys.modules:  # TensorFlow came in before the hook, without Keras: an ordinary import
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return sys.modules[spec.name]  # imported already, by start_tensorflow()

    def exec_module(self, module):
        pass


def quiet_tensorflow() -> None:
    """Starts TensorFlow quietly at its first import, if one comes (see the module's doc); idempotent."""
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFirstImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFirstImport())
