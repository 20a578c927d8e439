"""SAC's tanh-Gaussian log-prob, soft target, temperature and target updates, by hand."""

import math
from pathlib import Path

import pytest
import torch
from tensordict import TensorDict
from torch import nn

from litrl.algos import SAC
from litrl.algos.sac import sac_target, tanh_gaussian_log_prob
from litrl.data.record import replay_sample
from litrl.errors import ConfigError


def test_tanh_gaussian_log_prob_matches_a_numerical_change_of_variables():
    mean = torch.tensor([[0.3, -1.0], [2.0, 0.0]], dtype=torch.float64)
    log_std = torch.tensor([[-0.5, 0.2], [0.0, -1.5]], dtype=torch.float64)
    pre_tanh = torch.tensor([[0.1, -2.5], [4.0, 0.7]], dtype=torch.float64)
    # density of a = tanh(u): N(u) / |da/du|, with the derivative by central differences
    h = 1e-6
    derivative = (torch.tanh(pre_tanh + h) - torch.tanh(pre_tanh - h)) / (2 * h)
    normal = torch.distributions.Normal(mean, log_std.exp())
    expected = (normal.log_prob(pre_tanh) - derivative.log()).sum(dim=-1)
    got = tanh_gaussian_log_prob(pre_tanh, mean, log_std)
    assert got.tolist() == pytest.approx(expected.tolist(), abs=1e-6)


def test_tanh_gaussian_density_integrates_to_one_over_the_action_interval():
    mean, log_std = torch.tensor([0.8], dtype=torch.float64), torch.tensor([-0.3])
    actions = torch.linspace(-1 + 1e-9, 1 - 1e-9, 200_001, dtype=torch.float64)
    pre_tanh = torch.atanh(actions).unsqueeze(-1)
    density = tanh_gaussian_log_prob(pre_tanh, mean, log_std.double()).exp()
    assert torch.trapezoid(density, actions).item() == pytest.approx(1.0, abs=1e-4)


def test_log_prob_stays_finite_where_tanh_saturates():
    pre_tanh = torch.tensor([[30.0], [-30.0]])
    log_prob = tanh_gaussian_log_prob(pre_tanh, torch.zeros(2, 1), torch.zeros(2, 1))
    assert torch.isfinite(log_prob).all()


class FixedActor(nn.Module):
    """Samples the same next action and log-prob for every observation."""

    def __init__(self, action: float, log_prob: float) -> None:
        super().__init__()
        self.action, self.log_prob = action, log_prob

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = obs.shape[0]
        return torch.full((n, 1), self.action), torch.full((n,), self.log_prob)


class ActionCritic(nn.Module):
    """Q(s, a) = scale * a."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.scale * action[:, 0]


def test_soft_target_bootstraps_on_the_smaller_critic_minus_the_entropy_term():
    critics = nn.ModuleList([ActionCritic(10.0), ActionCritic(4.0)])
    batch = replay_sample(
        obs=torch.zeros(3, 1),
        action=torch.zeros(3, 1),
        rewards=torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]]),
        next_obs=torch.zeros(3, 1),
        terminated=torch.tensor([False, False, True]),
        bootstrap_steps=torch.tensor([2, 1, 1]),  # the second window was truncated after one step
    )
    target = sac_target(FixedActor(0.5, -1.5), critics, batch, 0.5, torch.tensor(0.2))
    soft_q = min(10 * 0.5, 4 * 0.5) - 0.2 * -1.5  # 2.3
    assert target.tolist() == pytest.approx(
        [1 + 0.5 + 0.25 * soft_q, 1 + 0.5 * soft_q, 1.0]  # two steps; truncated; terminated
    )


def _module(**kwargs) -> SAC:
    return SAC(
        obs_shape=(3,),
        n_actions=0,
        action_dim=2,
        action_low=[-2.0, 0.0],
        action_high=[2.0, 1.0],
        actor_hidden_sizes=(16,),
        critic_hidden_sizes=(16,),
        **kwargs,
    )


def _plain_optimizers(module: SAC, monkeypatch, lr: float = 0.05) -> list[torch.optim.Optimizer]:
    """Plain Adam steps in place of Lightning's."""
    optimizers = [
        torch.optim.Adam(group.parameters(), lr=lr) for group in (module.actor, module.critics)
    ]
    if module.hp.learn_alpha:
        optimizers.append(torch.optim.Adam([module.log_alpha], lr=lr))

    def update(loss, optimizer, *args):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return torch.zeros(())

    monkeypatch.setattr(module, "update", update)
    return optimizers


def _batch(n: int = 32) -> TensorDict:
    return replay_sample(
        obs=torch.randn(n, 3),
        action=torch.stack([torch.rand(n) * 4 - 2, torch.rand(n)], dim=1),
        rewards=torch.randn(n, 1),
        next_obs=torch.randn(n, 3),
        terminated=torch.zeros(n, dtype=torch.bool),
        bootstrap_steps=torch.ones(n, dtype=torch.long),
    )


