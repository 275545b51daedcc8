"""Private training through the command line: `kerasforge train privacy=dp_sgd` states its guarantee, and every run
(private or not) carries the membership audit."""

from __future__ import annotations

import json
import sys

import pytest

from plugins.privacy.dp_sgd import epsilon
from tests.conftest import ROOT, run

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "workflows"]
SMALL = ["model=mlp", "model.units=[32]", "augmentation=none", "trainer.batch_size=128", "trainer.verbose=0"]


def test_a_private_run_states_its_guarantee_and_a_plain_one_its_audit(tmp_path):
    private, plain = tmp_path / "private", tmp_path / "plain"
    args = ["privacy=dp_sgd", "privacy.target_epsilon=2", "trainer.epochs=6", *SMALL]
    run([*CLI, "train", *args, f"hydra.run.dir={private}"], ROOT)
    run([*CLI, "train", "trainer.epochs=6", *SMALL, f"hydra.run.dir={plain}"], ROOT)
    found = json.loads((private / "eval" / "metrics.json").read_text())["privacy"]
    assert 1.9 <= found["epsilon"] <= 2.0 and found["accountant"] == "pld" and found["l2_norm_clip"] == 1.0
    n = json.loads((private / "models" / "model.json").read_text())["training"]["n_train"]
    assert found["delta"] < 1 / n and found["sampling_rate"] == pytest.approx(128 / n)
    assert found["steps"] == 6 * -(-n // 128)
    again = epsilon(found["noise_multiplier"], found["sampling_rate"], found["steps"], found["delta"], "pld")
    assert again == pytest.approx(found["epsilon"], rel=1e-6)  # the recorded σ, q and steps give the stated ε
    assert 0.3 < found["membership_auc"] < 0.7
    card = json.loads((private / "models" / "model.json").read_text())
    assert card["privacy"]["guarantee"].startswith("(ε = 2, δ = ")
    audit = json.loads((plain / "eval" / "metrics.json").read_text())["privacy"]
    assert "without differential privacy" in audit["guarantee"] and 0.0 <= audit["membership_auc"] <= 1.0
    plain_metrics = json.loads((plain / "eval" / "metrics.json").read_text())
    beside = found["without_privacy"]  # the baseline the private run trained: the plain run's config, same rows
    assert beside["headline"] == "accuracy" and beside["accuracy"] == pytest.approx(plain_metrics["accuracy"], abs=0.02)
    assert beside["private"] == pytest.approx(json.loads((private / "eval" / "metrics.json").read_text())["accuracy"])
    assert beside["difference"] == pytest.approx(beside["private"] - beside["accuracy"])
    assert beside["verdict"] in ("better", "tie", "worse") and 0 <= beside["p_value"] <= 1
    assert beside["membership_auc"] == pytest.approx(audit["membership_auc"], abs=0.03)  # the plain run's audit
    assert "without_privacy" not in audit and not (plain / "models" / "without_privacy").exists()
    shown = run([*CLI, "show", str(private)], ROOT).stdout
    assert "differentially private with respect to one training row" in shown and "membership audit AUC" in shown
    assert "without privacy (same config, same test rows) accuracy" in shown


def test_a_private_search_keeps_epsilon_fixed_and_says_what_choosing_spends(tmp_path):
    args = ["hparams_search=dp_sgd", "privacy.target_epsilon=2", "trainer.epochs=2", "hparams_search.n_trials=2"]
    where = [f"hparams_search.storage={tmp_path / 'study.log'}", f"hparams_search.dir={tmp_path / 'runs'}"]
    result = run([*CLI, "search", *args, *SMALL[:3], "trainer.verbose=0", *where], ROOT)
    assert "spends privacy on the validation rows" in result.stderr
    (study,) = (tmp_path / "runs").iterdir()
    trials = [json.loads(p.read_text()) for p in sorted(study.glob("*/result.json"))]
    assert len(trials) == 2 and trials[0]["values"] != trials[1]["values"]
    for trial in trials:
        privacy = trial["metrics"]["privacy"]
        assert 1.9 <= privacy["epsilon"] <= 2.0 and privacy["l2_norm_clip"] == trial["values"]["privacy.l2_norm_clip"]
        assert "without_privacy" not in privacy  # trials are compared with each other, not each with a plain twin
    assert not list(study.glob("*/models/without_privacy"))
