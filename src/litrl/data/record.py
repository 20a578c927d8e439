"""What one transition holds, declared once: the keyed record the whole data side reads.

A record is a ``TensorDict`` (the PyTorch ecosystem's keyed tensor container, which TorchRL
stores its data in) with a batch shape in front of every field: ``(steps, num_envs)`` for a
collected chunk or a rollout, ``(rows, num_envs)`` for replay storage, ``(batch,)`` for a sample.
Its fields come from the env's spaces (``obs``, ``action``) and the step (``reward``, the
``terminated`` and ``truncated`` flags, ``next_obs``: the observation the step reached, which a
truncated episode bootstraps from); storage may add its own (``FrameStackReplayBuffer``'s
frames). The collector's chunk, the replay storage, the on-policy rollout, checkpoints and the
memory checks allocate and count from one ``Layout``, so a new field is one entry here.

Hot loops write the leaf tensors of a record directly (a TensorDict's own ``__setitem__`` costs
~6 µs more per call than the copies it makes); whole-record operations (a chunk into storage, a
sample out of it, a checkpoint) go through the TensorDict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

import gymnasium as gym
import torch
from tensordict import TensorDict
from torch import Tensor

from litrl.envs import is_image
from litrl.errors import ConfigError


@dataclass(frozen=True)
class Field:
    """One stored field: the shape of one env step's entry and its storage dtype."""

    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        """Bytes one entry takes."""
        return math.prod(self.shape) * torch.empty((), dtype=self.dtype).element_size()


# A record's fields by key; a value that is itself a Layout is a nested record (Dict spaces).
Layout = Mapping[str, Union[Field, "Layout"]]

REWARD = Field((), torch.float32)
FLAG = Field((), torch.bool)
DISCRETE_ACTION = Field((), torch.int64)


def obs_field(shape: tuple[int, ...], dtype: Any) -> Field:
    """Observations of this shape and (numpy) dtype, stored as the collector stages them.

    Image frames (uint8, three axes) stay bytes, 4x less memory than floats; everything else is
    float32, a Discrete observation included: its index, shape ``()``, which the networks
    one-hot encode.
    """
    shape = tuple(shape)
    return Field(shape, torch.uint8 if is_image(dtype, shape) else torch.float32)


def action_field(space: gym.Space) -> Field:
    """Actions of ``space``: a Discrete index as int64, shape ``()``; a Box as float32 of its shape.

    A Box action is stored as the policy produced it (before clipping to the bounds at the env),
    whatever the Box's own dtype.
    """
    if isinstance(space, gym.spaces.Discrete):
        return DISCRETE_ACTION
    if isinstance(space, gym.spaces.Box):
        return Field(tuple(space.shape), torch.float32)
    raise ConfigError(
        f"the replay buffer stores Discrete or Box actions, but the env's action space is "
        f"{space}; wrap the env so its actions are one of those."
    )


def space_fields(observation_space: gym.Space, action_space: gym.Space) -> tuple[Field, Field]:
    """The observation and action fields of an env with these (single-env) spaces."""
    return obs_field(observation_space.shape or (), observation_space.dtype), action_field(
        action_space
    )


def transition_layout(obs: Field, action: Field) -> dict[str, Field]:
    """A one-step transition's fields.

    ``terminated`` zeroes the bootstrap; ``truncated`` does not (the state ``next_obs`` still
    has a value), but either ends the episode, and so an n-step window.
    """
    return {
        "obs": obs,
        "action": action,
        "reward": REWARD,
        "next_obs": obs,
        "terminated": FLAG,
        "truncated": FLAG,
    }


def layout_nbytes(layout: Layout) -> int:
    """Bytes one entry of every field takes (one transition, one row of one env)."""
    return sum(
        layout_nbytes(value) if isinstance(value, Mapping) else value.nbytes
        for value in layout.values()
    )


def allocate(
    layout: Layout, batch_size: tuple[int, ...], device: torch.device | str, zeros: bool = True
) -> TensorDict:
    """A record of ``batch_size`` entries of every field, on ``device`` (zeros, or ``empty``)."""
    make = torch.zeros if zeros else torch.empty
    fields: dict[str, Any] = {
        key: allocate(value, batch_size, device, zeros)
        if isinstance(value, Mapping)
        else make(batch_size + value.shape, dtype=value.dtype, device=device)
        for key, value in layout.items()
    }
    return TensorDict(fields, batch_size=batch_size, device=device)


def to_plain(record: TensorDict) -> dict[str, Any]:
    """A record as nested dicts of tensors, for checkpoints (``torch.load(weights_only=True)``
    rebuilds those without running any code)."""
    return record.to_dict()


def from_plain(
    fields: Mapping[str, Any], batch_dims: int, device: torch.device | str
) -> TensorDict:
    """``to_plain``'s inverse: a record whose first ``batch_dims`` dims are its batch."""
    record = TensorDict.from_dict(dict(fields), batch_dims=batch_dims, auto_batch_size=True)
    return record.to(device)


def transitions(
    obs: Any, action: Tensor, reward: Tensor, next_obs: Any, terminated: Tensor, truncated: Tensor
) -> TensorDict:
    """A record of transitions from tensors shaped ``(steps, num_envs, ...)`` (a collected
    chunk, as ``transition_layout`` declares it)."""
    fields = {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs,
              "terminated": terminated, "truncated": truncated}  # fmt: skip
    return TensorDict(fields, batch_size=reward.shape[:2])


def replay_sample(
    obs: Any,
    action: Tensor,
    rewards: Tensor,
    next_obs: Any,
    terminated: Tensor,
    bootstrap_steps: Tensor,
) -> TensorDict:
    """A record of n-step windows shaped ``(batch, ...)`` (``ReplayBuffer.windows``' keys)."""
    fields = {"obs": obs, "action": action, "rewards": rewards, "next_obs": next_obs,
              "terminated": terminated, "bootstrap_steps": bootstrap_steps}  # fmt: skip
    return TensorDict(fields, batch_size=terminated.shape[:1])
