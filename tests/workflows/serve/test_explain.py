"""Integrated Gradients as `kerasforge explain` computes it, checked against attributions known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.data.attribution import integrated_gradients, rank_correlation
from plugins.registry import ConfigError
from workflows.serve.explain import explain


def test_integrated_gradients_equal_the_closed_form_and_are_complete():
    import tensorflow as tf

    x = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    # f(t) = Σ t²: along the path α·x the gradient is 2αx, so each attribution is exactly x².
    attributions, gap = integrated_gradients(lambda t: tf.reduce_sum(t**2, axis=[1, 2]), x, np.zeros_like(x))
    np.testing.assert_allclose(attributions, x**2, rtol=1e-5)
    assert gap < 1e-5
    # A baseline that equals the input in one place attributes nothing there, and the rest still adds up.
    baseline = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    attributions, gap = integrated_gradients(lambda t: tf.reduce_sum(t**3, axis=[1, 2]), x, baseline, steps=256)
    assert attributions[0, 0] == 0.0 and gap < 1e-3


def test_a_mask_keeps_the_parts_that_are_not_differentiable_at_the_input():
    import tensorflow as tf

    x = np.array([2.0, 5.0, 7.0], np.float32)
    weights = tf.constant([1.0, 10.0, 100.0])
    attributions, _ = integrated_gradients(
        lambda t: tf.reduce_sum(t * weights, axis=1), x, np.zeros_like(x), mask=np.array([1, 0, 1], np.float32)
    )
    np.testing.assert_allclose(attributions, [2.0, 0.0, 700.0], rtol=1e-6)


def test_rank_correlation_reads_the_order_of_magnitudes():
    a = np.array([0.1, -5.0, 2.0, 0.0])
    assert rank_correlation(a, -a) == pytest.approx(1.0)  # the same magnitudes, signs aside
    assert rank_correlation(a, np.array([5.0, 0.0, 0.1, 2.0])) < 0


def test_bad_arguments_are_one_line_errors_before_any_model_is_read(tmp_path):
    with pytest.raises(ConfigError, match="--steps 2 must be between"):
        explain(["x.png"], tmp_path, tmp_path / "out", steps=2)
    with pytest.raises(ConfigError, match="no such directory"):
        explain(["x.png"], tmp_path / "none", tmp_path / "out")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        explain(["x.png"], tmp_path, tmp_path / "file")


def test_text_files_become_the_rows_of_a_text_models_one_column(tmp_path):
    from plugins.data.base import DataSpec
    from plugins.data.table_explain import _text_files

    spec = DataSpec((8,), "classification", 2, ["neg", "pos"], table={"columns": [{"name": "text", "type": "text"}]})
    (tmp_path / "a.txt").write_text("a fine film")
    (tmp_path / "b.txt").write_text("dull")
    rows = _text_files([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], spec)
    assert list(rows.columns) == ["text"] and list(rows["text"]) == ["a fine film", "dull"]
    (tmp_path / "c.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"c.txt: not a readable UTF-8 text file"):
        _text_files([str(tmp_path / "c.txt")], spec)
