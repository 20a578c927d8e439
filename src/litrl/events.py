"""Reading TensorBoard event files back (tests, benchmarks, reports)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


class Scalar(NamedTuple):
    """One logged value: when (unix seconds), at which env step, what."""

    wall_time: float
    step: int
    value: float


def read_scalars(run_dir: Path | str) -> dict[str, list[Scalar]]:
    """Every scalar tag in the run dir's event files, each in step order."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    # The accumulator reads the files in name order, which is not time order for a resumed
    # run's files written in the same second (".../<pid>.10" sorts before ".../<pid>.9").
    return {
        tag: sorted(
            (Scalar(e.wall_time, e.step, e.value) for e in accumulator.Scalars(tag)),
            key=lambda scalar: scalar.step,
        )
        for tag in accumulator.Tags()["scalars"]
    }


def has_hparams(run_dir: Path | str) -> bool:
    """Whether the run's events carry a TensorBoard HPARAMS entry."""
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return "_hparams_/experiment" in accumulator.PluginTagToContent("hparams")
