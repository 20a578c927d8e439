"""A replay buffer for stacked frames that stores each frame once (Atari: ~4x less memory)."""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDict
from torch import Tensor

from litrl.data.buffers import ReplayBuffer
from litrl.data.record import FLAG, Field, Layout, transition_layout
from litrl.errors import ConfigError

OBS, NEXT_OBS = 0, 1  # slots of ``frames``: the newest frame of the observation, of the next one


class FrameStackReplayBuffer(ReplayBuffer):
    """A ``ReplayBuffer`` for observations that are stacks of the last ``k`` frames, ``(k, H, W)``.

    Consecutive stacks share ``k - 1`` frames, so a row keeps only the newest frame of its
    observation and of its next observation; the stacks are rebuilt at sample time from the
    rows before, along the env's own column. An episode's first observation is its reset frame
    repeated ``k`` times (``FrameStackObservation``'s "reset" padding), so the history stops at
    the episode's first row and repeats that frame. A row that ends an episode keeps its true
    final frame, which a truncated episode bootstraps from. Two frames per row rather than one:
    at an episode boundary both the final frame and the next reset frame must live somewhere.

    The first chunk written is checked against these assumptions (a stack shifts by one frame per
    step and starts as its reset frame repeated), so observations of another kind fail loudly
    instead of being rebuilt wrong.

    Args: as ``ReplayBuffer``; ``obs_shape`` is ``(k, H, W)``.
    """

    @classmethod
    def field_specs(cls, obs: Field, action: Field) -> Layout:
        # Two frames a row and the episode-start flag, instead of two whole stacks: the newest
        # frame of the observation (slot OBS) and of the next one (slot NEXT_OBS). The start
        # flag is True where a row's observation is its episode's first (the reset observation).
        steps = transition_layout(obs, action)
        return {
            "frames": Field((2, *obs.shape[1:]), obs.dtype),
            "episode_start": FLAG,
            **{name: steps[name] for name in cls.step_fields},
        }

    def _setup_observations(self, obs: Field) -> None:
        self.stack_size = obs.shape[0]
        if self.steps_capacity <= self.stack_size:
            raise ConfigError(
                f"algo.data.buffer_capacity holds {self.steps_capacity} steps per env, too few for "
                f"stacks of {self.stack_size} frames; raise it."
            )
        self._checked = False  # whether a chunk has passed _check_frame_stacks

    def _store_observations(self, rows: Tensor, chunk: TensorDict) -> None:
        if self.steps_stored:
            previous_ended = self.episode_ended((self.pos - 1) % self.steps_capacity)
        else:
            previous_ended = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        chunk_ended = chunk["terminated"][:-1] | chunk["truncated"][:-1]
        starts = torch.cat([previous_ended.unsqueeze(0), chunk_ended.to(self.device)])
        if not self._checked:
            _check_frame_stacks(chunk, starts.cpu())
            self._checked = True
        self.storage["episode_start"][rows] = starts
        newest = torch.stack([chunk["obs"][:, :, -1], chunk["next_obs"][:, :, -1]], dim=2)
        self.storage["frames"][rows] = newest.to(self.device, non_blocking=True)

    def _observations(self, row: Tensor, env: Tensor, after: bool = False) -> Tensor:
        k = self.stack_size
        # Steps since the episode's first row, capped at k - 1: how far back the history goes.
        back = torch.arange(k - 1, device=self.device)
        at_start = self.storage["episode_start"][
            (row.unsqueeze(1) - back) % self.steps_capacity, env.unsqueeze(1)
        ]
        at_start = torch.cat([at_start, torch.ones_like(at_start[:, :1])], dim=1)
        since_start = at_start.int().argmax(dim=1, keepdim=True)  # first True
        steps_back = torch.minimum(torch.arange(k - 1, -1, -1, device=self.device), since_start)
        history_rows = (row.unsqueeze(1) - steps_back) % self.steps_capacity  # oldest first
        slots = (history_rows * self.num_envs + env.unsqueeze(1)) * 2 + OBS
        if after:  # the next observation: shift by one frame, the newest is the next obs's own
            slots = torch.cat([slots[:, 1:], slots[:, -1:] - OBS + NEXT_OBS], dim=1)
        # One flat index_select: faster than 2-D advanced indexing of the frames.
        frames = self.storage["frames"]
        flat = frames.view(-1, *frames.shape[3:])
        return flat.index_select(0, slots.flatten()).view(len(row), k, *flat.shape[1:])

    def _rows_skipped_when_full(self) -> int:
        # Once the ring wraps, the oldest rows' history has been overwritten.
        return self.stack_size - 1

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._checked = True


def _check_frame_stacks(chunk: TensorDict, starts: Tensor) -> None:
    """Raises if ``chunk``'s observations are not frame stacks with "reset" padding.

    Step by step, so the comparison needs no copy of the whole chunk.
    """
    obs, next_obs = chunk["obs"], chunk["next_obs"]
    consistent = True
    for t in range(len(obs)):
        consistent &= torch.equal(next_obs[t, :, :-1], obs[t, :, 1:])  # shifts by one frame
        padded = obs[t, starts[t]]
        consistent &= torch.equal(padded, padded[:, -1:].expand_as(padded))  # reset padding
        if t + 1 < len(obs):  # a continuing episode's next observation is the next row's
            goes_on = ~starts[t + 1]
            consistent &= torch.equal(next_obs[t, goes_on], obs[t + 1, goes_on])
        if not consistent:
            raise ConfigError(
                "the replay buffer stores frame stacks one frame at a time, but these "
                f"observations (step {t} of the first chunk) do not shift by one frame per step "
                "from a repeated reset frame; set algo.data.store_frames_once=false (stores "
                "whole observations)."
            )
