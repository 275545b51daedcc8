"""plugins/manifest.json: every built-in plugin's parameter names, types and declared values, read without Keras — in
step with the code."""

from __future__ import annotations

import json
import sys
import textwrap

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
        # Values, declared once by the data plugins (`values=`), refused before any data is read or TensorFlow starts.
        ("data=csv data.path=t.csv data.target=y data.standardize_text=lowr", "did you mean 'lower'?"),
        ("data=csv data.path=t.csv data.target=y data.ngrams=0", "data.ngrams=0 must be at least 1"),
        ("data=csv data.path=t.csv data.target=y data.task=regresion", "did you mean 'regression'?"),
        ("data=timeseries data.path=s.csv data.target=y data.horizon=0", "data.horizon=0 must be at least 1"),
        ("data=timeseries data.path=s.csv data.target=y data.test_fraction=1.5", "between 0.0 and 1.0 (exclusive)"),
        ("data=timeseries data.path=s.csv data.target=y data.on_gap=skip", "data.on_gap='skip' is unknown"),
        ("data=timeseries data.path=s.csv data.target=y data.window=abc", "data.window: 'abc' is not valid"),
        ("data=text_folder data.directory=d data.on_bad_file=skipp", "did you mean 'skip'?"),
        (
            "data=image_folder data.directory=d data.color_mode=grey",
            "data.color_mode='grey' is unknown; valid: grayscale",
        ),
        # The plugins' own rules (plugins/*/checks.py: no Keras) and the rules across sections, also before.
        ("optimizer=sgd optimizer.momentum=1.5", "optimizer.momentum=1.5 must be in [0, 1)"),
        ("optimizer.learning_rate=-0.1", "optimizer.learning_rate=-0.1 must be > 0"),
        ("loss.label_smoothing=1.5", "loss.label_smoothing=1.5 must be in [0, 1)"),
        ("regularizer.l2=-1", "regularizer.l2=-1 must be ≥ 0"),
        ("augmentation.ops.1.fill_mode=reflekt", "did you mean 'reflect'?"),
        ("schedule.warmup_epochs=50 trainer.epochs=10", "must be in [0, trainer.epochs=10)"),
        ("augmentation=text augmentation.ops.0.rate=1.5", "between 0.0 and 1.0 (exclusive)"),
    ],
)
def test_a_misspelt_or_missing_parameter_is_one_line_before_tensorflow(override, message):
    code = (
        "import sys; from workflows.cli import main; code = main(['train', *sys.argv[1:]]); "
        "print('exit', code, 'tensorflow' in sys.modules)"
    )
    result = run([sys.executable, "-c", code, *override.split()], ROOT, check=False)
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0], result.stderr[-1000:]
    assert result.stdout.splitlines()[-1] == "exit 2 False"


def test_declared_values_are_refused_alike_by_the_manifest_and_by_the_registry():
    from plugins.registry import get

    for params in ({"horizon": 0}, {"on_gap": "skipp"}, {"val_fraction": 1.0}, {"window": "abc"}):
        full = {"path": "s.csv", "target": "y", **params}
        with pytest.raises(ConfigError) as fast:
            manifest.check("data", "timeseries", full, "data")
        with pytest.raises(ConfigError) as slow:
            get("data", "timeseries").build(full, "data")
        assert str(fast.value) == str(slow.value)
    manifest.check("data", "timeseries", {"path": "s.csv", "target": "y", "season": None, "horizon": 3}, "data")


def test_the_checks_the_manifest_names_import_no_keras():
    import json

    names = sorted(
        {
            e["check"]
            for g in json.loads((ROOT / "plugins" / "manifest.json").read_text()).values()
            for e in g.values()
            if "check" in e
        }
    )
    assert len(names) >= 3  # optimizers, losses, weight penalties
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    module, _, function = name.partition(':')\n"
        "    getattr(importlib.import_module(module), function)\n"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    result = run([sys.executable, "-c", code, *names], ROOT)
    assert result.stdout.strip() == "False False"


def test_the_readmes_new_plugin_is_one_python_file_and_one_yaml_file_and_lint_passes(tmp_path):
    """`make lint` failed until plugins/manifest.json was regenerated: a new plugin was three files, not two."""
    import re

    from tests.conftest import make_project_copy

    readme = (ROOT / "docs" / "plugins.md").read_text()
    python, yaml = (textwrap.dedent(block) for block in re.findall(r"```(?:python|yaml)\n(.*?)```", readme, re.S)[1:3])
    copy = make_project_copy(tmp_path / "project")
    (copy / "plugins" / "loss" / "confidence_penalty.py").write_text(python)
    (copy / "conf" / "loss" / "confidence_penalty.yaml").write_text(yaml)
    check = run([sys.executable, "-m", "plugins", "manifest", "--check"], copy, check=False)
    assert check.returncode == 0, check.stderr  # make lint's manifest step passes with nothing regenerated
    config = run([sys.executable, "-m", "workflows", "config", "loss=confidence_penalty", "loss.beta=0.2"], copy)
    assert "name: confidence_penalty" in config.stdout and "beta: 0.2" in config.stdout
    entry = json.loads((copy / "plugins" / "manifest.json").read_text())["loss"]["mse"]
    entry["parameters"].append("not_a_parameter")  # an entry that no longer says what its plugin takes: drift
    written = json.loads((copy / "plugins" / "manifest.json").read_text())
    written["loss"]["mse"] = entry
    (copy / "plugins" / "manifest.json").write_text(json.dumps(written))
    drifted = run([sys.executable, "-m", "plugins", "manifest", "--check"], copy, check=False)
    assert drifted.returncode == 1 and "loss.mse: plugins/manifest.json differs from its code" in drifted.stderr
