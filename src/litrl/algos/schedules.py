"""Schedules over env steps: exploration rate and learning-rate factor."""

from __future__ import annotations

import math

SCHEDULES = ("linear", "exponential", "constant")


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
