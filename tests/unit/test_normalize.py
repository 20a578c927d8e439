"""Running mean/std statistics and reward scaling."""

import numpy as np
import torch

from litrl.algos.normalize import RewardScaler, RunningMeanStd


def test_running_statistics_equal_those_of_all_batches_together():
    torch.manual_seed(0)
    batches = [torch.randn(n, 3) * 4 + 2 for n in (5, 17, 64)]
    stats = RunningMeanStd((3,))
    for batch in batches:
        stats.update(batch)
    everything = torch.cat(batches).double().numpy()
    assert np.allclose(stats.mean.numpy(), everything.mean(0), atol=1e-3)
    assert np.allclose(stats.var.numpy(), everything.var(0), rtol=1e-3)


def test_normalized_values_are_clipped():
    stats = RunningMeanStd((1,), clip=5.0)
    stats.update(torch.tensor([[0.0], [2.0]]))  # mean ~1, std ~1
    assert stats.normalize(torch.tensor([[100.0]])).item() == 5.0


def test_reward_scaling_divides_by_the_std_of_the_discounted_returns():
    scaler = RewardScaler(gamma=0.5)
    reward = torch.tensor([[1.0], [1.0], [1.0]])
    ended = torch.tensor([[False], [True], [False]])
    scaled = scaler(reward, ended)
    # returns 1, 1.5, then a new episode: 1 (the count's 1e-4 prior is negligible)
    expected_std = np.std([1.0, 1.5, 1.0])
    assert torch.allclose(scaled, reward / expected_std, rtol=1e-3)
    assert scaler.running_return is not None and scaler.running_return.item() == 1.0


def test_reward_scaling_restarts_the_return_of_envs_whose_episode_starts_fresh():
    # After a resume that reset the envs, the running return of the unfinished episode must
    # not leak into the new one: env 0 starts fresh, env 1 goes on.
    scaler = RewardScaler(gamma=0.5)
    scaler.running_return = torch.tensor([4.0, 4.0])
    reward = torch.ones(1, 2)
    scaler(reward, torch.zeros(1, 2, dtype=torch.bool), fresh_start=torch.tensor([True, False]))
    assert scaler.running_return.tolist() == [1.0, 3.0]
