"""How observations and actions cross between an env's spaces and the networks: the one place
that knows a space's offsets and shapes.

- A Discrete observation becomes its index, ``obs - start`` (the networks one-hot encode ``n``
  categories); a Box observation of shape ``()`` becomes shape ``(1,)``.
- A Discrete action leaves the policy as an index ``0 .. n-1`` and reaches the env as
  ``start + index``; a random action the env's own space drew comes back the other way, so the
  stored action is always the index. A Box action is clipped to the space's bounds at the env;
  the unclipped action is the one stored (the policy's log-probability refers to it).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor


def obs_shape(space: gym.Space) -> tuple[int, ...]:
    """One observation's shape as the networks see it: ``()`` for a Discrete index, ``(1,)``
    for a scalar Box."""
    if isinstance(space, gym.spaces.Discrete):
        return ()
    return tuple(space.shape or ()) or (1,)


def policy_observations(space: gym.Space, obs: np.ndarray, dtype: type) -> np.ndarray:
    """A batch of host observations (``(num_envs, *space.shape)``) as the networks take them."""
    values: np.ndarray = np.asarray(obs, dtype=dtype)
    if isinstance(space, gym.spaces.Discrete) and int(space.start):
        return values - dtype(int(space.start))
    if values.ndim == 1 and not isinstance(space, gym.spaces.Discrete):
        return values[:, None]  # a scalar Box: one feature
    return values


class EnvActions:
    """A policy's actions as the env takes them, and the env's random ones as the policy's.

    Args:
        space: the env's (single-env) action space.
        device: where the actions are converted.
    """

    def __init__(self, space: gym.Space, device: torch.device | str) -> None:
        self.start = int(space.start) if isinstance(space, gym.spaces.Discrete) else 0
        self.bounds: tuple[Tensor, Tensor] | None = None
        if isinstance(space, gym.spaces.Box):
            low, high = (torch.as_tensor(b, device=device) for b in (space.low, space.high))
            self.bounds = (low, high)

    def to_env(self, action: Tensor) -> Tensor:
        """Box actions clipped to the bounds, Discrete indices shifted by the space's start."""
        if self.bounds is not None:
            return torch.clamp(action, *self.bounds)
        return action + self.start if self.start else action

    def to_policy(self, env_action: Tensor) -> Tensor:
        """An action the env's space drew, as the index the policy would have given."""
        return env_action - self.start if self.start else env_action
