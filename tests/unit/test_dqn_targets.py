"""DQN's TD target, double vs vanilla, and the exploration schedule, by hand."""

import math

import pytest
import torch
from torch import nn

from litrl.algos.dqn import DQN, td_loss, td_target
from litrl.algos.schedules import decay
from litrl.data.record import replay_sample


class QTable(nn.Module):
    """Q(s, ·) looked up by the integer observation s."""

    def __init__(self, rows: list[list[float]]) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.tensor(rows))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.table[obs[:, 0].long()]


# rows are states 0, 1, 2; columns actions 0, 1
ONLINE = QTable([[10.0, 20.0], [1.0, 3.0], [6.0, 4.0]])  # prefers a=1 in s1, a=0 in s2
TARGET = QTable([[0.0, 0.0], [5.0, 2.0], [1.0, 7.0]])  # prefers a=0 in s1, a=1 in s2


def transitions(rewards, next_states, actions=(1, 0), terminated=(False, False), steps=(1, 1)):
    """A batch of transitions that all start in state 0."""
    return replay_sample(
        obs=torch.zeros(len(next_states), 1),
        action=torch.tensor(actions),
        rewards=torch.tensor(rewards),
        next_obs=torch.tensor(next_states, dtype=torch.float32).unsqueeze(1),
        terminated=torch.tensor(terminated),
        bootstrap_steps=torch.tensor(steps),
    )


ONE_STEP = transitions(rewards=[[1.0], [2.0]], next_states=[1, 2])


def test_vanilla_target_takes_the_target_nets_max():
    # r + 0.5 * max_a Q_target(s', a): 1 + 0.5*5 and 2 + 0.5*7
    targets = td_target(ONLINE, TARGET, ONE_STEP, gamma=0.5, double_q=False)
    assert targets.tolist() == pytest.approx([3.5, 5.5])


def test_double_q_values_the_online_nets_choice_with_the_target_net():
    # online picks a=1 in s1 and a=0 in s2: 1 + 0.5*Q_target(s1,1)=2 and 2 + 0.5*Q_target(s2,0)=1
    targets = td_target(ONLINE, TARGET, ONE_STEP, gamma=0.5, double_q=True)
    assert targets.tolist() == pytest.approx([2.0, 2.5])


def test_loss_compares_the_q_value_of_the_action_taken():
    loss, q_taken = td_loss(ONLINE, TARGET, ONE_STEP, gamma=0.5, double_q=True, loss="mse")
    assert q_taken.tolist() == [20.0, 10.0]  # Q(s0, a=1) and Q(s0, a=0)
    assert loss.item() == pytest.approx(((20 - 2.0) ** 2 + (10 - 2.5) ** 2) / 2)


def test_n_step_target_discounts_rewards_and_bootstrap():
    # 1 + 0.5*2 + 0.25*4 + 0.5^3 * Q_target(s1, a=1) = 3 + 0.125 * 2
    batch = transitions(
        rewards=[[1.0, 2.0, 4.0], [0.0, 0.0, 8.0]], next_states=[1, 2], steps=(3, 3)
    )
    targets = td_target(ONLINE, TARGET, batch, gamma=0.5, double_q=True)
    assert targets.tolist() == pytest.approx([3.25, 0.25 * 8 + 0.125 * 1])


def test_termination_inside_the_window_zeroes_the_bootstrap_truncation_does_not():
    # both windows end after 2 steps (zero-padded third reward); only the first terminated
    batch = transitions(
        rewards=[[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]],
        next_states=[1, 1],
        terminated=(True, False),
        steps=(2, 2),
    )
    targets = td_target(ONLINE, TARGET, batch, gamma=0.5, double_q=True)
    assert targets.tolist() == pytest.approx([2.0, 2.0 + 0.25 * 2])


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
    assert not torch.equal(dqn.q_net[1].weight, dqn.target_net[1].weight)
    dqn.updates = 2
    dqn._update_target()
    assert torch.equal(dqn.q_net[1].weight, dqn.target_net[1].weight)

    soft = DQN((2,), 2, target_update="soft", tau=0.25)
    before = soft.target_net[1].weight.clone()
    with torch.no_grad():
        soft.q_net[1].weight.add_(4.0)
    soft._update_target()
    assert torch.allclose(soft.target_net[1].weight, before + 1.0)


def test_image_shaped_observations_are_flattened_for_the_mlp():
    dqn = DQN((2, 3), 4)
    obs = torch.randn(5, 2, 3)
    assert dqn.act(obs, env_steps=0, greedy=True).shape == (5,)
    batch = replay_sample(
        obs,
        torch.zeros(5, dtype=torch.long),
        torch.ones(5, 2),
        obs,
        torch.zeros(5, dtype=torch.bool),
        torch.full((5,), 2),
    )
    loss, _ = td_loss(dqn.q_net, dqn.target_net, batch, gamma=0.9, double_q=True, loss="huber")
    assert torch.isfinite(loss)
