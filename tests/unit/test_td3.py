"""TD3's clipped double-Q target and its delayed actor and target updates, by hand."""

from pathlib import Path

import pytest
import torch
from tensordict import TensorDict
from torch import nn

from litrl.algos import TD3
from litrl.algos.returns import clipped_double_q_target
from litrl.algos.td3 import td3_target
from litrl.config import compose_config
from litrl.data.record import replay_sample
from litrl.train import build


def test_clipped_double_q_target_bootstraps_on_the_smaller_critic_unless_terminated():
    next_q = torch.tensor([[4.0, 10.0, 6.0], [8.0, 2.0, 6.0]])  # critic 1, critic 2
    rewards = torch.tensor([[1.0, 0.5], [1.0, 0.0], [2.0, 0.0]])
    terminated = torch.tensor([False, False, True])
    steps = torch.tensor([2, 1, 1])  # the second window was truncated after one step
    target = clipped_double_q_target(next_q, rewards, terminated, steps, gamma=0.5)
    # 1 + 0.5*0.5 + 0.25*min(4, 8); 1 + 0.5*min(10, 2) (truncation bootstraps); 2 (terminated)
    assert target.tolist() == pytest.approx([2.25, 2.0, 2.0])


class ConstantActor(nn.Module):
    def normalized(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.full((obs.shape[0], 1), 0.9)


class ActionCritic(nn.Module):
    """Q(s, a) = scale * a: shows the target action the critic was asked about."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.scale * action[:, 0]


def _batch(terminated: list[bool]) -> TensorDict:
    n = len(terminated)
    return replay_sample(
        obs=torch.zeros(n, 1),
        action=torch.zeros(n, 1),
        rewards=torch.ones(n, 1),
        next_obs=torch.zeros(n, 1),
        terminated=torch.tensor(terminated),
        bootstrap_steps=torch.ones(n, dtype=torch.long),
    )


def test_td3_target_takes_the_min_of_the_target_critics_at_the_target_action():
    critics = nn.ModuleList([ActionCritic(10.0), ActionCritic(5.0)])
    batch = _batch([False, True])
    target = td3_target(ConstantActor(), critics, batch, 0.5, 0.0, 0.5)
    assert target.tolist() == pytest.approx([1 + 0.5 * 4.5, 1.0])  # min(9, 4.5)


def test_target_policy_smoothing_is_clipped_and_stays_in_bounds():
    critics = nn.ModuleList([ActionCritic(1.0)])
    batch = _batch([False] * 4096)
    torch.manual_seed(0)
    target = td3_target(ConstantActor(), critics, batch, 1.0, 10.0, 0.5)
    next_action = target - 1.0
    assert next_action.min().item() == pytest.approx(0.4)  # 0.9 - clip 0.5
    assert next_action.max().item() == pytest.approx(1.0)  # 0.9 + 0.5, clamped to the bound
    assert 0.4 < next_action.mean().item() < 1.0


def _module(policy_delay: int, n_critics: int = 2) -> TD3:
    return TD3(
        obs_shape=(3,),
        n_actions=0,
        action_dim=1,
        action_low=[-2.0],
        action_high=[2.0],
        actor_hidden_sizes=(8,),
        critic_hidden_sizes=(8,),
        policy_delay=policy_delay,
        n_critics=n_critics,
    )


def _record_updates(
    module: TD3, monkeypatch
) -> tuple[list[str], torch.optim.Optimizer, torch.optim.Optimizer]:
    """Plain SGD steps in place of Lightning's, recorded as "actor" or "critic"."""
    steps: list[str] = []
    actor_opt = torch.optim.SGD(module.actor.parameters(), lr=0.1)
    critic_opt = torch.optim.SGD(module.critics.parameters(), lr=0.1)

    def update(loss, optimizer, *args):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps.append("actor" if optimizer is actor_opt else "critic")
        return torch.zeros(())

    monkeypatch.setattr(module, "update", update)
    return steps, actor_opt, critic_opt


def _random_batch(obs_dim: int = 3) -> TensorDict:
    return replay_sample(
        obs=torch.randn(16, obs_dim),
        action=torch.rand(16, 1) * 4 - 2,
        rewards=torch.randn(16, 1),
        next_obs=torch.randn(16, obs_dim),
        terminated=torch.zeros(16, dtype=torch.bool),
        bootstrap_steps=torch.ones(16, dtype=torch.long),
    )


@pytest.mark.parametrize("policy_delay", [1, 2, 3])
def test_actor_and_targets_update_exactly_every_policy_delay_critic_updates(
    policy_delay: int, monkeypatch
):
    module = _module(policy_delay)
    steps, actor_opt, critic_opt = _record_updates(module, monkeypatch)
    torch.manual_seed(0)
    batch = _random_batch()
    for n in range(1, 3 * policy_delay + 1):
        actor_before = [p.clone() for p in module.actor.parameters()]
        targets_before = [p.clone() for p in module.target_actor.parameters()]
        targets_before += [p.clone() for p in module.target_critics.parameters()]
        module.learn(batch, [actor_opt, critic_opt])
        due = n % policy_delay == 0
        assert steps[-1] == ("actor" if due else "critic")
        actor_moved = any(
            not torch.equal(a, b)
            for a, b in zip(actor_before, module.actor.parameters(), strict=True)
        )
        target_params = [*module.target_actor.parameters(), *module.target_critics.parameters()]
        targets_moved = [
            not torch.equal(a, b) for a, b in zip(targets_before, target_params, strict=True)
        ]
        assert actor_moved == due
        assert all(targets_moved) if due else not any(targets_moved)
    assert steps.count("critic") == 3 * policy_delay and steps.count("actor") == 3


def test_greedy_acts_deterministically_and_exploration_stays_in_bounds():
    module = _module(2)
    obs = torch.randn(512, 3)
    assert torch.equal(module.act(obs, 0, greedy=True), module.act(obs, 0, greedy=True))
    noisy = module.act(obs, 0)
    assert not torch.equal(noisy, module.act(obs, 0, greedy=True))
    assert noisy.min() >= -2.0 and noisy.max() <= 2.0


def test_the_ddpg_preset_builds_one_critic_and_updates_the_actor_every_step(
    tmp_path: Path, monkeypatch
):
    cfg = compose_config(["experiment=ddpg_pendulum", "accelerator=cpu", f"run_dir={tmp_path}"])
    env = build(cfg.env)
    spec = TD3.check_env(env)
    kwargs = {k: v for k, v in cfg.algo.items() if k not in ("data", "_target_")}
    module = TD3(**kwargs, **TD3.env_kwargs(spec))
    assert len(module.critics) == 1 and len(module.target_critics) == 1
    assert module.hp.policy_delay == 1 and module.hp.target_policy_noise == 0
    assert module.actor.to_env(torch.tensor([[-1.0], [1.0]])).flatten().tolist() == [-2.0, 2.0]
    steps, actor_opt, critic_opt = _record_updates(module, monkeypatch)
    for _ in range(3):
        module.learn(_random_batch(), [actor_opt, critic_opt])
    assert steps == ["critic", "actor"] * 3
