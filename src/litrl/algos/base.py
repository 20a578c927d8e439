"""The algorithm contract: what every litrl algorithm provides, and what it gets from here.

(About 420 lines: the contract, and the metrics, evaluation and checkpoint machinery every
algorithm inherits, read best in one place.)

An algorithm is an ``RLModule`` subclass in a file of its own. It **provides**:

- ``action_spaces``: the kinds of action space it acts in (``"discrete"``, ``"box"`` for a
  1-D Box); the env check and the env's constructor arguments follow from it;
- ``act(obs, env_steps, greedy)``: batched actions, the data side's ``Actor`` protocol;
- ``training_step(batch, batch_idx)``: its gradient updates, each through ``update()``,
  ending with ``finish_training_step()``;
- ``configure_optimizers()``;
- optionally ``check_spec(spec)`` and ``check_data(env_steps_per_collect)`` for further
  checks before any env step, ``window_metrics()`` for values
  logged at each log point, and ``checkpoint_extras()`` / ``load_checkpoint_extras()`` for run
  state that is not in ``state_dict`` (registered buffers already are).

It **gets**: ``check_env`` and ``env_kwargs`` (the constructor arguments taken from the env),
``update()`` (zero_grad, backward, gradient clipping after mixed precision unscales, step, the
update count and divergence detection), ``accumulate()`` for metrics, evaluation, logging on
the env-step axis, counters and RNG states in checkpoints, and exact resume.

``OnPolicyModule`` adds the policy-version stamp that on-policy algorithms check rollouts
against.
"""

from __future__ import annotations

import inspect
import math
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, ClassVar, cast

import gymnasium as gym
import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.data import AttributeDict
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor
from torch.optim import Optimizer

from litrl.algos.heads import ActorCritic
from litrl.algos.normalize import ObsNormalizer
from litrl.data.collector import Episodes
from litrl.envs import EnvFactory, EnvSpec
from litrl.errors import ConfigError, TrainingDiverged, check_choice, check_range

ACTION_SPACES = {"discrete": "a Discrete", "box": "a 1-D Box"}
GRAD_CLIP_MODES = ("norm", "value", "none")
# Rewards this large overflow float32 losses within a few updates (a TD error of ~1.8e19
# squares past float32's 3.4e38, and Q-values grow to reward / (1 - gamma)).
OVERFLOWING_REWARD = 1e15


