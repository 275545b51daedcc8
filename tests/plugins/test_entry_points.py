"""A third-party package adds plugins through the `kerasforge.plugins` entry-point group."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.conftest import ROOT, TINY, error_lines, run

PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "kerasforge-demo-plugin"
        version = "0.1.0"

        [project.entry-points."kerasforge.plugins"]
        demo = "kerasforge_demo"
    """,
    "kerasforge_demo.py": '''
        """A third-party loss: cross-entropy plus a confidence penalty."""
        import keras
        from plugins import register

        @register("loss", "confidence_penalty", labels="sparse")
        class ConfidencePenalty(keras.losses.Loss):
            def __init__(self, beta: float = 0.1, **kwargs):
                super().__init__(**kwargs)
                self.beta = beta

            def call(self, y_true, y_pred):
                ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
                entropy = -keras.ops.sum(y_pred * keras.ops.log(y_pred + 1e-7), axis=-1)
                return ce - self.beta * entropy

            def get_config(self):
                return {**super().get_config(), "beta": self.beta}
    ''',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo package, pip-installed (offline, no build isolation) into its own directory."""
    root = tmp_path_factory.mktemp("demo")
    source, site = root / "src", root / "site"
    source.mkdir()
    for name, text in PACKAGE.items():
        (source / name).write_text(textwrap.dedent(text).lstrip())
    run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        root,
    )
    return site


def test_installed_package_plugins_are_listed(site):
    result = run([sys.executable, "-m", "plugins", "list", "--json"], ROOT, PYTHONPATH=str(site))
    assert "confidence_penalty" in json.loads(result.stdout)["loss"]
    text = run([sys.executable, "-m", "plugins", "list"], ROOT, PYTHONPATH=str(site)).stdout
    assert "confidence_penalty(beta=0.1" in text


def test_without_the_package_the_plugin_is_absent():
    result = run([sys.executable, "-m", "plugins", "list", "--json"], ROOT)
    assert "confidence_penalty" not in json.loads(result.stdout)["loss"]


def test_third_party_loss_trains_saves_and_reloads(site, tmp_path):
    conf = tmp_path / "conf"
    run(["cp", "-r", str(ROOT / "conf"), str(conf)], tmp_path)
    (conf / "loss" / "confidence_penalty.yaml").write_text("name: confidence_penalty\nbeta: 0.05\n")
    out = tmp_path / "run"
    script = (
        "import sys, json; from pathlib import Path; from workflows.config import compose, resolve; "
        "from workflows.pipeline import run_pipeline; "
        f"e = resolve(compose(sys.argv[1:], conf_dir=Path(r'{conf}'))); "
        f"print(json.dumps(run_pipeline(e, Path(r'{out}'))['accuracy']))"
    )
    result = run([sys.executable, "-c", script, *TINY, "loss=confidence_penalty"], ROOT, PYTHONPATH=str(site))
    assert 0.0 <= float(result.stdout.strip().splitlines()[-1]) <= 1.0
    card = json.loads((out / "models" / "model.json").read_text())
    assert card["head"]["activation"] == "softmax"  # a loss without from_logits gets probabilities
    reload = (
        f"import plugins, keras; plugins.load_plugins(); m = keras.models.load_model(r'{out / 'models' / 'model.keras'}', safe_mode=True); "
        "print(type(m.loss).__name__, m.loss.beta)"
    )
    assert run([sys.executable, "-c", reload], ROOT, PYTHONPATH=str(site)).stdout.split()[-2:] == [
        "ConfidencePenalty", "0.05"
    ]


def test_a_broken_plugin_package_is_named_in_a_one_line_error(site, tmp_path):
    broken = tmp_path / "site"
    run(["cp", "-r", str(site), str(broken)], tmp_path)
    (broken / "kerasforge_demo.py").write_text("raise ImportError('needs foo')\n")
    result = run([sys.executable, "-m", "plugins", "list"], ROOT, check=False, PYTHONPATH=str(broken))
    assert result.returncode != 0
    assert "plugin package 'kerasforge-demo-plugin'" in result.stderr and "needs foo" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(error_lines(result.stderr)) == 1
