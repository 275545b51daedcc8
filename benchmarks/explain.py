"""What `kerasforge explain` costs on one 224×224 photograph, beside the Integrated Gradients a user would write.

    python benchmarks/explain.py [--model mobilenet_v2] [--steps 32]

Trains a 224×224 MobileNetV2 (random initialization: no download) for one epoch on photographs this script
makes, through the product's own command (`python -m workflows train`), then times, in one process, median of 3:
- `explain`: `workflows.serve.explain.explain` on one image, everything it writes (heatmap PNG, CSV) included;
- the hand-written Integrated Gradients of TensorFlow's tutorial (tensorflow.org/tutorials/interpretability/
  integrated_gradients): the same steps in one batch under one GradientTape, the image already decoded.
Prints one JSON object: seconds and their ratio. The goal (issue 22): explain under 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.insight import median_seconds  # noqa: E402 — the same timing as the other "see why" benchmark


def photographs(folder: Path, per_class: int = 8) -> list[Path]:
    """Smooth random colour fields at 224×224, two classes (warm and cool), as JPEG files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for name, tint in {"warm": (1.0, 0.6, 0.3), "cool": (0.3, 0.6, 1.0)}.items():
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            field = rng.uniform(0, 1, (7, 7, 3)) * tint
            image = Image.fromarray((field * 255).astype(np.uint8)).resize((224, 224), Image.BICUBIC)
            files.append(folder / name / f"{i}.jpg")
            image.save(files[-1], quality=90)
    return files


def hand_written(model, image: np.ndarray, cls: int, steps: int) -> np.ndarray:
    """TensorFlow's tutorial, as a user copies it: interpolate, one tape, trapezoid, times (input − baseline)."""
    import tensorflow as tf

    baseline = tf.zeros_like(image)
    alphas = tf.linspace(0.0, 1.0, steps + 1)[:, None, None, None]
    path = baseline[None] + alphas * (image - baseline)[None]
    with tf.GradientTape() as tape:
        tape.watch(path)
        probs = tf.nn.softmax(model(path), axis=-1)[:, cls]
    grads = tape.gradient(probs, path)
    average = tf.reduce_mean((grads[:-1] + grads[1:]) / 2.0, axis=0)
    return ((image - baseline) * average).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--steps", type=int, default=32)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        files = photographs(base / "photos")
        overrides = ["data=image_folder", f"data.directory={base / 'photos'}", "data.target_size=[224,224]"]
        overrides += [f"model={ns.model}", "augmentation=none", "trainer.epochs=1", "trainer.batch_size=8"]
        cmd = [sys.executable, "-m", "workflows", "train", *overrides, "trainer.verbose=0", f"hydra.run.dir={base}/r"]
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        from plugins.data.base import DataSpec
        from plugins.data.image_kind import image_batches
        from workflows.io.card import read_card
        from workflows.serve.explain import explain
        from workflows.stages.evaluate import load_model

        models = base / "r" / "models"
        first = time.perf_counter()
        explain([str(files[0])], models, base / "why0", ns.steps)  # the first call: model load and tracing
        cold = time.perf_counter() - first
        ours = median_seconds(lambda: explain([str(files[0])], models, base / "why", ns.steps))
        model, _ = load_model(models)
        spec = DataSpec(**read_card(models)["spec"])
        _, x = next(image_batches([files[0]], spec, 1))
        cls = int(np.argmax(model(x)))
        hand_written(model, x[0], cls, ns.steps)
        theirs = median_seconds(lambda: hand_written(model, x[0], cls, ns.steps))
    print(
        json.dumps(
            {
                "model": ns.model,
                "image": "224x224x3",
                "steps": ns.steps,
                "explain_first_call_s": round(cold, 2),
                "explain_s": round(ours, 2),
                "hand_written_ig_s": round(theirs, 2),
                "ratio": round(ours / theirs, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
