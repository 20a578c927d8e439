"""The update loops of litrl.algos.TD3 and litrl.algos.SAC in plain PyTorch: no Lightning, same pieces.

They share litrl's collector, replay buffer, actor and critic modules and target functions
(``td3_target``, ``sac_target``, ``soft_update``), so that timing them against
``litrl.train.run`` on the same config measures what Lightning (and litrl's module around the
loop) adds and nothing else. The loop draws from the torch RNG in litrl's order (warm-up,
then per training step: collect, sample, updates), so a seed gives the same evaluations
(tests/e2e/test_plain_offpolicy_equivalence.py). Training metrics are not computed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig
from tensordict import TensorDict
from torch import Tensor, nn
from torch.nn import functional as F

from litrl.algos.continuous import twin_critics
from litrl.algos.off_policy import soft_update
from litrl.algos.sac import SAC, SquashedGaussianActor, min_q, sac_target
from litrl.algos.td3 import TD3, DeterministicActor, td3_target
from litrl.data.buffers import ReplayBuffer
from litrl.data.collector import Collector, evaluate
from litrl.data.record import action_field, obs_field
from litrl.envs import EnvFactory, EnvSpec
from litrl.nets import obs_encoder


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: Tensor,
    params: Iterable[Tensor],
    clip_mode: str = "none",
    clip: float = 0.0,
) -> None:
    """zero_grad, backward into ``params`` only, clip, step: what ``RLModule.update`` does
    under Lightning."""
    params = list(params)
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=params)
    if clip > 0 and clip_mode == "norm":
        nn.utils.clip_grad_norm_(params, clip)
    elif clip > 0 and clip_mode == "value":
        nn.utils.clip_grad_value_(params, clip)
    optimizer.step()


class PlainTD3:
    """TD3's networks, acting and update (litrl.algos.TD3, metrics left out)."""

    def __init__(self, algo: DictConfig, spec: EnvSpec) -> None:
        self.algo = algo
        low, high, action_dim = _bounds(spec)
        # Built in TD3.__init__'s order, so the same seed draws the same initial weights.
        encoder, in_features = obs_encoder(spec.obs_shape, spec.obs_categories, spec.image_obs)
        self.actor = DeterministicActor(
            encoder, in_features, low, high, algo.actor_hidden_sizes, algo.activation
        )
        self.critics = twin_critics(
            encoder, in_features, action_dim, algo.critic_hidden_sizes, algo.activation,
            algo.n_critics,
        )  # fmt: skip
        self.target_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.target_critics = copy.deepcopy(self.critics).requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(
            self.actor.parameters(), lr=algo.actor_lr, foreach=True
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critics.parameters(), lr=algo.critic_lr, foreach=True
        )
        self.critic_updates = 0

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        action = self.actor.normalized(obs)
        if not greedy and self.algo.exploration_noise > 0:
            noise = torch.randn_like(action) * self.algo.exploration_noise
            action = (action + noise).clamp(-1.0, 1.0)
        return self.actor.to_env(action)

    def learn(self, batch: TensorDict) -> None:
        a = self.algo
        target = td3_target(
            self.target_actor, self.target_critics, batch, a.gamma, a.target_policy_noise,
            a.target_noise_clip,
        )  # fmt: skip
        unit_action = self.actor.to_unit(batch["action"])
        q_values = [critic(batch["obs"], unit_action) for critic in self.critics]
        critic_loss = torch.stack([F.mse_loss(q, target) for q in q_values]).sum()
        optimizer_step(
            self.critic_optimizer, critic_loss, self.critics.parameters(), a.grad_clip_mode,
            a.grad_clip,
        )  # fmt: skip
        self.critic_updates += 1
        if self.critic_updates % a.policy_delay:
            return
        actor_loss = -self.critics[0](batch["obs"], self.actor.normalized(batch["obs"])).mean()
        optimizer_step(
            self.actor_optimizer, actor_loss, self.actor.parameters(), a.grad_clip_mode,
            a.grad_clip,
        )  # fmt: skip
        soft_update(self.target_actor, self.actor, a.tau)
        soft_update(self.target_critics, self.critics, a.tau)


