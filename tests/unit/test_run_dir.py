"""A run dir belongs to one run: what counts as another run's files, and the run lock."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from pathlib import Path

import pytest

from litrl import ConfigError
from litrl.run_dir import LOCK_NAME, RunDirLock, check_holds_no_other_run, files_of_a_run

HOST = socket.gethostname()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid  # reaped: no process has it until the kernel hands it out again


def _write_lock(run_dir: Path, host: str, pid: int) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK_NAME
    lock.write_text(f"{host} {pid}\n")
    return lock


def test_only_checkpoints_and_logged_metrics_make_a_dir_another_runs(tmp_path: Path) -> None:
    # What Hydra writes before run(cfg) starts, and the lock, leave the dir free.
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    (tmp_path / "train.log").write_text("")
    (tmp_path / LOCK_NAME).write_text(f"{HOST} 1\n")
    assert files_of_a_run(tmp_path) == []
    check_holds_no_other_run("run_dir", tmp_path, reuse=False)

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    (tmp_path / "events.out.tfevents.1.host.2.0").write_bytes(b"")
    (tmp_path / "metrics.csv").write_text("")
    assert [p.name for p in files_of_a_run(tmp_path)] == [
        "last.ckpt",
        "events.out.tfevents.1.host.2.0",
        "metrics.csv",
    ]


def test_a_new_run_in_another_runs_dir_is_refused_unless_reuse_is_asked(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(ConfigError) as refused:
        check_holds_no_other_run("hydra.run.dir", tmp_path, reuse=False)
    message = str(refused.value)
    assert message.startswith(f"hydra.run.dir={tmp_path} already holds another run")
    assert "checkpoints/last.ckpt" in message and "nothing was written" in message
    assert f"resume={tmp_path}" in message and "reuse_run_dir=true" in message
    assert "\n" not in message  # one paragraph
    check_holds_no_other_run("hydra.run.dir", tmp_path, reuse=True)


def test_the_lock_names_this_process_while_held(tmp_path: Path) -> None:
    with RunDirLock(tmp_path / "run") as lock:
        assert lock.path.read_text() == f"{HOST} {os.getpid()}\n"
    assert not lock.path.exists()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_the_lock_is_released_when_the_run_raises(tmp_path: Path, error: type) -> None:
    with pytest.raises(error), RunDirLock(tmp_path) as lock:
        raise error()
    assert not lock.path.exists()


def test_a_lock_held_by_a_live_process_refuses_a_second_run(tmp_path: Path) -> None:
    lock = _write_lock(tmp_path, HOST, os.getppid())  # alive: the process that started pytest
    with pytest.raises(ConfigError, match=rf"{tmp_path} is in use by a run in progress \(pid"):
        RunDirLock(tmp_path).__enter__()
    assert lock.read_text() == f"{HOST} {os.getppid()}\n"  # left to its owner


def test_a_lock_from_another_host_is_never_judged_stale(tmp_path: Path) -> None:
    _write_lock(tmp_path, "node-17", _dead_pid())
    with pytest.raises(ConfigError, match=r"pid \d+ on host node-17.*delete the lock file"):
        RunDirLock(tmp_path).__enter__()


@pytest.mark.parametrize("owner", ["dead process", "this process (a restarted container)"])
def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path: Path, caplog, owner: str) -> None:
    pid = _dead_pid() if owner == "dead process" else os.getpid()
    _write_lock(tmp_path, HOST, pid)
    with caplog.at_level(logging.WARNING), RunDirLock(tmp_path) as lock:
        assert lock.path.read_text() == f"{HOST} {os.getpid()}\n"
    assert f"taking over the stale lock {tmp_path / LOCK_NAME}: pid {pid}" in caplog.text
    assert not lock.path.exists()
