"""Sound through the product's defaults, beside its classical baseline, over seeds: spoken digits.

    python benchmarks/audio.py [--seeds 3]

The data: 480 spoken digits synthesised by espeak-ng (6 accents × 2 voice variants × 2 speeds × 2 pitches:
`tests.e2e.test_audio.synthesised`), and a person's real recordings of the ten digits, Asterisk's prompts
(Debian's asterisk-core-sounds-en-wav; `bash .ci/sounds.sh` installs both). Each seed `s` runs

    kerasforge train data=audio_folder data.directory=synth data.sample_rate=8000 trainer.epochs=15 \\
        data.seed=s trainer.seed=s

and reads the test accuracy (held-out synthetic voices) beside log-mel statistics + logistic regression on the same
clips, with McNemar's verdict; then `kerasforge predict` on the ten real recordings (right of 10), and the cost of
`predict` per clip (the whole command's wall time over the clips, and the model's alone).

Prints one JSON object: mean ± std (range) over seeds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tabular import summary  # noqa: E402 — mean ± std (range), as the tables' benchmark writes it (this folder)

from tests.e2e.test_audio import REAL, synthesised  # noqa: E402

CLI = [sys.executable, "-m", "workflows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp())
    synthesised(base / "synth")
    real = base / "real"
    real.mkdir()
    for digit in range(10):
        shutil.copy(REAL / f"{digit}.wav", real / f"{digit}.wav")
    model, baseline, verdicts, on_real, per_clip, latency = [], [], [], [], [], []
    for seed in range(args.seeds):
        run = base / f"run{seed}"
        settings = ["data=audio_folder", "data.directory=synth", "data.sample_rate=8000", "trainer.epochs=15"]
        seeded = [f"data.seed={seed}", f"trainer.seed={seed}", "trainer.verbose=0", f"hydra.run.dir={run}"]
        subprocess.run([*CLI, "train", *settings, *seeded], cwd=base, check=True, capture_output=True)
        metrics = json.loads((run / "eval" / "metrics.json").read_text())
        model.append(metrics["accuracy"])
        baseline.append(metrics["baseline"]["accuracy"])
        verdicts.append(metrics["baseline"]["verdict"])
        latency.append(metrics["latency_ms"])
        out = base / f"real{seed}.csv"
        start = time.perf_counter()
        subprocess.run([*CLI, "predict", str(real), "--model", str(run / "models"), "--out", str(out)], check=True)
        per_clip.append((time.perf_counter() - start) / 10 * 1000)
        rows = out.read_text().splitlines()[1:]
        on_real.append(sum(Path(r.split(",")[0]).stem == r.split(",")[1] for r in rows))
    print(
        json.dumps(
            {
                "spoken digits (synthetic voices held out)": {
                    "metric": "accuracy",
                    "kerasforge_default": summary(model),
                    "baseline": "logistic_regression_log_mel",
                    "baseline_score": summary(baseline),
                    "verdicts": {v: verdicts.count(v) for v in ("better", "tie", "worse")},
                },
                "a person's real recordings (right of 10, chance 1)": summary(on_real),
                "predict per clip, whole command (ms)": summary(per_clip),
                "model latency per clip, batch 1 (ms)": summary(latency),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
