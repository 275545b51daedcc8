"""A third-party package adds plugins through the `kerasforge.plugins` entry-point group, and their YAML options
through Hydra's config search path (a SearchPathPlugin in the `hydra_plugins` namespace)."""

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

        [tool.setuptools]
        py-modules = ["kerasforge_demo"]
        packages = ["hydra_plugins.kerasforge_demo", "kerasforge_demo_conf"]

        [tool.setuptools.package-data]
        kerasforge_demo_conf = ["loss/*.yaml"]
    """,
    "hydra_plugins/kerasforge_demo/__init__.py": """
        from hydra.core.config_search_path import ConfigSearchPath
        from hydra.plugins.search_path_plugin import SearchPathPlugin


        class KerasforgeDemoSearchPath(SearchPathPlugin):
            def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
                search_path.append(provider="kerasforge-demo", path="pkg://kerasforge_demo_conf")
    """,
    "kerasforge_demo_conf/__init__.py": "",
    "kerasforge_demo_conf/loss/confidence_penalty.yaml": """
        name: confidence_penalty
        beta: 0.05
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
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(textwrap.dedent(text).lstrip())
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
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
    out = tmp_path / "run"
    run(
        [sys.executable, "-m", "workflows.train", *TINY, "loss=confidence_penalty", f"hydra.run.dir={out}"],
        ROOT,
        PYTHONPATH=str(site),
    )
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    card = json.loads((out / "models" / "model.json").read_text())
    assert card["head"]["activation"] == "softmax"  # a loss without from_logits gets probabilities
    reload = (
        "import plugins, keras; plugins.load_plugins(); "
        f"m = keras.models.load_model(r'{out / 'models' / 'model.keras'}', safe_mode=True); "
        "print(type(m.loss).__name__, m.loss.beta)"
    )
    assert run([sys.executable, "-c", reload], ROOT, PYTHONPATH=str(site)).stdout.split()[-2:] == [
        "ConfidencePenalty",
        "0.05",
    ]


def test_the_package_ships_its_yaml_options_too(site):
    """No file copied into conf/: the option comes from the package, through Hydra's config search path."""
    result = run(
        [sys.executable, "-m", "workflows.config", "loss=confidence_penalty", "loss.beta=0.2"],
        ROOT,
        PYTHONPATH=str(site),
    )
    assert "name: confidence_penalty" in result.stdout and "beta: 0.2" in result.stdout
    missing = run([sys.executable, "-m", "workflows.config", "loss=confidence_penalty"], ROOT, check=False)
    assert missing.returncode == 2 and "unknown loss option 'confidence_penalty'" in missing.stderr


def test_a_broken_plugin_package_is_named_in_a_one_line_error(site, tmp_path):
    broken = tmp_path / "site"
    run(["cp", "-r", str(site), str(broken)], tmp_path)
    (broken / "kerasforge_demo.py").write_text("raise ImportError('needs foo')\n")
    result = run([sys.executable, "-m", "plugins", "list"], ROOT, check=False, PYTHONPATH=str(broken))
    assert result.returncode != 0
    assert "plugin package 'kerasforge-demo-plugin'" in result.stderr and "needs foo" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(error_lines(result.stderr)) == 1
