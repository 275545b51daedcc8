"""Sound's second task — which language was spoken — through the product's defaults, beside log-mel statistics and
logistic regression, scored on real people's recordings.

    apt-get install espeak-ng asterisk-core-sounds-{en,fr,es,it}-wav     # Debian's voices and real prompts
    python benchmarks/audio_language.py [--seeds 3] [--model audio_cnn]

Training: espeak-ng says the ten digits in English, French, Spanish and Italian (two voices per language where
espeak has them, male and female variants, two speeds, two pitches: 640 clips, 8 kHz). Each seed `s` runs

    kerasforge train data=audio_folder data.directory=synth data.sample_rate=8000 trainer.epochs=15 \\
        data.seed=s trainer.seed=s

The test that cannot be tuned to: Asterisk's prompts of the same digits, recorded by people (Allison in English and
Spanish, June in French, Carlo in Italian: 40 files), never heard in training. The baseline (log-mel statistics +
logistic regression, `plugins.data.audio`) is fitted on the same run's training clips and scored on the same 40
files; McNemar's exact test compares the two on those files.

Prints one JSON object: mean ± std (range) over seeds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tabular import summary  # noqa: E402 — mean ± std (range), as the tables' benchmark writes it (this folder)

CLI = [sys.executable, "-m", "workflows"]
LANGUAGES = {"en": ["en-us", "en-gb"], "fr": ["fr-fr", "fr-be"], "es": ["es", "es-419"], "it": ["it"]}
REAL = Path("/usr/share/asterisk/sounds")


def synthesised(root: Path) -> None:
    for language, voices in LANGUAGES.items():
        (root / language).mkdir(parents=True)
        variants = ("", "+f3") if len(voices) == 2 else ("", "+f3", "+m3", "+f2")
        for voice, variant, speed, pitch, digit in itertools.product(voices, variants, (140, 190), (35, 70), range(10)):
            name = root / language / f"{voice}{variant}-{speed}-{pitch}-{digit}.wav"
            command = ["espeak-ng", "-v", voice + variant, "-s", str(speed), "-p", str(pitch), "-w", str(name)]
            subprocess.run([*command, str(digit)], check=True, capture_output=True)


def mcnemar(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import binomtest

    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    return 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", default="audio_cnn")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from plugins.data.audio import log_mel_statistics, read_clip

    base = Path(tempfile.mkdtemp())
    synthesised(base / "synth")
    real = [(language, REAL / language / "digits" / f"{d}.wav") for language in LANGUAGES for d in range(10)]
    model_right, baseline_right, held_out, p_values = [], [], [], []
    for seed in range(args.seeds):
        run = base / f"run{seed}"
        settings = ["data=audio_folder", "data.directory=synth", "data.sample_rate=8000", "trainer.epochs=15"]
        seeded = [f"model={args.model}", f"data.seed={seed}", f"trainer.seed={seed}", "trainer.verbose=0"]
        subprocess.run([*CLI, "train", *settings, *seeded, f"hydra.run.dir={run}"], cwd=base, check=True)
        metrics = json.loads((run / "eval" / "metrics.json").read_text())
        held_out.append(metrics["accuracy"])
        out = base / f"real{seed}.csv"
        files = [str(f) for _, f in real]
        subprocess.run([*CLI, "predict", *files, "--model", str(run / "models"), "--out", str(out)], check=True)
        rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
        said = {r[0]: r[1] for r in rows}
        ours = np.asarray([said[str(f)] == language for language, f in real])
        card = json.loads((run / "models" / "model.json").read_text())
        names, samples = card["spec"]["class_names"], card["spec"]["input_shape"][0]
        x = np.load(run / "data" / "prepared" / "train" / "x.npy")
        y = np.load(run / "data" / "prepared" / "train" / "y.npy")
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1, random_state=seed))
        classifier.fit(log_mel_statistics(x, 8000), y)
        clips = np.stack([read_clip(f, 8000, samples) for _, f in real])
        theirs = np.asarray([names[k] for k in classifier.predict(log_mel_statistics(clips, 8000))])
        theirs = theirs == np.asarray([language for language, _ in real])
        model_right.append(int(ours.sum()))
        baseline_right.append(int(theirs.sum()))
        p_values.append(round(mcnemar(ours, theirs), 4))
    print(
        json.dumps(
            {
                "task": "spoken language (en, fr, es, it), trained on espeak-ng, scored on 40 real recordings",
                "model": args.model,
                "synthetic held-out accuracy": summary(held_out),
                "real recordings right of 40 (chance 10)": summary(model_right),
                "baseline logistic_regression_log_mel, right of 40": summary(baseline_right),
                "mcnemar p per seed": p_values,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
