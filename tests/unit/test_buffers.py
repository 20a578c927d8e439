"""ReplayBuffer: wrap-around and n-step windows, checked against hand-computed answers."""

import pytest
import torch

from litrl.data.buffers import ReplayBuffer
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.data.record import transitions


def chunk(rewards, terminated=None, ended=None, start_obs=0.0):
    """A single-env chunk whose obs at step t is start_obs + t, next_obs start_obs + t + 1."""
    steps = len(rewards)
    obs = torch.arange(steps, dtype=torch.float32).reshape(steps, 1, 1) + start_obs
    terminated = torch.tensor(terminated or [False] * steps).reshape(steps, 1)
    ended = torch.tensor(ended or terminated.flatten().tolist()).reshape(steps, 1)
    return transitions(
        obs=obs,
        action=torch.zeros(steps, 1, dtype=torch.long),
        reward=torch.tensor(rewards, dtype=torch.float32).reshape(steps, 1),
        next_obs=obs + 1,
        terminated=terminated,
        truncated=ended,
    )


def window_at(buffer: ReplayBuffer, row: int, n_step: int):
    """The n-step window starting at ``row`` of env 0."""
    sample = buffer.windows(torch.tensor([row]), torch.tensor([0]), n_step)
    return sample[0]


def test_wraps_around_and_overwrites_the_oldest():
    buffer = ReplayBuffer(capacity=4, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 3]))
    buffer.extend(chunk([4, 5, 6], start_obs=3))
    assert len(buffer) == 4
    # rows hold steps 4, 5, 2, 3 (0-based obs 4,5 overwrote obs 0,1)
    assert buffer.storage["obs"][:, 0, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.storage["reward"][:, 0].tolist() == [5.0, 6.0, 3.0, 4.0]
    assert buffer.pos == 2


def test_n_step_window_stops_at_termination():
    buffer = ReplayBuffer(capacity=10, num_envs=1, obs_shape=(1,))
    # rewards 1, 2, 4 with the episode terminating on the second step, then a new episode
    buffer.extend(chunk([1, 2, 4, 8, 16], terminated=[False, True, False, False, False]))
    window = window_at(buffer, row=0, n_step=3)
    assert window["rewards"].tolist() == [1.0, 2.0, 0.0]  # the next episode's reward 4 is cut
    assert window["bootstrap_steps"].item() == 2
    assert window["terminated"].item() is True
    assert window["next_obs"].item() == 2.0  # next_obs of step 1


def test_n_step_window_through_truncation_bootstraps_from_final_obs():
    buffer = ReplayBuffer(capacity=10, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 4, 8], terminated=[False] * 4, ended=[False, True, False, False]))
    window = window_at(buffer, row=0, n_step=3)
    assert window["rewards"].tolist() == [1.0, 2.0, 0.0]
    assert window["terminated"].item() is False  # truncated: the target still bootstraps
    assert window["bootstrap_steps"].item() == 2
    assert window["next_obs"].item() == 2.0


def test_n_step_window_is_cut_at_the_newest_step():
    buffer = ReplayBuffer(capacity=10, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 4]))
    window = window_at(buffer, row=1, n_step=3)
    assert window["rewards"].tolist() == [2.0, 4.0, 0.0]
    assert window["bootstrap_steps"].item() == 2
    assert window["next_obs"].item() == 3.0


def test_n_step_window_crosses_the_ring_seam_in_time_order():
    buffer = ReplayBuffer(capacity=4, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 4]))
    buffer.extend(chunk([8, 16], start_obs=3))  # rows: [16, 2, 4, 8] with 16 newest at row 0
    window = window_at(buffer, row=3, n_step=3)  # the step with reward 8
    assert window["rewards"].tolist() == [8.0, 16.0, 0.0]
    assert window["next_obs"].item() == 5.0


def test_sample_draws_whole_transitions_from_stored_rows_only():
    buffer = ReplayBuffer(capacity=64, num_envs=2, obs_shape=(3,))
    steps = 5  # 10 of 64 slots filled: sampling must stay within them
    obs = torch.randn(steps, 2, 3)
    buffer.extend(
        transitions(
            obs=obs,
            action=torch.arange(steps * 2).reshape(steps, 2),  # action identifies (step, env)
            reward=torch.arange(steps * 2, dtype=torch.float32).reshape(steps, 2),
            next_obs=obs + 100,
            terminated=torch.zeros(steps, 2, dtype=torch.bool),
            truncated=torch.zeros(steps, 2, dtype=torch.bool),
        )
    )
    sample = buffer.sample(num_batches=5, batch_size=40, n_step=1)
    assert sample["obs"].shape == (5, 40, 3) and sample["rewards"].shape == (5, 40, 1)
    action = sample["action"].flatten()
    assert set(action.tolist()) == set(range(10))  # all stored, nothing beyond
    step, env = action // 2, action % 2
    assert torch.equal(sample["obs"].reshape(-1, 3), obs[step, env])
    assert torch.equal(sample["rewards"].flatten(), action.float())
    assert torch.equal(sample["next_obs"].reshape(-1, 3), obs[step, env] + 100)


def test_windows_follow_their_own_env_column():
    buffer = ReplayBuffer(capacity=8, num_envs=2, obs_shape=(1,))
    rewards = torch.tensor([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]])
    ended = torch.tensor([[False, True], [False, False], [False, False]])
    buffer.extend(
        transitions(
            obs=torch.zeros(3, 2, 1),
            action=torch.zeros(3, 2, dtype=torch.long),
            reward=rewards,
            next_obs=torch.zeros(3, 2, 1),
            terminated=ended,
            truncated=ended,
        )
    )
    windows = buffer.windows(torch.tensor([0, 0]), torch.tensor([0, 1]), n_step=3)
    assert windows["rewards"].tolist() == [[1.0, 2.0, 4.0], [10.0, 0.0, 0.0]]
    assert windows["bootstrap_steps"].tolist() == [3, 1]


@pytest.mark.parametrize("buffer_class", [ReplayBuffer, FrameStackReplayBuffer])
def test_bytes_per_transition_is_known_before_allocating(buffer_class) -> None:
    shape, dtype = (4, 8, 8), torch.uint8
    buffer = buffer_class(capacity=64, num_envs=2, obs_shape=shape, obs_dtype=dtype)
    assert buffer.nbytes == 64 * buffer_class.bytes_per_transition(shape, dtype)
