"""A run stopped by a signal or by a diverging loss loses no finished work and can go on."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from litrl import TrainingDiverged
from litrl.events import read_scalars
from litrl.run_dir import LOCK_NAME
from litrl.train import run
from tests.conftest import REPO_ROOT


def _train(*overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "train.py", "debug=smoke", *overrides],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_writes_a_checkpoint_and_the_printed_command_resumes_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = _train(
        "total_env_steps=30000", "progress_bar_refresh_steps=1000", f"hydra.run.dir={run_dir}"
    )
    first_checkpoint = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not first_checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    # the running run holds its dir: a second resume= would be refused
    assert (run_dir / LOCK_NAME).read_text().split() == [socket.gethostname(), str(process.pid)]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted by SIGINT" in stderr
    assert not (run_dir / LOCK_NAME).exists()
    stopped_at = torch.load(first_checkpoint, weights_only=True)["litrl"]["env_steps"]
    assert 2024 <= stopped_at < 30000

    # Exactly as printed, without the run's overrides (debug=smoke, total_env_steps=30000):
    # resume= composes the run's own config.
    printed = re.search(r"Continue with: python (train\.py .+)$", stderr, re.MULTILINE)
    assert printed, stderr[-2000:]
    resumed = subprocess.run(
        [sys.executable, *shlex.split(printed.group(1))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "UserWarning" not in resumed.stderr  # was: the output-dir check skipped on resume
    evals = [e.step for e in read_scalars(run_dir)["eval/return_mean"]]
    assert evals == list(range(2024, 31000, 1024))  # every evaluation once, none twice


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_slow_env_stops_within_about_a_second_of_the_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    # 0.1 s a vector step (2 envs x 50 ms): the warm-up alone would take 50 s, the old
    # "finish the training step" more than that. A training env marks its 20th step: the
    # start-up checks step their own instances fewer times, and a mark they reached would send
    # the signal before training (and litrl's handlers) started.
    run_dir, started = tmp_path / "run", tmp_path / "started"
    process = _train(
        "env=custom",
        "env.entry_point=tests.toy_envs:SlowEnv",
        f"+env.kwargs.started_file={started}",
        "+env.kwargs.mark_at_step=20",
        "algo.data.num_envs=2",
        f"hydra.run.dir={run_dir}",
    )
    deadline = time.time() + 120
    while not started.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert started.exists(), process.communicate()[1][-2000:]
    time.sleep(0.3)  # a few vector steps into the warm-up
    process.send_signal(signum)
    signalled = time.time()
    _, stderr = process.communicate(timeout=60)
    assert time.time() - signalled < 5, "the stop waited for more than a few env steps"

    assert process.returncode == 128 + signum, stderr[-2000:]
    assert f"interrupted by {signum.name}" in stderr and "Traceback" not in stderr
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["litrl"]["env_steps"] == 0  # still in the warm-up: no training step yet
    assert not (run_dir / LOCK_NAME).exists()


def test_a_stop_during_an_evaluation_does_not_wait_for_it(tmp_path: Path) -> None:
    # One eval interval of 8 env steps after 16 warm-up steps (12 steps per training env), then
    # 100 eval episodes of 20 steps on 2 envs: 100 s of evaluation at 0.1 s a vector step.
    # An eval env marks its 30th step, which no training env reaches.
    run_dir, started = tmp_path / "run", tmp_path / "started"
    process = _train(
        "env=custom",
        "env.entry_point=tests.toy_envs:SlowEnv",
        f"+env.kwargs.started_file={started}",
        "+env.kwargs.mark_at_step=30",
        "algo.data.num_envs=2",
        "algo.data.warmup_env_steps=16",
        "algo.data.batch_size=8",
        "algo.data.env_steps_per_collect=8",
        "eval.every_env_steps=8",
        "total_env_steps=24",
        "eval.episodes=100",
        "logger=tensorboard",
        f"hydra.run.dir={run_dir}",
    )
    deadline = time.time() + 120
    while not started.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert started.exists(), process.communicate()[1][-2000:]
    process.send_signal(signal.SIGINT)
    signalled = time.time()
    _, stderr = process.communicate(timeout=60)
    assert time.time() - signalled < 5, "the stop waited for the evaluation"

    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted by SIGINT at env step 24" in stderr and "Traceback" not in stderr
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["litrl"]["env_steps"] == 24  # all training done, the evaluation not
    assert checkpoint["ReplayDataModule"]["evaluations_done"] == 0  # the resume runs it again
    assert "eval/return_mean" not in read_scalars(run_dir)  # the abandoned one is no result
    assert not (run_dir / LOCK_NAME).exists()


def test_a_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint(compose, tmp_path):
    # Rewards of 3e38 from the training envs' step 300 on (after the first evaluation, at env
    # step 2024): the squared TD error overflows.
    cfg = compose(
        "env=custom",
        "env.entry_point=tests.toy_envs:BrokenEnv",
        "+env.kwargs.fault=huge_reward",
        "+env.kwargs.fail_at_step=300",
        "algo.loss=mse",
        run_dir=tmp_path,
    )
    last = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(
        TrainingDiverged, match=f"env step \\d+ .*last good checkpoint is kept: {last}"
    ):
        run(cfg)
    weights = torch.load(last, weights_only=True)["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert not (tmp_path / LOCK_NAME).exists()  # released on the way out
