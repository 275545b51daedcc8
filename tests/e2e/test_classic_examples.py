"""The textbook examples, as experiment presets, against scikit-learn's closed-form or exact solutions."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.linear_model import Lasso, LinearRegression, Ridge

from plugins.data.base import to_numpy
from workflows.config.command import resolve
from workflows.stages.train import train

pytestmark = pytest.mark.slow

REFERENCES = {
    "classic_linear_gd": (LinearRegression(), 1e-3),
    "classic_ridge": (Ridge(alpha=0.1), 1e-2),
    "classic_lasso": (Lasso(alpha=0.1, tol=1e-7, max_iter=100_000), 1e-2),
}


@pytest.mark.parametrize("preset", sorted(REFERENCES))
def test_preset_learns_scikit_learns_coefficients(compose, tmp_path, preset):
    reference, tolerance = REFERENCES[preset]
    experiment = resolve(compose([f"experiment={preset}"]))
    splits = experiment.load_data()
    train(experiment, splits.train, splits.val, splits.spec, tmp_path / "m", tmp_path / "l")
    learned = keras.models.load_model(tmp_path / "m" / "model.keras").get_layer("head")
    w, b = learned.kernel.numpy()[:, 0], float(learned.bias.numpy()[0])
    x, y = to_numpy(splits.train)  # the same training rows
    reference.fit(x, y)
    scale = np.abs(reference.coef_).max()
    nonzero = reference.coef_ != 0
    assert np.abs(w - reference.coef_)[nonzero].max() / scale < tolerance
    assert abs(b - reference.intercept_) < tolerance * max(1.0, abs(reference.intercept_))
    if preset == "classic_lasso":
        assert (~nonzero).sum() >= 3  # alpha=0.1 zeroes several coefficients on standardized diabetes
        assert np.abs(w[~nonzero]).max() < 1e-2 * scale
