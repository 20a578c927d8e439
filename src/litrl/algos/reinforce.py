"""REINFORCE (Monte-Carlo policy gradient) as a LightningModule."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import torch
from lightning.fabric.utilities.data import AttributeDict
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, Normal
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from litrl.algos.base import RLModule
from litrl.algos.returns import episode_return_per_step, reward_to_go
from litrl.algos.schedules import SCHEDULES, decay
from litrl.data.datamodule import TrajectoryBatch
from litrl.envs import EnvFactory, EnvSpec
from litrl.errors import ConfigError, check_choice, check_range
from litrl.nets import mlp, obs_encoder

RETURN_ESTIMATORS = ("reward_to_go", "total")
BASELINES = ("none", "running_mean", "value")
LOG_STDS = ("state_independent", "learned")


def policy_gradient_loss(log_prob: Tensor, advantage: Tensor, mask: Tensor) -> Tensor:
    """Minus the REINFORCE objective's sample estimate: ``-mean_t log pi(a_t|s_t) * A_t``.

    The notes' estimator sums over each trajectory's steps and averages over trajectories;
    averaging over steps instead only rescales it by the mean episode length, which Adam
    absorbs, and keeps its size independent of how long episodes are.

    Args:
        log_prob: log-probability of each action taken.
        advantage: its weight: a return, minus a baseline, maybe normalised (no gradient).
        mask: the steps whose weight is known.
    """
    return -(log_prob * advantage.detach())[mask].mean()


def normalize(values: Tensor, mask: Tensor) -> Tensor:
    """Zero mean and unit std over the ``mask``ed entries (a per-batch return normalisation)."""
    selected = values[mask]
    if selected.numel() < 2:
        return values - selected.mean() if selected.numel() else values
    return (values - selected.mean()) / (selected.std() + 1e-8)


class Reinforce(RLModule):
    """REINFORCE with the policy-gradient chapter's variance fixes as options.

    Paper: Williams, "Simple statistical gradient-following algorithms for connectionist
    reinforcement learning", Machine Learning 1992.

    Each ``training_step`` takes one rollout collected by the current parameters (the batch
    carries the policy version that collected it, and a stale batch is refused), computes the
    Monte-Carlo returns and takes one gradient step.

    Args:
        obs_shape: shape of one observation (from the env).
        obs_categories: size of a Discrete observation space, one-hot encoded (from the env);
            0 for Box observations.
        image_obs: observations are stacked uint8 frames, read by a Nature CNN (from the env).
        n_actions: size of a Discrete action space (from the env); 0 for a Box space.
        action_dim: size of a 1-D Box action space (from the env); 0 for a Discrete one.
        hidden_sizes: widths of the policy network's hidden layers.
        activation: hidden-layer activation.
        lr: Adam learning rate of the policy.
        lr_schedule: constant, or linear / exponential decay of both learning rates towards
            ``lr_final_fraction`` of their start over the run (a late, small step size keeps a
            solved policy from drifting off).
        lr_final_fraction: linear: the learning rates at the end, as a fraction of the start.
        gamma: discount factor in [0, 1].
        return_estimator: ``total`` weights every log-prob with its whole episode's return
            R(tau), exactly the notes' formula; ``reward_to_go`` with the return from that step on.
        normalize_returns: standardise the weights over each batch.
        baseline: ``none``; ``running_mean`` of the returns; or ``value``, a learned V(s)
            (the weight becomes G - V(s), and V also completes episodes cut by the rollout end).
        baseline_momentum: the running mean's weight on its previous value.
        value_hidden_sizes: widths of the value network's hidden layers.
        value_lr: Adam learning rate of the value network.
        value_loss_coef: weight of the value network's squared error.
        entropy_coef: weight of the entropy bonus.
        log_std: Box actions: ``state_independent`` (one learned log-std per action
            dimension) or ``learned`` (a second head of the policy network).
        log_std_init: the initial log-std of a Box policy.
        grad_clip_norm: clip the policy gradient's norm (None: no clipping).
        log_every_env_steps: env steps between writes of training metrics.
    """

    running_return: Tensor  # a registered buffer: saved with the checkpoint

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        action_dim: int = 0,
        obs_categories: int = 0,
        image_obs: bool = False,
        hidden_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        lr: float = 3e-2,
        lr_schedule: str = "linear",
        lr_final_fraction: float = 0.0,
        gamma: float = 0.99,
        return_estimator: str = "reward_to_go",
        normalize_returns: bool = True,
        baseline: str = "value",
        baseline_momentum: float = 0.9,
        value_hidden_sizes: Sequence[int] = (128,),
        value_lr: float = 1e-2,
        value_loss_coef: float = 1.0,
        entropy_coef: float = 0.01,
        log_std: str = "state_independent",
        log_std_init: float = 0.0,
        grad_clip_norm: float | None = None,
        log_every_env_steps: int = 1_024,
    ) -> None:
        super().__init__(log_every_env_steps)
        _check_arguments(locals())
        self.save_hyperparameters(logger=False)  # run() logs the whole resolved config
        self.hp = cast(AttributeDict, self.hparams)
        self.automatic_optimization = False
        encoder, in_features = obs_encoder(obs_shape, obs_categories, image_obs)
        self.continuous = action_dim > 0
        heads = 2 * action_dim if log_std == "learned" else action_dim
        self.policy = mlp(
            in_features, heads if self.continuous else n_actions, hidden_sizes, activation, encoder
        )
        self.log_std = (
            nn.Parameter(torch.full((action_dim,), log_std_init))
            if self.continuous and log_std == "state_independent"
            else None
        )
        self.value = (
            mlp(in_features, 1, value_hidden_sizes, activation, copy.deepcopy(encoder))
            if baseline == "value"
            else None
        )
        self.n_actions = n_actions
        self.policy_version = 0  # policy updates so far; stamps the rollouts it collects
        self.register_buffer("running_return", torch.zeros(()))

    @staticmethod
    def check_env(env: EnvFactory) -> EnvSpec:
        """The env's spec, or a ConfigError if REINFORCE cannot act in it."""
        spec = env.spec()
        space = spec.action_space
        if spec.n_actions < 1 and not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
            raise ConfigError(
                f"REINFORCE needs a Discrete or a 1-D Box action space, but {spec.env_id} "
                f"has {space}."
            )
        return spec

    @staticmethod
    def spec_kwargs(spec: EnvSpec) -> dict[str, Any]:
        """The constructor arguments that come from the env."""
        action_dim = 0 if spec.n_actions else math.prod(spec.action_space.shape or (0,))
        return {**RLModule.obs_kwargs(spec), "action_dim": action_dim}

    # ---- acting -------------------------------------------------------------------------

    def distribution(self, obs: Tensor) -> Distribution:
        """The policy's action distribution for a batch of observations: categorical for
        Discrete actions, a diagonal Gaussian for Box actions."""
        output = self.policy(obs)
        if not self.continuous:
            return Categorical(logits=output)
        if self.log_std is not None:
            mean, log_std = output, self.log_std.expand_as(output)
        else:
            mean, log_std = output.chunk(2, dim=-1)
        return Independent(Normal(mean, log_std.exp()), 1)

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        """Sampled actions, or the most likely ones (the mean, for Box) when ``greedy``."""
        distribution = self.distribution(obs)
        if not greedy:
            return distribution.sample()
        if isinstance(distribution, Categorical):
            return distribution.probs.argmax(dim=-1)
        return distribution.mean

    # ---- learning -----------------------------------------------------------------------

    def training_step(self, batch: TrajectoryBatch, batch_idx: int) -> None:
        if batch.policy_version != self.policy_version:
            raise RuntimeError(
                f"on-policy violation: a rollout of policy version {batch.policy_version} reached "
                f"update {self.policy_version}; the data side must collect after each update."
            )
        rollout = batch.transitions
        obs_shape = rollout.obs.shape[2:]
        flat_obs = rollout.obs.reshape(-1, *obs_shape)
        distribution = self.distribution(flat_obs)
        log_prob = distribution.log_prob(rollout.action.flatten(0, 1)).view_as(rollout.reward)
        entropy = distribution.entropy().view_as(rollout.reward)
        weights, mask, values = self._weights(batch)
        if not mask.any():  # no step's return is known yet: nothing to learn from this rollout
            self.finish_training_step(
                batch.env_steps, 0, batch.episode_returns, batch.episode_lengths
            )
            return
        advantage = self._subtract_baseline(weights, mask, values)
        if self.hp.normalize_returns:
            advantage = normalize(advantage, mask)
        loss = (
            policy_gradient_loss(log_prob, advantage, mask)
            - self.hp.entropy_coef * entropy[mask].mean()
        )
        optimizers = self._optimizers()
        optimizers[0].zero_grad(set_to_none=True)
        self.manual_backward(loss)
        max_norm = self.hp.grad_clip_norm or math.inf
        grad_norm = nn.utils.clip_grad_norm_(self._policy_parameters(), max_norm)
        optimizers[0].step()
        if values is not None:
            self._update_value(optimizers[1], values, weights, mask)
        for scheduler in self._schedulers():
            scheduler.step()
        self.policy_version += 1
        self.updates += 1
        self.accumulate("train/loss", loss)
        self.accumulate("train/entropy", entropy[mask].mean())
        self.accumulate("train/grad_norm", grad_norm)
        self.finish_training_step(batch.env_steps, 1, batch.episode_returns, batch.episode_lengths)

    def _weights(self, batch: TrajectoryBatch) -> tuple[Tensor, Tensor, Tensor | None]:
        """The returns that weight each log-prob, where they are known, and V(s) if learned."""
        rollout = batch.transitions
        values = next_values = None
        if self.value is not None:
            values = self.value(rollout.obs.flatten(0, 1)).view_as(rollout.reward)
            with torch.no_grad():
                next_values = self.value(rollout.next_obs.flatten(0, 1)).view_as(rollout.reward)
        with torch.no_grad():
            returns, known = reward_to_go(
                rollout.reward,
                rollout.terminated,
                rollout.episode_ended,
                self.hp.gamma,
                next_values,
            )
            if self.hp.return_estimator == "total":
                returns, whole = episode_return_per_step(
                    returns, rollout.episode_ended, batch.fresh_start
                )
                known = known & whole
        return returns, known, values

    def _subtract_baseline(self, weights: Tensor, mask: Tensor, values: Tensor | None) -> Tensor:
        if self.hp.baseline == "value":
            assert values is not None
            return weights - values.detach()
        if self.hp.baseline == "running_mean":
            baselined = weights - self.running_return
            if mask.any():
                momentum = self.hp.baseline_momentum
                self.running_return.mul_(momentum).add_((1 - momentum) * weights[mask].mean())
            return baselined
        return weights

    def _update_value(
        self, optimizer: LightningOptimizer, values: Tensor, weights: Tensor, mask: Tensor
    ) -> None:
        value_loss = self.hp.value_loss_coef * F.mse_loss(values[mask], weights[mask])
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(value_loss)
        optimizer.step()
        self.accumulate("train/value_loss", value_loss)

    def configure_optimizers(self) -> tuple[list[torch.optim.Optimizer], list[LRScheduler]]:
        optimizers: list[torch.optim.Optimizer] = [
            torch.optim.Adam(self._policy_parameters(), lr=self.hp.lr)
        ]
        if self.value is not None:
            optimizers.append(torch.optim.Adam(self.value.parameters(), lr=self.hp.value_lr))
        total_steps = max(int(self.trainer.estimated_stepping_batches), 1)
        hp = self.hp

        def lr_factor(step: int) -> float:
            return decay(1.0, hp.lr_final_fraction, step, total_steps, hp.lr_schedule)

        return optimizers, [LambdaLR(optimizer, lr_factor) for optimizer in optimizers]

    def _policy_parameters(self) -> list[nn.Parameter]:
        """The policy network's parameters and, for Box actions, its state-independent log-std."""
        extra = [self.log_std] if self.log_std is not None else []
        return [*self.policy.parameters(), *extra]

    def _schedulers(self) -> list[LRScheduler]:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return []
        return cast(list[LRScheduler], schedulers if isinstance(schedulers, list) else [schedulers])

    def window_metrics(self) -> dict[str, float]:
        metrics = {"train/lr": self._optimizers()[0].param_groups[0]["lr"]}
        if self.hp.baseline == "running_mean":
            metrics["train/running_return"] = float(self.running_return)
        return metrics

    def _optimizers(self) -> list[LightningOptimizer]:
        """Policy optimizer first, then the value network's; Lightning unwraps a single one."""
        optimizers = self.optimizers()
        return optimizers if isinstance(optimizers, list) else [optimizers]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["litrl"]["policy_version"] = self.policy_version

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.policy_version = checkpoint.get("litrl", {}).get("policy_version", 0)


def _check_arguments(args: dict[str, Any]) -> None:
    check_range("algo.gamma", args["gamma"], 0.0, 1.0)
    check_range("algo.lr", args["lr"], 0.0, math.inf, low_open=True)
    check_range("algo.value_lr", args["value_lr"], 0.0, math.inf, low_open=True)
    check_range("algo.baseline_momentum", args["baseline_momentum"], 0.0, 1.0)
    check_range("algo.entropy_coef", args["entropy_coef"], 0.0, math.inf)
    check_choice("algo.lr_schedule", args["lr_schedule"], SCHEDULES)
    check_choice("algo.log_std", args["log_std"], LOG_STDS)
    check_choice("algo.return_estimator", args["return_estimator"], RETURN_ESTIMATORS)
    check_choice("algo.baseline", args["baseline"], BASELINES)