class RLModule(L.LightningModule, ABC):
    """A LightningModule that counts env steps and logs against them (see the module docstring).

    Subclasses run their updates in ``training_step`` through ``update()``, add per-update
    values with ``accumulate`` (summed on the device, no host sync), and end each step with
    ``finish_training_step``; every ``log_every_env_steps`` the averages are written with env
    steps as the x-axis, together with ``window_metrics()``.

    Args:
        log_every_env_steps: env steps between writes of training metrics.
    """

    action_spaces: ClassVar[tuple[str, ...]]

    def __init__(self, log_every_env_steps: int) -> None:
        super().__init__()
        self.automatic_optimization = False  # updates go through update(), several per step
        self.log_every_env_steps = log_every_env_steps
        self.env_steps = 0
        self.updates = 0
        self.last_eval_return = float("nan")
        self._last_env_steps_per_sec = 0.0
        self._resume_state: dict[str, Any] | None = None
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}
        self._loss_sum: Tensor | None = None
        self._grad_norm_sum: Tensor | None = None
        self._clip: tuple[str, float, list[Tensor] | None] | None = None
        self._grad_norm: Tensor | None = None
        self._episode_returns: list[float] = []
        self._episode_lengths: list[int] = []
        self._reset_log_window()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spaces = getattr(cls, "action_spaces", None)
        if spaces is not None and not set(spaces) <= set(ACTION_SPACES):
            raise TypeError(
                f"{cls.__name__}.action_spaces must be drawn from {list(ACTION_SPACES)}"
            )

    # ---- what an algorithm provides ------------------------------------------------------

    @abstractmethod
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        """Actions for a batch of observations (the data side's ``Actor`` protocol)."""

    @abstractmethod
    def training_step(self, batch: Any, batch_idx: int) -> None:
        """One chunk of experience: its updates via ``update()``, then ``finish_training_step``."""

    @abstractmethod
    def configure_optimizers(self) -> Any:
        """The optimizers ``update()`` steps, and their learning-rate schedulers."""

    @classmethod
    def check_spec(cls, spec: EnvSpec) -> None:
        """Env checks beyond the action space; raise a ConfigError naming the fix."""

    def check_data(self, env_steps_per_collect: int) -> None:
        """Checks against the DataModule's chunk size before any env step (``run`` calls it)."""

    def checkpoint_extras(self) -> dict[str, Any]:
        """Run state a checkpoint needs that ``state_dict`` lacks (plain data and tensors)."""
        return {}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        """Restores what ``checkpoint_extras`` returned."""

    def window_metrics(self) -> dict[str, float]:
        """Extra metrics written at each log point (schedules, learning rates)."""
        return {}

    # ---- what it gets: arguments and the env -----------------------------------------------

    def save_arguments(self, check: Callable[[dict[str, Any]], None]) -> AttributeDict:
        """Checks the calling constructor's arguments with ``check`` (raising a ConfigError),
        saves them as hyperparameters and returns them; ``run()`` logs the whole config."""
        frame = cast(FrameType, cast(FrameType, inspect.currentframe()).f_back)
        check(frame.f_locals)
        self.save_hyperparameters(logger=False, frame=frame)
        return cast(AttributeDict, self.hparams)

    # ---- what it gets: the env -----------------------------------------------------------

    @classmethod
    def check_env(cls, env: EnvFactory) -> EnvSpec:
        """The env's spec, or a ConfigError if this algorithm cannot act in it."""
        spec = env.spec()
        kind = action_kind(spec.action_space)
        if kind not in cls.action_spaces:
            wanted = " or ".join(ACTION_SPACES[k] for k in cls.action_spaces)
            raise ConfigError(
                f"{cls.__name__} needs {wanted} action space, but {spec.env_id} has "
                f"{spec.action_space}. Choose an env whose actions it supports (e.g. "
                f"env={'cartpole' if 'discrete' in cls.action_spaces else 'pendulum'})."
            )
        cls.check_spec(spec)
        return spec

    @classmethod
    def env_kwargs(cls, spec: EnvSpec) -> dict[str, Any]:
        """The constructor arguments that come from the env."""
        kwargs: dict[str, Any] = {
            "obs_shape": spec.obs_shape,
            "n_actions": spec.n_actions,
            "obs_categories": spec.obs_categories,
            "image_obs": spec.image_obs,
        }
        if "box" in cls.action_spaces:
            kwargs["action_dim"] = 0 if spec.n_actions else math.prod(spec.action_space.shape or ())
        return kwargs

    # ---- what it gets: the optimizer step -------------------------------------------------

    def update(
        self,
        loss: Tensor,
        optimizer: LightningOptimizer,
        clip_mode: str = "norm",
        clip_value: float | None = None,
        clip_parameters: Iterable[Tensor] | None = None,
    ) -> Tensor:
        """One gradient step on ``loss``: zero_grad, backward, clip, step, count.

        Clipping runs in ``on_before_optimizer_step``, which Lightning calls after a
        mixed-precision scaler has unscaled the gradients (clipping between backward and
        ``step()`` would clip the scaled ones).

        Args:
            loss: the scalar to minimise.
            optimizer: one of ``self.optimizers()``.
            clip_mode: ``norm`` (the total gradient norm), ``value`` (each entry) or ``none``.
            clip_value: the threshold; None does not clip.
            clip_parameters: the parameters to clip and measure; default: the optimizer's.

        Returns:
            The gradient norm before clipping (of ``clip_parameters``).
        """
        optimizer.zero_grad(set_to_none=True)
        # Gradients only for what this optimizer steps: a loss that reads other networks (an
        # actor's loss through the critics) skips their weight gradients, which nothing would
        # read. The stepped parameters' gradients are the same, bit for bit.
        stepped = [
            p for group in optimizer.param_groups for p in group["params"] if p.requires_grad
        ]
        self.manual_backward(loss, inputs=stepped)
        params = list(clip_parameters) if clip_parameters is not None else None
        self._clip, self._grad_norm = (clip_mode, clip_value or 0.0, params), None
        try:
            optimizer.step()
        finally:
            self._clip = None
        self.updates += 1
        loss = loss.detach()
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        assert self._grad_norm is not None, "Lightning skipped on_before_optimizer_step"
        grad_norm = self._grad_norm.detach()
        self._grad_norm_sum = (
            grad_norm if self._grad_norm_sum is None else self._grad_norm_sum + grad_norm
        )
        return self._grad_norm

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        if self._clip is None:
            return
        mode, value, params = self._clip
        self._clip = None
        if params is None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
        grads = [p.grad for p in params if p.grad is not None]
        self._grad_norm = torch.nn.utils.get_total_norm(grads)
        if value > 0 and mode == "norm":
            torch.nn.utils.clip_grads_with_norm_(params, value, self._grad_norm)
        elif value > 0 and mode == "value":
            torch.nn.utils.clip_grad_value_(params, value)

    # ---- what it gets: metrics --------------------------------------------------------------

    def accumulate(self, name: str, value: Tensor) -> None:
        """Adds ``value`` to the running mean logged as ``name`` (averaged over its own calls)."""
        if name in self._sums:
            self._sums[name] += value.detach()
            self._counts[name] += 1
        else:
            self._sums[name] = value.detach().clone()
            self._counts[name] = 1

    def finish_training_step(
        self,
        env_steps: int,
        updates: int,
        episode_returns: list[float],
        episode_lengths: list[int],
        rewards: Tensor | None = None,
    ) -> None:
        """Books one training step's env steps, updates and finished episodes; logs when due.

        Raises:
            TrainingDiverged: a loss or a gradient of this step's updates was not finite;
                ``rewards`` (the step's batch's) tell whether the env's rewards caused it.
        """
        self.env_steps = env_steps
        if self._loss_sum is not None:
            # One host sync per training step: the sums of every loss and gradient norm since
            # the last check (a NaN or inf anywhere in them makes the sum non-finite).
            if not torch.isfinite(self._loss_sum + cast(Tensor, self._grad_norm_sum)):
                self._diverged(rewards)
            self._loss_sum = self._grad_norm_sum = None
        self._updates_in_window += updates
        self._episode_returns += episode_returns
        self._episode_lengths += episode_lengths
        if self.env_steps >= self._next_log_env_steps:
            self._write_train_metrics()

    # ---- evaluation ---------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        # Close the training-metric window at each evaluation, so the checkpoint written after it
        # carries an empty window and a resumed run never writes the same points twice.
        if self._updates_in_window or self._episode_returns:
            self._write_train_metrics()

    def validation_step(self, batch: Episodes, batch_idx: int) -> None:
        returns = batch.returns.float()
        mean, std = returns.mean().item(), returns.std(correction=0).item()
        self.last_eval_return = mean
        self.log("eval/return_mean", mean, logger=False, batch_size=len(returns))
        self._write_metrics(
            {
                "eval/return_mean": mean,
                "eval/return_std": std,
                "eval/length_mean": batch.lengths.float().mean().item(),
            }
        )

    # ---- logging ------------------------------------------------------------------------

    def progress_metrics(self) -> dict[str, float | int]:
        """What the progress bar shows."""
        metrics: dict[str, float | int] = {"env_steps": self.env_steps}
        if not math.isnan(self.last_eval_return):
            metrics["eval_return"] = round(self.last_eval_return, 1)
        metrics["env_steps/s"] = round(self._last_env_steps_per_sec)
        return metrics

    def on_train_start(self) -> None:
        if self._resume_state is None:
            self._reset_log_window()
            return
        # Restored here, right before the first batch, so nothing in between draws from the RNGs.
        state, self._resume_state = self._resume_state, None
        window = state["log_window"]
        self._sums = {name: value.to(self.device) for name, value in window["sums"].items()}
        self._counts = dict(window.get("counts", dict.fromkeys(self._sums, window["updates"])))
        self._updates_in_window = window["updates"]
        self._episode_returns = list(window["episode_returns"])
        self._episode_lengths = list(window["episode_lengths"])
        self._next_log_env_steps = window["next_log_env_steps"]
        self._window_start = (time.perf_counter(), window["start_env_steps"])
        _set_rng_states(state["rng"])

    def on_train_end(self) -> None:
        if self._updates_in_window:  # the budget rarely ends on a log boundary
            self._write_train_metrics()

    def _reset_log_window(self) -> None:
        self._sums = {}
        self._counts = {}
        self._updates_in_window = 0
        self._episode_returns = []
        self._episode_lengths = []
        self._window_start = (time.perf_counter(), self.env_steps)
        self._next_log_env_steps = self.env_steps + self.log_every_env_steps

    def _write_train_metrics(self) -> None:
        started, start_env_steps = self._window_start
        elapsed = max(time.perf_counter() - started, 1e-9)
        self._last_env_steps_per_sec = (self.env_steps - start_env_steps) / elapsed
        metrics = {
            **self.window_metrics(),
            "train/updates": float(self.updates),
            "perf/env_steps_per_sec": self._last_env_steps_per_sec,
        }
        for name, total in self._sums.items():
            metrics[name] = total.item() / self._counts[name]
        if self._episode_returns:
            episodes = len(self._episode_returns)
            metrics["train/episode_return"] = sum(self._episode_returns) / episodes
            metrics["train/episode_length"] = sum(self._episode_lengths) / episodes
        self._write_metrics(metrics)
        self._reset_log_window()

    def _write_metrics(self, metrics: dict[str, float]) -> None:
        """Writes to every logger with env steps as the x-axis (Lightning's own is updates)."""
        for logger in self.loggers:
            logger.log_metrics(metrics, step=self.env_steps)

    # ---- checkpoints --------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["litrl"] = {
            "env_steps": self.env_steps,
            "updates": self.updates,
            "last_eval_return": self.last_eval_return,
            "log_window": {
                "sums": {name: value.cpu() for name, value in self._sums.items()},
                "counts": dict(self._counts),
                "updates": self._updates_in_window,
                "episode_returns": list(self._episode_returns),
                "episode_lengths": list(self._episode_lengths),
                "next_log_env_steps": self._next_log_env_steps,
                "start_env_steps": self._window_start[1],
            },
            "rng": _rng_states(),
            "extras": self.checkpoint_extras(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("litrl", {})
        self.env_steps = state.get("env_steps", 0)
        self.updates = state.get("updates", 0)
        self.last_eval_return = state.get("last_eval_return", float("nan"))
        if "rng" in state:  # applied in on_train_start when training resumes
            self._resume_state = state
        self.load_checkpoint_extras(state.get("extras", {}))

    def _diverged(self, rewards: Tensor | None) -> None:
        loss = cast(Tensor, self._loss_sum).item()
        what = (
            f"a loss became {loss}"
            if not math.isfinite(loss)
            else (f"a gradient norm became {cast(Tensor, self._grad_norm_sum).item()}")
        )
        where = f"by env step {self.env_steps} (update {self.updates})"
        largest = float(rewards.abs().max()) if rewards is not None and rewards.numel() else 0.0
        if largest >= OVERFLOWING_REWARD:
            raise TrainingDiverged(
                f"{what} {where}: the env's rewards reach {largest:.3g}, and rewards that large "
                "overflow the losses' float32 arithmetic whatever the learning rate. Scale them "
                "down in the env or with a wrapper (gymnasium.wrappers.TransformReward)."
            )
        raise TrainingDiverged(f"{what} {where}. Lower algo.lr or tighten the gradient clipping.")


def check_grad_clip(mode: str, threshold: float | None) -> None:
    """``algo.grad_clip_mode`` and ``algo.grad_clip``: a known mode and, unless it is ``none``,
    a positive threshold (a threshold <= 0 clipped nothing, silently)."""
    check_choice("algo.grad_clip_mode", mode, GRAD_CLIP_MODES)
    if mode != "none" and threshold is not None:
        check_range("algo.grad_clip", threshold, 0.0, math.inf, low_open=True)


def action_kind(space: gym.Space) -> str | None:
    """``discrete``, ``box`` (1-D), or None for an action space no litrl algorithm acts in."""
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return "box"
    return None


class OnPolicyModule(RLModule):
    """An algorithm that learns only from rollouts its current parameters collected, acting
    with the policy of its ``ActorCritic`` (``self.net``, which the subclass builds).

    ``policy_version`` counts the policy's updates; the DataModule stamps it on each rollout
    (``OnPolicyActor``), and ``check_on_policy`` refuses a rollout of another version, such as
    one Lightning prefetched before the last update.
    """

    net: ActorCritic

    def __init__(self, log_every_env_steps: int) -> None:
        super().__init__(log_every_env_steps)
        self.policy_version = 0
        # Running observation statistics (``algo.normalize_obs``): an algorithm that offers
        # them sets an ObsNormalizer here; a module, so checkpoints carry it.
        self.obs_stats: ObsNormalizer | None = None

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        """Sampled actions, or the most likely ones (the mean, for Box) when ``greedy``."""
        obs = self.normalized(obs)
        return self.net.greedy_action(obs) if greedy else self.net.distribution(obs).sample()

    def normalized(self, obs: Tensor) -> Tensor:
        """Observations as the networks see them (with the running statistics, if any)."""
        return obs if self.obs_stats is None else self.obs_stats.normalize(obs.float())

    def update_obs_stats(self, rollout_obs: Tensor, env_steps: int) -> None:
        """Adds a rollout to the observation statistics, if kept. Call it after the update, so
        that every step of the update saw the statistics the rollout was acted with."""
        if self.obs_stats is not None:
            self.obs_stats.update_from(rollout_obs, env_steps)

    def check_on_policy(self, rollout_version: int) -> None:
        """Raises if the rollout was not collected by the current parameters."""
        if rollout_version != self.policy_version:
            raise RuntimeError(
                f"on-policy violation: a rollout of policy version {rollout_version} reached "
                f"update {self.policy_version}; the data side must collect after each update."
            )

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"policy_version": self.policy_version}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        self.policy_version = extras.get("policy_version", 0)


def _rng_states() -> dict[str, Any]:
    """Every global RNG a run draws from, as plain data a weights_only load accepts."""
    version, mt_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = cast(tuple[Any, ...], np.random.get_state())
    states: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": [name, torch.from_numpy(keys.copy()), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    version, mt_state, gauss = states["python"]
    random.setstate((version, tuple(mt_state), gauss))
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
