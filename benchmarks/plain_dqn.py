"""The DQN update loop of litrl.algos.DQN in plain PyTorch: no Lightning, same pieces.

It shares litrl's buffer, collector, network builder, TD loss and schedules, so that timing it
against ``litrl.train.run`` on the same config measures what Lightning adds and nothing else.
"""

from __future__ import annotations

import math

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor, nn

from litrl.algos.dqn import make_optimizer, td_loss
from litrl.algos.off_policy import soft_update
from litrl.algos.schedules import decay
from litrl.data.buffers import ReplayBuffer
from litrl.data.collector import Collector, evaluate
from litrl.envs import EnvFactory
from litrl.nets import mlp


class EpsilonGreedy:
    """The acting half of litrl's DQN, for the plain loop."""

    def __init__(self, q_net: nn.Module, n_actions: int, algo: DictConfig) -> None:
        self.q_net, self.n_actions, self.algo = q_net, n_actions, algo

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        actions = self.q_net(obs).argmax(dim=1)
        if greedy:
            return actions
        a = self.algo
        epsilon = decay(
            a.epsilon_start, a.epsilon_end, env_steps, a.epsilon_decay_env_steps, a.epsilon_schedule
        )
        explore = torch.rand(actions.shape[0]) < epsilon
        return torch.where(explore, torch.randint_like(actions, self.n_actions), actions)


def train_plain(cfg: DictConfig) -> list[tuple[int, float]]:
    """Trains DQN as configured in ``cfg`` (litrl's composed config); returns (env_steps, eval return)."""
    torch.manual_seed(cfg.seed)
    algo, data = cfg.algo, cfg.algo.data
    env: EnvFactory = instantiate(cfg.env, _convert_="all")
    spec = env.spec()
    q_net = mlp(math.prod(spec.obs_shape), spec.n_actions, algo.hidden_sizes, algo.activation)
    target_net = mlp(math.prod(spec.obs_shape), spec.n_actions, algo.hidden_sizes, algo.activation)
    target_net.load_state_dict(q_net.state_dict())
    target_net.requires_grad_(False)
    optimizer = make_optimizer(q_net.parameters(), algo.lr, algo.amsgrad, algo.weight_decay)
    device = torch.device("cpu")
    collector = Collector(env.make_vector(data.num_envs), device, cfg.seed)
    eval_envs = env.make_vector(min(cfg.eval.num_envs, cfg.eval.episodes))
    buffer = ReplayBuffer(data.buffer_capacity, data.num_envs, spec.obs_shape, device)
    actor = EpsilonGreedy(q_net, spec.n_actions, algo)
    steps_per_eval = cfg.eval.every_env_steps // data.env_steps_per_collect
    evals = math.ceil(
        max(cfg.total_env_steps - data.warmup_env_steps, 1) / cfg.eval.every_env_steps
    )
    total_steps = evals * steps_per_eval
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: decay(1.0, algo.lr_final_fraction, step, total_steps, algo.lr_schedule),
    )
    buffer.extend(collector.collect(None, math.ceil(data.warmup_env_steps / data.num_envs)))
    updates, history = 0, []
    for step in range(total_steps):
        buffer.extend(collector.collect(actor, data.env_steps_per_collect // data.num_envs))
        collector.pop_finished_episodes()
        sample = buffer.sample(data.updates_per_collect, data.batch_size, data.n_step)
        for minibatch in sample.unbind(0):  # as litrl's replay_minibatches
            loss, _ = td_loss(q_net, target_net, minibatch, algo.gamma, algo.double_q, algo.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if algo.grad_clip_mode == "norm":
                nn.utils.clip_grad_norm_(q_net.parameters(), algo.grad_clip)
            elif algo.grad_clip_mode == "value":
                nn.utils.clip_grad_value_(q_net.parameters(), algo.grad_clip)
            optimizer.step()
            updates += 1
            with torch.no_grad():
                if algo.target_update == "soft":
                    soft_update(target_net, q_net, algo.tau)
                elif updates % algo.target_update_every_updates == 0:
                    target_net.load_state_dict(q_net.state_dict())
        scheduler.step()
        if (step + 1) % steps_per_eval == 0:
            episodes = evaluate(
                actor, eval_envs, cfg.eval.episodes, cfg.seed + 10_000 + len(history), device
            )
            history.append((collector.env_steps, episodes.returns.mean().item()))
    return history
