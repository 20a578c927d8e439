"""Reading a run's TensorBoard scalars back."""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from litrl.events import read_scalars


def _write(folder: Path, steps: list[int]) -> Path:
    """One event file of ``train/loss`` at ``steps``; its path."""
    writer = SummaryWriter(str(folder))
    for step in steps:
        writer.add_scalar("train/loss", float(step), step)
    writer.close()
    (path,) = folder.glob("events.out.tfevents.*")
    return path


def test_scalars_come_back_in_step_order_whatever_the_file_names(tmp_path: Path) -> None:
    # A resumed run's file written in the same second as the first can sort before it: the
    # names differ only in a per-process counter, and ".10" sorts before ".9".
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _write(tmp_path / "first", [10, 20]).rename(run_dir / "events.out.tfevents.1000.host.42.9")
    _write(tmp_path / "resumed", [30, 40]).rename(run_dir / "events.out.tfevents.1000.host.42.10")
    assert [s.step for s in read_scalars(run_dir)["train/loss"]] == [10, 20, 30, 40]
