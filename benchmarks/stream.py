"""Memory against data size: prepare + one training epoch on generated image folders of 5,000 and 50,000 images.

    python benchmarks/stream.py [--sizes 5000 50000] [--side 32]

For each size, a folder of PNG images (10 classes, side×side×3) is written
first; then a fresh process runs the pipeline's own path — `image_folder`
(every file checked), `save_splits` (the sharded on-disk format), the
prepared training split streamed back, one epoch of a small CNN — and
reports its peak resident memory (ru_maxrss). Prints one JSON object with
the peak MiB per size and `growth` (largest / smallest): flat means ≤ 1.2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, tempfile
from pathlib import Path
directory, side = sys.argv[1], int(sys.argv[2])
from workflows.config.command import compose, resolve
from workflows.io.datastore import load_spec, load_split, save_splits
from workflows.stages.train import train
e = resolve(compose(["data=image_folder", f"data.directory={directory}", f"data.target_size=[{side},{side}]",
                     "model=cnn", "model.filters=[16,32]", "model.dense=32", "augmentation=none",
                     "trainer.epochs=1", "trainer.batch_size=64", "trainer.verbose=0", "trainer.backup=false"]))
out = Path(tempfile.mkdtemp())
save_splits(e.load_data(), out / "prepared")
spec = load_spec(out / "prepared")
train(e, load_split("train", out / "prepared"), load_split("val", out / "prepared"), spec, out / "m", out / "l")
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "train_images": int(load_split("train", out / "prepared").cardinality())}))
"""


def write_folder(root: Path, count: int, side: int) -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for i in range(count):
        label = i % 10
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        image = (rng.random((side, side, 3)) * 255).astype(np.uint8)
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--side", type=int, default=32)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            folder = Path(tmp) / f"images{size}"
            write_folder(folder, size, args.side)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder), str(args.side)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            results[size] = json.loads(out.stdout.strip().splitlines()[-1])
    peaks = [r["peak_mib"] for r in results.values()]
    print(
        json.dumps(
            {
                "peak_mib": {str(k): round(v["peak_mib"], 1) for k, v in results.items()},
                "train_images": {str(k): v["train_images"] for k, v in results.items()},
                "growth": round(max(peaks) / min(peaks), 3),
                "side": args.side,
            }
        )
    )


if __name__ == "__main__":
    main()
