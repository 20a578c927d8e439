"""Schedules over env steps: exploration rate and learning-rate factor."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from litrl.errors import check_choice, check_range

SCHEDULES = ("linear", "exponential", "constant")


def check_lr_schedule(schedule: str, final_fraction: float) -> None:
    """The learning-rate schedule's checks, shared by every algorithm: a known schedule, and a
    final factor in [0, 1] (below 0 the learning rate turns negative: gradient ascent)."""
    check_choice("algo.lr_schedule", schedule, SCHEDULES)
    check_range("algo.lr_final_fraction", final_fraction, 0.0, 1.0)


def decay(start: float, end: float, progress_steps: int, decay_steps: int, schedule: str) -> float:
    """Value of a schedule that goes from ``start`` towards ``end`` over ``decay_steps``.

    ``linear`` reaches ``end`` at ``decay_steps`` and stays there; ``exponential`` follows
    ``end + (start - end) * exp(-progress / decay_steps)`` (the course notes' epsilon decay);
    ``constant`` stays at ``start``.
    """
    if schedule == "constant":
        return start
    if schedule == "linear":
        fraction = min(progress_steps / max(decay_steps, 1), 1.0)
        return start + fraction * (end - start)
    return end + (start - end) * math.exp(-progress_steps / max(decay_steps, 1))


def lr_scheduler(
    optimizer: Optimizer, schedule: str, final_fraction: float, total_steps: float
) -> LambdaLR:
    """Scales every learning rate of ``optimizer`` from 1 towards ``final_fraction`` by ``decay``.

    Args:
        optimizer: its param groups' learning rates are the starting values.
        schedule: constant, linear or exponential (see ``decay``).
        final_fraction: the factor at the end (linear) or approached (exponential).
        total_steps: scheduler steps in the run (the trainer's ``estimated_stepping_batches``).
    """
    steps = max(int(total_steps), 1)
    return LambdaLR(optimizer, lambda step: decay(1.0, final_fraction, step, steps, schedule))
