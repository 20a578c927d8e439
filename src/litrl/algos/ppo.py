"""Proximal policy optimisation (PPO-clip) as a LightningModule: A2C plus the clipped
objective and several epochs of minibatches per rollout."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from litrl.algos.a2c import A2C, Rollout, approx_kl
from litrl.algos.schedules import decay
from litrl.errors import ConfigError, check_choice, check_range

CLIP_SCHEDULES = ("constant", "linear")


def clipped_surrogate_loss(
    log_prob: Tensor, old_log_prob: Tensor, advantage: Tensor, clip_range: float
) -> tuple[Tensor, Tensor]:
    """Minus PPO's clipped objective ``E[min(r A, clip(r, 1 - eps, 1 + eps) A)]``.

    Args:
        log_prob: log pi(a|s) under the parameters being trained.
        old_log_prob: log pi_old(a|s) under the parameters that collected the rollout.
        advantage: the advantage estimates (no gradient).
        clip_range: eps > 0.

    Returns:
        ``(loss, clip_fraction)``: the loss, and the fraction of samples whose ratio lies
        outside ``[1 - eps, 1 + eps]``.
    """
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = ratio * advantage
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range) * advantage
    clip_fraction = ((ratio - 1).abs() > clip_range).float().mean()
    return -torch.min(unclipped, clipped).mean(), clip_fraction


def clipped_value_loss(
    value: Tensor, old_value: Tensor, returns: Tensor, clip_range_vf: float | None
) -> Tensor:
    """The value loss: mean squared error to the returns; with ``clip_range_vf``, the larger of
    the errors of V and of V kept within ``clip_range_vf`` of the collecting V (PPO2's form)."""
    error = (value - returns) ** 2
    if clip_range_vf is None:
        return error.mean()
    clipped = old_value + (value - old_value).clamp(-clip_range_vf, clip_range_vf)
    return torch.max(error, (clipped - returns) ** 2).mean()


# PPO's defaults where they differ from A2C's (SB3's PPO defaults); the rest are A2C's.
PPO_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 3e-4,
    "gae_lambda": 0.95,
    "normalize_advantage": True,
}


class PPO(A2C):
    """PPO with the clipped surrogate objective.

    Paper: Schulman et al., "Proximal Policy Optimization Algorithms", arXiv 2017; the
    implementation details of Huang et al., "The 37 Implementation Details of PPO", 2022.

    Each rollout (collected by the parameters at its start; the version stamp proves it) is
    learned from for ``n_epochs`` epochs of shuffled minibatches of ``batch_size``. Advantages
    are standardised per minibatch. With ``target_kl``, the epochs stop early once a
    minibatch's approximate KL to the collecting policy exceeds 1.5 x ``target_kl`` (that
    minibatch is not applied), as in Stable-Baselines3.

    Args:
        clip_range: eps of the clipped objective, > 0.
        clip_range_schedule: constant, or linear annealing of eps to 0 over the run.
        clip_range_vf: clip the value prediction's change to this (None: no value clipping;
            it is not annealed).
        n_epochs: passes over each rollout, >= 1.
        batch_size: samples per minibatch; must divide the rollout's size.
        target_kl: stop a rollout's epochs early past 1.5 x this KL (None: never).
        **a2c_args: A2C's arguments (network, optimiser, GAE, loss weights, normalisation);
            PPO's defaults differ in ``PPO_DEFAULTS``: Adam, lr 3e-4, GAE lambda 0.95,
            advantages standardised.
    """

    def __init__(
        self,
        clip_range: float = 0.2,
        clip_range_schedule: str = "constant",
        clip_range_vf: float | None = None,
        n_epochs: int = 10,
        batch_size: int = 64,
        target_kl: float | None = None,
        **a2c_args: Any,
    ) -> None:
        check_range("algo.clip_range", clip_range, 0.0, math.inf, low_open=True)
        check_choice("algo.clip_range_schedule", clip_range_schedule, CLIP_SCHEDULES)
        if clip_range_vf is not None:
            check_range("algo.clip_range_vf", clip_range_vf, 0.0, math.inf, low_open=True)
        check_range("algo.n_epochs", n_epochs, 1, math.inf)
        check_range("algo.batch_size", batch_size, 1, math.inf)
        if target_kl is not None:
            check_range("algo.target_kl", target_kl, 0.0, math.inf, low_open=True)
        super().__init__(**{**PPO_DEFAULTS, **a2c_args})

    def check_data(self, env_steps_per_collect: int) -> None:
        if env_steps_per_collect % self.hp.batch_size:
            raise ConfigError(
                f"algo.batch_size={self.hp.batch_size} must divide the rollout of "
                f"algo.data.env_steps_per_collect={env_steps_per_collect} env steps; change "
                "either (e.g. a power of two for both)."
            )

    def clip_range(self) -> float:
        """The clip range at the current point of the run."""
        hp = self.hp
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        return decay(hp.clip_range, 0.0, self.policy_version, total, hp.clip_range_schedule)

    def learn(self, rollout: Rollout) -> int:
        """``n_epochs`` epochs of shuffled minibatches; returns the number of updates."""
        hp = self.hp
        size = rollout.obs.shape[0]
        self.check_data(size)
        clip_range, updates = self.clip_range(), 0
        for epoch in range(hp.n_epochs):
            order = torch.randperm(size, device=rollout.obs.device)
            for indices in order.split(hp.batch_size):
                if not self._learn_minibatch(
                    Rollout(*(field[indices] for field in rollout)), clip_range
                ):
                    self.accumulate("train/epochs", torch.tensor(epoch + 1.0))
                    return updates
                updates += 1
        self.accumulate("train/epochs", torch.tensor(float(hp.n_epochs)))
        return updates

    def _learn_minibatch(self, minibatch: Rollout, clip_range: float) -> bool:
        """One update on ``minibatch``; False (and no update) once the KL is past the target."""
        hp = self.hp
        distribution, value = self.net.distribution_and_value(minibatch.obs)
        log_prob = distribution.log_prob(minibatch.action)
        log_ratio = log_prob - minibatch.log_prob
        kl = approx_kl(log_ratio.detach())
        if hp.target_kl is not None and kl.item() > 1.5 * hp.target_kl:
            return False
        policy_loss, clip_fraction = clipped_surrogate_loss(
            log_prob, minibatch.log_prob, self.advantages(minibatch.advantage), clip_range
        )
        value_loss = clipped_value_loss(value, minibatch.value, minibatch.returns, hp.clip_range_vf)
        self.step_on(policy_loss, value_loss, distribution.entropy().mean())
        self.accumulate("train/approx_kl", kl)
        self.accumulate("train/clip_fraction", clip_fraction)
        return True

    def window_metrics(self) -> dict[str, float]:
        return {**super().window_metrics(), "train/clip_range": self.clip_range()}
