"""Reading TensorBoard event files back (tests, benchmarks, reports)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

EVENTS_GLOB = "events.out.tfevents.*"


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


def training_spans(run_dir: Path | str) -> list[tuple[float, float]]:
    """(first, last) wall time of each events file's scalars, in time order.

    Each process that trained the run (the first, then every resume) writes an events file
    of its own, so the spans are the times it trained and the gaps between them its downtime.
    """
    spans = []
    for events_file in Path(run_dir).glob(EVENTS_GLOB):
        accumulator = EventAccumulator(str(events_file), size_guidance={"scalars": 0})
        accumulator.Reload()
        times = [
            e.wall_time for tag in accumulator.Tags()["scalars"] for e in accumulator.Scalars(tag)
        ]
        if times:
            spans.append((min(times), max(times)))
    return sorted(spans)


def training_seconds(spans: list[tuple[float, float]], wall_time: float) -> float:
    """Seconds spent training from the first span's start up to ``wall_time``, downtime left out."""
    seconds = 0.0
    for start, end in spans:
        if wall_time < start:
            break
        seconds += min(wall_time, end) - start
    return seconds


def damaged_record(events_file: Path) -> int | None:
    """The byte offset of the first record of an events file that fails its CRC check, or None.

    TensorBoard's reader stops silently at such a record, as it does at a record still being
    written: the metrics after it are lost without a word. An incomplete last record (a process
    killed mid-write) is no damage.
    """
    data = events_file.read_bytes()
    offset = 0
    while offset + 12 <= len(data):
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        if masked_crc32c(header) != header_crc:
            return offset
        end = offset + 12 + length + 4
        if end > len(data):
            return None  # the last record, cut short
        (payload_crc,) = struct.unpack("<I", data[end - 4 : end])
        if masked_crc32c(data[offset + 12 : end - 4]) != payload_crc:
            return offset
        offset = end
    return None
