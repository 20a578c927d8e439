"""Policy heads: NaN parameters reach the loss (for the divergence check), and the learned
log-std starts at log_std_init."""

import math

import pytest
import torch

from litrl.algos.heads import ActorCritic


@pytest.mark.parametrize("action_dim", [0, 2])
def test_nan_parameters_give_nan_log_probs_not_an_exception(action_dim: int):
    net = ActorCritic((3,), 0 if action_dim else 4, action_dim)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.fill_(float("nan"))
    obs = torch.randn(5, 3)
    action = torch.zeros(5, action_dim) if action_dim else torch.zeros(5, dtype=torch.long)
    assert torch.isnan(net.distribution(obs).log_prob(action)).all()


@pytest.mark.parametrize("ortho", [False, True])
def test_a_learned_log_std_starts_at_log_std_init(ortho: bool):
    torch.manual_seed(0)
    net = ActorCritic((3,), 0, action_dim=2, log_std="learned", log_std_init=-1.0)
    if ortho:
        net.orthogonal_init()
    std = net.distribution(torch.zeros(64, 3)).base_dist.scale
    assert std.log().mean().item() == pytest.approx(-1.0, abs=0.5 if not ortho else 1e-6)
    assert math.isfinite(std.max().item())
