"""Checkpoint files that are whole or absent: written beside their path, then renamed into place."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

log = logging.getLogger(__name__)
PARTIAL_GLOB = ".*.partial"


def remove_partial_checkpoints(checkpoint_dir: Path) -> None:
    """Removes the temporary files of checkpoint writes that never finished (a process killed
    mid-write with SIGKILL, which no ``finally`` survives). Called by the run that holds the
    run dir's lock: no other process writes there."""
    for partial in sorted(checkpoint_dir.glob(PARTIAL_GLOB)):
        log.info("removing %s, left by a checkpoint write that was killed", partial)
        partial.unlink(missing_ok=True)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves every checkpoint (best, last, the one written on Ctrl-C) to a temporary file in its
    own directory and renames it over the old one.

    Lightning's own save stages the file in the system's temp dir and then moves it, which is a
    copy, not a rename, when that dir is on another filesystem than the run: a second Ctrl-C
    during the copy left a truncated ``last.ckpt``. A rename within one directory is atomic, so
    the path always holds the previous checkpoint or the new one, and an interrupted write
    leaves no temporary file behind.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # PARTIAL_GLOB
        try:
            torch.save(checkpoint, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)  # only there when the write was cut short
