"""Replay storage: a record (``litrl.data.record``) preallocated on the training device."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from tensordict import TensorDict
from torch import Tensor

from litrl.data.record import (
    DISCRETE_ACTION,
    Field,
    Layout,
    allocate,
    from_plain,
    layout_nbytes,
    space_fields,
    to_plain,
    transition_layout,
)
from litrl.errors import ConfigError

# What a replay sample of n-step windows holds, shaped ``(batch, ...)``: ``rewards[..., k]`` is
# the reward ``k`` steps after ``obs``, zero past the window's end; ``next_obs`` is the
# observation after the window's last step, ``bootstrap_steps`` how many steps that is from
# ``obs`` (``<= n_step``), and ``terminated`` whether that last step ended the episode for good.
SAMPLE_KEYS = ("obs", "action", "rewards", "next_obs", "terminated", "bootstrap_steps")


class ReplayBuffer:
    """A ring buffer of transitions from ``num_envs`` vector envs, uniform sampling.

    Storage is one record of ``(capacity // num_envs, num_envs)`` entries, allocated once from
    ``field_specs`` (the env's spaces: ``from_spaces``). n-step windows are assembled at sample
    time by looking forward along each env's own column, stopping at an episode end or at the
    newest stored step; a sample is a record of ``SAMPLE_KEYS``.

    Args:
        capacity: transitions held in all, across envs.
        num_envs: vector envs writing side by side.
        obs_shape: shape of one observation.
        device: where storage lives; the training device.
        obs_dtype: storage dtype for observations.
        action_shape: shape of one action; ``()`` for a Discrete index.
        action_dtype: storage dtype for actions: int64 for Discrete, float32 for Box.
    """

    step_fields = ("action", "reward", "terminated", "truncated")  # stored as they come

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        device: torch.device | str = "cpu",
        obs_dtype: torch.dtype = torch.float32,
        action_shape: tuple[int, ...] = DISCRETE_ACTION.shape,
        action_dtype: torch.dtype = DISCRETE_ACTION.dtype,
    ) -> None:
        if capacity < num_envs:
            raise ConfigError(f"buffer_capacity={capacity} must be at least num_envs={num_envs}.")
        self.steps_capacity = capacity // num_envs
        self.num_envs = num_envs
        self.device = torch.device(device)
        obs = Field(tuple(obs_shape), obs_dtype)
        self._setup_observations(obs)
        self.fields = self.field_specs(obs, Field(tuple(action_shape), action_dtype))
        self.storage = allocate(self.fields, (self.steps_capacity, num_envs), self.device)
        self.pos = 0  # next row to write
        self.steps_stored = 0

    @classmethod
    def from_spaces(
        cls,
        capacity: int,
        num_envs: int,
        observation_space: gym.Space,
        action_space: gym.Space,
        device: torch.device | str = "cpu",
    ) -> ReplayBuffer:
        """A buffer for an env with these (single-env) spaces; see ``litrl.data.record``."""
        obs, action = space_fields(observation_space, action_space)
        return cls(capacity, num_envs, obs.shape, device, obs.dtype, action.shape, action.dtype)

    @classmethod
    def field_specs(cls, obs: Field, action: Field) -> Layout:
        """The fields the buffer stores, each one row's entry: allocation, checkpoints and the
        byte counts all read this. A subclass that stores observations another way overrides
        it and the hooks below."""
        return transition_layout(obs, action)

    @classmethod
    def bytes_per_transition(
        cls,
        obs_shape: tuple[int, ...],
        obs_dtype: torch.dtype,
        action_shape: tuple[int, ...] = DISCRETE_ACTION.shape,
        action_dtype: torch.dtype = DISCRETE_ACTION.dtype,
    ) -> int:
        """Storage one transition takes (known before anything is allocated)."""
        obs, action = Field(tuple(obs_shape), obs_dtype), Field(tuple(action_shape), action_dtype)
        return layout_nbytes(cls.field_specs(obs, action))

    def _setup_observations(self, obs: Field) -> None:
        """Checks and state a subclass needs before its observation fields are allocated."""

    def _store_observations(self, rows: Tensor, chunk: TensorDict) -> None:
        self.storage["obs"][rows] = chunk["obs"].to(self.device, non_blocking=True)
        self.storage["next_obs"][rows] = chunk["next_obs"].to(self.device, non_blocking=True)

    def _observations(self, row: Tensor, env: Tensor, after: bool = False) -> Tensor:
        """The observations at ``(row, env)``, or those after them when ``after``."""
        return self.storage["next_obs" if after else "obs"][row, env]

    def _rows_skipped_when_full(self) -> int:
        """How many of the oldest rows sampling leaves out once the ring is full."""
        return 0

    @property
    def nbytes(self) -> int:
        """Memory the storage takes."""
        return int(self.storage.bytes())

    def __len__(self) -> int:
        """Transitions stored, across envs."""
        return self.steps_stored * self.num_envs

    def episode_ended(self, rows: Tensor | int, cols: Tensor | slice = slice(None)) -> Tensor:
        """Whether the episode ended at these rows (terminated or truncated)."""
        return self.storage["terminated"][rows, cols] | self.storage["truncated"][rows, cols]

    def extend(self, chunk: TensorDict) -> None:
        """Writes a ``(steps, num_envs)`` chunk, overwriting the oldest rows when full."""
        steps = int(chunk.batch_size[0])
        if steps > self.steps_capacity:
            raise ConfigError(
                f"a collect of {steps} steps per env exceeds the buffer's {self.steps_capacity} "
                "rows per env; raise buffer_capacity or lower env_steps_per_collect."
            )
        rows = (self.pos + torch.arange(steps, device=self.device)) % self.steps_capacity
        self._store_observations(rows, chunk)
        for name in self.step_fields:
            self.storage[name][rows] = chunk[name].to(self.device, non_blocking=True)
        self.pos = (self.pos + steps) % self.steps_capacity
        self.steps_stored = min(self.steps_stored + steps, self.steps_capacity)

    def mark_episode_ends(self) -> None:
        """Ends every env's episode at its newest stored step, as a truncation.

        For when the envs are reset from outside (a resume that could not restore them): the
        stored steps still bootstrap from their true next observations, but no n-step window
        reaches across into the new episodes.
        """
        if self.steps_stored:
            self.storage["truncated"][(self.pos - 1) % self.steps_capacity] = True

    def state_dict(self) -> dict[str, Any]:
        """The stored rows and the write position, as tensors on the host."""
        return {
            "steps_capacity": self.steps_capacity,
            "pos": self.pos,
            "steps_stored": self.steps_stored,
            "storage": to_plain(self.storage[: self.steps_stored].cpu()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refills the buffer from ``state_dict()``; the capacity and env count must match."""
        saved = _saved_storage(state, self.device)
        if any(name not in saved for name in self.fields):
            raise ConfigError(
                "the checkpoint's replay buffer stores observations another way: keep "
                "algo.data.store_frames_once as it was when the checkpoint was written."
            )
        # Checkpoints from before "steps_capacity" was saved: the rows must at least fit.
        capacity = state.get("steps_capacity", max(state["steps_stored"], self.steps_capacity))
        shapes_fit = all(
            saved[name].shape[1:] == self.storage[name].shape[1:]
            and saved[name].dtype == self.storage[name].dtype
            for name in self.fields
        )
        if capacity != self.steps_capacity or not shapes_fit:
            raise ConfigError(
                "the checkpoint's replay buffer does not fit this one: keep "
                "algo.data.buffer_capacity, algo.data.num_envs and the env as they were."
            )
        self.pos, self.steps_stored = state["pos"], state["steps_stored"]
        for name in self.fields:
            self.storage[name][: self.steps_stored] = saved[name]

    def sample(self, num_batches: int, batch_size: int, n_step: int = 1) -> TensorDict:
        """Uniformly samples ``num_batches x batch_size`` n-step windows with replacement."""
        if self.steps_stored == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        count = num_batches * batch_size
        skipped = self._rows_skipped_when_full() if self.steps_stored == self.steps_capacity else 0
        flat = torch.randint(
            (self.steps_stored - skipped) * self.num_envs, (count,), device=self.device
        )
        row = flat // self.num_envs
        if skipped:  # the ring is full: the oldest row is the next one to overwrite
            row = (self.pos + skipped + row) % self.steps_capacity
        return self.windows(row, flat % self.num_envs, n_step).reshape(num_batches, batch_size)

    def windows(self, row: Tensor, env: Tensor, n_step: int) -> TensorDict:
        """The n-step windows that start at rows ``row`` of envs ``env`` (1-D index tensors),
        a record of ``SAMPLE_KEYS``.

        Any stored row may be asked for; ``sample`` draws only from rows whose data is whole.
        """
        offsets = torch.arange(n_step, device=self.device)
        rows = (row.unsqueeze(1) + offsets) % self.steps_capacity  # (count, n)
        cols = env.unsqueeze(1).expand_as(rows)
        newest_row = (self.pos - 1) % self.steps_capacity
        steps_to_newest = (newest_row - row) % self.steps_capacity  # 0 when row is the newest
        # A window's last step: its first episode end, the newest stored step, or step n-1.
        stops = self.episode_ended(rows, cols) | (offsets >= steps_to_newest.unsqueeze(1))
        stops[:, -1] = True
        last = stops.int().argmax(dim=1)  # first True
        in_window = offsets <= last.unsqueeze(1)
        last_row = rows.gather(1, last.unsqueeze(1)).squeeze(1)
        sample = {
            "obs": self._observations(row, env),
            "action": self.storage["action"][row, env],
            "rewards": self.storage["reward"][rows, cols] * in_window,
            "next_obs": self._observations(last_row, env, after=True),
            "terminated": self.storage["terminated"][last_row, env],
            "bootstrap_steps": last + 1,
        }
        return TensorDict(sample, batch_size=[len(row)], device=self.device)


def _saved_storage(state: dict[str, Any], device: torch.device) -> TensorDict:
    """A checkpoint's stored rows as a record. Checkpoints from before records kept each field
    at the top level, with ``episode_ended`` (terminated or truncated) where ``truncated`` is."""
    if "storage" in state:
        return from_plain(state["storage"], batch_dims=2, device=device)
    skip = {"steps_capacity", "pos", "steps_stored", "episode_ended"}
    fields = {name: value for name, value in state.items() if name not in skip}
    if "episode_ended" in state:
        fields["truncated"] = state["episode_ended"] & ~state["terminated"]
    return from_plain(fields, batch_dims=2, device=device)
