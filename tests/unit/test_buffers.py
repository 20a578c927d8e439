"""ReplayBuffer: wrap-around and n-step windows, checked against hand-computed answers."""

import torch

from litrl.data.buffers import ReplayBuffer, Transitions


def chunk(rewards, terminated=None, ended=None, start_obs=0.0):
    """A single-env chunk whose obs at step t is start_obs + t, next_obs start_obs + t + 1."""
    steps = len(rewards)
    obs = torch.arange(steps, dtype=torch.float32).reshape(steps, 1, 1) + start_obs
    terminated = torch.tensor(terminated or [False] * steps).reshape(steps, 1)
    ended = torch.tensor(ended or terminated.flatten().tolist()).reshape(steps, 1)
    return Transitions(
        obs=obs,
        action=torch.zeros(steps, 1, dtype=torch.long),
        reward=torch.tensor(rewards, dtype=torch.float32).reshape(steps, 1),
        next_obs=obs + 1,
        terminated=terminated,
        episode_ended=ended,
    )


def window_at(buffer: ReplayBuffer, row: int, n_step: int):
    """The n-step window starting at ``row`` of env 0."""
    sample = buffer._windows(torch.tensor([row]), torch.tensor([0]), n_step)
    return type(sample)(*(field[0] for field in sample))


def test_wraps_around_and_overwrites_the_oldest():
    buffer = ReplayBuffer(capacity=4, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 3]))
    buffer.extend(chunk([4, 5, 6], start_obs=3))
    assert len(buffer) == 4
    # rows hold steps 4, 5, 2, 3 (0-based obs 4,5 overwrote obs 0,1)
    assert buffer.obs[:, 0, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.reward[:, 0].tolist() == [5.0, 6.0, 3.0, 4.0]
    assert buffer.pos == 2


def test_n_step_window_stops_at_termination():
    buffer = ReplayBuffer(capacity=10, num_envs=1, obs_shape=(1,))
    # rewards 1, 2, 4 with the episode terminating on the second step, then a new episode
    buffer.extend(chunk([1, 2, 4, 8, 16], terminated=[False, True, False, False, False]))
    window = window_at(buffer, row=0, n_step=3)
    assert window.rewards.tolist() == [1.0, 2.0, 0.0]  # the next episode's reward 4 is cut
    assert window.bootstrap_steps.item() == 2
    assert window.terminated.item() is True
    assert window.next_obs.item() == 2.0  # next_obs of step 1


def test_n_step_window_through_truncation_bootstraps_from_final_obs():
    buffer = ReplayBuffer(capacity=10, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 4, 8], terminated=[False] * 4, ended=[False, True, False, False]))
    window = window_at(buffer, row=0, n_step=3)
    assert window.rewards.tolist() == [1.0, 2.0, 0.0]
    assert window.terminated.item() is False  # truncated: the target still bootstraps
    assert window.bootstrap_steps.item() == 2
    assert window.next_obs.item() == 2.0


def test_n_step_window_is_cut_at_the_newest_step():
    buffer = ReplayBuffer(capacity=10, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 4]))
    window = window_at(buffer, row=1, n_step=3)
    assert window.rewards.tolist() == [2.0, 4.0, 0.0]
    assert window.bootstrap_steps.item() == 2
    assert window.next_obs.item() == 3.0


def test_n_step_window_crosses_the_ring_seam_in_time_order():
    buffer = ReplayBuffer(capacity=4, num_envs=1, obs_shape=(1,))
    buffer.extend(chunk([1, 2, 4]))
    buffer.extend(chunk([8, 16], start_obs=3))  # rows: [16, 2, 4, 8] with 16 newest at row 0
    window = window_at(buffer, row=3, n_step=3)  # the step with reward 8
    assert window.rewards.tolist() == [8.0, 16.0, 0.0]
    assert window.next_obs.item() == 5.0


def test_sample_shapes_and_values_come_from_the_buffer():
    buffer = ReplayBuffer(capacity=8, num_envs=2, obs_shape=(3,))
    steps = 4
    buffer.extend(
        Transitions(
            obs=torch.randn(steps, 2, 3),
            action=torch.randint(2, (steps, 2)),
            reward=torch.randn(steps, 2),
            next_obs=torch.randn(steps, 2, 3),
            terminated=torch.zeros(steps, 2, dtype=torch.bool),
            episode_ended=torch.zeros(steps, 2, dtype=torch.bool),
        )
    )
    sample = buffer.sample(num_batches=5, batch_size=7, n_step=2)
    assert sample.obs.shape == (5, 7, 3)
    assert sample.rewards.shape == (5, 7, 2)
    stored = buffer.obs.reshape(-1, 3)
    for obs in sample.obs.reshape(-1, 3):
        assert (stored == obs).all(dim=1).any()
