"""A saved model's card (models/model.json): what the model takes and returns, read without TensorFlow."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError

WITHOUT_PRIVACY = "without_privacy"  # below models/: a private run's baseline, the same config trained without privacy


def read_card(model_dir: Path) -> dict[str, Any]:
    """The saved model's card (models/model.json): what it takes and returns; no TensorFlow needed."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ConfigError(
            f"--model {model_dir}: no such directory; give the directory of model.keras (default: "
            "models, written by the train stage)"
        )
    missing = [name for name in ("model.keras", "model.json") if not (model_dir / name).is_file()]
    if missing:
        raise ConfigError(
            f"{model_dir} holds no trained model ({' and '.join(missing)} missing); run the train "
            "stage first (dvc repro train) or give --model the directory that has them"
        )
    try:
        card = json.loads((model_dir / "model.json").read_text())
        card["head"], card["spec"]  # noqa: B018 — both must be there
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"{model_dir / 'model.json'} is not a model card written by the train stage; retrain (dvc repro -f train)"
        ) from None
    return card


def model_digest(model_dir: Path) -> str:
    """The SHA-256 of the saved model's file (models/model.keras): the same weights give the same bytes, so it names
    one trained model (a private run's baseline records the digest of the model it belongs to)."""
    with open(Path(model_dir) / "model.keras", "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
