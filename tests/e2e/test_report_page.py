"""One page per run (`kerasforge report RUN_DIR --html`), opened in a real browser: Debian's headless Chromium.

The page of a digits run (classes, an image grid of mistakes) and of a regression on the real penguins table
(strings and NA cells; predicted against actual, permutation importance) must load every image it shows, raise no
console error, and say what the run's files say. A screenshot of each is kept as the test's artefact, in
.kerasforge/test-artefacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, error_lines, run

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "workflows"]
PENGUINS = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
ARTEFACTS = ROOT / ".kerasforge" / "test-artefacts"
# As the machine's probe starts it: no background connections (the network is closed), a fresh profile.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """Debian's Chromium (.ci/chromium.sh installs it); CI must have it, a developer may not."""
    found = os.environ.get("KERASFORGE_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI has no chromium; .ci/run installs it (.ci/chromium.sh)")
        pytest.skip("no chromium here: run `bash .ci/chromium.sh` (as root) to install Debian's")
    return found


def open_in_browser(page_file: Path, screenshot: Path) -> tuple[list[list], list[str], str]:
    """Loads the page in headless Chromium: each image's (loaded, natural width), the console's errors, the text."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
            text = page.inner_text("body")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return images, errors, text


def test_a_digits_runs_page_shows_its_metrics_curves_confusion_and_mistakes(tmp_path):
    run([*CLI, "train", "trainer=fast", "trainer.verbose=0", "hydra.run.dir=run"], tmp_path)
    result = run([*CLI, "report", "run", "--html"], tmp_path)
    page = tmp_path / "run" / "report.html"
    assert result.stdout.strip() == f"wrote {Path('run') / 'report.html'}" and page.is_file()
    images, errors, text = open_in_browser(page, ARTEFACTS / "report_digits.png")
    assert errors == []
    assert len(images) >= 3 and all(loaded and width > 0 for loaded, width, _ in images), images
    alts = [alt for _, _, alt in images]
    assert "most confident mistakes" in alts  # evaluate's grid of images, embedded
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert f"{metrics['accuracy']:.4g}" in text
    assert "Training curves" in text and "Confusion matrix" in text and "Mistakes" in text
    assert "name: cnn" in text  # the config it was trained with
    assert not list(page.parent.glob("*.tmp*"))  # written atomically: no temporary file left


def test_a_regression_on_a_real_table_shows_the_baseline_scatter_and_importance(tmp_path):
    shutil.copy(PENGUINS, tmp_path / "penguins.csv")
    args = ["data=csv", "data.path=penguins.csv", "data.target=body_mass_g", "trainer.epochs=10", "trainer.verbose=0"]
    run([*CLI, "train", *args, "hydra.run.dir=run"], tmp_path)
    run([*CLI, "report", "run", "--html", "--out", "pages", "--name", "penguins"], tmp_path)
    images, errors, text = open_in_browser(tmp_path / "pages" / "penguins.html", ARTEFACTS / "report_penguins.png")
    assert errors == [] and all(loaded and width > 0 for loaded, width, _ in images), images
    assert "permutation importance" in [alt for _, _, alt in images]
    assert "Predicted against actual" in text and "hist_gradient_boosting" in text
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["baseline"]["verdict"] in text and f"{metrics['rmse']:.4g}" in text


def test_a_folder_without_a_run_is_one_line_and_writes_nothing(tmp_path):
    result = run([*CLI, "report", str(tmp_path), "--html"], tmp_path, check=False)
    assert result.returncode == 2 and len(error_lines(result.stderr)) == 1
    assert "holds no evaluated run" in result.stderr and not list(tmp_path.iterdir())
