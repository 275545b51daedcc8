"""Fixed cost of the pipeline: kerasforge against the hand-written Keras script doing the same work, in one run.

    python benchmarks/pipeline.py [--rounds 3]

Two pairs, each side a whole process (wall time, `time.perf_counter` around
`subprocess.run`, and CPU time, the children's user + system seconds from
`resource.getrusage`: steadier where the machine's speed varies), the two
sides alternating, `--rounds` times; the medians and their ratios are printed
as one JSON object:

1. `dvc repro -f` of the default pipeline with `trainer.epochs=1`, in a
   fresh git copy of the project (six stage processes: check, prepare,
   augment, train, evaluate, export; the train stage's process runs evaluate
   and export ahead, workflows/stages/ahead.py), and the same with
   `KERASFORGE_AHEAD=0` (each stage in its own process), against one script
   that loads digits, splits them the same way, makes the same 2 augmented
   copies with Keras's RandomRotation and RandomTranslation, trains the same
   CNN for 1 epoch, evaluates it and saves it (it exports nothing). Goal ≤ 2.0×.
2. `python -m workflows.train augmentation=none trainer.epochs=20` (the
   direct command line: prepare, augment, train and evaluate in one
   process, with the files in between) against the same script, 20 epochs,
   no augmentation, tf.data input. Goal ≤ 1.10×.

Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

HAND_WRITTEN = r"""
import sys
import keras, numpy as np, tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

epochs, copies, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
keras.utils.set_random_seed(0)
digits = load_digits()
x = (digits.images / 16.0).astype("float32")[..., None]
y = digits.target.astype("int32")
rest, test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=y)
train, val = train_test_split(rest, test_size=0.125, random_state=0, stratify=y[rest])
xt, yt = x[train], y[train]
if copies:
    augment = keras.Sequential([keras.layers.RandomRotation(11 / 360, fill_mode="constant", seed=1),
                                keras.layers.RandomTranslation(0.125, 0.125, fill_mode="constant", seed=2)])
    xt = np.concatenate([xt] + [np.asarray(augment(xt, training=True)) for _ in range(copies)])
    yt = np.concatenate([yt] * (1 + copies))
L = keras.layers
inputs = keras.Input((8, 8, 1))
h = inputs
for width in (32, 64):
    for _ in range(2):
        h = L.Conv2D(width, 3, padding="same", use_bias=False, kernel_regularizer="l2")(h)
        h = L.BatchNormalization()(h)
        h = L.Activation("relu")(h)
    h = L.MaxPooling2D(2)(h)
h = L.Dense(128, activation="relu")(L.Flatten()(h))
model = keras.Model(inputs, L.Dense(10)(L.Dropout(0.3)(h)))
model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
data = tf.data.Dataset.from_tensor_slices((xt, yt)).shuffle(len(yt), seed=0).batch(32).prefetch(tf.data.AUTOTUNE)
model.fit(data, validation_data=(x[val], y[val]), epochs=epochs, verbose=0)
print(model.evaluate(x[test], y[test], verbose=0, return_dict=True))
model.save(out)
"""


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def project_copy(dest: Path, env: dict[str, str]) -> Path:
    """A fresh git repository with the project's tracked files, params.yaml at 1 epoch."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name, follow_symlinks=False)  # docs/reports is a link
    subprocess.run(
        [sys.executable, "-m", "workflows.config", "--out", "params.yaml", "trainer.epochs=1"],
        cwd=dest,
        env=env,
        check=True,
        capture_output=True,
    )
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@invalid",
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        repo = project_copy(tmp / "repo", env)
        subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env, check=True, capture_output=True)
        script = tmp / "hand_written.py"
        script.write_text(HAND_WRITTEN)
        times: dict[str, list[tuple[float, float]]] = {
            "dvc_repro": [],
            "dvc_repro_no_ahead": [],
            "script_1": [],
            "direct_20": [],
            "script_20": [],
        }
        for i in range(args.rounds):
            times["dvc_repro"].append(timed([sys.executable, "-m", "dvc", "repro", "-f"], repo, env))
            no_ahead = {**env, "KERASFORGE_AHEAD": "0"}
            times["dvc_repro_no_ahead"].append(timed([sys.executable, "-m", "dvc", "repro", "-f"], repo, no_ahead))
            times["script_1"].append(timed([sys.executable, str(script), "1", "2", str(tmp / "m1.keras")], tmp, env))
            times["direct_20"].append(
                timed(
                    [
                        sys.executable,
                        "-m",
                        "workflows.train",
                        "augmentation=none",
                        "trainer.epochs=20",
                        "trainer.verbose=0",
                        "trainer.backup=false",
                        f"hydra.run.dir={tmp / f'direct{i}'}",
                    ],
                    ROOT,
                    env,
                )
            )
            times["script_20"].append(timed([sys.executable, str(script), "20", "0", str(tmp / "m20.keras")], tmp, env))
    wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
    cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "dvc_repro_1_epoch_s": round(wall["dvc_repro"], 1),
                "dvc_repro_1_epoch_no_ahead_s": round(wall["dvc_repro_no_ahead"], 1),
                "script_1_epoch_s": round(wall["script_1"], 1),
                "ratio_1_epoch": round(wall["dvc_repro"] / wall["script_1"], 2),
                "ratio_1_epoch_no_ahead": round(wall["dvc_repro_no_ahead"] / wall["script_1"], 2),
                "ratio_1_epoch_cpu": round(cpu["dvc_repro"] / cpu["script_1"], 2),
                "goal_1_epoch": 2.0,
                "direct_20_epochs_s": round(wall["direct_20"], 1),
                "script_20_epochs_s": round(wall["script_20"], 1),
                "ratio_20_epochs": round(wall["direct_20"] / wall["script_20"], 3),
                "ratio_20_epochs_cpu": round(cpu["direct_20"] / cpu["script_20"], 3),
                "goal_20_epochs": 1.10,
                "rounds": args.rounds,
                "runs_s": {k: [round(t[0], 1) for t in v] for k, v in times.items()},
                "runs_cpu_s": {k: [round(t[1], 1) for t in v] for k, v in times.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
