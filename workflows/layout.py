"""Where the DVC stages read and write, relative to the repository root."""

from pathlib import Path

PREPARED = Path("data/prepared")      # prepare → {train,val,test}/ + spec.json
AUGMENTED = Path("data/augmented")    # augment → train/
PREVIEW = Path("previews/augmentation.png")  # augment → originals beside augmented samples
MODELS = Path("models")               # train → model.keras + model.json
MODEL = MODELS / "model.keras"
MODEL_CARD = MODELS / "model.json"
TRAIN_LOGS = Path("dvclive/train")    # train → DVCLive metrics and curves
EVAL = Path("eval")                   # evaluate → metrics.json + plots/
