"""The worked example of docs/plugins.md — adding a custom loss — followed to the letter, in a copy of the project."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest

from tests.conftest import ROOT, last_json, project_files, run

pytestmark = pytest.mark.slow


def block_after(text: str, marker: str, language: str) -> str:
    """The first fenced code block of `language` after `marker`, dedented."""
    start = text.index(marker)
    match = re.search(rf"```{language}\n(.*?)\n\s*```", text[start:], re.S)
    return textwrap.dedent(match.group(1)) + "\n"


def test_adding_a_plugin_as_the_readme_says(tmp_path):
    readme = (ROOT / "docs" / "plugins.md").read_text()
    project = tmp_path / "project"
    for name in project_files():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes((ROOT / name).read_bytes())
    (project / "plugins/loss/confidence_penalty.py").write_text(
        block_after(readme, "`plugins/loss/confidence_penalty.py`:", "python")
    )
    # One Python file and one YAML file, nothing else edited: plugins/loss/ is searched, not listed.
    (project / "conf/loss/confidence_penalty.yaml").write_text(
        block_after(readme, "`conf/loss/confidence_penalty.yaml`:", "yaml")
    )
    listed = json.loads(run([sys.executable, "-m", "plugins", "list", "--json"], project).stdout)
    assert "confidence_penalty" in listed["loss"]
    out = project / "run"
    result = run(
        [
            sys.executable,
            "-m",
            "workflows.train",
            "loss=confidence_penalty",
            "loss.beta=0.2",
            "model=mlp",
            "trainer=fast",
            f"hydra.run.dir={out}",
        ],
        project,
    )
    assert 0.0 <= last_json(result.stdout)["accuracy"] <= 1.0
    card = json.loads((out / "models" / "model.json").read_text())
    assert card["head"]["activation"] == "linear"  # from_logits in its context: the model emits logits
    reload = (
        "import plugins, keras; plugins.load_plugins(); "
        f"m = keras.models.load_model(r'{out / 'models' / 'model.keras'}', safe_mode=True);"
        " print(type(m.loss).__name__, m.loss.beta, m.loss.from_logits)"
    )
    assert run([sys.executable, "-c", reload], project).stdout.split()[-3:] == ["ConfidencePenalty", "0.2", "True"]
