"""Tiny environments whose right answers are known by hand."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):
    """Observation is the step count within the episode; reward 1 per step.

    The episode ends after ``length`` steps, by termination or truncation as chosen, so tests
    can tell whether the final transition bootstraps.
    """

    def __init__(self, length: int = 3, truncate: bool = True) -> None:
        self.length, self.truncate = length, truncate
        self.observation_space = gym.spaces.Box(0, 100, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        ended = self.t >= self.length
        obs = np.array([float(self.t)], dtype=np.float32)
        return obs, 1.0, ended and not self.truncate, ended and self.truncate, {}
