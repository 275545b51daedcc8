"""The pipeline's stages, described once: what each reads and writes. dvc.yaml is generated from here.

    python -m workflows.stages            # prints dvc.yaml as generated
    python -m workflows.stages --write    # writes it (`make dvc-yaml`); a test fails when it drifts

Each stage is a function `run(experiment, layout, *, callbacks=())` in its own module
(`workflows.prepare.run`, …). Every runner calls those same functions with
the same files in between: DVC (`python -m workflows.stage <stage> --params
params.yaml`, one process per stage, in the repository) and the direct
command line, sweeps and studies (`workflows.pipeline.run_pipeline`, one
process, in a run directory). A stage gets `experiment.for_stage(...)`: the
config sections it does not declare in `reads` cannot be read, so DVC's
params always cover what a stage depends on.

Code dependencies are not listed by hand: they are the stage module's
imports within `workflows/` (found by reading the source) plus the plugin
folders the stage declares.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows.io.layout import REPO

ROOT = Path(__file__).resolve().parents[2]  # workflows/config/ → the repository


# The plugin groups the train stage builds from (its params and its code).
TRAINING_GROUPS = ("model", "loss", "optimizer", "schedule", "regularizer", "finetune", "privacy", "augmentation")


@dataclass(frozen=True)
class Stage:
    """One pipeline stage.

    Attributes:
        name: the stage's name in dvc.yaml.
        reads: the config sections (or `section.key`s) it reads: its DVC params.
        plugins: the plugin folders (`model` for plugins/model) or files (`data/base.py`) whose code it runs.
        deps: the files it reads, as Layout attributes (`prepared`…).
        outs: its outputs, as Layout attributes, with DVC's options for each.
        metrics: metric files (Layout-relative strings), with DVC's options.
        plots: plot files or folders, with DVC's options.
        note: a comment for dvc.yaml.
        in_runs: whether run directories (direct command line, sweeps, studies) run it too; a stage that
            makes no metric a run is compared on (export) runs under DVC, or on a run directory by hand
            (`python -m workflows.export --root RUN_DIR`).
        all_params: its DVC params are the whole of params.yaml (the check stage: any change reruns it).
        always_changed: DVC runs it on every `dvc repro` (the check stage: it fingerprints the user's data).
        ahead: the stages that follow it under DVC and that its process runs ahead, while TensorFlow and the
            model are loaded (workflows/stages/ahead.py); their own processes then publish what it wrote when
            their deps are unchanged. Each must replace its output folders as a whole.
    """

    name: str
    reads: tuple[str, ...]
    plugins: tuple[str, ...]
    deps: tuple[str, ...] = ()
    outs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    plots: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str = ""
    in_runs: bool = True
    all_params: bool = False
    always_changed: bool = False
    ahead: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The stage's module, `workflows.stages.<name>`: its function `run(experiment, layout, *, callbacks=())`
        (`workflows.stages.process.run_stage` runs it)."""
        return f"workflows.stages.{self.name}"


# `persist: true`: DVC does not delete the previous output before the stage runs; the stage replaces it
# atomically when it has finished, so an interrupted run leaves the previous model and metrics as they were.
_KEEP = {"cache": False, "persist": True}

STAGES: tuple[Stage, ...] = (
    Stage(
        "check",
        reads=("data",),
        plugins=(),
        outs={"checked": {}, "source": dict(_KEEP)},
        all_params=True,
        always_changed=True,
        in_runs=False,
        note="every key of params.yaml: refuses what no stage reads (an unknown section, cv, a search) before any "
        "work; it runs every time, and data/source.json (the fingerprint of data.path or data.directory) changes "
        "only when the user's data does.",
    ),
    Stage(
        "prepare",
        reads=("data",),
        plugins=("data",),
        deps=("checked", "source"),
        outs={"prepared": {}},
    ),
    Stage(
        "augment",
        reads=("augmentation", "trainer.seed"),
        plugins=("augmentation", "data/base.py"),
        deps=("prepared",),
        outs={"augmented": {}},
        plots={"preview": {"persist": True}},
    ),
    Stage(
        "train",
        reads=(*TRAINING_GROUPS, "trainer"),
        plugins=(*TRAINING_GROUPS, "data/base.py"),
        deps=("prepared", "augmented"),
        outs={"models/model.keras": {"persist": True}, "models/model.json": {"persist": True}},
        metrics={"train_logs/metrics.json": dict(_KEEP)},
        plots={"train_logs/plots/metrics": {"persist": True, "x": "step"}},
        note="trainer.strategy=auto: MirroredStrategy over every GPU of the machine when it has several.",
        ahead=("evaluate", "export"),
    ),
    Stage(
        "evaluate",
        reads=("evaluate",),
        plugins=("model", "loss", "data/base.py"),
        deps=("prepared", "models/model.keras", "models/model.json"),
        outs={"eval/plots": {"persist": True}},
        metrics={"eval/metrics.json": dict(_KEEP)},
        note="eval/plots/ holds what the task has (curves for classes, predicted against actual for a regression): "
        "one cached output, shown through the top-level plots.",
    ),
    Stage(
        "export",
        reads=("export",),
        plugins=("model", "loss", "data/base.py"),
        deps=("prepared", "models/model.keras", "models/model.json"),
        outs={"export/saved_model": {"persist": True}, "export/model.tflite": {"persist": True}},
        metrics={"export/check.json": dict(_KEEP)},
        note="a SavedModel taking raw inputs and a TFLite model, each checked on the test split (check.json).",
        in_runs=False,
    ),
)

BY_NAME = {stage.name: stage for stage in STAGES}

# How DVC draws the files a stage writes only for some tasks. They live inside one cached output directory
# (eval/plots), never as outputs of their own: DVC fails a stage whose declared output is missing, and a
# git-tracked plot that a regression does not write would show as deleted. A definition whose files are absent
# is simply not drawn.
PLOTS: dict[str, dict[str, Any]] = {
    "eval/plots/confusion.json": {"template": "confusion", "x": "actual", "y": "predicted"},
    "eval/plots/predictions.json": {"template": "scatter", "x": "actual", "y": "predicted"},
    "eval/plots/residuals.json": {"template": "scatter", "x": "predicted", "y": "residual"},
    "eval/plots/sklearn/roc": {"template": "simple", "x": "fpr", "y": "tpr"},
    "eval/plots/sklearn/precision_recall": {"template": "simple", "x": "recall", "y": "precision"},
    "eval/plots/sklearn/calibration": {"template": "simple", "x": "prob_pred", "y": "prob_true"},
    "eval/plots/importance.csv": {"template": "bar_horizontal_sorted", "x": "importance", "y": "feature"},
    "eval/plots/mistakes.png": {},  # an image: DVC shows it as it is
}


def _path(ref: str) -> str:
    """A Layout attribute (`models`) or attribute/rest (`eval/metrics.json`) as a repository-relative path;
    any other path as it is."""
    return REPO.path(ref).as_posix()


def _walk(node: ast.AST):
    """ast.walk, minus what a stage never runs: the bodies of functions named `main` or `_cmd_*` (the command line:
    a module's own, the command table's) and `if TYPE_CHECKING:` blocks (read by type checkers only)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef) and (child.name == "main" or child.name.startswith("_cmd_")):
            continue
        if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
            yield from (n for branch in child.orelse for n in _walk(branch))
            continue
        yield from _walk(child)


def _imports(module: str) -> set[str]:
    """The `workflows.*` modules a module imports in its source (inside functions too, but not in `main`)."""
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    found = set()
    for node in _walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {
            n for n in names if n.startswith("workflows.") and (ROOT / Path(*n.split("."))).with_suffix(".py").is_file()
        }
    return found


# What every stage's process runs before the stage itself: `python -m workflows.stage <name>`.
STAGE_PROCESS = ("workflows.stage", "workflows.stages.process")  # dvc.yaml's commands: not the command table


def code_deps(stage: Stage) -> list[str]:
    """The source a stage's outputs depend on: the import closure in workflows/ of its module and of the stage
    process (STAGE_PROCESS), and its plugin folders."""
    seen, todo = set(), [stage.module, *STAGE_PROCESS]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imports(module) - seen)
    files = {Path(*m.split(".")).with_suffix(".py").as_posix() for m in seen}
    for module in seen:  # importing a module runs its packages' __init__.py first
        parts = module.split(".")
        files |= {Path(*parts[:i], "__init__.py").as_posix() for i in range(1, len(parts))}
    return sorted(files) + ["plugins/registry.py"] + [f"plugins/{group}" for group in stage.plugins]


def dvc_yaml() -> str:
    """dvc.yaml's text, generated from STAGES."""
    import yaml

    stages = {}
    for stage in STAGES:
        entry: dict[str, Any] = {"cmd": f"python -m workflows.stage {stage.name} --params params.yaml"}
        entry["deps"] = code_deps(stage) + [_path(d) for d in stage.deps]
        entry["params"] = [{"params.yaml": None}] if stage.all_params else list(stage.reads)
        if stage.always_changed:
            entry["always_changed"] = True
        for key in ("outs", "metrics", "plots"):
            items = getattr(stage, key)
            if items:
                entry[key] = [({_path(ref): dict(opts)} if opts else _path(ref)) for ref, opts in items.items()]
        stages[stage.name] = entry
    header = (
        "# Generated by `python -m workflows.stages --write` (make dvc-yaml) from workflows/config/stage_table.py:\n"
        "# edit that, not this file (a test fails when they differ). check → prepare → augment → train → evaluate;\n"
        "# each stage"
        " declares the params it reads (it cannot read others), so DVC reruns only what a change touches.\n"
        "# `dvc exp run -S group=option -S group.key=value` composes conf/ into params.yaml first;\n"
        "# `dvc repro` uses params.yaml as it is.\n"
    )
    notes = "".join(f"#   {s.name}: {s.note}\n" for s in STAGES if s.note)
    plots = [{_path(ref): dict(opts)} if opts else _path(ref) for ref, opts in PLOTS.items()]
    return header + notes + yaml.safe_dump({"stages": stages, "plots": plots}, sort_keys=False, width=120)


RESTORE_HINT = (
    "nothing was replaced; if `dvc exp run -S` composed this params.yaml, "
    "`git checkout params.yaml dvc.lock && dvc checkout` goes back to the last commit"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(
            "usage: python -m workflows.stages [--write]\n\nPrints dvc.yaml as generated from "
            "workflows/config/stage_table.py; "
            "--write writes it (make dvc-yaml)."
        )
        return 0
    text = dvc_yaml()
    if argv == ["--write"]:
        from workflows.io.atomic import write_text

        write_text(ROOT / "dvc.yaml", text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
