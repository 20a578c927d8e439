"""Checkpoint files that are whole or absent: written beside their path, then renamed into place."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from litrl.errors import OutputError

log = logging.getLogger(__name__)
PARTIAL_GLOB = ".*.partial"


def run_dir_deleted(run_dir: Path) -> str:
    """The message for a run whose dir was deleted while it trained."""
    return (
        f"the run dir {run_dir} was deleted while the run trained: its checkpoints and "
        "TensorBoard events went with it, so the run stopped. Start it again (each run gets a "
        "dir of its own under outputs/ unless hydra.run.dir names one)."
    )


def _not_written(target: Path, error: BaseException) -> str:
    """Why ``target`` was not written, and what is kept, in one paragraph."""
    cause = getattr(error, "strerror", None) or str(error).strip().splitlines()[-1][:200]
    existing = next(p for p in (target.parent, *target.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    kept = (
        f"the previous {target.name} is intact (checkpoints are renamed into place)"
        if target.is_file()
        else f"no earlier {target.name} exists"
    )
    return (
        f"the checkpoint {target} could not be written ({cause}; {free / 2**20:,.0f} MiB free on "
        f"its filesystem): {kept}. Free some space or fix the dir's permissions, then "
        "continue the run with resume=."
    )


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

    Args:
        run_dir: the run's dir; one that was deleted while the run trained is not created
            again (half a run, without its events, would look whole), the save fails instead.
    """

    def __init__(self, run_dir: Path | None = None) -> None:
        super().__init__()
        self.run_dir = run_dir

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        target = Path(path)
        if self.run_dir is not None and not self.run_dir.is_dir():
            raise OutputError(run_dir_deleted(self.run_dir))
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # PARTIAL_GLOB
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.save(checkpoint, partial)
            os.replace(partial, target)
        except (OSError, RuntimeError) as error:  # torch words a full disk as a RuntimeError
            raise OutputError(_not_written(target, error)) from error
        finally:
            partial.unlink(missing_ok=True)  # only there when the write was cut short
