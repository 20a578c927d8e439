"""Checkpoint writes are whole or absent: a Ctrl-C during a write leaves the previous file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from litrl.checkpoint_io import AtomicCheckpointIO
from litrl.errors import RunAborted


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
