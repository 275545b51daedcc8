"""Differentially private SGD (Abadi et al., 2016) on Keras 3: the config, the accountant, the audit.

    kerasforge train privacy=dp_sgd privacy.target_epsilon=3 model.batch_norm=false

What it does, per step: a batch is drawn by Poisson sampling (each training row joins with probability q = batch
size / rows, independently: the batch size varies about its mean, with variance n·q·(1 − q)); each row's gradient
norm is computed (from each layer's inputs and output gradients, or by `tape.jacobian`: _private_model.py) and the
row's gradient clipped to a global L2 norm of at most `l2_norm_clip` (C); the clipped gradients are summed,
Gaussian noise of standard deviation σ·C added once, and the sum divided by the *expected* batch size (n·q, so that
the noise's scale does not depend on who was drawn); the configured optimizer (any of the catalogue, at its
configured learning rate) applies that gradient. With `baseline`, the same config is also trained without privacy,
and the evaluation states what privacy cost, by a paired test on the same test rows.

The guarantee: (ε, δ)-differential privacy with respect to one training row (add or remove it), for the run's
steps, accounted by the PLD accountant (or RDP) of `dp-accounting` from σ, q and the steps. With `target_epsilon`,
σ is calibrated to it before training; with `noise_multiplier`, ε is what it comes to. δ defaults to 1 / (10 n),
below 1/n as it must be.

Batch normalization mixes the rows of a batch (one row's gradient is then not its own, and its statistics leak
rows): a model with it is refused, with the fix (`model.batch_norm=false`, or `model.batch_norm=group`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from plugins.registry import ConfigError, register

ACCOUNTANTS = ("pld", "rdp")


@dataclass(frozen=True)
class DPSGD:
    """DP-SGD's settings (see the module's docstring).

    Attributes:
        l2_norm_clip: C, the largest L2 norm of one row's gradient (all the model's weights together).
        noise_multiplier: σ; None: calibrated to `target_epsilon`.
        target_epsilon: the ε to reach at the end of training; None: σ is given.
        delta: δ; None: 1 / (10 n).
        accountant: "pld" (tighter) or "rdp".
        baseline: whether the train stage also trains the same config without privacy, the baseline whose
            accuracy the private model's is compared with (`privacy.without_privacy` in eval/metrics.json).
    """

    l2_norm_clip: float = 1.0
    noise_multiplier: float | None = None
    target_epsilon: float | None = 3.0
    delta: float | None = None
    accountant: str = "pld"
    baseline: bool = True

    def plan(self, n_train: int, batch_size: int, epochs: int) -> dict[str, Any]:
        """The run's privacy: the sampling rate, steps, δ, σ (calibrated when a target ε is set) and ε.

        Args:
            n_train: training rows.
            batch_size: the expected batch size (trainer.batch_size).
            epochs: training epochs (each of n / batch_size steps).

        Returns:
            {"sampling_rate", "steps", "delta", "noise_multiplier", "epsilon", "accountant", "l2_norm_clip"}.
        """
        q = min(1.0, batch_size / n_train)
        steps = epochs * math.ceil(n_train / batch_size)
        delta = self.delta if self.delta is not None else 1.0 / (10 * n_train)
        if delta >= 1.0 / n_train:
            raise ConfigError(
                f"privacy.delta={delta} is not below 1/n = {1 / n_train:.3g} ({n_train} training rows): a δ that "
                f"large allows leaking a whole row; leave it unset (1/(10n)) or lower it"
            )
        sigma = self.noise_multiplier
        if sigma is None:
            sigma = calibrate(self.target_epsilon, q, steps, delta, self.accountant)
        return {
            "epsilon": epsilon(sigma, q, steps, delta, self.accountant),
            "delta": delta,
            "noise_multiplier": float(sigma),
            "sampling_rate": q,
            "steps": steps,
            "accountant": self.accountant,
            "l2_norm_clip": self.l2_norm_clip,
        }


def _accounting():
    try:
        import dp_accounting
    except ImportError:
        raise ConfigError(
            "privacy=dp_sgd accounts the privacy spent with Google's dp-accounting, which is not installed: "
            "pip install 'kerasforge[privacy]'"
        ) from None
    return dp_accounting


def _event(sigma: float, q: float, steps: int):
    dp = _accounting()
    return dp.SelfComposedDpEvent(dp.PoissonSampledDpEvent(q, dp.GaussianDpEvent(sigma)), steps)


def _accountant(name: str):
    dp = _accounting()
    return dp.pld.PLDAccountant() if name == "pld" else dp.rdp.RdpAccountant()


def epsilon(sigma: float, q: float, steps: int, delta: float, accountant: str = "pld") -> float:
    """ε of `steps` Poisson-sampled Gaussian steps (noise multiplier σ, sampling rate q) at δ.

    Example:
    >>> round(epsilon(1.1, 256 / 60_000, 60 * 235, 1e-5, "rdp"), 2)   # TensorFlow Privacy's MNIST run
    """
    account = _accountant(accountant)
    account.compose(_event(sigma, q, steps))
    return float(account.get_epsilon(delta))


def calibrate(target_epsilon: float, q: float, steps: int, delta: float, accountant: str = "pld") -> float:
    """The smallest noise multiplier σ whose ε after `steps` steps is at most `target_epsilon`."""
    dp = _accounting()
    return float(
        dp.calibrate_dp_mechanism(
            lambda: _accountant(accountant),
            lambda sigma: _event(sigma, q, steps),
            target_epsilon,
            delta,
            dp.ExplicitBracketInterval(0.3, 50.0),
            tol=1e-3,
        )
    )


def check_dp_sgd(params: dict, where: str) -> None:
    """Refuses a clip ≤ 0, neither or both of σ and a target ε, a bad δ or accountant (before Keras)."""
    clip, sigma, target = params.get("l2_norm_clip"), params.get("noise_multiplier"), params.get("target_epsilon")
    if isinstance(clip, (int, float)) and not clip > 0:
        raise ConfigError(f"{where}.l2_norm_clip: {clip} must be > 0, e.g. 1.0")
    if (sigma is None) == (target is None):
        raise ConfigError(
            f"{where}: give one of noise_multiplier (σ; ε follows) or target_epsilon (σ is calibrated), not "
            f"{'both' if sigma is not None else 'neither'}; e.g. {where}.target_epsilon=3 {where}.noise_multiplier=null"
        )
    if sigma is not None and not sigma > 0:
        raise ConfigError(f"{where}.noise_multiplier: {sigma} must be > 0, e.g. 1.1")
    if target is not None and not target > 0:
        raise ConfigError(f"{where}.target_epsilon: {target} must be > 0, e.g. 3")
    delta = params.get("delta")
    if delta is not None and not 0 < delta < 1:
        raise ConfigError(f"{where}.delta: {delta} must be in (0, 1), below 1/n; leave it null for 1/(10n)")


@register("privacy", "none")
def none() -> None:
    """Ordinary training: no guarantee about the training rows (the audit's membership AUC is still reported)."""
    return None


@register("privacy", "dp_sgd", check=check_dp_sgd, values={"accountant": {"choices": list(ACCOUNTANTS)}})
def dp_sgd(
    l2_norm_clip: float = 1.0,
    noise_multiplier: float | None = None,
    target_epsilon: float | None = 3.0,
    delta: float | None = None,
    accountant: str = "pld",
    baseline: bool = True,
) -> DPSGD:
    """Differentially private SGD: per-row clipping, Gaussian noise, Poisson sampling, a stated (ε, δ).

    Args:
        l2_norm_clip: C, the largest L2 norm of one row's gradient.
        noise_multiplier: σ (noise standard deviation = σ·C); null: calibrated to `target_epsilon`.
        target_epsilon: the ε to reach after the run's epochs; null when `noise_multiplier` is given.
        delta: δ; null: 1 / (10 n).
        accountant: "pld" (privacy loss distributions, tighter) or "rdp" (Rényi DP).
        baseline: also train the same config without privacy (into models/without_privacy/), so that the
            evaluation states the accuracy privacy cost, by a paired test on the same test rows; false: half the
            time, no comparison.

    Returns:
        The DPSGD settings the train stage applies.

    Example:
        `kerasforge train privacy=dp_sgd privacy.target_epsilon=3 model.batch_norm=false`
    """
    return DPSGD(float(l2_norm_clip), noise_multiplier, target_epsilon, delta, accountant, bool(baseline))


def membership_auc(train_losses: np.ndarray, held_out_losses: np.ndarray) -> float:
    """A loss-threshold membership-inference attack's AUC (Yeom et al., 2018): how well a row's loss tells a
    training row (low loss) from a held-out one. 0.5: no leak the attack sees; 1: every member told apart.

    Args:
        train_losses: the model's per-row losses on training rows.
        held_out_losses: on rows it never saw (the test split).
    """
    from sklearn.metrics import roc_auc_score

    scores = -np.concatenate([train_losses, held_out_losses])
    members = np.concatenate([np.ones(len(train_losses)), np.zeros(len(held_out_losses))])
    return float(roc_auc_score(members, scores))


def in_words(privacy: dict[str, Any]) -> str:
    """The guarantee as a sentence: "(ε = 2.4, δ = 1e-05)-differentially private with respect to one training row"."""
    return (
        f"(ε = {privacy['epsilon']:.3g}, δ = {privacy['delta']:.2g})-differentially private with respect to one "
        f"training row (DP-SGD: clip {privacy['l2_norm_clip']:g}, noise multiplier {privacy['noise_multiplier']:.3g}, "
        f"sampling rate {privacy['sampling_rate']:.3g}, {privacy['steps']} steps, {privacy['accountant'].upper()} "
        "accountant)"
    )
