"""Replay storage allocated from the env's spaces: integer Discrete actions, float Box actions of
any shape, byte image frames; float actions survive sampling and checkpoints whole."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensordict import TensorDict

from litrl.data.buffers import ReplayBuffer
from litrl.data.datamodule import ReplayDataModule
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.data.record import action_field, transitions
from litrl.envs import EnvFactory
from litrl.errors import ConfigError

VECTOR = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float64)  # stored as float32 all the same
IMAGES = gym.spaces.Box(0, 255, shape=(4, 8, 8), dtype=np.uint8)  # stacked frames
BOX_2X3 = gym.spaces.Box(-2.0, 2.0, shape=(2, 3), dtype=np.float32)


@pytest.mark.parametrize(
    ("obs_space", "action_space", "obs", "action"),
    [
        (VECTOR, gym.spaces.Discrete(3), ((4,), torch.float32), ((), torch.int64)),
        (VECTOR, gym.spaces.Box(-2, 2, (1,)), ((4,), torch.float32), ((1,), torch.float32)),
        (VECTOR, BOX_2X3, ((4,), torch.float32), ((2, 3), torch.float32)),
        (IMAGES, gym.spaces.Discrete(6), ((4, 8, 8), torch.uint8), ((), torch.int64)),
        (gym.spaces.Discrete(5), gym.spaces.Discrete(2), ((), torch.float32), ((), torch.int64)),
    ],
    ids=["discrete", "box1", "box2x3", "image", "discrete-obs"],
)
def test_fields_are_allocated_from_the_spaces(obs_space, action_space, obs, action) -> None:
    buffer = ReplayBuffer.from_spaces(12, 3, obs_space, action_space)
    rows = (4, 3)  # capacity 12 over 3 envs
    expected = {
        "obs": obs,
        "next_obs": obs,
        "action": action,
        "reward": ((), torch.float32),
        "terminated": ((), torch.bool),
        "truncated": ((), torch.bool),
    }
    assert set(buffer.storage.keys()) == set(expected)
    for name, (shape, dtype) in expected.items():
        stored = buffer.storage[name]
        assert (stored.shape, stored.dtype) == (rows + shape, dtype), name
    # The memory figures count what was allocated, float actions included.
    obs_spec, action_spec = buffer.fields["obs"], buffer.fields["action"]
    per_transition = ReplayBuffer.bytes_per_transition(
        obs_spec.shape, obs_spec.dtype, action_spec.shape, action_spec.dtype
    )
    assert buffer.nbytes == 12 * per_transition


@pytest.mark.parametrize(
    ("action_space", "action"),
    [(gym.spaces.Discrete(6), ((), torch.int64)), (BOX_2X3, ((2, 3), torch.float32))],
)
def test_frame_stack_storage_keeps_image_frames_and_takes_actions_from_the_space(
    action_space, action
) -> None:
    buffer = FrameStackReplayBuffer.from_spaces(2 * 8, 2, IMAGES, action_space)
    assert (buffer.storage["frames"].shape, buffer.storage["frames"].dtype) == (
        (8, 2, 2, 8, 8),
        torch.uint8,
    )
    assert (buffer.storage["action"].shape[2:], buffer.storage["action"].dtype) == action
    assert list(buffer.storage.keys()) == [
        "frames",
        "episode_start",
        "action",
        "reward",
        "terminated",
        "truncated",
    ]
    per_transition = FrameStackReplayBuffer.bytes_per_transition((4, 8, 8), torch.uint8, *action)
    assert per_transition == 2 * 8 * 8 + 1 + (24 if action[0] else 8) + 4 + 1 + 1
    assert buffer.nbytes == 16 * per_transition


def test_action_spaces_it_cannot_store_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"Discrete or Box actions.*MultiDiscrete"):
        action_field(gym.spaces.MultiDiscrete([2, 3]))


def _float_action_chunk(steps: int, num_envs: int, start: int = 0) -> TensorDict:
    """obs is a transition's id (``start + step * num_envs + env``); its action is made from the
    id with fractional parts, so any rounding or integer cast shows."""
    ids = torch.arange(start, start + steps * num_envs, dtype=torch.float32).reshape(
        steps, num_envs
    )
    action = torch.stack([ids + 0.25, -ids / 3, ids * 0.1], dim=-1)  # (steps, num_envs, 3)
    return transitions(
        obs=ids.unsqueeze(-1),
        action=action.reshape(steps, num_envs, 3, 1).expand(-1, -1, 3, 2).contiguous(),
        reward=ids / 7,
        next_obs=ids.unsqueeze(-1) + 0.5,
        terminated=(ids % 5 == 4),
        truncated=(ids % 5 == 4) | (ids % 11 == 10),
    )


def _expected_action(ids: torch.Tensor) -> torch.Tensor:
    action = torch.stack([ids + 0.25, -ids / 3, ids * 0.1], dim=-1)
    return action.unsqueeze(-1).expand(*ids.shape, 3, 2)


def test_n_step_samples_carry_float_actions_intact() -> None:
    box = gym.spaces.Box(-100.0, 100.0, shape=(3, 2), dtype=np.float32)
    buffer = ReplayBuffer.from_spaces(2 * 16, 2, gym.spaces.Box(-1e3, 1e3, (1,)), box)
    buffer.extend(_float_action_chunk(10, 2))
    buffer.extend(_float_action_chunk(10, 2, start=20))  # wraps: the ring holds ids 8..39
    torch.manual_seed(0)
    sample = buffer.sample(num_batches=4, batch_size=50, n_step=3)
    assert sample["action"].dtype == torch.float32 and sample["action"].shape == (4, 50, 3, 2)
    ids = sample["obs"].squeeze(-1)  # the window's first transition
    assert ids.min() >= 8
    assert torch.equal(sample["action"], _expected_action(ids))
    # The window still follows its own column: its first reward is its first transition's.
    assert torch.equal(sample["rewards"][..., 0], ids / 7)
    assert (sample["bootstrap_steps"] < 3).any()  # episode ends were crossed


def test_a_float_action_buffer_round_trips_through_a_checkpoint_file() -> None:
    obs_space = gym.spaces.Box(-1e3, 1e3, (1,))
    box = gym.spaces.Box(-100.0, 100.0, shape=(3, 2), dtype=np.float32)
    buffer = ReplayBuffer.from_spaces(2 * 8, 2, obs_space, box)
    buffer.extend(_float_action_chunk(6, 2))
    buffer.extend(_float_action_chunk(5, 2, start=12))  # wrapped: the write position is mid-ring
    file = io.BytesIO()
    torch.save(buffer.state_dict(), file)
    file.seek(0)
    state = torch.load(file, weights_only=True)  # as litrl.resume loads checkpoints

    copy = ReplayBuffer.from_spaces(2 * 8, 2, obs_space, box)
    copy.load_state_dict(state)
    assert (copy.pos, copy.steps_stored) == (buffer.pos, buffer.steps_stored)
    for name in buffer.fields:
        assert torch.equal(copy.storage[name], buffer.storage[name]), name
    assert copy.storage["action"].dtype == torch.float32
    row, env = torch.arange(8).repeat(2), torch.arange(2).repeat_interleave(8)
    want, got = buffer.windows(row, env, 3), copy.windows(row, env, 3)
    for name, value in want.items():
        assert torch.equal(value, got[name]), name


@pytest.mark.parametrize(
    "other",
    [
        lambda: ReplayBuffer(2 * 8, 2, (1,)),  # Discrete actions
        lambda: ReplayBuffer(2 * 8, 2, (1,), action_shape=(3, 2), action_dtype=torch.float64),
    ],
    ids=["discrete-actions", "float64-actions"],
)
def test_a_buffer_with_other_actions_refuses_the_checkpoint(other) -> None:
    box = gym.spaces.Box(-100.0, 100.0, shape=(3, 2), dtype=np.float32)
    buffer = ReplayBuffer.from_spaces(2 * 8, 2, gym.spaces.Box(-1e3, 1e3, (1,)), box)
    buffer.extend(_float_action_chunk(4, 2))
    with pytest.raises(ConfigError, match=r"keep algo\.data\.buffer_capacity"):
        other().load_state_dict(buffer.state_dict())


class _ZeroTorque:
    """Acts 0.0 in every env: the stored actions of a chunk are then known exactly."""

    def act(self, obs: torch.Tensor, env_steps: int, greedy: bool = False) -> torch.Tensor:
        return torch.zeros(len(obs), 1)


def test_the_replay_datamodule_stores_a_box_envs_float_actions() -> None:
    datamodule = ReplayDataModule(
        EnvFactory(id="Pendulum-v1"),
        num_envs=2,
        buffer_capacity=64,
        batch_size=8,
        env_steps_per_collect=4,
        updates_per_collect=2,
        warmup_env_steps=16,
        n_step=3,
        total_env_steps=64,
        eval_every_env_steps=8,
        eval_episodes=1,
        eval_num_envs=1,
        actor=_ZeroTorque(),
    )
    datamodule.setup("fit")
    buffer = datamodule.buffer
    assert buffer is not None
    assert (buffer.storage["action"].shape, buffer.storage["action"].dtype) == (
        (32, 2, 1),
        torch.float32,
    )
    assert buffer.nbytes == 64 * (2 * 3 * 4 + 4 + 4 + 1 + 1)  # obs, next_obs, action, reward, flags
    batch = datamodule.next_batch()
    assert (
        batch.sample["action"].shape == (2, 8, 1) and batch.sample["action"].dtype == torch.float32
    )
    warmup = buffer.storage["action"][:8]  # random torques in [-2, 2]: not integers
    assert warmup.abs().max() <= 2.0 and (warmup != warmup.round()).any()
    assert torch.equal(buffer.storage["action"][8:10], torch.zeros(2, 2, 1))  # the actor's chunk
    datamodule.teardown("fit")


def test_a_buffer_checkpointed_before_records_loads_and_samples_the_same_windows() -> None:
    # The old layout: each stored field at the state's top level, and `episode_ended` (terminated
    # or truncated) where records keep `truncated`.
    box = gym.spaces.Box(-100.0, 100.0, shape=(3, 2), dtype=np.float32)
    buffer = ReplayBuffer.from_spaces(2 * 8, 2, VECTOR, box)
    buffer.extend(_float_action_chunk(6, 2))
    buffer.storage["truncated"][2, 1] = True  # an episode end the windows must stop at
    state = buffer.state_dict()
    old = {key: value for key, value in state.items() if key != "storage"}
    stored = state["storage"]
    old.update(
        {name: stored[name] for name in ("obs", "next_obs", "action", "reward", "terminated")}
    )
    old["episode_ended"] = stored["terminated"] | stored["truncated"]

    copy = ReplayBuffer.from_spaces(2 * 8, 2, VECTOR, box)
    copy.load_state_dict(old)
    row, env = torch.arange(6).repeat(2), torch.arange(2).repeat_interleave(6)
    want, got = buffer.windows(row, env, 3), copy.windows(row, env, 3)
    for name, value in want.items():
        assert torch.equal(value, got[name]), name
    assert want["bootstrap_steps"].lt(3).any()  # the episode end was crossed
