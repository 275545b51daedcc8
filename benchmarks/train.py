"""Training throughput: kerasforge's `train()` against a hand-written Keras script, in one run.

    python benchmarks/train.py [--epochs 6] [--repeats 3]

Both train the same CNN (the default `model=cnn`, written out by hand for the
baseline; the parameter counts are checked equal) on the same digits
training split, batch 32, Adam 1e-3, no penalty, no augmentation, on the
CPU. Each measurement runs in a fresh process, the two alternating; the
samples/s are those of epochs 2…E (epoch 1 includes tracing), and the
median of the repeats is reported. Prints one JSON object:
`{"framework_samples_s", "keras_samples_s", "ratio", …}` (ratio = framework / Keras;
the goal is ≥ 0.97: the framework adds no overhead).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMON = r"""
import json, sys, tempfile, time
from pathlib import Path
import keras, numpy as np

EPOCHS = int(sys.argv[1])


class Timer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


from workflows.config.command import compose, resolve
experiment = resolve(compose(["augmentation=none", "regularizer=none", "schedule=constant", "trainer.verbose=0",
                              f"trainer.epochs={EPOCHS}", "trainer.batch_size=32", "trainer.backup=false"]))
splits = experiment.load_data()
timer = Timer()
"""

FRAMEWORK = (
    COMMON
    + r"""
from workflows.stages.train import train
out = Path(tempfile.mkdtemp())
train(experiment, splits.train, splits.val, splits.spec, out / "m", out / "l", callbacks=[timer])
n = len(splits.train[0])
params = json.loads((out / "m" / "model.json").read_text())["params"]
print(json.dumps({"samples_s": n * (EPOCHS - 1) / sum(timer.times[1:]), "params": params}))
"""
)

KERAS = (
    COMMON
    + r"""
from plugins.data.base import to_numpy
x, y = to_numpy(splits.train)
xv, yv = to_numpy(splits.val)
keras.utils.set_random_seed(0)
L = keras.layers
inputs = keras.Input((8, 8, 1))
h = inputs
for width in (32, 64):
    for _ in range(2):
        h = L.Conv2D(width, 3, padding="same", use_bias=False)(h)
        h = L.BatchNormalization()(h)
        h = L.Activation("relu")(h)
    h = L.MaxPooling2D(2)(h)
h = L.Flatten()(h)
h = L.Dense(128, activation="relu")(h)
h = L.Dropout(0.3)(h)
model = keras.Model(inputs, L.Dense(10)(h))
model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=EPOCHS, validation_data=(xv, yv), shuffle=True, verbose=0, callbacks=[timer])
print(json.dumps({"samples_s": len(x) * (EPOCHS - 1) / sum(timer.times[1:]), "params": model.count_params()}))
"""
)


def measure(code: str, epochs: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, str(epochs)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    framework, baseline = [], []
    for _ in range(args.repeats):
        framework.append(measure(FRAMEWORK, args.epochs))
        baseline.append(measure(KERAS, args.epochs))
    if framework[0]["params"] != baseline[0]["params"]:
        raise SystemExit(f"not the same model: {framework[0]['params']} vs {baseline[0]['params']} parameters")
    f = statistics.median(r["samples_s"] for r in framework)
    k = statistics.median(r["samples_s"] for r in baseline)
    print(
        json.dumps(
            {
                "framework_samples_s": round(f, 1),
                "keras_samples_s": round(k, 1),
                "ratio": round(f / k, 3),
                "params": framework[0]["params"],
                "epochs": args.epochs,
                "repeats": args.repeats,
                "framework_runs": [round(r["samples_s"], 1) for r in framework],
                "keras_runs": [round(r["samples_s"], 1) for r in baseline],
            }
        )
    )


if __name__ == "__main__":
    main()