class PlainSAC:
    """SAC's networks, acting and update (litrl.algos.SAC, metrics left out)."""

    def __init__(self, algo: DictConfig, spec: EnvSpec) -> None:
        self.algo = algo
        low, high, action_dim = _bounds(spec)
        target_entropy = algo.target_entropy
        self.target_entropy = float(-action_dim if target_entropy is None else target_entropy)
        # Built in SAC.__init__'s order, so the same seed draws the same initial weights.
        encoder, in_features = obs_encoder(spec.obs_shape, spec.obs_categories, spec.image_obs)
        self.actor = SquashedGaussianActor(
            encoder, in_features, low, high, algo.actor_hidden_sizes, algo.activation
        )
        self.critics = twin_critics(
            encoder, in_features, action_dim, algo.critic_hidden_sizes, algo.activation,
            algo.n_critics,
        )  # fmt: skip
        self.target_critics = copy.deepcopy(self.critics).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(algo.init_alpha), requires_grad=algo.learn_alpha)
        self.actor_optimizer = torch.optim.Adam(
            self.actor.parameters(), lr=algo.actor_lr, foreach=True
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critics.parameters(), lr=algo.critic_lr, foreach=True
        )
        self.alpha_optimizer = (
            torch.optim.Adam([self.log_alpha], lr=algo.alpha_lr, foreach=True)
            if algo.learn_alpha
            else None
        )
        self.gradient_steps = 0

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        action = self.actor.deterministic(obs) if greedy else self.actor.sample(obs)[0]
        return self.actor.to_env(action)

    def learn(self, batch: TensorDict) -> None:
        a = self.algo
        action, log_prob = self.actor.sample(batch["obs"])
        alpha = self.log_alpha.detach().exp()  # this step's losses use alpha before its update
        if self.alpha_optimizer is not None:
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            optimizer_step(self.alpha_optimizer, alpha_loss, [self.log_alpha])

        target = sac_target(self.actor, self.target_critics, batch, a.gamma, alpha)
        unit_action = self.actor.to_unit(batch["action"])
        q_values = [critic(batch["obs"], unit_action) for critic in self.critics]
        critic_loss = 0.5 * torch.stack([F.mse_loss(q, target) for q in q_values]).sum()
        optimizer_step(
            self.critic_optimizer, critic_loss, self.critics.parameters(), a.grad_clip_mode,
            a.grad_clip,
        )  # fmt: skip

        actor_loss = (alpha * log_prob - min_q(self.critics, batch["obs"], action)).mean()
        optimizer_step(
            self.actor_optimizer, actor_loss, self.actor.parameters(), a.grad_clip_mode,
            a.grad_clip,
        )  # fmt: skip

        self.gradient_steps += 1
        if self.gradient_steps % a.target_update_interval == 0:
            soft_update(self.target_critics, self.critics, a.tau)


PLAIN_ALGOS: dict[type, type[PlainTD3] | type[PlainSAC]] = {TD3: PlainTD3, SAC: PlainSAC}


def _bounds(spec: EnvSpec) -> tuple[Tensor, Tensor, int]:
    space = spec.action_space
    low = torch.as_tensor(space.low, dtype=torch.float32)
    high = torch.as_tensor(space.high, dtype=torch.float32)
    return low, high, math.prod(space.shape or ())


def train_plain(cfg: DictConfig) -> list[tuple[int, float]]:
    """Trains TD3 or SAC as configured in ``cfg`` (litrl's composed config); returns
    (env_steps, eval return) per evaluation."""
    algo, data = cfg.algo, cfg.algo.data
    if algo.lr_schedule != "constant":
        raise ValueError("the plain loop keeps its learning rates constant")
    torch.manual_seed(cfg.seed)
    env: EnvFactory = instantiate(cfg.env, _convert_="all")
    spec = env.spec()
    agent = PLAIN_ALGOS[get_class(algo._target_)](algo, spec)
    device = torch.device("cpu")
    collector = Collector(env.make_vector(data.num_envs, training=True), device, cfg.seed)
    eval_envs = env.make_vector(min(cfg.eval.num_envs, cfg.eval.episodes))
    obs, action = obs_field(spec.obs_shape, spec.obs_dtype), action_field(spec.action_space)
    buffer = ReplayBuffer(
        data.buffer_capacity, data.num_envs, obs.shape, device, obs.dtype, action.shape,
        action.dtype,
    )  # fmt: skip
    steps_per_eval = cfg.eval.every_env_steps // data.env_steps_per_collect
    evals = math.ceil(
        max(cfg.total_env_steps - data.warmup_env_steps, 1) / cfg.eval.every_env_steps
    )
    # ReplayDataModule's order: the random warm-up inside the first training step's collect,
    # then per step: collect with the actor, store, sample every minibatch, update.
    if data.warmup_env_steps:
        warmup_steps_per_env = math.ceil(data.warmup_env_steps / data.num_envs)
        buffer.extend(collector.collect(None, warmup_steps_per_env))
    history: list[tuple[int, float]] = []
    for step in range(evals * steps_per_eval):
        buffer.extend(collector.collect(agent, data.env_steps_per_collect // data.num_envs))
        sample = buffer.sample(data.updates_per_collect, data.batch_size, data.n_step)
        collector.pop_finished_episodes()
        for minibatch in sample.unbind(0):  # as litrl's replay_minibatches
            agent.learn(minibatch)
        if (step + 1) % steps_per_eval == 0:
            episodes = evaluate(
                agent, eval_envs, cfg.eval.episodes, cfg.seed + 10_000 + len(history), device
            )
            history.append((collector.env_steps, episodes.returns.mean().item()))
    return history
