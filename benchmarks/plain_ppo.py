"""The PPO update loop of litrl.algos.PPO in plain PyTorch: no Lightning, same pieces.

It shares litrl's collector, networks, GAE, losses and schedules, so that timing it against
``litrl.train.run`` on the same config measures what Lightning (and litrl's module around the
loop) adds and nothing else. Observation and reward normalisation are left out.
"""

from __future__ import annotations

import math

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from tensordict import TensorDict
from torch import Tensor

from litrl.algos.a2c import approx_kl
from litrl.algos.heads import ActorCritic
from litrl.algos.ppo import PPO_DEFAULTS, clipped_surrogate_loss, clipped_value_loss
from litrl.algos.returns import gae
from litrl.algos.schedules import decay
from litrl.data.collector import Collector, evaluate
from litrl.envs import EnvFactory


class Sampler:
    """The acting half of litrl's PPO, for the plain loop."""

    def __init__(self, net: ActorCritic) -> None:
        self.net = net

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        return self.net.greedy_action(obs) if greedy else self.net.distribution(obs).sample()


def _advantages(net: ActorCritic, steps: TensorDict, gamma: float, lam: float):
    """Log-probs, values, advantages and returns of one rollout under the collecting net."""
    with torch.no_grad():
        obs, action = steps["obs"].flatten(0, 1), steps["action"].flatten(0, 1)
        distribution, value = net.distribution_and_value(obs)
        value = value.view_as(steps["reward"])
        next_value = torch.empty_like(value)
        next_value[:-1] = value[1:]
        next_value[-1] = net.value(steps["next_obs"][-1])
        truncated = steps["truncated"] & ~steps["terminated"]
        truncated[-1] = False
        if truncated.any():
            next_value[truncated] = net.value(steps["next_obs"][truncated])
        advantage, returns = gae(
            steps["reward"],
            value,
            next_value,
            steps["terminated"],
            steps["terminated"] | steps["truncated"],
            gamma,
            lam,
        )
    log_prob = distribution.log_prob(action)
    return obs, action, log_prob, value.flatten(), advantage.flatten(), returns.flatten()


def train_plain(cfg: DictConfig) -> list[tuple[int, float]]:
    """Trains PPO as configured in ``cfg`` (litrl's composed config); returns (env_steps, eval return)."""
    algo, data = cfg.algo, cfg.algo.data
    if algo.normalize_obs or algo.normalize_reward or algo.target_kl is not None:
        raise ValueError("the plain loop has no normalisation and no target_kl")
    torch.manual_seed(cfg.seed)
    env: EnvFactory = instantiate(cfg.env, _convert_="all")
    spec = env.spec()
    action_dim = 0 if spec.n_actions else math.prod(spec.action_space.shape or ())
    net = ActorCritic(
        spec.obs_shape, spec.n_actions, action_dim, hidden_sizes=algo.hidden_sizes,
        value_hidden_sizes=algo.value_hidden_sizes, activation=algo.activation,
        shared_trunk=algo.shared_trunk, log_std=algo.log_std, log_std_init=algo.log_std_init,
    )  # fmt: skip
    if algo.ortho_init:
        net.orthogonal_init()
    assert algo.optimizer == PPO_DEFAULTS["optimizer"]
    optimizer = torch.optim.Adam(net.parameters(), lr=algo.lr, eps=1e-5, foreach=True)
    device = torch.device("cpu")
    collector = Collector(env.make_vector(data.num_envs, training=True), device, cfg.seed)
    eval_envs = env.make_vector(min(cfg.eval.num_envs, cfg.eval.episodes))
    steps_per_eval = cfg.eval.every_env_steps // data.env_steps_per_collect
    total_steps = math.ceil(cfg.total_env_steps / cfg.eval.every_env_steps) * steps_per_eval
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: decay(1.0, algo.lr_final_fraction, step, total_steps, algo.lr_schedule),
    )
    actor, history = Sampler(net), []
    for step in range(total_steps):
        steps = collector.collect(actor, data.env_steps_per_collect // data.num_envs)
        collector.pop_finished_episodes()
        obs, action, old_log_prob, old_value, advantage, returns = _advantages(
            net, steps, algo.gamma, algo.gae_lambda
        )
        clip_range = decay(algo.clip_range, 0.0, step, total_steps, algo.clip_range_schedule)
        size = obs.shape[0]
        for _ in range(algo.n_epochs):
            for idx in torch.randperm(size).split(algo.batch_size):
                distribution, value = net.distribution_and_value(obs[idx])
                log_prob = distribution.log_prob(action[idx])
                approx_kl((log_prob - old_log_prob[idx]).detach())  # litrl logs it: same work
                adv = advantage[idx]
                if algo.normalize_advantage:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy_loss, _ = clipped_surrogate_loss(
                    log_prob, old_log_prob[idx], adv, clip_range
                )
                value_loss = clipped_value_loss(
                    value, old_value[idx], returns[idx], algo.clip_range_vf
                )
                entropy = distribution.entropy().mean()
                loss = policy_loss + algo.value_loss_coef * value_loss
                if algo.entropy_coef:
                    loss = loss - algo.entropy_coef * entropy
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if algo.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), algo.max_grad_norm)
                optimizer.step()
        scheduler.step()
        if (step + 1) % steps_per_eval == 0:
            episodes = evaluate(
                actor, eval_envs, cfg.eval.episodes, cfg.seed + 10_000 + len(history), device
            )
            history.append((collector.env_steps, episodes.returns.mean().item()))
    return history
