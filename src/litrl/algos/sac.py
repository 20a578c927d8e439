"""Soft Actor-Critic (SAC) as a LightningModule."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from tensordict import TensorDict
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from litrl.algos.continuous import (
    BoundedActor,
    BoxActionModule,
    check_shared_arguments,
    twin_critics,
)
from litrl.algos.off_policy import soft_update
from litrl.algos.returns import clipped_double_q_target
from litrl.errors import ConfigError, check_range
from litrl.nets import obs_encoder, trunk

# SB3's and the SAC authors' bounds on the Gaussian's log-std, before the tanh.
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def tanh_gaussian_log_prob(pre_tanh: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """log pi(a | s) of ``a = tanh(u)``, ``u ~ N(mean, exp(log_std))``, summed over action dims.

    Change of variables: ``log pi(a) = log N(u) - sum log(1 - tanh(u)^2)``, with
    ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))``, which stays finite where
    ``tanh(u)`` rounds to +-1.
    """
    # No argument validation: NaN parameters must reach the loss, where the divergence check
    # names the run's last good checkpoint, not raise inside torch.distributions.
    normal = torch.distributions.Normal(mean, log_std.exp(), validate_args=False)
    log_det = 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))
    return (normal.log_prob(pre_tanh) - log_det).sum(dim=-1)


class SquashedGaussianActor(BoundedActor):
    """obs -> a Gaussian in pre-tanh space; actions are its tanh, scaled to the env's bounds."""

    def __init__(
        self,
        encoder: nn.Module,
        in_features: int,
        action_low: Tensor,
        action_high: Tensor,
        hidden_sizes: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__(action_low, action_high)
        self.trunk, width = trunk(encoder, in_features, hidden_sizes, activation)
        self.mean = nn.Linear(width, action_low.numel())
        self.log_std = nn.Linear(width, action_low.numel())

    def mean_and_log_std(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        features = self.trunk(obs)
        log_std = self.log_std(features).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return self.mean(features), log_std

    def sample(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """A reparameterised action in [-1, 1] units and its log-probability."""
        mean, log_std = self.mean_and_log_std(obs)
        pre_tanh = mean + log_std.exp() * torch.randn_like(mean)
        return torch.tanh(pre_tanh), tanh_gaussian_log_prob(pre_tanh, mean, log_std)

    def deterministic(self, obs: Tensor) -> Tensor:
        """The greedy action in [-1, 1] units: the tanh of the mean."""
        return torch.tanh(self.mean_and_log_std(obs)[0])


def min_q(critics: nn.ModuleList, obs: Tensor, unit_action: Tensor) -> Tensor:
    """The smallest of the critics' estimates of ``Q(obs, unit_action)``."""
    return torch.stack([critic(obs, unit_action) for critic in critics]).min(dim=0).values


@torch.no_grad()
def sac_target(
    actor: SquashedGaussianActor,
    target_critics: nn.ModuleList,
    batch: TensorDict,
    gamma: float,
    alpha: Tensor,
) -> Tensor:
    """The soft clipped double-Q target: a' ~ pi(.|s'), then
    n-step return + gamma^steps * (1 - terminated) * (min_i Q_target_i(s', a') - alpha log pi(a'|s'))."""
    next_action, next_log_prob = actor.sample(batch["next_obs"])
    next_q = torch.stack([critic(batch["next_obs"], next_action) for critic in target_critics])
    soft_next_q = next_q - alpha * next_log_prob
    return clipped_double_q_target(
        soft_next_q, batch["rewards"], batch["terminated"], batch["bootstrap_steps"], gamma
    )


class SAC(BoxActionModule):
    """SAC: a tanh-squashed Gaussian actor, twin critics, entropy regularisation with alpha tuned
    towards a target entropy (or fixed), soft target updates.

    Papers: Haarnoja et al., "Soft Actor-Critic: Off-Policy Maximum Entropy Deep Reinforcement
    Learning with a Stochastic Actor", ICML 2018, and "Soft Actor-Critic Algorithms and
    Applications", 2018 (the learned temperature, no value network). The update follows
    Stable-Baselines3's: per gradient step, alpha first (on log alpha), then the critics, then
    the actor on the minimum of the updated critics.

    Args:
        obs_shape: shape of one observation (from the env).
        n_actions: 0: SAC acts only in Box spaces (from the env).
        action_dim: size of the 1-D Box action space (from the env).
        action_low: the Box's lower bounds (from the env).
        action_high: the Box's upper bounds (from the env).
        obs_categories: size of a Discrete observation space, one-hot encoded (from the env).
        image_obs: observations are stacked uint8 frames, read by a Nature CNN (from the env).
        actor_hidden_sizes: the actor's hidden widths.
        critic_hidden_sizes: each critic's hidden widths.
        activation: hidden-layer activation.
        actor_lr: the actor's Adam learning rate.
        critic_lr: the critics' Adam learning rate.
        alpha_lr: the Adam learning rate of log alpha (when ``learn_alpha``).
        gamma: discount factor in [0, 1].
        n_step: rewards summed before bootstrapping; the replay windows must have this length.
        tau: Polyak weight of the online critics per target update, in (0, 1].
        n_critics: critics whose minimum is the target and the actor's objective.
        target_update_interval: gradient steps between target updates.
        init_alpha: the entropy temperature alpha at the start (all along when not learned).
        learn_alpha: tune alpha so the policy's entropy tracks ``target_entropy``.
        target_entropy: the entropy alpha steers towards; None: ``-action_dim`` (the paper's).
        grad_clip_mode: value, norm or none (actor and critics; never alpha).
        grad_clip: the clip threshold for ``grad_clip_mode``.
        lr_schedule: constant, or linear / exponential decay of every learning rate towards
            ``lr_final_fraction`` of its start, over the run's training steps.
        lr_final_fraction: the learning rates' factor at the end (linear) or approached.
        log_every_env_steps: env steps between writes of training metrics.
    """

    log_alpha: Tensor

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        action_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        obs_categories: int = 0,
        image_obs: bool = False,
        actor_hidden_sizes: Sequence[int] = (256, 256),
        critic_hidden_sizes: Sequence[int] = (256, 256),
        activation: str = "relu",
        actor_lr: float = 3e-4,
        critic_lr: float = 3e-4,
        alpha_lr: float = 3e-4,
        gamma: float = 0.99,
        n_step: int = 1,
        tau: float = 0.005,
        n_critics: int = 2,
        target_update_interval: int = 1,
        init_alpha: float = 1.0,
        learn_alpha: bool = True,
        target_entropy: float | None = None,
        grad_clip_mode: str = "none",
        grad_clip: float = 10.0,
        lr_schedule: str = "constant",
        lr_final_fraction: float = 0.0,
        log_every_env_steps: int = 1_000,
    ) -> None:
        super().__init__(log_every_env_steps)
        self.hp = self.save_arguments(_check_arguments)
        self.n_actions = n_actions
        self.target_entropy = float(-action_dim if target_entropy is None else target_entropy)
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        encoder, in_features = obs_encoder(obs_shape, obs_categories, image_obs)
        self.actor = SquashedGaussianActor(
            encoder, in_features, low, high, actor_hidden_sizes, activation
        )
        self.critics = twin_critics(
            encoder, in_features, action_dim, critic_hidden_sizes, activation, n_critics
        )
        self.target_critics = copy.deepcopy(self.critics).requires_grad_(False)
        log_alpha = torch.tensor(math.log(init_alpha))
        if learn_alpha:
            self.log_alpha = nn.Parameter(log_alpha)
        else:
            self.register_buffer("log_alpha", log_alpha)
        self.gradient_steps = 0

    # ---- acting -------------------------------------------------------------------------

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        """A sampled action while training; the tanh of the mean when greedy."""
        action = self.actor.deterministic(obs) if greedy else self.actor.sample(obs)[0]
        return self.actor.to_env(action)

    # ---- learning -----------------------------------------------------------------------

    def learn(self, batch: TensorDict, optimizers: Sequence[LightningOptimizer]) -> None:
        """One gradient step of alpha (when learned), the critics and the actor; the targets
        follow every ``target_update_interval`` steps. ``optimizers``: actor, critics[, alpha]."""
        hp = self.hp
        actor_optimizer, critic_optimizer, *alpha_optimizer = optimizers
        action, log_prob = self.actor.sample(batch["obs"])
        # This step's losses use alpha from before its own update, as SB3's do.
        alpha = self.log_alpha.detach().exp()
        if alpha_optimizer:
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            self.update(alpha_loss, alpha_optimizer[0], "none")
            self.accumulate("train/alpha_loss", alpha_loss)

        target = sac_target(self.actor, self.target_critics, batch, hp.gamma, alpha)
        unit_action = self.actor.to_unit(batch["action"])
        q_values = [critic(batch["obs"], unit_action) for critic in self.critics]
        critic_loss = 0.5 * torch.stack([F.mse_loss(q, target) for q in q_values]).sum()
        self.update(critic_loss, critic_optimizer, hp.grad_clip_mode, hp.grad_clip)

        # update() backpropagates through the critics into the actor's parameters only.
        actor_loss = (alpha * log_prob - min_q(self.critics, batch["obs"], action)).mean()
        self.update(actor_loss, actor_optimizer, hp.grad_clip_mode, hp.grad_clip)

        self.gradient_steps += 1
        if self.gradient_steps % hp.target_update_interval == 0:
            soft_update(self.target_critics, self.critics, hp.tau)
        self.accumulate("train/critic_loss", critic_loss)
        self.accumulate("train/actor_loss", actor_loss)
        self.accumulate("train/q_mean", q_values[0].mean())
        self.accumulate("train/alpha", alpha)
        self.accumulate("train/entropy", -log_prob.detach().mean())

    def configure_optimizers(self) -> tuple[list[Optimizer], list[LRScheduler]]:
        hp = self.hp
        # foreach: as TD3's (bit-identical to torch's CPU default loop, about half its time).
        optimizers: list[Optimizer] = [
            torch.optim.Adam(self.actor.parameters(), lr=hp.actor_lr, foreach=True),
            torch.optim.Adam(self.critics.parameters(), lr=hp.critic_lr, foreach=True),
        ]
        if hp.learn_alpha:
            optimizers.append(torch.optim.Adam([self.log_alpha], lr=hp.alpha_lr, foreach=True))
        return self.with_lr_schedules(optimizers)

    def window_metrics(self) -> dict[str, float]:
        return {**super().window_metrics(), "train/target_entropy": self.target_entropy}

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"gradient_steps": self.gradient_steps}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        self.gradient_steps = extras.get("gradient_steps", 0)


def _check_arguments(args: dict[str, Any]) -> None:
    check_shared_arguments(args)
    check_range("algo.alpha_lr", args["alpha_lr"], 0.0, math.inf, low_open=True)
    check_range("algo.target_update_interval", args["target_update_interval"], 1, math.inf)
    check_range("algo.init_alpha", args["init_alpha"], 0.0, math.inf, low_open=True)
    if args["target_entropy"] is not None and not args["learn_alpha"]:
        raise ConfigError(
            f"algo.target_entropy={args['target_entropy']} only steers a learned alpha, but "
            f"algo.learn_alpha=false keeps alpha at algo.init_alpha={args['init_alpha']}. Set "
            "algo.learn_alpha=true, or drop algo.target_entropy (algo.target_entropy=null)."
        )
