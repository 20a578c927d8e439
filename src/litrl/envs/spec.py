"""What an agent needs to know about an env: ``EnvSpec``, shared by every env backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class EnvSpec:
    """What an agent needs to know about an environment to build its networks.

    ``obs_categories`` is the size of a Discrete observation space (observations are indices,
    one-hot encoded by the networks); 0 for Box observations. ``frame_stack`` is the number of
    frames stacked along the first axis by litrl's Atari preprocessing; 1 for other envs.
    """

    env_id: str
    obs_shape: tuple[int, ...]
    action_space: gym.Space
    reward_threshold: float | None
    obs_categories: int = 0
    obs_dtype: str = "float32"
    frame_stack: int = 1

    @property
    def image_obs(self) -> bool:
        """Stacked uint8 frames ``(C, H, W)``: a CNN reads them and the buffer stores bytes."""
        return is_image(self.obs_dtype, self.obs_shape)

    @property
    def n_actions(self) -> int:
        """Number of actions of a Discrete action space; 0 for any other space."""
        return int(self.action_space.n) if isinstance(self.action_space, gym.spaces.Discrete) else 0


def is_image(dtype: Any, shape: tuple[int, ...] | None) -> bool:
    """Whether observations of this dtype and shape are image frames (uint8, three axes)."""
    return np.dtype(dtype) == np.uint8 and len(shape or ()) == 3
