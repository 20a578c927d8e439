"""What every litrl algorithm shares: counters, evaluation, and metrics on the env-step axis."""

from __future__ import annotations

import math
import random
import time
from typing import Any, cast

import lightning as L
import numpy as np
import torch
from torch import Tensor

from litrl.data.collector import Episodes
from litrl.envs import EnvSpec
from litrl.errors import TrainingDiverged


class RLModule(L.LightningModule):
    """A LightningModule that counts env steps and logs against them.

    Subclasses run their updates in ``training_step``, add per-update values with
    ``accumulate`` (summed on the device, no host sync), and end each step with
    ``finish_training_step``; every ``log_every_env_steps`` the averages are written with env
    steps as the x-axis, together with ``window_metrics()``.

    Args:
        log_every_env_steps: env steps between writes of training metrics.
    """

    def __init__(self, log_every_env_steps: int) -> None:
        super().__init__()
        self.log_every_env_steps = log_every_env_steps
        self.env_steps = 0
        self.updates = 0
        self.last_eval_return = float("nan")
        self._last_env_steps_per_sec = 0.0
        self._resume_state: dict[str, Any] | None = None
        self._sums: dict[str, Tensor] = {}
        self._episode_returns: list[float] = []
        self._episode_lengths: list[int] = []
        self._reset_log_window()

    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        """Actions for a batch of observations (the data side's ``Actor`` protocol)."""
        raise NotImplementedError

    @staticmethod
    def obs_kwargs(spec: EnvSpec) -> dict[str, Any]:
        """The constructor arguments every algorithm takes from the env's observations."""
        return {
            "obs_shape": spec.obs_shape,
            "n_actions": spec.n_actions,
            "obs_categories": spec.obs_categories,
            "image_obs": spec.image_obs,
        }

    def window_metrics(self) -> dict[str, float]:
        """Extra metrics written at each log point (schedules, learning rates)."""
        return {}

    def accumulate(self, name: str, value: Tensor) -> None:
        """Adds one update's ``value`` to the running mean logged as ``name``."""
        if name in self._sums:
            self._sums[name] += value.detach()
        else:
            self._sums[name] = value.detach().clone()

    def finish_training_step(
        self, env_steps: int, updates: int, episode_returns: list[float], episode_lengths: list[int]
    ) -> None:
        """Books one training step's env steps, updates and finished episodes; logs when due."""
        self.env_steps = env_steps
        loss = self._sums.get("train/loss")
        if loss is not None and not torch.isfinite(loss):
            self._diverged()
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
        if self._updates_in_window:
            for name, total in self._sums.items():
                metrics[name] = total.item() / self._updates_in_window
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
                "updates": self._updates_in_window,
                "episode_returns": list(self._episode_returns),
                "episode_lengths": list(self._episode_lengths),
                "next_log_env_steps": self._next_log_env_steps,
                "start_env_steps": self._window_start[1],
            },
            "rng": _rng_states(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("litrl", {})
        self.env_steps = state.get("env_steps", 0)
        self.updates = state.get("updates", 0)
        self.last_eval_return = state.get("last_eval_return", float("nan"))
        if "rng" in state:  # applied in on_train_start when training resumes
            self._resume_state = state

    def _diverged(self) -> None:
        raise TrainingDiverged(
            f"the loss became {self._sums['train/loss'].item()} by env step {self.env_steps} "
            f"(update {self.updates}). Lower algo.lr or tighten the gradient clipping."
        )


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
