"""Stages defined once: dvc.yaml is generated from workflows/config/stage_table.py, a stage reads only what it declares,
and its outputs are byte-for-byte the same for the same config."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TINY
from workflows.config.experiment import UndeclaredRead
from workflows.config.schema import resolve
from workflows.config.stage_table import BY_NAME, STAGES, Stage, code_deps, dvc_yaml
from workflows.io.layout import Layout
from workflows.stages.process import run_stage


def test_dvc_yaml_is_generated_from_the_stage_descriptions():
    assert (ROOT / "dvc.yaml").read_text() == dvc_yaml(), "dvc.yaml drifted from the stage table: make dvc-yaml"


def test_the_stages_run_in_pipeline_order():
    assert [s.name for s in STAGES] == ["check", "prepare", "augment", "train", "evaluate", "export"]
    assert BY_NAME["check"].all_params and "data/checked.txt" in dvc_yaml().split("\n  prepare:")[1].split("params:")[0]
    assert [s.name for s in STAGES if s.in_runs] == ["prepare", "augment", "train", "evaluate"]  # runs skip export


def test_code_deps_follow_the_imports():
    train = code_deps(BY_NAME["train"])
    for path in (
        "workflows/stages/train.py",
        "workflows/runtime/backup.py",
        "workflows/io/datastore.py",
        "workflows/runtime/distribute.py",
        "plugins/registry.py",
        "plugins/model",
        "plugins/optimizer",
    ):
        assert path in train
    assert "workflows/runners/pipeline.py" not in train and "workflows/runners/sweep.py" not in train  # not stages'
    assert "workflows/runtime/backup.py" not in code_deps(BY_NAME["prepare"])
    for stage in STAGES:
        assert all((ROOT / path).exists() for path in code_deps(stage)), stage.name


def test_each_stage_depends_on_the_code_it_runs_and_no_more():
    # Only the train stage runs the training runtime (strategies, the multi-worker patch); no stage runs a runner,
    # a report or the command table (a --help edit reran all six stages), and `if TYPE_CHECKING:` imports never run.
    runtime = {f"workflows/runtime/{m}.py" for m in ("distribute", "keras_multiworker", "backup")}
    process = {"workflows/stage.py", "workflows/stages/process.py"}
    for stage in STAGES:
        deps = set(code_deps(stage))
        assert process <= deps  # the stage process
        assert not {"workflows/cli.py", "workflows/__main__.py"} & deps, stage.name  # not the command table
        assert not any(d.startswith("workflows/runners/") for d in deps), stage.name  # no runner at all
        assert (runtime <= deps) == (stage.name == "train"), stage.name
        runners = {f"workflows/runners/{m}.py" for m in ("pipeline", "sweep", "search", "study", "confirm")}
        reporting = {f"workflows/reporting/{m}.py" for m in ("report", "show")}
        assert not deps & (runners | reporting), (stage.name, deps & (runners | reporting))
    assert "workflows/serve/predict.py" not in code_deps(BY_NAME["export"])  # the serving code is no stage's


def test_a_stage_cannot_read_a_section_it_does_not_declare(compose):
    experiment = resolve(compose(TINY))
    view = experiment.for_stage("augment", ("augmentation", "trainer.seed"))
    assert view.trainer.seed == experiment.trainer.seed and view.augmentation.copies == 1
    with pytest.raises(UndeclaredRead, match="stage 'augment' reads trainer.epochs"):
        view.trainer.epochs  # noqa: B018
    with pytest.raises(UndeclaredRead, match="reads model.plugin"):
        view.model.plugin  # noqa: B018
    assert set(view.cfg.keys()) == {"augmentation", "trainer"} and set(view.cfg.trainer.keys()) == {"seed"}


def test_a_stage_that_reads_more_than_it_declares_fails(compose, tmp_path):
    experiment = resolve(compose(TINY))
    sneaky = Stage("prepare", reads=("trainer.seed",), plugins=("data",))  # prepare reads `data`, undeclared here
    with pytest.raises(UndeclaredRead, match="stage 'prepare' reads data"):
        run_stage(sneaky, experiment, Layout(tmp_path))


def tree_digest(root) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_prepare_and_augment_write_the_same_bytes_twice(tmp_path):
    """Each run in a fresh process, as DVC runs them: same file names, same contents."""
    code = (
        "import sys; from pathlib import Path; "
        "from workflows.config.compose import compose; from workflows.config.schema import resolve; "
        "from workflows.config.stage_table import BY_NAME; from workflows.stages.process import run_stage; "
        "from workflows.io.layout import Layout; e = resolve(compose(sys.argv[2:])); "
        "[run_stage(BY_NAME[s], e, Layout(Path(sys.argv[1]))) for s in ('prepare', 'augment')]"
    )
    for run_dir in ("a", "b"):
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / run_dir), *TINY, "augmentation.copies=2"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    first, second = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert "data/prepared/train/x.npy" in first and "data/augmented/train/x.npy" in first
    assert first == second


def test_preparing_an_array_data_set_does_not_start_tensorflow(tmp_path):
    """The prepare stage of digits (NumPy arrays) imports the data plugins only: no TensorFlow, a fast stage."""
    code = (
        "import sys; from pathlib import Path; from workflows.config.compose import compose; "
        "from workflows.config.schema import resolve; from workflows.config.stage_table import BY_NAME; "
        "from workflows.io.layout import Layout; import importlib; "
        "stage = BY_NAME['prepare']; importlib.import_module(stage.module).run(resolve(compose(), stage), "
        "Layout(Path(sys.argv[1]))); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert result.stdout.split() == ["False", "False"]
    assert (tmp_path / "data" / "prepared" / "test" / "x.npy").is_file()


def test_commands_that_print_or_report_do_not_import_tensorflow():
    code = (
        "import sys, plugins.registry, workflows.reporting.show, workflows.reporting.report, workflows.cli, "
        "workflows.config.stage_table, workflows.config.compose, workflows.config.command, workflows.stages.train, "
        "workflows.runners.pipeline, workflows.runners.report_command; print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "False"
