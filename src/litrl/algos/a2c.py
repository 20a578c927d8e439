"""Advantage actor-critic (A2C) as a LightningModule; the base PPO builds on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor
from torch.nn import functional as F
from torch.optim.lr_scheduler import LRScheduler

from litrl.algos.base import OnPolicyModule
from litrl.algos.heads import LOG_STDS, ActorCritic
from litrl.algos.normalize import ObsNormalizer, RewardScaler, check_obs_normalizer_arguments
from litrl.algos.returns import gae, standardize
from litrl.algos.schedules import check_lr_schedule, lr_scheduler
from litrl.data.datamodule import RolloutBatch
from litrl.errors import check_choice, check_range

OPTIMIZERS = ("rmsprop", "adam")


class Rollout(NamedTuple):
    """One rollout flattened to ``(steps * num_envs, ...)``, with what the update needs.

    ``log_prob`` and ``value`` are those of the parameters that collected it; ``advantage``
    and ``returns`` come from GAE over the (maybe scaled) rewards.
    """

    obs: Tensor
    action: Tensor
    log_prob: Tensor
    value: Tensor
    advantage: Tensor
    returns: Tensor


def explained_variance(prediction: Tensor, target: Tensor) -> Tensor:
    """``1 - Var(target - prediction) / Var(target)``: 1 is perfect, <= 0 no better than a constant."""
    variance = target.var(correction=0)
    return 1 - (target - prediction).var(correction=0) / variance.clamp_min(1e-8)


def approx_kl(log_ratio: Tensor) -> Tensor:
    """KL(old || new) from samples of the old policy: ``mean((r - 1) - log r)`` (low variance,
    never negative; Schulman's "k3" estimator, as SB3 and CleanRL log it)."""
    return (torch.expm1(log_ratio) - log_ratio).mean()


class A2C(OnPolicyModule):
    """Synchronous advantage actor-critic with GAE(lambda).

    Paper: Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning", ICML 2016
    (its synchronous variant); Schulman et al., "High-Dimensional Continuous Control Using
    Generalized Advantage Estimation", ICLR 2016.

    Each ``training_step`` takes the rollout its parameters just collected over the vector
    envs (``num_envs`` x ``env_steps_per_collect / num_envs`` steps), estimates advantages with
    GAE (truncated episodes bootstrap from V of their final observation, terminated ones do
    not) and learns from it by ``learn()``: here one gradient step on
    ``policy_loss + value_loss_coef * value_loss - entropy_coef * entropy``.

    Args:
        obs_shape: shape of one observation (from the env).
        n_actions: size of a Discrete action space (from the env); 0 for a Box space.
        action_dim: size of a 1-D Box action space (from the env); 0 for a Discrete one.
        obs_categories: size of a Discrete observation space, one-hot encoded (from the env).
        image_obs: observations are stacked uint8 frames, read by a Nature CNN (from the env).
        hidden_sizes: the policy trunk's hidden widths (the shared trunk's, if shared).
        value_hidden_sizes: the value trunk's hidden widths (separate trunks only).
        activation: hidden-layer activation.
        shared_trunk: one trunk under the policy and value heads (Atari) or two.
        ortho_init: orthogonal initialisation (gain sqrt 2; 0.01 policy, 1 value output).
        log_std: Box actions: ``state_independent`` or ``learned`` (a second policy output).
        log_std_init: the initial log-std of a Box policy.
        optimizer: ``rmsprop`` (the paper's; alpha 0.99, eps 1e-5) or ``adam`` (eps 1e-5).
        lr: learning rate.
        lr_schedule: constant, or linear / exponential decay towards ``lr_final_fraction``.
        lr_final_fraction: the learning rate at the end, as a fraction of ``lr``.
        gamma: discount factor in [0, 1].
        gae_lambda: GAE's lambda in [0, 1]: 0 is the one-step TD error, 1 the Monte-Carlo
            return minus V.
        value_loss_coef: weight of the value loss (mean squared error to the GAE returns).
        entropy_coef: weight of the entropy bonus.
        max_grad_norm: clip the gradient's total norm (None: no clipping).
        normalize_advantage: standardise the advantages over each (mini)batch.
        normalize_obs: normalise observations by a running mean/std (Box observations).
        normalize_obs_env_steps: with ``normalize_obs``, only the rollouts that begin within
            this many env steps update the statistics (``ObsNormalizer``; None: every rollout).
        normalize_reward: scale rewards by the running std of the discounted return.
        log_every_env_steps: env steps between writes of training metrics.
    """

    action_spaces = ("discrete", "box")

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        action_dim: int = 0,
        obs_categories: int = 0,
        image_obs: bool = False,
        hidden_sizes: Sequence[int] = (64, 64),
        value_hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "tanh",
        shared_trunk: bool = False,
        ortho_init: bool = True,
        log_std: str = "state_independent",
        log_std_init: float = 0.0,
        optimizer: str = "rmsprop",
        lr: float = 7e-4,
        lr_schedule: str = "constant",
        lr_final_fraction: float = 0.0,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        value_loss_coef: float = 0.5,
        entropy_coef: float = 0.0,
        max_grad_norm: float | None = 0.5,
        normalize_advantage: bool = False,
        normalize_obs: bool = False,
        normalize_obs_env_steps: int | None = None,
        normalize_reward: bool = False,
        log_every_env_steps: int = 1_024,
    ) -> None:
        super().__init__(log_every_env_steps)
        self.hp = self.save_arguments(_check_arguments)
        self.net = ActorCritic(
            obs_shape, n_actions, action_dim, obs_categories, image_obs,
            hidden_sizes=hidden_sizes,
            value_hidden_sizes=value_hidden_sizes,
            activation=activation,
            shared_trunk=shared_trunk,
            log_std=log_std,
            log_std_init=log_std_init,
        )  # fmt: skip
        if ortho_init:
            self.net.orthogonal_init()
        self.n_actions = n_actions
        self.obs_stats = (
            ObsNormalizer(obs_shape, normalize_obs_env_steps) if normalize_obs else None
        )
        self.reward_scaler = RewardScaler(gamma) if normalize_reward else None

    # ---- learning -----------------------------------------------------------------------

    def training_step(self, batch: RolloutBatch, batch_idx: int) -> None:
        self.check_on_policy(batch.policy_version)
        rollout = self.prepare(batch)
        updates = self.learn(rollout)
        cast(LRScheduler, self.lr_schedulers()).step()
        self.policy_version += 1
        self.update_obs_stats(batch.rollout["obs"], batch.env_steps)
        self.accumulate(
            "train/explained_variance", explained_variance(rollout.value, rollout.returns)
        )
        self.finish_training_step(
            batch.env_steps, updates, batch.episode_returns, batch.episode_lengths,
            batch.rollout["reward"],
        )  # fmt: skip

    @torch.no_grad()
    def prepare(self, batch: RolloutBatch) -> Rollout:
        """The rollout's log-probs and values under the collecting parameters, and GAE."""
        steps = batch.rollout
        obs = self.normalized(steps["obs"].flatten(0, 1))
        distribution, value = self.net.distribution_and_value(obs)
        action = steps["action"].flatten(0, 1)
        reward = steps["reward"]
        value = value.view_as(reward)
        ended = steps["terminated"] | steps["truncated"]
        if self.reward_scaler is not None:
            reward = self.reward_scaler(reward, ended, batch.fresh_start)
        advantage, returns = gae(
            reward, value, self._next_values(batch, value), steps["terminated"],
            ended, self.hp.gamma, self.hp.gae_lambda,
        )  # fmt: skip
        return Rollout(
            obs=obs,
            action=action,
            log_prob=distribution.log_prob(action),
            value=value.flatten(),
            advantage=advantage.flatten(),
            returns=returns.flatten(),
        )

    def _next_values(self, batch: RolloutBatch, value: Tensor) -> Tensor:
        """V of each step's next observation: the next step's V inside an episode, a forward
        pass only for the last row and for truncated episodes' final observations."""
        steps = batch.rollout
        next_value = torch.empty_like(value)
        next_value[:-1] = value[1:]
        next_value[-1] = self.net.value(self.normalized(steps["next_obs"][-1]))
        truncated = steps["truncated"] & ~steps["terminated"]
        truncated[-1] = False
        if truncated.any():
            next_value[truncated] = self.net.value(self.normalized(steps["next_obs"][truncated]))
        return next_value

    def learn(self, rollout: Rollout) -> int:
        """One gradient step on the whole rollout; returns the number of updates."""
        distribution, value = self.net.distribution_and_value(rollout.obs)
        log_prob = distribution.log_prob(rollout.action)
        advantage = self.advantages(rollout.advantage)
        policy_loss = -(log_prob * advantage).mean()
        value_loss = F.mse_loss(value, rollout.returns)
        entropy = distribution.entropy().mean()
        self.step_on(policy_loss, value_loss, entropy)
        with torch.no_grad():
            new_log_prob = self.net.distribution(rollout.obs).log_prob(rollout.action)
            self.accumulate("train/approx_kl", approx_kl(new_log_prob - rollout.log_prob))
        return 1

    def advantages(self, advantage: Tensor) -> Tensor:
        """The advantages the policy loss weighs, standardised if asked."""
        if not self.hp.normalize_advantage or advantage.numel() < 2:
            return advantage  # a single sample stays as it is (SB3 skips it too)
        return standardize(advantage)

    def step_on(self, policy_loss: Tensor, value_loss: Tensor, entropy: Tensor) -> None:
        """One gradient step on the combined loss, and its metrics."""
        hp = self.hp
        loss = policy_loss + hp.value_loss_coef * value_loss
        if hp.entropy_coef:  # a zero weight would only add a backward pass through the entropy
            loss = loss - hp.entropy_coef * entropy
        optimizer = cast(LightningOptimizer, self.optimizers())
        grad_norm = self.update(loss, optimizer, clip_value=hp.max_grad_norm)
        self.accumulate("train/loss", loss)
        self.accumulate("train/policy_loss", policy_loss)
        self.accumulate("train/value_loss", value_loss)
        self.accumulate("train/entropy", entropy)
        self.accumulate("train/grad_norm", grad_norm)

    def configure_optimizers(self) -> tuple[list[torch.optim.Optimizer], list[LRScheduler]]:
        hp = self.hp
        optimizer: torch.optim.Optimizer
        if hp.optimizer == "rmsprop":
            optimizer = torch.optim.RMSprop(self.net.parameters(), lr=hp.lr, alpha=0.99, eps=1e-5)
        else:
            # foreach: one multi-tensor call per step instead of a Python loop over the
            # parameters; bit-identical to the loop, and half an update's Adam time on CPU
            # (where torch's default is the loop). CUDA's default is foreach already.
            optimizer = torch.optim.Adam(self.net.parameters(), lr=hp.lr, eps=1e-5, foreach=True)
        total_steps = self.trainer.estimated_stepping_batches
        return [optimizer], [
            lr_scheduler(optimizer, hp.lr_schedule, hp.lr_final_fraction, total_steps)
        ]

    def window_metrics(self) -> dict[str, float]:
        optimizer = cast(LightningOptimizer, self.optimizers())
        return {"train/lr": optimizer.param_groups[0]["lr"]}

    # ---- checkpoints --------------------------------------------------------------------

    def checkpoint_extras(self) -> dict[str, Any]:
        extras = super().checkpoint_extras()
        if self.reward_scaler is not None and self.reward_scaler.running_return is not None:
            extras["running_return"] = self.reward_scaler.running_return.cpu()
        return extras

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        super().load_checkpoint_extras(extras)
        if self.reward_scaler is not None and "running_return" in extras:
            self.reward_scaler.running_return = extras["running_return"]


def _check_arguments(args: dict[str, Any]) -> None:
    check_range("algo.gamma", args["gamma"], 0.0, 1.0)
    check_range("algo.gae_lambda", args["gae_lambda"], 0.0, 1.0)
    check_range("algo.lr", args["lr"], 0.0, math.inf, low_open=True)
    check_range("algo.value_loss_coef", args["value_loss_coef"], 0.0, math.inf)
    check_range("algo.entropy_coef", args["entropy_coef"], 0.0, math.inf)
    if args["max_grad_norm"] is not None:
        check_range("algo.max_grad_norm", args["max_grad_norm"], 0.0, math.inf, low_open=True)
    check_choice("algo.optimizer", args["optimizer"], OPTIMIZERS)
    check_lr_schedule(args["lr_schedule"], args["lr_final_fraction"])
    check_choice("algo.log_std", args["log_std"], LOG_STDS)
    check_obs_normalizer_arguments(args)
