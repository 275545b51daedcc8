"""Composition, params.yaml, and bad input: one line, closest names first, no traceback, no work done."""

from __future__ import annotations

import sys

import pytest
from omegaconf import OmegaConf

from plugins.registry import ConfigError
from tests.conftest import ROOT, error_lines, run
from workflows.config.command import load_params, resolve, to_yaml


def test_params_yaml_is_the_composition_of_conf_defaults(compose):
    """`dvc repro` reads params.yaml as it is: it must not drift from conf/ (`make params` regenerates it)."""
    committed = OmegaConf.to_container(load_params(ROOT / "params.yaml"))
    composed = OmegaConf.to_container(OmegaConf.create(to_yaml(compose())))
    assert committed == composed, "params.yaml drifted from conf/: run `make params`"


def test_defaults_are_the_public_interface(compose):
    cfg = compose()
    assert cfg.data.name == "digits" and cfg.model.name == "cnn" and cfg.optimizer.name == "adam"
    assert cfg.regularizer.name == "l2" and cfg.augmentation.ops
    for key in ("trainer.epochs", "trainer.batch_size", "trainer.seed", "optimizer.learning_rate"):
        assert OmegaConf.select(cfg, key) is not None, key


def test_overrides_change_groups_and_values(compose):
    experiment = resolve(compose(["optimizer=sgd", "optimizer.learning_rate=0.05", "trainer.epochs=3"]))
    assert experiment.optimizer.plugin.name == "sgd"
    assert experiment.optimizer.params["learning_rate"] == 0.05
    assert experiment.trainer.epochs == 3
    optimizer = experiment.build_optimizer()
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["optimizer=adamm"], "unknown optimizer option 'adamm' (no conf/optimizer/adamm.yaml); did you mean 'adam'?"),
        (
            ["optimizer.learnin_rate=0.1"],
            "optimizer.learnin_rate: unknown parameter of optimizer 'adam'; did you mean 'learning_rate'?",
        ),
        (["optimizer.learning_rate=fast"], "optimizer.learning_rate: 'fast' is not valid for optimizer 'adam'"),
        (["trainer.epoch=2"], "trainer.epoch: unknown parameter of the trainer section; did you mean 'epochs'?"),
        (
            ["augmentation.ops.0.degreez=5"],
            "augmentation.ops.0.degreez: unknown parameter of augmentation 'rotation'; did you mean 'degrees'?",
        ),
        (["augmentation.ops.1.fill_mode=reflekt"], "augmentation.ops.1.fill_mode='reflekt' is unknown; did you mean"),
        (
            ["regularizer.early_stopping.patiense=3"],
            "regularizer.early_stopping.patiense: unknown parameter of the regularizer section; "
            "did you mean 'patience'?",
        ),
        (["optimiser.learning_rate=0.1"], "unknown config section 'optimiser'; did you mean 'optimizer'?"),
        (["optimizer.learning_rate=nan"], "optimizer.learning_rate=nan: options take finite numbers only"),
        (["regularizer.l2=inf"], "regularizer.l2=inf: options take finite numbers only"),
        (["optimizer=../../../../tmp/x"], "an option is a name in conf/optimizer/, not a path"),
        (["trainer.epochs=0"], "trainer.epochs=0 must be at least 1"),
        (["optimizer=sgd", "optimizer.momentum=1.5"], "optimizer.momentum=1.5 must be in [0, 1)"),
        (["+trainr.epochs=2"], "unknown config section 'trainr'; did you mean 'trainer'?"),
        (["model.filters=[1,"], "bad override"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(compose, overrides, expected):
    with pytest.raises(ConfigError) as err:
        resolve(compose(overrides))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_a_valid_parameter_the_yaml_does_not_list_is_accepted(compose):
    """`++`-style: the schema, not the YAML file, decides which keys are valid (`+` is needed for DVC's -S)."""
    assert resolve(compose(["optimizer.amsgrad=true"])).optimizer.params["amsgrad"] is True
    assert resolve(compose(["+optimizer.clipnorm=1.0"])).optimizer.params["clipnorm"] == 1.0


def test_a_huge_option_name_is_a_short_line(compose):
    with pytest.raises(ConfigError) as err:
        compose(["optimizer=" + "a" * 100_000])
    assert "unknown optimizer option" in str(err.value) and len(str(err.value)) < 1000


def test_closest_valid_names_come_first(compose):
    with pytest.raises(ConfigError) as err:
        compose(["optimizer=adamm"])
    valid = str(err.value).split("valid: ")[1].split(", ")
    assert valid[0] == "adam"


def test_hand_edited_params_yaml_is_checked_too(tmp_path, compose):
    cfg = OmegaConf.create(to_yaml(compose()))
    cfg.optimizer.learnin_rate = 0.1
    with pytest.raises(ConfigError, match="optimizer.learnin_rate: unknown parameter of optimizer 'adam'"):
        resolve(cfg)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["optimizer=adamm"], "error: unknown optimizer option 'adamm'"),
        (["optimizer.learnin_rate=0.1"], "error: optimizer.learnin_rate: unknown parameter of optimizer 'adam'"),
        (["augmentation.ops.0.degreez=5"], "error: augmentation.ops.0.degreez: unknown parameter"),
        (["optimizer.learning_rate=inf"], "error: optimizer.learning_rate=inf: options take finite numbers only"),
        (["optimizer.learning_rate=fast"], "error: optimizer.learning_rate: 'fast' is not valid"),
    ],
)
def test_cli_bad_input_exits_non_zero_with_one_line_and_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "run"
    result = run([sys.executable, "-m", "workflows.train", *args, f"hydra.run.dir={out}"], ROOT, check=False)
    lines = error_lines(result.stderr)
    assert result.returncode == 2
    assert lines == [lines[0]] and lines[0].startswith(expected), lines
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_stage_with_missing_params_file_says_how_to_make_it(tmp_path):
    result = run(
        [sys.executable, "-m", "workflows", "stage", "prepare", "--params", str(tmp_path / "nope.yaml")],
        ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert error_lines(result.stderr)[-1].endswith("does not exist; run `make params` to compose it from conf/")
