"""FrameStackReplayBuffer rebuilds exactly the stacks a plain ReplayBuffer stores whole."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import FrameStackObservation, TimeLimit

from litrl.data.buffers import ReplayBuffer
from litrl.data.collector import Collector
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.data.record import transitions
from litrl.errors import ConfigError

STACK = 4


class FlickerEnv(gym.Env):
    """3x3 uint8 frames of fresh noise each step; an episode terminates with probability 0.1."""

    observation_space = gym.spaces.Box(0, 255, (3, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._frame(), {}

    def step(self, action):
        terminated = bool(self.np_random.random() < 0.1)
        return self._frame(), float(action), terminated, False, {}

    def _frame(self) -> np.ndarray:
        return self.np_random.integers(0, 256, (3, 3), dtype=np.uint8)


def _collector(num_envs: int, max_episode_steps: int) -> Collector:
    def make() -> gym.Env:
        return FrameStackObservation(TimeLimit(FlickerEnv(), max_episode_steps), STACK)

    envs = SyncVectorEnv([make] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    return Collector(envs, torch.device("cpu"), seed=0)


def _fill(buffers: list[ReplayBuffer], collector: Collector, chunks: int, steps: int) -> None:
    for _ in range(chunks):
        chunk = collector.collect(None, steps)
        for buffer in buffers:
            buffer.extend(chunk)


def _all_windows(buffer: ReplayBuffer, n_step: int, skip_oldest: int):
    """Every sampleable (row, env) window, oldest row first."""
    full = buffer.steps_stored == buffer.steps_capacity
    oldest = buffer.pos if full else 0
    ages = torch.arange(skip_oldest if full else 0, buffer.steps_stored)
    row = ((oldest + ages) % buffer.steps_capacity).repeat_interleave(buffer.num_envs)
    env = torch.arange(buffer.num_envs).repeat(len(ages))
    return buffer.windows(row, env, n_step)


@pytest.mark.parametrize("chunks", [1, 3, 9])  # partly filled, just full, wrapped several times
@pytest.mark.parametrize("n_step", [1, 3])
def test_rebuilt_windows_equal_the_whole_stored_ones(chunks: int, n_step: int) -> None:
    # Short time limits: many truncations, whose final frame must survive the next reset.
    collector = _collector(num_envs=3, max_episode_steps=7)
    plain = ReplayBuffer(3 * 40, 3, (STACK, 3, 3), obs_dtype=torch.uint8)
    frames = FrameStackReplayBuffer(3 * 40, 3, (STACK, 3, 3), obs_dtype=torch.uint8)
    _fill([plain, frames], collector, chunks, steps=13)
    expected = _all_windows(plain, n_step, skip_oldest=STACK - 1)
    rebuilt = _all_windows(frames, n_step, skip_oldest=STACK - 1)
    for name, want in expected.items():
        assert torch.equal(want, rebuilt[name]), name
    assert expected["bootstrap_steps"].lt(n_step).any() or n_step == 1  # episode ends were crossed


def test_samples_never_read_overwritten_history() -> None:
    collector = _collector(num_envs=2, max_episode_steps=50)
    plain = ReplayBuffer(2 * 16, 2, (STACK, 3, 3), obs_dtype=torch.uint8)
    frames = FrameStackReplayBuffer(2 * 16, 2, (STACK, 3, 3), obs_dtype=torch.uint8)
    _fill([plain, frames], collector, chunks=5, steps=10)  # wrapped: pos is mid-ring
    torch.manual_seed(0)
    sample = frames.sample(num_batches=50, batch_size=64)
    # Every sampled obs exists whole in the plain buffer's sampleable rows.
    allowed = _all_windows(plain, 1, skip_oldest=STACK - 1)["obs"].flatten(1)
    found = (sample["obs"].flatten(0, 1).flatten(1).unsqueeze(1) == allowed.unsqueeze(0)).all(-1)
    assert found.any(1).all()


def test_stores_about_a_quarter_of_the_bytes() -> None:
    shape = (STACK, 84, 84)
    plain = ReplayBuffer(1000, 1, shape, obs_dtype=torch.uint8)
    frames = FrameStackReplayBuffer(1000, 1, shape, obs_dtype=torch.uint8)
    assert frames.nbytes / 1000 == 2 * 84 * 84 + 8 + 4 + 1 + 1 + 1  # frame, next frame, ..., start
    assert 3.9 < plain.nbytes / frames.nbytes < 4.0


def test_survives_a_state_dict_round_trip() -> None:
    collector = _collector(num_envs=2, max_episode_steps=9)
    frames = FrameStackReplayBuffer(2 * 20, 2, (STACK, 3, 3), obs_dtype=torch.uint8)
    _fill([frames], collector, chunks=3, steps=8)
    copy = FrameStackReplayBuffer(2 * 20, 2, (STACK, 3, 3), obs_dtype=torch.uint8)
    copy.load_state_dict(frames.state_dict())
    original, restored = _all_windows(frames, 3, STACK - 1), _all_windows(copy, 3, STACK - 1)
    for name, want in original.items():
        assert torch.equal(want, restored[name]), name
    with pytest.raises(ConfigError, match=r"keep algo\.data\.store_frames_once as it was"):
        ReplayBuffer(2 * 20, 2, (STACK, 3, 3), obs_dtype=torch.uint8).load_state_dict(
            frames.state_dict()
        )


@pytest.mark.parametrize("rows_per_env", [16, 24])  # fewer or more rows than were saved
def test_refuses_a_checkpoint_of_another_capacity(rows_per_env: int) -> None:
    collector = _collector(num_envs=2, max_episode_steps=9)
    frames = FrameStackReplayBuffer(2 * 20, 2, (STACK, 3, 3), obs_dtype=torch.uint8)
    _fill([frames], collector, chunks=3, steps=8)  # wrapped: the write position is mid-ring
    other = FrameStackReplayBuffer(2 * rows_per_env, 2, (STACK, 3, 3), obs_dtype=torch.uint8)
    with pytest.raises(ConfigError, match=r"keep algo\.data\.buffer_capacity"):
        other.load_state_dict(frames.state_dict())


def test_refuses_observations_that_are_not_frame_stacks() -> None:
    rng = np.random.default_rng(0)
    obs = torch.from_numpy(rng.integers(0, 256, (5, 1, STACK, 3, 3), dtype=np.uint8))
    chunk = transitions(
        obs=obs,
        action=torch.zeros(5, 1, dtype=torch.long),
        reward=torch.zeros(5, 1),
        next_obs=torch.roll(obs, -1, dims=0),
        terminated=torch.zeros(5, 1, dtype=torch.bool),
        truncated=torch.zeros(5, 1, dtype=torch.bool),
    )
    buffer = FrameStackReplayBuffer(16, 1, (STACK, 3, 3), obs_dtype=torch.uint8)
    with pytest.raises(ConfigError, match=r"algo\.data\.store_frames_once=false"):
        buffer.extend(chunk)
