"""REINFORCE's gradient estimators against the exact policy gradient of a two-step MDP.

A tabular softmax policy: in state 0 it picks a0 and moves to state 1 + a0, where it picks a1
and the episode terminates. J(theta) is a finite sum, so autograd gives its exact gradient.
litrl's estimator averages over steps, i.e. the notes' (1/n) sum_i sum_h divided by the
episode length (2 here), so the test multiplies the estimates by 2.

Reward-to-go weights step h by the return from h on without the gamma^h in front, as nearly
every implementation does; that is the exact gradient only for gamma = 1, so it is checked
there. R(tau) (the notes' formula) is exact for any gamma and is checked at 0.9.
"""

import pytest
import torch
from torch.distributions import Categorical

from litrl.algos.reinforce import policy_gradient_loss
from litrl.algos.returns import episode_return_per_step, reward_to_go

EXACT_GAMMA = {"total": 0.9, "reward_to_go": 1.0}
FIRST_REWARD = torch.tensor([10.0, 11.0])  # r(s0, a0); the offset makes a baseline matter
SECOND_REWARD = torch.tensor([[0.0, 0.0], [10.0, 13.0], [12.0, 10.0]])  # r(s, a1) in s = 1, 2
THETA = torch.tensor([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])


def exact_objective(theta, gamma):
    pi = theta.softmax(dim=1)
    second = (pi[1:] * SECOND_REWARD[1:]).sum(dim=1)  # expected r(s, a1) for s = 1, 2
    return (pi[0] * (FIRST_REWARD + gamma * second)).sum()


def exact_values(theta, gamma):
    """V(s0) and V(s) for s = 1, 2 under the policy."""
    pi = theta.softmax(dim=1)
    second = (pi[1:] * SECOND_REWARD[1:]).sum(dim=1)
    return exact_objective(theta, gamma), second


def estimate(theta, episodes, estimator, baseline, gamma, generator):
    """One REINFORCE gradient estimate from ``episodes`` sampled episodes (time-major, T=2)."""
    pi = theta.detach().softmax(dim=1)
    a0 = torch.multinomial(pi[0].expand(episodes, 2), 1, generator=generator).squeeze(1)
    s1 = 1 + a0
    a1 = torch.multinomial(pi[s1], 1, generator=generator).squeeze(1)
    states = torch.stack([torch.zeros_like(s1), s1])
    actions = torch.stack([a0, a1])
    reward = torch.stack([FIRST_REWARD[a0], SECOND_REWARD[s1, a1]])
    ended = torch.stack(
        [torch.zeros(episodes, dtype=torch.bool), torch.ones(episodes, dtype=torch.bool)]
    )
    returns, known = reward_to_go(reward, ended, ended, gamma)
    if estimator == "total":
        returns, whole = episode_return_per_step(
            returns, ended, torch.ones(episodes, dtype=torch.bool)
        )
        known &= whole
    if baseline == "constant":
        # what the running-mean baseline converges to; fixed before the batch is drawn, as
        # the running mean is (a mean over the batch itself would bias the estimate)
        returns = returns - 15.0
    elif baseline == "value":
        v0, v_second = exact_values(theta.detach(), gamma)
        returns = returns - torch.stack([v0.expand(episodes), v_second[s1 - 1]])
    theta = theta.detach().requires_grad_(True)
    log_prob = Categorical(logits=theta[states]).log_prob(actions)
    loss = policy_gradient_loss(log_prob, returns, known)
    (gradient,) = torch.autograd.grad(-loss, theta)
    return 2 * gradient  # from a per-step mean back to the notes' per-episode sum


def estimates(estimator, baseline, gamma=0.9, count=1500, episodes=8):
    generator = torch.Generator().manual_seed(0)
    return torch.stack(
        [estimate(THETA, episodes, estimator, baseline, gamma, generator) for _ in range(count)]
    )


def exact_gradient(gamma):
    theta = THETA.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(exact_objective(theta, gamma), theta)
    return gradient


@pytest.mark.parametrize("baseline", ["none", "constant", "value"])
@pytest.mark.parametrize("estimator", ["total", "reward_to_go"])
def test_mean_estimate_matches_the_exact_gradient(estimator, baseline):
    gamma = EXACT_GAMMA[estimator]
    exact = exact_gradient(gamma)
    samples = estimates(estimator, baseline, gamma)
    standard_error = samples.std(dim=0) / samples.shape[0] ** 0.5
    assert (samples.mean(dim=0) - exact).abs().le(4 * standard_error + 1e-3).all()
    largest = exact.abs().argmax()
    assert exact.flatten()[largest].abs() > 5 * standard_error.flatten()[largest]  # has power


def test_reward_to_go_without_gamma_powers_is_biased_below_gamma_one():
    samples = estimates("reward_to_go", "value", gamma=0.9)
    standard_error = samples.std(dim=0) / samples.shape[0] ** 0.5
    assert ((samples.mean(dim=0) - exact_gradient(0.9)).abs() > 6 * standard_error).any()


def test_reward_to_go_and_baselines_reduce_the_variance():
    def total_variance(estimator, baseline):
        return estimates(estimator, baseline).var(dim=0).sum().item()

    r_tau = total_variance("total", "none")
    to_go = total_variance("reward_to_go", "none")
    constant = total_variance("reward_to_go", "constant")
    value = total_variance("reward_to_go", "value")
    assert r_tau > to_go > constant > value
