"""What replay storage holds per transition, derived from the env's spaces.

The one place that says how an observation or an action is stored (dtype, shape of one env
step's entry): the buffers allocate from it, and their byte counts and the memory check read it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import gymnasium as gym
import torch

from litrl.envs import is_image
from litrl.errors import ConfigError


class FieldSpec(NamedTuple):
    """One stored field: the shape of one env step's entry and its storage dtype."""

    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        """Bytes one entry takes."""
        return math.prod(self.shape) * torch.empty((), dtype=self.dtype).element_size()


REWARD = FieldSpec((), torch.float32)
FLAG = FieldSpec((), torch.bool)
DISCRETE_ACTION = FieldSpec((), torch.int64)


def obs_field(shape: tuple[int, ...], dtype: Any) -> FieldSpec:
    """Observations of this shape and (numpy) dtype, stored as the collector stages them.

    Image frames (uint8, three axes) stay bytes, 4x less memory than floats; everything else is
    float32, a Discrete observation included: its index, shape ``()``, which the networks
    one-hot encode.
    """
    shape = tuple(shape)
    return FieldSpec(shape, torch.uint8 if is_image(dtype, shape) else torch.float32)


def action_field(space: gym.Space) -> FieldSpec:
    """Actions of ``space``: a Discrete index as int64, shape ``()``; a Box as float32 of its shape.

    A Box action is stored as the policy produced it (before clipping to the bounds at the env),
    whatever the Box's own dtype.
    """
    if isinstance(space, gym.spaces.Discrete):
        return DISCRETE_ACTION
    if isinstance(space, gym.spaces.Box):
        return FieldSpec(tuple(space.shape), torch.float32)
    raise ConfigError(
        f"the replay buffer stores Discrete or Box actions, but the env's action space is "
        f"{space}; wrap the env so its actions are one of those."
    )


def space_fields(
    observation_space: gym.Space, action_space: gym.Space
) -> tuple[FieldSpec, FieldSpec]:
    """The observation and action fields of an env with these spaces."""
    obs = obs_field(observation_space.shape or (), observation_space.dtype)
    return obs, action_field(action_space)


def transition_fields(obs: FieldSpec, action: FieldSpec) -> dict[str, FieldSpec]:
    """A one-step transition's fields, in ``Transitions``' order.

    ``episode_ended`` is ``terminated or truncated`` (it stops an n-step window); the bootstrap
    is zeroed by ``terminated`` alone.
    """
    return {
        "obs": obs,
        "action": action,
        "reward": REWARD,
        "next_obs": obs,
        "terminated": FLAG,
        "episode_ended": FLAG,
    }
