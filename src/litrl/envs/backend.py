"""The env backend contract: one class per source of envs (``env.backend``).

An ``EnvFactory`` holds a config (an id or a user class, kwargs, time limit, ...); its backend
checks that config and makes what the factory is asked for: one env, a vector env, the spec. A
new backend is one subclass and one entry in ``litrl.envs.factory.BACKENDS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from litrl.envs.spaces import obs_shape
from litrl.envs.spec import EnvSpec
from litrl.errors import ConfigError

if TYPE_CHECKING:
    from litrl.envs.factory import EnvFactory


class EnvBackend(ABC):
    """Makes the envs of one ``EnvFactory``; built (and its config checked) by the factory.

    Args:
        env: the factory whose config this backend serves (its checks may fill in defaults,
            such as the id's reward threshold).

    Raises:
        ConfigError: the config names something this backend cannot serve.
    """

    name: ClassVar[str]
    # EnvFactory fields only some backends take: a backend lists the ones it does.
    own_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, env: EnvFactory) -> None:
        self.env = env
        self.check()

    @abstractmethod
    def check(self) -> None:
        """The config checks of this backend (a ConfigError naming the field and the fix)."""

    @abstractmethod
    def make(
        self, render_mode: str | None, training: bool, max_episode_steps: int | None
    ) -> gym.Env:
        """One env (``EnvFactory.make``)."""

    @abstractmethod
    def make_vector(
        self,
        num_envs: int,
        training: bool,
        device: torch.device | str,
        max_episode_steps: int | None,
    ) -> Any:
        """A batch of envs in SAME_STEP autoreset mode (``EnvFactory.make_vector``)."""

    @abstractmethod
    def spec(self) -> EnvSpec:
        """What an agent needs to know of the env, after a first reset and step."""

    def has_time_limit(self) -> bool:
        """Whether every episode ends by a time limit (``EnvFactory.has_time_limit``)."""
        return True


def check_obs_space(env: EnvFactory, obs_space: gym.Space) -> None:
    """A ConfigError for an observation space no litrl network reads."""
    if not isinstance(obs_space, (gym.spaces.Box, gym.spaces.Discrete)):
        raise ConfigError(
            f"{env.name} has observation space {obs_space}; litrl supports Box and "
            "Discrete observations, not this one yet. Flatten it with a wrapper (e.g. "
            "gymnasium.wrappers.FlattenObservation) in your env class."
        )


def spec_of(
    env: EnvFactory, obs_space: gym.Space, action_space: gym.Space, frame_stack: int = 1
) -> EnvSpec:
    """The spec of an env with these (single-env) spaces."""
    name = env.id or str(env.entry_point)
    if isinstance(obs_space, gym.spaces.Discrete):
        return EnvSpec(name, (), action_space, env.reward_threshold, int(obs_space.n))
    dtype = "uint8" if obs_space.dtype == np.uint8 else "float32"
    shape = obs_shape(obs_space)  # a scalar Box as one feature
    return EnvSpec(name, shape, action_space, env.reward_threshold, 0, dtype, frame_stack)
