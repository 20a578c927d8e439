"""Checkpoint writes are whole or absent: a Ctrl-C during a write leaves the previous file."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
import torch

from litrl.checkpoint_io import AtomicCheckpointIO
from litrl.errors import OutputError, RunAborted


def test_a_write_cut_short_leaves_the_previous_checkpoint_loadable(monkeypatch, tmp_path: Path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"env_steps": 1}, path)

    def save_half_then_abort(obj, file):
        Path(file).write_bytes(b"PK\x03\x04 half a checkpoint")  # the bytes a cut write leaves
        raise RunAborted  # the second Ctrl-C, arriving mid-write

    monkeypatch.setattr(torch, "save", save_half_then_abort)
    with pytest.raises(RunAborted):
        io.save_checkpoint({"env_steps": 2}, path)

    assert torch.load(path, weights_only=True) == {"env_steps": 1}
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no partial file left


def test_a_whole_write_replaces_the_checkpoint(tmp_path: Path):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"env_steps": 1}, path)
    io.save_checkpoint({"env_steps": 2}, path)
    assert torch.load(path, weights_only=True) == {"env_steps": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        # how torch words a full disk mid-write
        RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed "
                     "writing file data/0: file write failed"),
    ],
    ids=["OSError", "torch's RuntimeError"],
)  # fmt: skip
def test_a_full_disk_is_one_paragraph_naming_the_path_and_what_is_kept(
    monkeypatch, tmp_path: Path, failure: Exception
):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO(tmp_path)
    io.save_checkpoint({"env_steps": 1}, path)

    def full_disk(obj, file):
        Path(file).write_bytes(b"PK\x03\x04 the part that fit")
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputError) as refused:
        io.save_checkpoint({"env_steps": 2}, path)
    message = str(refused.value)
    assert message.startswith(f"the checkpoint {path} could not be written (")
    assert "MiB free on its filesystem): the previous last.ckpt is intact" in message
    assert "\n" not in message and "resume=" in message
    assert torch.load(path, weights_only=True) == {"env_steps": 1}
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_a_deleted_run_dir_is_not_created_again_by_a_checkpoint(tmp_path: Path):
    run_dir = tmp_path / "run"
    io = AtomicCheckpointIO(run_dir)
    run_dir.mkdir()
    io.save_checkpoint({"env_steps": 1}, run_dir / "checkpoints" / "last.ckpt")
    shutil.rmtree(run_dir)
    with pytest.raises(OutputError, match=f"the run dir {run_dir} was deleted while the run"):
        io.save_checkpoint({"env_steps": 2}, run_dir / "checkpoints" / "last.ckpt")
    assert not run_dir.exists()
