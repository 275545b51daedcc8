"""optuna-dashboard on a search made here: the README's command serves the study on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run, subprocess_env

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_optuna_dashboard_serves_a_search_journal(tmp_path):
    journal = tmp_path / "study.log"
    run(
        [
            sys.executable,
            "-m",
            "workflows",
            "search",
            "model=mlp",
            "model.units=[16]",
            "augmentation=none",
            "trainer.epochs=1",
            "trainer.verbose=0",
            "hparams_search.n_trials=2",
            f"hparams_search.storage={journal}",
            f"hparams_search.dir={tmp_path / 'runs'}",
        ],
        ROOT,
    )
    port = free_port()
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    server = subprocess.Popen(
        [str(dashboard), str(journal), "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        studies = None
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as response:
                    studies = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.5)
        assert studies is not None, server.stderr.read1().decode() if server.poll() is not None else "no answer"
        (summary,) = studies["study_summaries"]
        assert summary["study_name"] == "digits-val_accuracy-max" and summary["directions"] == ["maximize"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/", timeout=5) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        server.terminate()
        server.wait(timeout=10)
