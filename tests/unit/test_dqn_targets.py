"""DQN's TD target, double vs vanilla, and the exploration schedule, by hand."""

import math

import pytest
import torch
from torch import nn

from litrl.algos.dqn import DQN, td_loss
from litrl.algos.schedules import decay
from litrl.data.buffers import NStepSample


class QTable(nn.Module):
    """Q(s, ·) looked up by the integer observation s."""

    def __init__(self, rows: list[list[float]]) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.tensor(rows))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.table[obs[:, 0].long()]


ONLINE = QTable([[0.0, 0.0], [1.0, 3.0]])  # online prefers action 1 in state 1
TARGET = QTable([[0.0, 0.0], [5.0, 2.0]])  # target prefers action 0 in state 1


def one_transition(rewards, terminated=False, steps=1):
    return NStepSample(
        obs=torch.tensor([[0.0]]),
        action=torch.tensor([0]),
        rewards=torch.tensor([rewards]),
        next_obs=torch.tensor([[1.0]]),
        terminated=torch.tensor([terminated]),
        bootstrap_steps=torch.tensor([steps]),
    )


def td_target_of(batch, double_q, gamma=0.5):
    # Q(s0, a0) = 0, so the MSE loss is the squared target itself.
    loss, _ = td_loss(ONLINE, TARGET, batch, gamma, double_q, "mse")
    return math.sqrt(loss.item())


def test_vanilla_target_takes_the_target_nets_max():
    # r + gamma * max_a Q_target(s1, a) = 1 + 0.5 * 5
    assert td_target_of(one_transition([1.0]), double_q=False) == pytest.approx(3.5)


def test_double_q_values_the_online_nets_choice_with_the_target_net():
    # online argmax in s1 is action 1; Q_target(s1, 1) = 2 -> 1 + 0.5 * 2
    assert td_target_of(one_transition([1.0]), double_q=True) == pytest.approx(2.0)


def test_n_step_target_discounts_rewards_and_bootstrap():
    # 1 + 0.5*2 + 0.25*4 + 0.5^3 * Q_target(s3, online argmax = 1) = 3 + 0.125 * 2
    batch = one_transition([1.0, 2.0, 4.0], steps=3)
    assert td_target_of(batch, double_q=True) == pytest.approx(3.25)


def test_termination_inside_the_window_zeroes_the_bootstrap():
    # the episode terminated after 2 steps: 1 + 0.5*2, no bootstrap, zero-padded third reward
    batch = one_transition([1.0, 2.0, 0.0], terminated=True, steps=2)
    assert td_target_of(batch, double_q=True) == pytest.approx(2.0)


def test_truncated_window_bootstraps_with_its_own_length():
    batch = one_transition([1.0, 2.0, 0.0], terminated=False, steps=2)
    assert td_target_of(batch, double_q=True) == pytest.approx(2.0 + 0.25 * 2)


@pytest.mark.parametrize("schedule", ["linear", "exponential"])
def test_epsilon_schedule_endpoints(schedule):
    dqn = DQN(
        (1,),
        2,
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_schedule=schedule,
        epsilon_decay_env_steps=1000,
    )
    assert dqn.epsilon(0) == pytest.approx(1.0)
    late = dqn.epsilon(1_000_000)
    assert late == pytest.approx(0.05, abs=1e-6)
    assert 0.05 < dqn.epsilon(500) < 1.0


def test_linear_decay_is_exact_midway_and_flat_after():
    assert decay(1.0, 0.0, 250, 1000, "linear") == pytest.approx(0.75)
    assert decay(1.0, 0.0, 2000, 1000, "linear") == 0.0
    assert decay(1.0, 0.0, 1000, 1000, "exponential") == pytest.approx(math.exp(-1))


def test_greedy_act_is_argmax_and_epsilon_one_is_random():
    torch.manual_seed(0)
    dqn = DQN((2,), 3, epsilon_start=1.0, epsilon_end=1.0, epsilon_decay_env_steps=1)
    obs = torch.randn(500, 2)
    greedy = dqn.act(obs, env_steps=0, greedy=True)
    assert torch.equal(greedy, dqn.q_net(obs).argmax(1))
    random_actions = dqn.act(obs, env_steps=0)
    assert set(random_actions.tolist()) == {0, 1, 2}
    assert (random_actions != greedy).float().mean() > 0.5


def test_hard_and_soft_target_updates():
    dqn = DQN((2,), 2, target_update="hard", target_update_every_updates=2)
    with torch.no_grad():
        for p in dqn.q_net.parameters():
            p.add_(1.0)
    dqn.updates = 1
    dqn._update_target()
    assert not torch.equal(dqn.q_net[0].weight, dqn.target_net[0].weight)
    dqn.updates = 2
    dqn._update_target()
    assert torch.equal(dqn.q_net[0].weight, dqn.target_net[0].weight)

    soft = DQN((2,), 2, target_update="soft", tau=0.25)
    before = soft.target_net[0].weight.clone()
    with torch.no_grad():
        soft.q_net[0].weight.add_(4.0)
    soft._update_target()
    assert torch.allclose(soft.target_net[0].weight, before + 1.0)
