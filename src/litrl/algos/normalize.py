"""Running mean/std normalisation of observations and reward scaling (SB3's VecNormalize).

The statistics are float32 registered buffers (float64 would not run on every device): they
are saved in checkpoints, loaded by
``evaluate.py``, and change only when the algorithm calls ``update`` during training, so
evaluation sees them frozen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from litrl.errors import ConfigError, check_range

EPSILON = 1e-8


class RunningMeanStd(nn.Module):
    """Mean and variance of a stream of batches (Chan et al.'s parallel update).

    Args:
        shape: shape of one sample.
        clip: normalised values are clipped to ``[-clip, clip]``.
    """

    mean: Tensor
    var: Tensor
    count: Tensor

    def __init__(self, shape: Sequence[int] = (), clip: float = 10.0) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(tuple(shape), dtype=torch.float32))
        self.register_buffer("var", torch.ones(tuple(shape), dtype=torch.float32))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float32))

    @torch.no_grad()
    def update(self, batch: Tensor) -> None:
        """Adds ``batch`` (samples along the first axis) to the statistics."""
        batch = batch.reshape(-1, *self.mean.shape).to(self.mean.dtype)
        batch_mean = batch.mean(dim=0)
        batch_var = batch.var(dim=0, correction=0)
        batch_count = batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        m2 = (
            self.var * self.count
            + batch_var * batch_count
            + delta**2 * self.count * batch_count / total
        )
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalize(self, x: Tensor) -> Tensor:
        """``(x - mean) / std``, clipped."""
        std = torch.sqrt(self.var + EPSILON).to(x.dtype)
        return ((x - self.mean.to(x.dtype)) / std).clamp(-self.clip, self.clip)

    def scale(self, x: Tensor) -> Tensor:
        """``x / std``, clipped (the mean is kept: a reward's sign matters)."""
        std = torch.sqrt(self.var + EPSILON).to(x.dtype)
        return (x / std).clamp(-self.clip, self.clip)


class ObsNormalizer(RunningMeanStd):
    """Running observation statistics of an on-policy algorithm (``algo.normalize_obs``).

    Args:
        shape: shape of one observation.
        env_steps: only the rollouts that begin within this many env steps update the
            statistics, which then stay fixed (None: every rollout). Statistics that keep
            moving rescale the policy's inputs under it: as a CartPole policy improves, its
            states narrow, the std shrinks and the greedy actions drift away from what was
            learned.
    """

    def __init__(self, shape: Sequence[int], env_steps: int | None = None) -> None:
        super().__init__(shape)
        self.env_steps = env_steps

    def update_from(self, rollout_obs: Tensor, env_steps: int) -> None:
        """Adds a ``(T, N, ...)`` rollout that ends at ``env_steps`` if it began within the
        limit (so a limit below one rollout's size still takes the first rollout's)."""
        steps, num_envs = rollout_obs.shape[:2]
        if self.env_steps is None or env_steps - steps * num_envs < self.env_steps:
            self.update(rollout_obs)


def check_obs_normalizer_arguments(args: dict[str, Any]) -> None:
    """ConfigErrors for an algorithm's ``normalize_obs`` and ``normalize_obs_env_steps``."""
    if args["normalize_obs_env_steps"] is not None:
        check_range("algo.normalize_obs_env_steps", args["normalize_obs_env_steps"], 1, math.inf)
        if not args["normalize_obs"]:
            raise ConfigError(
                f"algo.normalize_obs_env_steps={args['normalize_obs_env_steps']} limits the "
                "updates of the observation statistics, but algo.normalize_obs=false keeps none; "
                "set algo.normalize_obs=true or algo.normalize_obs_env_steps=null."
            )
    if args["normalize_obs"] and (args["image_obs"] or args["obs_categories"]):
        kind = "image frames" if args["image_obs"] else "Discrete (one-hot) observations"
        raise ConfigError(
            f"algo.normalize_obs=true normalises Box observations by a running mean/std, but "
            f"this env's observations are {kind}; set algo.normalize_obs=false."
        )


class RewardScaler(nn.Module):
    """Divides rewards by the running std of each env's discounted return (VecNormalize's
    ``norm_reward``), which keeps the value targets of dense-reward envs near unit scale.

    Args:
        gamma: the discount of the returns whose std is tracked.
        clip: scaled rewards are clipped to ``[-clip, clip]``.
    """

    def __init__(self, gamma: float, clip: float = 10.0) -> None:
        super().__init__()
        self.gamma = gamma
        self.returns = RunningMeanStd((), clip)
        self.running_return: Tensor | None = None  # per env; in checkpoint extras, not buffers

    @torch.no_grad()
    def forward(
        self, reward: Tensor, episode_ended: Tensor, fresh_start: Tensor | None = None
    ) -> Tensor:
        """The ``(T, N)`` rollout's rewards scaled, after adding its returns to the statistics.

        ``fresh_start`` (``(N,)``) marks envs whose episode begins with this rollout: their
        running return starts from zero (it matters after a resume that had to reset the envs).
        """
        if self.running_return is None or self.running_return.shape != reward.shape[1:]:
            self.running_return = torch.zeros_like(reward[0])
        running = self.running_return.to(reward.device)
        if fresh_start is not None:
            running = torch.where(fresh_start.to(reward.device), torch.zeros_like(running), running)
        returns = torch.empty_like(reward)
        for t in range(reward.shape[0]):
            running = running * self.gamma + reward[t]
            returns[t] = running
            running = torch.where(episode_ended[t], torch.zeros_like(running), running)
        self.running_return = running
        self.returns.update(returns)
        return self.returns.scale(reward)
