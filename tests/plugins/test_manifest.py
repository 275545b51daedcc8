"""plugins/manifest.json: every built-in plugin's parameter names, read without Keras — in step with the code."""

from __future__ import annotations

import sys

import pytest

from plugins import manifest
from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run


def test_the_manifest_is_generated_from_the_builders_signatures():
    assert manifest.MANIFEST.read_text() == manifest.text(), "plugins/manifest.json drifted: make manifest"


def test_it_refuses_what_the_registry_refuses_with_the_same_words():
    from plugins.registry import get

    with pytest.raises(ConfigError) as fast:
        manifest.check("optimizer", "adam", {"learnin_rate": 0.1}, "optimizer")
    with pytest.raises(ConfigError) as slow:
        get("optimizer", "adam").validate({"learnin_rate": 0.1}, "optimizer")
    assert str(fast.value).split("; ")[0] == str(slow.value).split("; ")[0]
    assert "did you mean 'learning_rate'?" in str(fast.value)
    manifest.check("optimizer", "adam", {"learning_rate": 0.1}, "optimizer")  # a known key passes
    manifest.check("optimizer", "someone_elses", {"anything": 1}, "optimizer")  # not listed: the registry decides


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.learnin_rate=0.1", "did you mean 'learning_rate'?"),
        ("loss.label_smothing=0.1", "did you mean 'label_smoothing'?"),
        ("model.filtres=[8]", "unknown parameter of model 'cnn'"),
        ("data=image_folder", "data 'image_folder' needs directory"),
    ],
)
def test_a_misspelt_or_missing_parameter_is_one_line_before_tensorflow(override, message):
    code = (
        "import sys; from workflows.cli import main; code = main(['train', *sys.argv[1:]]); "
        "print('exit', code, 'tensorflow' in sys.modules)"
    )
    result = run([sys.executable, "-c", code, override], ROOT, check=False)
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0], result.stderr[-1000:]
    assert result.stdout.splitlines()[-1] == "exit 2 False"
