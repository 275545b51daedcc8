"""Short runs with batch normalization: the saved model with and without recalibration, in one run.

    python benchmarks/batchnorm.py [--seeds 0,1,2]

Two cases, each trained with `trainer.recalibrate_batch_norm=false` (what
Keras alone leaves: moving statistics with momentum 0.99) and `true` (the
default), over the seeds, each a `python -m workflows.train` process:

- a folder of real photographs: crops of the two photographs scikit-learn
  ships, 4 classes × 60, 48×48, PNG/JPEG, RGB/grey/RGBA mixed (the test's
  folder), the default CNN, 4 epochs, no augmentation;
- digits with `trainer=fast` (one epoch of the default CNN).

Prints, per case and setting, the test accuracy and the accuracy on training
rows in inference and in training mode, as mean ± std (min–max) over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.workflows.runtime.test_batchnorm import photo_folder  # noqa: E402  (the test's own folder of photographs)


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = photo_folder(tmp / "photos")
        cases = {
            "photographs, cnn, 4 epochs": [
                "data=image_folder",
                f"data.directory={photos}",
                "data.target_size=[48,48]",
                "augmentation=none",
                "trainer.epochs=4",
            ],
            "digits, trainer=fast (1 epoch)": ["trainer=fast"],
        }
        report = {}
        for case, overrides in cases.items():
            for recalibrate in (False, True):
                rows = []
                for seed in seeds:
                    out = tmp / f"run-{len(report)}-{recalibrate}-{seed}"
                    subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "workflows.train",
                            *overrides,
                            f"trainer.seed={seed}",
                            f"trainer.recalibrate_batch_norm={str(recalibrate).lower()}",
                            "trainer.verbose=0",
                            "trainer.backup=false",
                            f"hydra.run.dir={out}",
                        ],
                        cwd=ROOT,
                        check=True,
                        capture_output=True,
                    )
                    rows.append(json.loads((out / "eval" / "metrics.json").read_text()))
                report[f"{case}; recalibrate_batch_norm={str(recalibrate).lower()}"] = {
                    key: summary([r[key] for r in rows])
                    for key in ("accuracy", "train_accuracy", "train_accuracy_training_mode")
                }
    print(json.dumps({"seeds": seeds, "results": report}, indent=2))


if __name__ == "__main__":
    main()