@pytest.mark.parametrize(("target_entropy", "grows"), [(5.0, True), (-50.0, False)])
def test_alpha_rises_when_entropy_is_below_target_and_falls_when_above(
    target_entropy: float, grows: bool, monkeypatch
):
    torch.manual_seed(0)
    module = _module(target_entropy=target_entropy)
    optimizers = _plain_optimizers(module, monkeypatch)
    for _ in range(5):
        module.learn(_batch(), optimizers)
    assert (module.log_alpha.item() > 0) == grows


def test_fixed_alpha_is_not_learned_and_default_target_entropy_is_minus_action_dims(monkeypatch):
    assert _module().target_entropy == -2.0
    module = _module(init_alpha=0.2, learn_alpha=False)
    assert all(p is not module.log_alpha for p in module.parameters())
    assert "log_alpha" in module.state_dict()
    torch.manual_seed(0)
    optimizers = _plain_optimizers(module, monkeypatch)
    assert len(optimizers) == 2
    module.learn(_batch(), optimizers)
    assert module.log_alpha.exp().item() == pytest.approx(0.2)


def test_target_entropy_with_a_fixed_alpha_is_refused():
    with pytest.raises(ConfigError, match=r"algo.target_entropy=-1.0 .*algo.learn_alpha=false"):
        _module(learn_alpha=False, target_entropy=-1.0)


@pytest.mark.parametrize("interval", [1, 3])
def test_targets_follow_every_target_update_interval_gradient_steps(interval: int, monkeypatch):
    torch.manual_seed(0)
    module = _module(target_update_interval=interval)
    optimizers = _plain_optimizers(module, monkeypatch)
    for n in range(1, 2 * interval + 1):
        before = [p.clone() for p in module.target_critics.parameters()]
        module.learn(_batch(), optimizers)
        moved = [
            not torch.equal(a, b)
            for a, b in zip(before, module.target_critics.parameters(), strict=True)
        ]
        assert all(moved) if n % interval == 0 else not any(moved)


def test_a_learning_step_moves_actor_and_critics_but_never_the_targets_by_gradient(monkeypatch):
    torch.manual_seed(0)
    module = _module(tau=1e-9)
    optimizers = _plain_optimizers(module, monkeypatch)
    actor = [p.clone() for p in module.actor.parameters()]
    critics = [p.clone() for p in module.critics.parameters()]
    module.learn(_batch(), optimizers)
    assert all(not torch.equal(a, b) for a, b in zip(actor, module.actor.parameters(), strict=True))
    assert all(
        not torch.equal(a, b) for a, b in zip(critics, module.critics.parameters(), strict=True)
    )
    assert all(p.grad is None for p in module.target_critics.parameters())


def test_actions_are_scaled_to_the_bounds_and_greedy_is_deterministic():
    module = _module()
    obs = torch.randn(2048, 3)
    sampled = module.act(obs, 0)
    assert (sampled[:, 0].abs() <= 2.0).all()
    assert ((sampled[:, 1] >= 0) & (sampled[:, 1] <= 1)).all()
    assert sampled[:, 0].std() > 0.5  # a fresh policy explores across the range
    assert torch.equal(module.act(obs, 0, greedy=True), module.act(obs, 0, greedy=True))
    assert not torch.equal(sampled, module.act(obs, 0))


def test_the_squashed_policys_entropy_estimate_is_below_its_gaussians():
    torch.manual_seed(0)
    module = _module()
    obs = torch.zeros(50_000, 3)
    _, log_prob = module.actor.sample(obs)
    _, log_std = module.actor.mean_and_log_std(obs[:1])
    # |d tanh / du| <= 1, so squashing can only lower the entropy: a sign slip in the
    # log-det correction would raise it
    gaussian_entropy = (0.5 * math.log(2 * math.pi * math.e) + log_std).sum().item()
    assert -log_prob.mean().item() < gaussian_entropy


def test_a_linear_lr_schedule_anneals_every_optimizer_alpha_included(smoke_cfg):
    from litrl.events import read_scalars
    from litrl.train import run

    cfg = smoke_cfg(
        "algo=sac",
        "env=pendulum",
        "total_env_steps=3072",
        "algo.data.warmup_env_steps=1024",
        "algo.data.batch_size=32",
        "algo.data.updates_per_collect=2",
        "algo.actor_hidden_sizes=[16]",
        "algo.critic_hidden_sizes=[16]",
        "algo.lr_schedule=linear",
        "algo.log_every_env_steps=256",
    )
    run(cfg)
    checkpoint = torch.load(Path(cfg.run_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    # 8 training steps of the run's 8: every optimizer's factor is 1 - 8/8 = 0
    assert [s["_last_lr"] for s in checkpoint["lr_schedulers"]] == [[0.0]] * 3
    logged = [point.value for point in read_scalars(cfg.run_dir)["train/lr"]]
    assert logged[0] < 3e-4 and logged == sorted(logged, reverse=True)
