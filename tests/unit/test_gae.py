"""GAE on hand-computed rollouts: episode ends, truncations and a rollout cut mid-episode."""

import pytest
import torch

from litrl.algos.returns import gae, reward_to_go

GAMMA = 0.5
# Two envs, three steps. Env 0: truncated at t=1 (its final observation is worth 4), and the
# rollout ends mid-episode at t=2 (the next observation is worth 2). Env 1: the same numbers,
# but terminated at t=1, so V(final obs) = 4 must not count.
REWARD = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
VALUE = torch.tensor([[0.5, 0.5], [1.0, 1.0], [1.5, 1.5]])
NEXT_VALUE = torch.tensor([[1.0, 1.0], [4.0, 4.0], [2.0, 2.0]])
TERMINATED = torch.tensor([[False, False], [False, True], [False, False]])
ENDED = torch.tensor([[False, False], [True, True], [False, False]])


def advantages(gae_lambda: float) -> torch.Tensor:
    adv, returns = gae(REWARD, VALUE, NEXT_VALUE, TERMINATED, ENDED, GAMMA, gae_lambda)
    assert torch.allclose(returns, adv + VALUE)
    return adv


def test_lambda_zero_is_the_one_step_td_error():
    # delta = r + gamma * V(s') * (1 - terminated) - V(s)
    expected = torch.tensor([[1.0, 1.0], [3.0, 1.0], [2.5, 2.5]])
    assert torch.allclose(advantages(0.0), expected)


def test_lambda_one_is_the_discounted_return_minus_v():
    # env 0: G0 = 1 + .5*2 + .25*4 (truncation bootstraps) = 3; G1 = 2 + .5*4 = 4;
    #        G2 = 3 + .5*2 (the rollout cut bootstraps) = 4
    # env 1: G0 = 1 + .5*2 = 2 (termination: nothing follows); G1 = 2; G2 = 4
    returns = torch.tensor([[3.0, 2.0], [4.0, 2.0], [4.0, 4.0]])
    assert torch.allclose(advantages(1.0), returns - VALUE)


def test_intermediate_lambda_mixes_the_td_errors():
    # A0 = delta0 + gamma * lambda * A1 within the episode; A1 does not reach into t=2's episode
    adv = advantages(0.5)
    assert adv[0, 0].item() == pytest.approx(1.0 + 0.5 * 0.5 * 3.0)
    assert adv[1, 0].item() == pytest.approx(3.0)
    assert adv[0, 1].item() == pytest.approx(1.0 + 0.5 * 0.5 * 1.0)


def test_lambda_one_matches_the_bootstrapped_reward_to_go_on_random_rollouts():
    torch.manual_seed(0)
    shape = (50, 4)
    reward, value = torch.randn(shape), torch.randn(shape)
    ended = torch.rand(shape) < 0.1
    terminated = ended & (torch.rand(shape) < 0.5)
    # Inside an episode the next observation is the next step's: V(s'_t) = V(s_{t+1}).
    next_value = torch.randn(shape)
    inside = ~ended[:-1]
    next_value[:-1][inside] = value[1:][inside]
    adv, _ = gae(reward, value, next_value, terminated, ended, 0.9, 1.0)
    returns, known = reward_to_go(reward, terminated, ended, 0.9, next_value)
    assert known.all()
    assert torch.allclose(adv, returns - value, atol=1e-5)
