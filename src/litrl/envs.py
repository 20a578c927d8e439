"""Building Gymnasium environments from config: ids, checks, vector envs, space specs."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from litrl.errors import ConfigError


@dataclass(frozen=True)
class EnvSpec:
    """What an agent needs to know about an environment to build its networks."""

    env_id: str
    obs_shape: tuple[int, ...]
    action_space: gym.Space
    reward_threshold: float | None

    @property
    def n_actions(self) -> int:
        """Number of actions of a Discrete action space; 0 for any other space."""
        return int(self.action_space.n) if isinstance(self.action_space, gym.spaces.Discrete) else 0


@dataclass
class EnvFactory:
    """Makes (vector) environments of one Gymnasium id; checks the id when built.

    Args:
        id: a registered Gymnasium id, e.g. ``CartPole-v1``.
        kwargs: keyword arguments passed to ``gymnasium.make``.
        max_episode_steps: overrides the id's time limit when set.
        reward_threshold: the return that counts as solved; defaults to the id's own.
    """

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    reward_threshold: float | None = None

    def __post_init__(self) -> None:
        self.kwargs = dict(self.kwargs or {})
        _check_registered(self.id)
        if self.reward_threshold is None:
            self.reward_threshold = gym.spec(self.id).reward_threshold

    def make(self) -> gym.Env:
        """One environment, with the time limit applied."""
        return gym.make(self.id, max_episode_steps=self.max_episode_steps, **self.kwargs)

    def make_vector(self, num_envs: int) -> SyncVectorEnv:
        """``num_envs`` copies stepped in lock-step.

        The autoreset mode is SAME_STEP: the observation returned at an episode end is already
        the next episode's first one, and the true final observation sits in
        ``info["final_obs"]``, so the transition stored for that step bootstraps from the
        right state.
        """
        if num_envs < 1:
            raise ConfigError(f"num_envs={num_envs} must be >= 1.")
        makers: list[Callable[[], gym.Env]] = [self.make] * num_envs
        return SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP)

    def spec(self) -> EnvSpec:
        """Reads the spaces of one throwaway instance."""
        env = self.make()
        try:
            obs_space, action_space = env.observation_space, env.action_space
        finally:
            env.close()
        if not isinstance(obs_space, gym.spaces.Box):
            raise ConfigError(
                f"env.id={self.id} has observation space {obs_space}; litrl supports Box "
                "observations for now."
            )
        return EnvSpec(self.id, tuple(obs_space.shape), action_space, self.reward_threshold)


def final_observations(next_obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The observation each sub-env actually reached this step.

    Under SAME_STEP autoreset, ``next_obs`` of a finished sub-env is the reset observation of
    its new episode; the state the finished episode ended in is ``info["final_obs"]``.
    """
    ended = info.get("_final_obs")
    if ended is None or not ended.any():
        return next_obs
    reached = next_obs.copy()
    for i in np.flatnonzero(ended):
        reached[i] = info["final_obs"][i]
    return reached


def _check_registered(env_id: str) -> None:
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"env.id={env_id} is not a registered Gymnasium id.{hint} "
        "List them with `python -c 'import gymnasium; gymnasium.pprint_registry()'`."
    )
