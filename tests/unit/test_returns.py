"""Discounted reward-to-go and episode returns across episode ends, by hand."""

import pytest
import torch

from litrl.algos.returns import episode_return_per_step, reward_to_go


def column(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype).unsqueeze(1)  # (T, 1): one env


REWARD = column([1.0, 2.0, 4.0, 8.0, 16.0])
# an episode terminates after step 1; the next one runs past the rollout's end
TERMINATED = column([False, True, False, False, False], torch.bool)


def test_reward_to_go_restarts_at_episode_ends():
    returns, known = reward_to_go(REWARD, TERMINATED, TERMINATED, gamma=0.5)
    assert returns[:2, 0].tolist() == [1 + 0.5 * 2, 2.0]
    assert known[:, 0].tolist() == [True, True, False, False, False]  # the last episode goes on


def test_reward_to_go_bootstraps_the_unfinished_tail_with_the_value():
    next_value = torch.full_like(REWARD, 10.0)
    returns, known = reward_to_go(REWARD, TERMINATED, TERMINATED, gamma=0.5, next_value=next_value)
    # 16 + 0.5*10 = 21; 8 + 0.5*21 = 18.5; 4 + 0.5*18.5 = 13.25
    assert returns[2:, 0].tolist() == pytest.approx([13.25, 18.5, 21.0])
    assert returns[1, 0].item() == 2.0  # termination: no bootstrap
    assert known.all()


def test_truncation_bootstraps_only_with_a_value():
    truncated_end = column([False, True, False, False, True], torch.bool)
    never_terminated = torch.zeros_like(truncated_end)
    next_value = torch.full_like(REWARD, 10.0)
    returns, _ = reward_to_go(
        REWARD, never_terminated, truncated_end, gamma=0.5, next_value=next_value
    )
    assert returns[1, 0].item() == 2 + 0.5 * 10
    plain, known = reward_to_go(REWARD, never_terminated, truncated_end, gamma=0.5)
    assert plain[1, 0].item() == 2.0 and known.all()


def test_episode_return_weights_every_step_with_its_episodes_return():
    ended = column([False, True, False, True, False], torch.bool)
    returns, _ = reward_to_go(REWARD, ended, ended, gamma=1.0)
    episode_return, started_inside = episode_return_per_step(returns, ended)
    assert episode_return[:4, 0].tolist() == [3.0, 3.0, 12.0, 12.0]
    assert started_inside[:, 0].tolist() == [False, False, True, True, True]


def test_envs_are_independent_columns():
    reward = torch.tensor([[1.0, 10.0], [2.0, 20.0]])
    ended = torch.tensor([[True, False], [True, True]])
    returns, known = reward_to_go(reward, ended, ended, gamma=0.5)
    assert returns.tolist() == [[1.0, 20.0], [2.0, 20.0]]
    assert known.all()


def test_an_episode_starting_with_the_rollout_counts_as_whole():
    ended = column([False, True, False, True, False], torch.bool)
    returns, _ = reward_to_go(REWARD, ended, ended, gamma=1.0)
    _, started_inside = episode_return_per_step(returns, ended, fresh_start=torch.tensor([True]))
    assert started_inside[:, 0].tolist() == [True] * 5
