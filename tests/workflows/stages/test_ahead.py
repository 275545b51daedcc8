"""Stages run ahead (workflows/stages/ahead.py): the key follows exactly the stage's deps, a hand-off is published
once and atomically, and a stage that fails ahead leaves nothing behind. The whole round trip under DVC, with
TensorFlow, is in tests/e2e/test_dvc_pipeline.py."""

from __future__ import annotations

import json
import sys

import pytest

from workflows.config.stage_table import BY_NAME
from workflows.io.atomic import atomic_dir, write_json
from workflows.io.layout import Layout
from workflows.stages import ahead

EVALUATE = BY_NAME["evaluate"]
CFG = {"evaluate": {"batch_size": 256, "split": "test"}, "trainer": {"epochs": 3}}


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A repository's data deps (prepared data, a model), as DVC runs stages there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_STAGE", "train")
    monkeypatch.delenv("KERASFORGE_AHEAD", raising=False)
    (tmp_path / "data" / "prepared" / "test").mkdir(parents=True)
    (tmp_path / "data" / "prepared" / "test" / "x.npy").write_bytes(b"rows")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.keras").write_bytes(b"weights")
    (tmp_path / "models" / "model.json").write_text("{}")
    return tmp_path


def fake_evaluate(stage, root: Layout):
    """Writes what the evaluate stage writes (its folder as a whole, atomically), reading the model through root."""
    with atomic_dir(root.eval) as tmp:
        write_json(tmp / "metrics.json", {"model": (root.models / "model.keras").read_text()})
        (tmp / "plots").mkdir()
        write_json(tmp / "plots" / "confusion.json", [])
    print("a warning of the stage", file=sys.stderr)
    return {"accuracy": 0.5}


def test_the_key_follows_the_stages_params_and_data_bytes_only(workspace):
    before = ahead.key(EVALUATE, CFG)
    memo: dict = {}  # shared between the followers' keys: the same key, each file read once
    assert ahead.key(EVALUATE, CFG, memo=memo) == before and ahead.key(BY_NAME["export"], CFG, memo=memo)
    assert sorted(p.name for p in memo) == ["model.json", "model.keras", "x.npy"]
    assert ahead.key(EVALUATE, {**CFG, "trainer": {"epochs": 4}}) == before  # a section evaluate does not read
    assert ahead.key(EVALUATE, {**CFG, "evaluate": {"batch_size": 64, "split": "test"}}) != before
    model = workspace / "models" / "model.keras"
    model.write_bytes(b"weights")  # the same bytes rewritten (DVC copies its outputs back from its cache)
    assert ahead.key(EVALUATE, CFG) == before
    model.write_bytes(b"weightz")
    assert ahead.key(EVALUATE, CFG) != before
    model.write_bytes(b"weights")
    (workspace / "data" / "prepared" / "test" / "y.npy").write_bytes(b"labels")
    assert ahead.key(EVALUATE, CFG) != before


def test_a_hand_off_is_published_atomically_once(workspace, capsys):
    train = BY_NAME["train"]
    (workspace / "eval").mkdir()
    (workspace / "eval" / "old.json").write_text("{}")
    assert ahead.run_ahead(train, CFG, lambda stage, root: fake_evaluate(stage, root) if stage is EVALUATE else 0) == [
        "evaluate",
        "export",
    ]
    assert (workspace / "eval" / "old.json").exists()  # nothing is published before the stage's own process runs
    capsys.readouterr()

    published = ahead.publish(EVALUATE, CFG)
    assert published is not None and published.result == {"accuracy": 0.5}
    assert json.loads((workspace / "eval" / "metrics.json").read_text()) == {"model": "weights"}
    assert (workspace / "eval" / "plots" / "confusion.json").exists()
    assert not (workspace / "eval" / "old.json").exists()  # the folder replaced as a whole, as the stage does
    err = capsys.readouterr().err
    assert "a warning of the stage" in err and "evaluate: published" in err
    assert not (workspace / ahead.AHEAD / "evaluate").exists()
    assert ahead.publish(EVALUATE, CFG) is None  # used once


def test_a_changed_dep_drops_the_hand_off_and_the_stage_runs(workspace):
    ahead.run_ahead(BY_NAME["train"], CFG, lambda stage, root: fake_evaluate(stage, root))
    (workspace / "models" / "model.keras").write_bytes(b"another model")
    assert ahead.publish(EVALUATE, CFG) is None
    assert not (workspace / ahead.AHEAD / "evaluate").exists()
    assert not (workspace / "eval").exists()  # nothing published from the stale hand-off


