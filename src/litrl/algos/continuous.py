"""What the continuous-control actor-critics (TD3, SAC) share: the Box-bounds check and
constructor arguments, actions scaled between [-1, 1] and the env's bounds, and Q(s, a) critics."""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from tensordict import TensorDict
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from litrl.algos.base import RLModule, check_grad_clip
from litrl.algos.off_policy import replay_minibatches
from litrl.algos.schedules import check_lr_schedule, lr_scheduler
from litrl.data.datamodule import ReplayBatch
from litrl.envs import EnvSpec
from litrl.errors import ConfigError, check_range
from litrl.nets import mlp


class BoxActionModule(RLModule):
    """A replay-based actor-critic whose actor squashes actions into [-1, 1] and scales them to
    the Box's bounds: it needs finite bounds, and takes them as the ``action_low`` /
    ``action_high`` arguments. Each training step runs ``learn`` on every minibatch of the
    collect's replay sample, with the optimizers in ``configure_optimizers``' order."""

    action_spaces = ("box",)

    @abstractmethod
    def learn(self, batch: TensorDict, optimizers: Sequence[LightningOptimizer]) -> None:
        """One gradient step on one minibatch, each update through ``update()``; ``optimizers``
        in ``configure_optimizers``' order."""

    def training_step(self, batch: ReplayBatch, batch_idx: int) -> None:
        optimizers = cast(list[LightningOptimizer], self.optimizers())
        updates_before = self.updates
        for minibatch in replay_minibatches(batch.sample, self.hparams["n_step"]):
            self.learn(minibatch, optimizers)
        for scheduler in cast(list[LRScheduler], self.lr_schedulers()):
            scheduler.step()
        self.finish_training_step(
            batch.env_steps,
            self.updates - updates_before,
            batch.episode_returns,
            batch.episode_lengths,
            batch.sample["rewards"],
        )

    def with_lr_schedules(
        self, optimizers: list[Optimizer]
    ) -> tuple[list[Optimizer], list[LRScheduler]]:
        """``optimizers`` and one ``lr_schedule`` each, stepped once per training step over the
        run (SB3 anneals every optimizer of TD3 and SAC, the entropy coefficient's included)."""
        total_steps = self.trainer.estimated_stepping_batches
        schedule, final = self.hparams["lr_schedule"], self.hparams["lr_final_fraction"]
        return optimizers, [lr_scheduler(o, schedule, final, total_steps) for o in optimizers]

    def window_metrics(self) -> dict[str, float]:
        return {
            "train/lr": cast(list[LightningOptimizer], self.optimizers())[0].param_groups[0]["lr"]
        }

    @classmethod
    def check_spec(cls, spec: EnvSpec) -> None:
        space = spec.action_space
        low, high = space.low, space.high  # type: ignore[attr-defined]
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ConfigError(
                f"{cls.__name__}'s tanh actor scales actions to the Box's bounds, but "
                f"{spec.env_id} has unbounded actions {space}. Wrap the env so its action "
                "space has finite low and high (e.g. gymnasium.wrappers.RescaleAction)."
            )

    @classmethod
    def env_kwargs(cls, spec: EnvSpec) -> dict[str, Any]:
        space = spec.action_space
        return {
            **super().env_kwargs(spec),
            "action_low": [float(x) for x in space.low],  # type: ignore[attr-defined]
            "action_high": [float(x) for x in space.high],  # type: ignore[attr-defined]
        }


def check_shared_arguments(args: dict[str, Any]) -> None:
    """The checks of the arguments TD3 and SAC share (a ConfigError naming the field)."""
    check_range("algo.gamma", args["gamma"], 0.0, 1.0)
    check_range("algo.actor_lr", args["actor_lr"], 0.0, math.inf, low_open=True)
    check_range("algo.critic_lr", args["critic_lr"], 0.0, math.inf, low_open=True)
    check_range("algo.n_step", args["n_step"], 1, math.inf)
    check_range("algo.tau", args["tau"], 0.0, 1.0, low_open=True)
    check_range("algo.n_critics", args["n_critics"], 1, math.inf)
    check_grad_clip(args["grad_clip_mode"], args["grad_clip"])
    check_lr_schedule(args["lr_schedule"], args["lr_final_fraction"])


class BoundedActor(nn.Module):
    """An actor that works in [-1, 1] units; only the env sees its own bounds ``[low, high]``.

    Replayed actions are stored in the env's units (the random warm-up samples them there), so
    the critics read them back through ``to_unit``.
    """

    center: Tensor
    half_range: Tensor

    def __init__(self, action_low: Tensor, action_high: Tensor) -> None:
        super().__init__()
        self.register_buffer("center", (action_high + action_low) / 2)
        self.register_buffer("half_range", (action_high - action_low) / 2)

    def to_env(self, action: Tensor) -> Tensor:
        """[-1, 1] units -> the env's bounds."""
        return self.center + self.half_range * action

    def to_unit(self, action: Tensor) -> Tensor:
        """The env's bounds -> [-1, 1] units."""
        return (action - self.center) / self.half_range


class Critic(nn.Module):
    """Q(s, a): the encoded observation and the action in [-1, 1] units, concatenated."""

    def __init__(
        self,
        encoder: nn.Module,
        in_features: int,
        action_dim: int,
        hidden_sizes: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.q = mlp(in_features + action_dim, 1, hidden_sizes, activation)

    def forward(self, obs: Tensor, unit_action: Tensor) -> Tensor:
        return self.q(torch.cat([self.encoder(obs), unit_action], dim=-1)).squeeze(-1)


def twin_critics(
    encoder: nn.Module,
    in_features: int,
    action_dim: int,
    hidden_sizes: Sequence[int],
    activation: str,
    n_critics: int,
) -> nn.ModuleList:
    """``n_critics`` independent critics, each with its own copy of the observation encoder."""
    return nn.ModuleList(
        Critic(copy.deepcopy(encoder), in_features, action_dim, hidden_sizes, activation)
        for _ in range(n_critics)
    )
