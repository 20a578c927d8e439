"""What every litrl algorithm shares: counters, evaluation, and metrics on the env-step axis."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
from torch import Tensor

from litrl.data.collector import Episodes


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
        self._reset_log_window()

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
        self._updates_in_window += updates
        self._episode_returns += episode_returns
        self._episode_lengths += episode_lengths
        if self.env_steps >= self._next_log_env_steps:
            self._write_train_metrics()

    # ---- evaluation ---------------------------------------------------------------------

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
        self._reset_log_window()

    def on_train_end(self) -> None:
        if self._updates_in_window:  # the budget rarely ends on a log boundary
            self._write_train_metrics()

    def _reset_log_window(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._updates_in_window = 0
        self._episode_returns: list[float] = []
        self._episode_lengths: list[int] = []
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
        checkpoint["litrl"] = {"env_steps": self.env_steps, "updates": self.updates}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("litrl", {})
        self.env_steps = counters.get("env_steps", 0)
        self.updates = counters.get("updates", 0)