def test_a_stage_that_fails_ahead_leaves_no_hand_off_and_a_note(workspace, capsys):
    def broken(stage, root):
        raise ValueError("the model cannot be read\nmore detail")

    assert ahead.run_ahead(BY_NAME["train"], CFG, broken) == []
    assert not (workspace / ahead.AHEAD / "evaluate").exists()
    err = capsys.readouterr().err
    assert "note: the evaluate stage was not run ahead (ValueError: the model cannot be read); DVC runs it next" in err


@pytest.mark.parametrize(
    ("env", "cfg"),
    [
        ({"KERASFORGE_AHEAD": "0"}, CFG),
        ({"DVC_STAGE": ""}, CFG),
        ({}, {**CFG, "trainer": {"strategy": "multi_worker"}}),
    ],
    ids=["turned-off", "outside-dvc", "multi-worker"],
)
def test_nothing_runs_ahead_when_off_outside_dvc_or_on_many_workers(workspace, monkeypatch, env, cfg):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    calls = []
    assert ahead.run_ahead(BY_NAME["train"], cfg, lambda stage, root: calls.append(stage)) == []
    assert calls == []


def test_what_runs_ahead_writes_whole_layout_folders_and_reads_the_layouts_files():
    followers = [BY_NAME[name] for stage in BY_NAME.values() for name in stage.ahead]
    assert [f.name for f in followers] == ["evaluate", "export"]
    for stage in followers:  # publish replaces these folders; the hand-off's links stand for these files
        assert ahead.heads(stage) and all(isinstance(getattr(Layout, h, None), property) for h in ahead.heads(stage))
        assert all(isinstance(getattr(Layout, d.partition("/")[0], None), property) for d in stage.deps)


def test_a_hand_off_missing_an_output_folder_is_not_published(workspace):
    ahead.run_ahead(BY_NAME["train"], CFG, lambda stage, root: {"accuracy": 0.5})  # wrote no eval/ folder
    assert (workspace / ahead.AHEAD / "evaluate" / "result.json").is_file()
    assert ahead.publish(EVALUATE, CFG) is None
    assert not (workspace / "eval").exists() and not (workspace / ahead.AHEAD / "evaluate").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda folder: (folder / "root" / "eval" / "metrics.json").write_text('{"model": "wei'),  # truncated
        lambda folder: (folder / "root" / "eval" / "plots" / "confusion.json").unlink(),  # a file missing
        lambda folder: (folder / ahead.CONTENTS).unlink(),  # written before its contents were recorded
    ],
    ids=["truncated", "missing", "unrecorded"],
)
def test_a_damaged_hand_off_is_not_published_and_dvcs_own_files_stay(workspace, capsys, damage):
    """A truncated metrics.json was published as it was (exit 0, and DVC locked it); a missing file removed the
    git-tracked eval/.gitignore."""
    (workspace / "eval").mkdir()
    (workspace / "eval" / ".gitignore").write_text("/plots\n")
    (workspace / "eval" / "metrics.json").write_text('{"accuracy": 0.9}')
    ahead.run_ahead(BY_NAME["train"], CFG, lambda stage, root: fake_evaluate(stage, root))
    damage(workspace / ahead.AHEAD / "evaluate")
    assert ahead.publish(EVALUATE, CFG) is None  # the stage runs itself
    assert "hand-off is damaged" in capsys.readouterr().err
    assert (workspace / "eval" / "metrics.json").read_text() == '{"accuracy": 0.9}'  # the previous outputs
    assert (workspace / "eval" / ".gitignore").read_text() == "/plots\n"


def test_a_publish_keeps_dvcs_gitignore_in_the_output_folder(workspace):
    (workspace / "eval").mkdir()
    (workspace / "eval" / ".gitignore").write_text("/plots\n")
    ahead.run_ahead(BY_NAME["train"], CFG, lambda stage, root: fake_evaluate(stage, root))
    assert ahead.publish(EVALUATE, CFG) is not None
    assert json.loads((workspace / "eval" / "metrics.json").read_text()) == {"model": "weights"}
    assert (workspace / "eval" / ".gitignore").read_text() == "/plots\n"
