"""Data kinds (plugins/data/kinds.py): each kind answers for its own inputs; the stages ask it, whatever it is."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.data.base import DataSpec
from plugins.data.kinds import DataKind, Evidence, kind_of, register_kind
from plugins.registry import ConfigError


def test_the_built_in_kinds_are_found_by_the_specs_kind():
    assert type(kind_of(DataSpec((8, 8, 1), "classification", 2, kind="image"))).__name__ == "ImageKind"
    assert type(kind_of("tabular")).__name__ == "TableKind"
    assert type(kind_of("sequence")).__name__ == "SeriesKind"
    with pytest.raises(ConfigError, match="no data kind 'imagge' is registered; did you mean 'image'"):
        kind_of("imagge")


def test_a_new_kind_is_one_class_and_the_evaluate_stage_asks_it():
    @register_kind
    class Sound(DataKind):
        name = "sound-test"

        def baseline(self, evidence: Evidence) -> dict:
            return {"baseline": {"model": "always_the_first_class", "seen": len(evidence.answers["test"])}}

    spec = DataSpec((16000,), "classification", 2, ["yes", "no"], kind="sound-test")
    from workflows.stages.evaluate import _baseline

    y = np.array([0, 1, 1])
    found = _baseline(spec, np.zeros((3, 16000)), y, y, None, {"splits": {"train": (np.zeros((4, 16000)), y[:1])}})
    assert found == {"baseline": {"model": "always_the_first_class", "seen": 3}}
    assert kind_of(spec).mistakes_picture(None, [], y, y, None, spec, None) is None  # a default that draws nothing
    with pytest.raises(ConfigError, match="registered twice"):

        @register_kind
        class Other(DataKind):
            name = "sound-test"
