"""REINFORCE (Monte-Carlo policy gradient) as a LightningModule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor
from torch.nn import functional as F
from torch.optim.lr_scheduler import LRScheduler

from litrl.algos.base import OnPolicyModule
from litrl.algos.heads import LOG_STDS, ActorCritic
from litrl.algos.normalize import ObsNormalizer, check_obs_normalizer_arguments
from litrl.algos.returns import episode_return_per_step, reward_to_go, standardize
from litrl.algos.schedules import check_lr_schedule, lr_scheduler
from litrl.data.datamodule import RolloutBatch
from litrl.errors import check_choice, check_range

RETURN_ESTIMATORS = ("reward_to_go", "total")
BASELINES = ("none", "running_mean", "value")


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


class Reinforce(OnPolicyModule):
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
        value_steps: gradient steps of the value network per rollout: the first shares the
            policy's backward, the others fit V alone to the same returns (Spinning Up's VPG
            takes 80: ``train_v_iters``). A V that fits its returns leaves less noise in
            G - V(s), the noise that otherwise walks a solved policy off its solution.
        entropy_coef: weight of the entropy bonus.
        normalize_obs: normalise observations by a running mean/std (Box observations).
        normalize_obs_env_steps: with ``normalize_obs``, only the rollouts that begin within
            this many env steps update the statistics (``ObsNormalizer``; None: every rollout).
        log_std: Box actions: ``state_independent`` (one learned log-std per action
            dimension) or ``learned`` (a second head of the policy network).
        log_std_init: the initial log-std of a Box policy.
        grad_clip_norm: clip the policy gradient's norm (None: no clipping).
        log_every_env_steps: env steps between writes of training metrics.
    """

    action_spaces = ("discrete", "box")
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
        value_steps: int = 20,
        entropy_coef: float = 0.01,
        normalize_obs: bool = False,
        normalize_obs_env_steps: int | None = None,
        log_std: str = "state_independent",
        log_std_init: float = 0.0,
        grad_clip_norm: float | None = None,
        log_every_env_steps: int = 1_024,
    ) -> None:
        super().__init__(log_every_env_steps)
        self.hp = self.save_arguments(_check_arguments)
        self.net = ActorCritic(
            obs_shape, n_actions, action_dim, obs_categories, image_obs,
            hidden_sizes=hidden_sizes,
            value_hidden_sizes=value_hidden_sizes if baseline == "value" else None,
            activation=activation,
            log_std=log_std,
            log_std_init=log_std_init,
        )  # fmt: skip
        self.n_actions = n_actions
        self.register_buffer("running_return", torch.zeros(()))
        self.obs_stats = (
            ObsNormalizer(obs_shape, normalize_obs_env_steps) if normalize_obs else None
        )

    # ---- learning -----------------------------------------------------------------------

    def training_step(self, batch: RolloutBatch, batch_idx: int) -> None:
        self.check_on_policy(batch.policy_version)
        rollout = batch.rollout
        obs = self.normalized(rollout["obs"].flatten(0, 1))
        distribution = self.net.distribution(obs)
        log_prob = distribution.log_prob(rollout["action"].flatten(0, 1)).view_as(rollout["reward"])
        entropy = distribution.entropy().view_as(rollout["reward"])
        weights, mask, values = self._weights(batch, obs)
        if not mask.any():  # no step's return is known yet: nothing to learn from this rollout
            self.finish_training_step(
                batch.env_steps, 0, batch.episode_returns, batch.episode_lengths
            )
            return
        advantage = self._subtract_baseline(weights, mask, values)
        if self.hp.normalize_returns:
            advantage = standardize(advantage, mask)
        loss = (
            policy_gradient_loss(log_prob, advantage, mask)
            - self.hp.entropy_coef * entropy[mask].mean()
        )
        updates_before = self.updates
        value_loss = torch.zeros_like(loss)
        if values is not None:
            value_loss = self.hp.value_loss_coef * F.mse_loss(values[mask], weights[mask])
            self.accumulate("train/value_loss", value_loss)
        # The value network has its own parameters (and learning rate): one backward serves
        # both, and only the policy's gradient is clipped and measured.
        grad_norm = self.update(
            loss + value_loss,
            cast(LightningOptimizer, self.optimizers()),
            clip_value=self.hp.grad_clip_norm,
            clip_parameters=self.net.policy_parameters(),
        )
        if values is not None:
            self._fit_value(obs, weights, mask)
        cast(LRScheduler, self.lr_schedulers()).step()
        self.policy_version += 1
        self.update_obs_stats(rollout["obs"], batch.env_steps)
        self.accumulate("train/loss", loss)
        self.accumulate("train/entropy", entropy[mask].mean())
        self.accumulate("train/grad_norm", grad_norm)
        self.finish_training_step(
            batch.env_steps, self.updates - updates_before, batch.episode_returns,
            batch.episode_lengths, rollout["reward"],
        )  # fmt: skip

    def _fit_value(self, obs: Tensor, returns: Tensor, mask: Tensor) -> None:
        """The value network's steps after the first, on the rollout's returns (the policy's
        parameters get no gradient, so Adam leaves them as they are)."""
        optimizer = cast(LightningOptimizer, self.optimizers())
        for _ in range(self.hp.value_steps - 1):
            values = self.net.value(obs).view_as(returns)
            value_loss = self.hp.value_loss_coef * F.mse_loss(values[mask], returns[mask])
            self.update(value_loss, optimizer, clip_mode="none")

    def _weights(self, batch: RolloutBatch, obs: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """The returns that weight each log-prob, where they are known, and V(s) if learned
        (``obs``: the rollout's observations flattened, as the networks see them)."""
        rollout = batch.rollout
        values = next_values = None
        if self.net.has_value:
            values = self.net.value(obs).view_as(rollout["reward"])
            with torch.no_grad():
                next_obs = self.normalized(rollout["next_obs"].flatten(0, 1))
                next_values = self.net.value(next_obs).view_as(rollout["reward"])
        with torch.no_grad():
            returns, known = reward_to_go(
                rollout["reward"],
                rollout["terminated"],
                (rollout["terminated"] | rollout["truncated"]),
                self.hp.gamma,
                next_values,
            )
            if self.hp.return_estimator == "total":
                returns, whole = episode_return_per_step(
                    returns, (rollout["terminated"] | rollout["truncated"]), batch.fresh_start
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

    def configure_optimizers(self) -> tuple[list[torch.optim.Optimizer], list[LRScheduler]]:
        groups = [{"params": list(self.net.policy_parameters()), "lr": self.hp.lr}]
        if self.net.has_value:
            groups.append({"params": list(self.net.value_parameters()), "lr": self.hp.value_lr})
        optimizer = torch.optim.Adam(groups)
        hp = self.hp
        total_steps = self.trainer.estimated_stepping_batches
        return [optimizer], [
            lr_scheduler(optimizer, hp.lr_schedule, hp.lr_final_fraction, total_steps)
        ]

    def window_metrics(self) -> dict[str, float]:
        optimizer = cast(LightningOptimizer, self.optimizers())
        metrics = {"train/lr": optimizer.param_groups[0]["lr"]}
        if self.hp.baseline == "running_mean":
            metrics["train/running_return"] = float(self.running_return)
        return metrics


def _check_arguments(args: dict[str, Any]) -> None:
    check_range("algo.gamma", args["gamma"], 0.0, 1.0)
    check_range("algo.lr", args["lr"], 0.0, math.inf, low_open=True)
    check_range("algo.value_lr", args["value_lr"], 0.0, math.inf, low_open=True)
    check_range("algo.baseline_momentum", args["baseline_momentum"], 0.0, 1.0)
    check_range("algo.entropy_coef", args["entropy_coef"], 0.0, math.inf)
    check_range("algo.value_steps", args["value_steps"], 1, math.inf)
    check_lr_schedule(args["lr_schedule"], args["lr_final_fraction"])
    if args["grad_clip_norm"] is not None:
        check_range("algo.grad_clip_norm", args["grad_clip_norm"], 0.0, math.inf, low_open=True)
    check_choice("algo.log_std", args["log_std"], LOG_STDS)
    check_choice("algo.return_estimator", args["return_estimator"], RETURN_ESTIMATORS)
    check_choice("algo.baseline", args["baseline"], BASELINES)
    check_obs_normalizer_arguments(args)
