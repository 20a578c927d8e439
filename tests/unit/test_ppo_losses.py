"""PPO's clipped objective and value clipping on known-answer examples."""

import math

import pytest
import torch

from litrl.algos.a2c import approx_kl, explained_variance
from litrl.algos.ppo import clipped_surrogate_loss, clipped_value_loss

# Ratios inside and outside [0.8, 1.2], with both signs of the advantage.
RATIO = torch.tensor([0.5, 1.0, 1.5, 1.5, 0.5])
ADVANTAGE = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0])


def test_clipped_objective_takes_the_pessimistic_term():
    log_prob = RATIO.log().requires_grad_()
    loss, clip_fraction = clipped_surrogate_loss(log_prob, torch.zeros(5), ADVANTAGE, 0.2)
    # min(rA, clip(r)A): 0.5, 1.0, 1.2 (clipped), -1.5, -0.8 (clipped); mean 0.08
    assert loss.item() == pytest.approx(-0.08)
    assert clip_fraction.item() == pytest.approx(0.8)
    loss.backward()
    # Where the clipped term is the minimum the gradient is zero; elsewhere -r*A/n.
    expected = torch.tensor([-0.1, -0.2, 0.0, 0.3, 0.0])
    assert torch.allclose(log_prob.grad, expected)


def test_at_ratio_one_the_objective_is_the_policy_gradient():
    log_prob = torch.zeros(5, requires_grad=True)
    loss, clip_fraction = clipped_surrogate_loss(log_prob, torch.zeros(5), ADVANTAGE, 0.2)
    loss.backward()
    assert clip_fraction.item() == 0.0
    assert torch.allclose(log_prob.grad, -ADVANTAGE / 5)


def test_value_clipping_takes_the_larger_error():
    value, old_value, returns = torch.tensor([2.0, 0.0]), torch.ones(2), torch.full((2,), 3.0)
    # unclipped errors 1 and 9; clipped predictions 1.5 and 0.5: errors 2.25 and 6.25
    assert clipped_value_loss(value, old_value, returns, None).item() == pytest.approx(5.0)
    assert clipped_value_loss(value, old_value, returns, 0.5).item() == pytest.approx(5.625)


def test_approx_kl_is_zero_on_policy_and_positive_off_it():
    assert approx_kl(torch.zeros(3)).item() == 0.0
    log_ratio = torch.tensor([math.log(2.0)])
    assert approx_kl(log_ratio).item() == pytest.approx(1.0 - math.log(2.0))


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(target, target).item() == pytest.approx(1.0)
    assert explained_variance(torch.full((3,), 2.0), target).item() == pytest.approx(0.0)
