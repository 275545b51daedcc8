"""A saved model's card (models/model.json): what the model takes and returns, read without TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plugins.registry import ConfigError


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
