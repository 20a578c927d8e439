"""Classic-Gym environments (``step`` -> 3 or 4 values, ``reset`` -> the state) as Gymnasium envs.

Course notes and older code write envs in the classic format::

    def step(self, action):          # -> state, reward, terminate      (course notes)
    def step(self, action):          # -> state, reward, done, info     (gym < 0.26)
    def reset(self):                 # -> state

``LegacyEnvAdapter`` turns such an env into a Gymnasium one so that vector envs, time limits
and ``check_env`` work unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding

# gym < 0.26 put a time-limit cut in info under this key; it must not zero the bootstrap.
OLD_GYM_TRUNCATED = "TimeLimit.truncated"


def api_of(env: Any) -> str | None:
    """Which classic API ``env`` speaks, found by resetting and stepping it once.

    Returns:
        ``None`` for the Gymnasium API; otherwise a short description of the classic one.
    """
    reset_takes_seed = _accepts_seed(env.reset)
    result = env.reset(seed=0) if reset_takes_seed else env.reset()
    reset_is_modern = isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)
    step_values = len(env.step(env.action_space.sample()))
    if reset_is_modern and step_values == 5:
        return None
    if step_values not in (3, 4, 5):
        raise TypeError(
            f"step() returned {step_values} values; expected 5 (Gymnasium), "
            "4 (classic Gym: state, reward, done, info) or 3 (state, reward, done)"
        )
    reset_part = "reset returns (state, info)" if reset_is_modern else "reset returns the state"
    return f"step returns {step_values} values, {reset_part}"


class LegacyEnvAdapter(gym.Env):
    """Presents a classic-Gym env through the Gymnasium API.

    ``done`` becomes ``terminated``; the only truncation a classic env can signal is old Gym's
    ``info["TimeLimit.truncated"]``. Time limits belong to ``env.max_episode_steps``, which
    truncates (and therefore bootstraps) correctly.

    Args:
        env: the classic env; it must define ``observation_space`` and ``action_space``.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.metadata = getattr(env, "metadata", {"render_modes": []})
        self.render_mode = getattr(env, "render_mode", None)
        self._reset_takes_seed = _accepts_seed(env.reset)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._seed_inner(seed)
        result = self.env.reset(seed=seed) if self._reset_takes_seed else self.env.reset()
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            return self._obs(result[0]), dict(result[1])
        return self._obs(result), {}

    def step(self, action: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        # Reward and flags pass through as the env returned them: GuardedEnv checks them and
        # names the step (bool("False") would have ended every episode at its first step).
        result = self.env.step(action)
        if len(result) == 5:
            obs, reward, terminated, truncated, info = result
            return self._obs(obs), reward, terminated, truncated, dict(info)
        obs, reward, done = result[:3]
        info = dict(result[3]) if len(result) == 4 else {}
        truncated = info.pop(OLD_GYM_TRUNCATED, False)
        return self._obs(obs), reward, False if truncated is True else done, truncated, info

    def render(self) -> Any:
        return self.env.render() if hasattr(self.env, "render") else None

    def close(self) -> None:
        if hasattr(self.env, "close"):
            self.env.close()

    def _obs(self, obs: Any) -> Any:
        dtype = getattr(self.observation_space, "dtype", None)
        # Course envs often return lists or float64 arrays; the space's dtype is the contract.
        return np.asarray(obs, dtype=dtype).copy() if dtype is not None else obs

    def _seed_inner(self, seed: int) -> None:
        """Seeds the classic env the ways classic envs are seeded: ``seed()`` or its own RNG."""
        if callable(getattr(self.env, "seed", None)):
            self.env.seed(seed)
        elif isinstance(self.env, gym.Env):
            self.env._np_random, _ = seeding.np_random(seed)


def _accepts_seed(reset: Any) -> bool:
    try:
        parameters = inspect.signature(reset).parameters
    except (TypeError, ValueError):
        return False
    return "seed" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
