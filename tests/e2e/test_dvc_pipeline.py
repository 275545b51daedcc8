"""The DVC pipeline for real, in a fresh git repository holding a copy of the project."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import BIN, TINY_DEFAULTS, make_project_copy, run, subprocess_env

pytestmark = pytest.mark.slow

DVC = [sys.executable, "-m", "dvc"]
FIRST_REPRO: dict[str, str] = {}  # what the module's first `dvc repro` printed


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The project, tiny, after one `dvc repro`."""
    path = make_project_copy(tmp_path_factory.mktemp("project"), TINY_DEFAULTS)
    result = run([*DVC, "repro"], path)
    for stage in ("prepare", "augment", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in result.stdout
    FIRST_REPRO["output"] = result.stdout + result.stderr
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_repro_writes_model_metrics_and_plots(repo):
    assert (repo / "models" / "model.keras").exists()
    metrics = json.loads(run([*DVC, "metrics", "show", "--json"], repo).stdout)
    flat = json.dumps(metrics)
    assert '"accuracy"' in flat and "eval/metrics.json" in flat and "dvclive/train/metrics.json" in flat
    assert "models/export/check.json" in flat and '"max_abs_diff"' in flat
    plots = run([*DVC, "plots", "show", "--json"], repo).stdout
    assert "eval/plots/confusion.json" in plots and "dvclive/train/plots/metrics" in plots
    for kind in ("roc", "precision_recall", "calibration"):
        assert f"eval/plots/sklearn/{kind}/3.json" in plots
    assert "previews/augmentation.png" in plots
    assert (repo / "previews" / "augmentation.png").read_bytes()[:4] == b"\x89PNG"
    dag = run([*DVC, "dag", "--dot"], repo).stdout.replace('"', "")
    for edge in ("prepare -> augment", "augment -> train", "train -> evaluate", "train -> export"):
        assert edge in dag, dag


# Measured, or random in any process: the model's speed, and its accuracy in training mode (dropout on).
UNSTABLE = ("latency_ms", "throughput", "train_accuracy_training_mode")


def test_evaluate_and_export_run_ahead_in_the_train_process_give_what_their_own_processes_give(repo):
    output = FIRST_REPRO["output"]
    for stage in ("evaluate", "export"):
        assert f"{stage}: published what the train stage's process ran ahead" in output, output[-3000:]
    assert not list((repo / ".kerasforge" / "ahead").glob("*"))  # each hand-off used once
    published = {f.relative_to(repo): f.read_bytes() for f in sorted((repo / "eval").rglob("*")) if f.is_file()}
    tflite, check = (
        (repo / "models" / "export" / "model.tflite").read_bytes(),
        json.loads((repo / "models" / "export" / "check.json").read_text()),
    )

    result = run([*DVC, "repro", "-f", "-s", "evaluate", "export"], repo, KERASFORGE_AHEAD="0")
    assert "published" not in result.stdout + result.stderr  # each stage in a process of its own this time
    own = {f.relative_to(repo): f.read_bytes() for f in sorted((repo / "eval").rglob("*")) if f.is_file()}
    assert own.keys() == published.keys()
    for name, content in own.items():
        if name.name == "metrics.json":
            mine, theirs = json.loads(content), json.loads(published[name])
            assert {k: v for k, v in mine.items() if k not in UNSTABLE} == {
                k: v for k, v in theirs.items() if k not in UNSTABLE
            }
        else:
            assert content == published[name], name
    assert (repo / "models" / "export" / "model.tflite").read_bytes() == tflite
    now = json.loads((repo / "models" / "export" / "check.json").read_text())
    for fmt in ("keras", "tflite"):
        assert now[fmt] == check[fmt]
    assert {k: v for k, v in now["saved_model"].items() if k != "size_bytes"} == {
        k: v for k, v in check["saved_model"].items() if k != "size_bytes"
    }  # a SavedModel's bytes differ from process to process (its functions' names, the dropout seeds)


def test_a_hand_off_whose_deps_changed_is_dropped_and_the_stage_runs_itself(repo):
    run([*DVC, "repro", "-f", "-s", "train"], repo)  # DVC stops after train: the hand-offs wait
    assert (repo / ".kerasforge" / "ahead" / "evaluate" / "key").is_file()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["evaluate"]["batch_size"] = 32 if params["evaluate"]["batch_size"] != 32 else 16
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run([*DVC, "repro"], repo)
    assert "evaluate" in stages_run(result.stdout)
    assert "evaluate: published" not in result.stdout + result.stderr
    assert not (repo / ".kerasforge" / "ahead" / "evaluate").exists()
    assert json.loads((repo / "eval" / "metrics.json").read_text())["accuracy"] > 0.5


def stages_run(stdout: str) -> list[str]:
    """The stages `dvc repro` ran, in order."""
    return [line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage '")]


def test_nothing_reruns_when_nothing_changed(repo):
    # Only the check stage runs every time (it fingerprints the data, no TensorFlow); its outputs are unchanged.
    result = run([*DVC, "repro"], repo)
    assert stages_run(result.stdout) == ["check"], result.stdout


def test_an_evaluation_option_reruns_only_evaluate(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["evaluate"]["batch_size"] = 64
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    model = digest(repo / "models" / "model.keras")
    result = run([*DVC, "repro"], repo)
    assert "Running stage 'evaluate'" in result.stdout
    assert "Running stage 'train'" not in result.stdout and "Running stage 'prepare'" not in result.stdout
    assert digest(repo / "models" / "model.keras") == model


def test_exp_run_composes_overrides_into_params_like_the_direct_cli(repo):
    overrides = ["optimizer=sgd", "optimizer.learning_rate=0.05"]
    run([*DVC, "exp", "run", *(arg for o in overrides for arg in ("-S", o))], repo)
    composed = yaml.safe_load((repo / "params.yaml").read_text())
    direct = run([sys.executable, "-m", "workflows.config", *overrides], repo).stdout
    assert composed == yaml.safe_load(direct)
    assert composed["optimizer"]["name"] == "sgd" and composed["optimizer"]["learning_rate"] == 0.05
    shown = run([*DVC, "exp", "show", "--json"], repo).stdout
    assert "optimizer.learning_rate" in shown or '"learning_rate": 0.05' in shown
    assert "accuracy" in shown


def test_killed_training_leaves_the_previous_model_and_metrics(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["trainer"]["epochs"] = 500
    params["trainer"]["verbose"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = digest(repo / "models" / "model.keras"), digest(repo / "eval" / "metrics.json")
    proc = subprocess.Popen(
        [*DVC, "repro", "train"],
        cwd=repo,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline and "Epoch 3/" not in seen:
        seen += proc.stdout.readline()
    assert "Epoch 3/" in seen, seen[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (digest(repo / "models" / "model.keras"), digest(repo / "eval" / "metrics.json")) == before
    assert not [p for p in (repo / "models").iterdir() if p.name.startswith(".")]


def lock_hashes(repo) -> dict[str, str]:
    """The hash dvc.lock records for each stage's outputs (data/prepared, data/augmented…)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", []) if "md5" in out
    }


def test_rerunning_prepare_and_augment_keeps_their_hashes(repo):
    before = lock_hashes(repo)
    assert "data/prepared" in before and "data/augmented" in before
    for stage in ("prepare", "augment"):
        run([*DVC, "repro", "-f", "-s", stage], repo)
    after = lock_hashes(repo)
    assert after["data/prepared"] == before["data/prepared"] and after["data/augmented"] == before["data/augmented"]
    status = run([*DVC, "status"], repo).stdout
    assert "data/prepared" not in status and "data/augmented" not in status, status  # downstream stays up to date


def test_direct_cli_and_dvc_exp_run_give_the_same_result(repo, tmp_path):
    overrides = ["trainer.deterministic=true", "trainer.epochs=3"]
    run([*DVC, "exp", "run", *(arg for o in overrides for arg in ("-S", o))], repo)
    by_dvc = json.loads((repo / "eval" / "metrics.json").read_text())
    run([sys.executable, "-m", "workflows.train", *overrides, f"hydra.run.dir={tmp_path / 'direct'}"], repo)
    direct = json.loads((tmp_path / "direct" / "eval" / "metrics.json").read_text())
    assert (direct["accuracy"], direct["loss"]) == (by_dvc["accuracy"], by_dvc["loss"])
    for split in ("prepared/train", "augmented/train"):  # the same files in between, too
        for name in ("x.npy", "y.npy"):
            assert digest(tmp_path / "direct" / "data" / split / name) == digest(repo / "data" / split / name)
    # …and the same model, byte for byte (Keras's save date is left out of model.keras).
    assert digest(tmp_path / "direct" / "models" / "model.keras") == digest(repo / "models" / "model.keras")


def test_make_wraps_dvc_for_a_fresh_shell(repo):
    """The README's `make dvc ARGS=…`: works without the venv activated (the stage commands run `python`)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "VENV": str(BIN.parent)}
    result = subprocess.run(
        # -o: the venv is installed; never reinstall it from this copy (the editable install would point here)
        [
            "make",
            "--no-print-directory",
            "-o",
            str(BIN.parent / ".kerasforge-installed"),
            "dvc",
            "ARGS=exp show --json",
        ],
        cwd=repo,
        env={**subprocess_env(), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "accuracy" in result.stdout


def deleted_tracked_files(repo) -> list[str]:
    """Git-tracked files that are gone from the working tree."""
    return [line[3:] for line in run(["git", "status", "--porcelain"], repo).stdout.splitlines() if line[1] == "D"]


@pytest.fixture(scope="module")
def regression_repo(tmp_path_factory):
    """The project, tiny, whose committed params.yaml is a regression (scikit-learn's diabetes table)."""
    path = make_project_copy(tmp_path_factory.mktemp("regression"), TINY_DEFAULTS)
    run(
        [sys.executable, "-m", "workflows.config", "--out", "params.yaml", "data=diabetes", "model=mlp", "loss=mse"],
        path,
    )
    run(["git", "commit", "-qam", "a regression"], path)
    return path


def test_a_regression_runs_through_dvc_repro_and_deletes_no_tracked_file(regression_repo):
    result = run([*DVC, "repro"], regression_repo)
    for stage in ("prepare", "augment", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in result.stdout
    metrics = json.loads((regression_repo / "eval" / "metrics.json").read_text())
    assert {"mse", "mae", "r2"} <= metrics.keys() and "accuracy" not in metrics
    points = json.loads((regression_repo / "eval" / "plots" / "predictions.json").read_text())
    assert len(points) == metrics["examples"] and {"actual", "predicted"} == set(points[0])
    assert max(p["actual"] for p in points) > 100  # the target's own units (disease progression), not z-scores
    assert not (regression_repo / "eval" / "plots" / "sklearn").exists()
    assert deleted_tracked_files(regression_repo) == []
    plots = run([*DVC, "plots", "show", "--json"], regression_repo).stdout
    assert "eval/plots/predictions.json" in plots


def test_dvc_exp_run_switches_between_a_regression_and_classes(regression_repo):
    # From the regression workspace to classes and back: each experiment recorded, no tracked file deleted.
    run(
        [*DVC, "exp", "run", "-n", "classes", "-S", "data=digits", "-S", "loss=sparse_categorical_crossentropy"],
        regression_repo,
    )
    assert "accuracy" in json.loads((regression_repo / "eval" / "metrics.json").read_text())
    assert list((regression_repo / "eval" / "plots" / "sklearn" / "roc").glob("*.json"))
    assert deleted_tracked_files(regression_repo) == []
    run([*DVC, "exp", "run", "-n", "values", "-S", "data=diabetes", "-S", "loss=mse"], regression_repo)
    assert "r2" in json.loads((regression_repo / "eval" / "metrics.json").read_text())
    assert deleted_tracked_files(regression_repo) == []
    shown = json.loads(run([*DVC, "exp", "show", "--json"], regression_repo).stdout)
    names = json.dumps(shown)
    assert '"classes"' in names and '"values"' in names and '"r2"' in names and '"accuracy"' in names


def test_a_stage_that_fails_under_dvc_deletes_nothing_and_says_how_to_go_back(regression_repo):
    run(["git", "checkout", "params.yaml"], regression_repo)
    run([*DVC, "repro"], regression_repo)  # the committed regression, its outputs in the cache: a user's last commit
    run(["git", "add", "-A"], regression_repo)
    run(["git", "commit", "-qm", "regression results"], regression_repo)
    model = digest(regression_repo / "models" / "model.keras")
    params = yaml.safe_load((regression_repo / "params.yaml").read_text())
    params["augmentation"]["copiez"] = 2  # a misspelt key: refused by the augment stage, after prepare
    params["data"]["seed"] = 1  # prepare reruns first
    (regression_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run([*DVC, "repro"], regression_repo, check=False)
    assert result.returncode != 0
    assert (
        "augmentation.copiez" in result.stderr and "git checkout params.yaml dvc.lock && dvc checkout" in result.stderr
    )
    assert deleted_tracked_files(regression_repo) == []
    assert digest(regression_repo / "models" / "model.keras") == model  # nothing replaced
    run(["git", "checkout", "params.yaml", "dvc.lock"], regression_repo)  # the hint, as printed
    run([*DVC, "checkout"], regression_repo)
    again = run([*DVC, "repro"], regression_repo)  # the workspace is the last commit again: nothing to run
    assert stages_run(again.stdout) == ["check"] and "ERROR" not in again.stdout + again.stderr
    assert deleted_tracked_files(regression_repo) == []
    assert run(["git", "status", "--porcelain"], regression_repo).stdout == ""


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("cv=kfold", "cv=kfold: cross-validation runs on the direct command line"),
        ("+trainr.epochs=5", "unknown config section 'trainr'; did you mean 'trainer'?"),
        ("hparams_search=optuna", "hparams_search is set: a search runs its trials itself"),
    ],
)
def test_a_setting_no_stage_reads_is_refused_not_recorded(repo, setting, message):
    before = run([*DVC, "exp", "show", "--json"], repo).stdout.count('"rev"')
    result = run([*DVC, "exp", "run", "-S", setting], repo, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]
    assert "Running stage 'prepare'" not in result.stdout  # refused by the check stage, before any work
    run(["git", "checkout", "params.yaml", "dvc.lock"], repo)
    assert run([*DVC, "exp", "show", "--json"], repo).stdout.count('"rev"') == before  # no experiment recorded


def test_dvc_follows_the_users_table_for_classes_and_a_regression(regression_repo):
    """`dvc exp run -S data=csv -S data.path=…` of a real table with strings and NA cells, both tasks, and the
    file's change reruns prepare with nothing named in dvc.yaml (the check stage fingerprints it)."""
    import shutil

    penguins = __import__("pathlib").Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
    shutil.copy(penguins, regression_repo / "penguins.csv")
    run(["git", "checkout", "params.yaml", "dvc.lock"], regression_repo)
    run(["git", "add", "penguins.csv"], regression_repo)
    run(["git", "commit", "-qm", "a table of my own"], regression_repo)
    table = ["-S", "data=csv", "-S", "data.path=penguins.csv"]
    run([*DVC, "exp", "run", "-n", "species", *table, "-S", "data.target=species"], regression_repo)
    metrics = json.loads((regression_repo / "eval" / "metrics.json").read_text())
    # One epoch (trainer=fast) beats the majority class (44 %); the baseline stands beside it, on the same rows.
    assert metrics["accuracy"] > 0.5 and metrics["baseline"]["model"] in (
        "hist_gradient_boosting",
        "logistic_regression",
    )
    run([*DVC, "exp", "run", "-n", "mass", *table, "-S", "data.target=body_mass_g"], regression_repo)
    metrics = json.loads((regression_repo / "eval" / "metrics.json").read_text())
    assert metrics["mae"] > 100 and "verdict" in metrics["baseline"]  # grams, beside the baseline
    assert json.loads((regression_repo / "data" / "source.json").read_text())["path"] == "penguins.csv"
    assert "Running stage 'prepare'" not in run([*DVC, "repro"], regression_repo).stdout  # nothing changed
    lines = (regression_repo / "penguins.csv").read_text().splitlines()
    (regression_repo / "penguins.csv").write_text("\n".join(lines[:-40]) + "\n")  # the user's data changes
    assert "Running stage 'prepare'" in run([*DVC, "repro"], regression_repo).stdout
    assert deleted_tracked_files(regression_repo) == []


def dvc_and_direct(repo, tmp_path, overrides: list[str]) -> tuple[dict, dict]:
    """`dvc exp run -S …` in `repo`, then `kerasforge train …` with the same overrides into tmp_path/direct: the
    metrics of each."""
    run([*DVC, "exp", "run", *(arg for o in overrides for arg in ("-S", o))], repo)
    by_dvc = json.loads((repo / "eval" / "metrics.json").read_text())
    run([sys.executable, "-m", "workflows", "train", *overrides, f"hydra.run.dir={tmp_path / 'direct'}"], repo)
    return by_dvc, json.loads((tmp_path / "direct" / "eval" / "metrics.json").read_text())


def test_a_table_regression_is_the_same_through_dvc_and_the_direct_command_line(regression_repo, tmp_path):
    """The real penguins table (strings, NA cells), a regression: `dvc exp run -S …` and `kerasforge train …` with
    the same options give the same metrics in grams and the same model, byte for byte."""
    import shutil

    penguins = __import__("pathlib").Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
    if not (regression_repo / "penguins.csv").exists():
        shutil.copy(penguins, regression_repo / "penguins.csv")
        run(["git", "add", "penguins.csv"], regression_repo)
        run(["git", "commit", "-qm", "a table of my own"], regression_repo)
    overrides = [
        "data=csv",
        "data.path=penguins.csv",
        "data.target=body_mass_g",
        "trainer.deterministic=true",
        "trainer.epochs=3",
    ]
    by_dvc, direct = dvc_and_direct(regression_repo, tmp_path, overrides)
    for key in ("loss", "mae", "rmse", "r2"):
        assert direct[key] == by_dvc[key], key
    assert direct["baseline"] == by_dvc["baseline"] and by_dvc["mae"] > 100  # grams, beside the same baseline
    model = "models/model.keras"
    assert digest(tmp_path / "direct" / model) == digest(regression_repo / model)


def _tweets(path):
    from tests.e2e.test_sequences import tweets

    tweets(600).to_csv(path, index=False)


def _chicago(path):
    from tests.e2e.test_sequences import chicago

    chicago(path)


@pytest.mark.parametrize(
    ("name", "write", "options"),
    [
        ("tweets.csv", _tweets, ["data=csv", "data.target=device", "augmentation=text"]),
        ("chicago.csv", _chicago, ["data=timeseries", "data.target=ridership", "data.holidays=US", "data.horizon=2"]),
    ],
    ids=["text", "series"],
)
def test_text_and_a_series_are_the_same_through_dvc_and_the_direct_command_line(
    regression_repo, tmp_path, name, write, options
):
    """Real tweets (a text column, augmented online) and Chicago's ridership (a forecast with holidays known ahead):
    `dvc exp run -S …` and `kerasforge train …` give the same metrics, baseline and model bytes."""
    if not (regression_repo / name).exists():
        write(regression_repo / name)
        run(["git", "add", name], regression_repo)
        run(["git", "commit", "-qm", f"{name} of my own"], regression_repo)
    overrides = [*options, f"data.path={name}", "trainer.deterministic=true", "trainer.epochs=2"]
    by_dvc, direct = dvc_and_direct(regression_repo, tmp_path, overrides)
    assert direct["loss"] == by_dvc["loss"] and direct["baseline"] == by_dvc["baseline"]
    assert by_dvc["baseline"]["model"] == (
        min(by_dvc["baseline"]["candidates"], key=lambda c: by_dvc["baseline"]["candidates"][c]["val_mae"])
        if "timeseries" in options[0]
        else "tfidf_logistic_regression"
    )
    assert digest(tmp_path / "direct" / "models/model.keras") == digest(regression_repo / "models/model.keras")
    assert deleted_tracked_files(regression_repo) == []
    check = json.loads((regression_repo / "models" / "export" / "check.json").read_text())
    # TFLite's builtin kernels hold both (the n-gram counts are a segment sum, not TensorFlow's DenseBincount)
    assert check["tflite"]["max_abs_diff"] < 1e-4 and check["saved_model"]["max_abs_diff"] < 1e-4
