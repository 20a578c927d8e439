"""Where the wall time goes: env stepping, acting, the replay buffer, updates, evaluation."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

PHASES = ("env", "act", "buffer", "update", "eval")


class PhaseClock:
    """Wall seconds per phase, added up until ``take()`` (a few hundred ns per ``add``)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] += seconds

    def take(self) -> dict[str, float]:
        """The seconds added since the last call, per phase."""
        taken = dict(self.seconds)
        self.seconds.clear()
        return taken


def rss_mb() -> float | None:
    """This process's resident memory in MiB (Linux), or None where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class PerfBreakdown(Callback):
    """Logs the fraction of wall time in each phase, and the resident memory, every N env steps.

    ``env``, ``act`` and ``buffer`` come from the DataModule's clock; this callback times the
    training steps (``update``: the gradient updates, plus the module's own metric writes at
    its log points) and evaluations (``eval``) itself; ``other`` is the rest (Lightning's
    bookkeeping, checkpoints, the progress bar). On a GPU the
    updates run asynchronously, so their time lands partly in the next phase that syncs.

    Args:
        clock: the clock the DataModule's collector and buffer add to.
        every_env_steps: env steps between writes.
    """

    def __init__(self, clock: PhaseClock, every_env_steps: int) -> None:
        self.clock, self.every_env_steps = clock, every_env_steps
        self._window_start = time.perf_counter()
        self._next_env_steps = 0
        self._started = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.take()
        self._window_start = time.perf_counter()
        self._next_env_steps = _env_steps(pl_module) + self.every_env_steps

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._started = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.clock.add("update", time.perf_counter() - self._started)
        if _env_steps(pl_module) >= self._next_env_steps:
            self._write(trainer, pl_module)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.add("eval", time.perf_counter() - self._started)

    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now = time.perf_counter()
        wall = max(now - self._window_start, 1e-9)
        seconds = self.clock.take()
        metrics = {f"perf/time_{phase}": seconds.get(phase, 0.0) / wall for phase in PHASES}
        metrics["perf/time_other"] = max(0.0, 1.0 - sum(metrics.values()))
        memory = rss_mb()
        if memory is not None:
            metrics["perf/rss_mb"] = memory
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=_env_steps(pl_module))
        self._window_start = now
        self._next_env_steps = _env_steps(pl_module) + self.every_env_steps


def _env_steps(pl_module: L.LightningModule) -> int:
    return int(getattr(pl_module, "env_steps", 0))
