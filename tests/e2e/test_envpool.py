"""``env.backend=envpool`` end to end: ``python train.py`` trains, evaluates and films on it, a
checkpoint evaluates, a stopped run resumes (with fresh envs: EnvPool's state cannot be saved), and
Atari trains through EnvPool's preprocessing. Skipped without the envpool extra."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litrl.data.datamodule import ReplayDataModule
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.envs import EnvFactory
from litrl.evaluate import evaluate_checkpoint
from litrl.events import read_scalars
from litrl.train import run
from tests.conftest import REPO_ROOT
from tests.e2e.test_resume import _run_with_signal

pytest.importorskip("envpool")
pytestmark = pytest.mark.filterwarnings("ignore:.*precision lowered:UserWarning")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """``python train.py algo=dqn env=cartpole env.backend=envpool``, smoke-sized, with an eval
    video at every evaluation."""
    run_dir = tmp_path_factory.mktemp("envpool-dqn")
    result = subprocess.run(
        [
            sys.executable, "train.py", "algo=dqn", "env=cartpole", "env.backend=envpool",
            "debug=smoke", "video.every_n_evals=1", f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_train_py_trains_evaluates_and_films_on_envpool(cli_run: Path) -> None:
    scalars = read_scalars(cli_run)
    assert [s.step for s in scalars["eval/return_mean"]] == [1000 + 1024, 1000 + 2048]
    assert all(s.value > 0 for s in scalars["eval/return_mean"])  # CartPole pays 1 a step
    assert scalars["train/episode_return"]
    assert OmegaConf.load(cli_run / ".hydra" / "config.yaml").env.backend == "envpool"
    checkpoint = torch.load(cli_run / "checkpoints" / "last.ckpt", weights_only=True)
    collector = next(v for k, v in checkpoint.items() if "DataModule" in k)["collector"]
    assert collector["backend"] == "envpool" and collector["envs"] is None  # state is in C++
    accumulator = EventAccumulator(str(cli_run), size_guidance={"images": 0})
    accumulator.Reload()
    videos = accumulator.Images("eval/video")  # EnvPool's own frames
    assert len(videos) == 2 and videos[0].encoded_image_string[:3] == b"GIF"


def test_an_envpool_checkpoint_evaluates_and_films(cli_run: Path, capsys) -> None:
    cfg = OmegaConf.create(
        {
            "ckpt": str(cli_run / "checkpoints" / "last.ckpt"),
            "episodes": 3, "num_envs": 2, "seed": 0, "device": "cpu",
            "video": True, "video_episodes": 1,
        }
    )  # fmt: skip
    episodes = evaluate_checkpoint(cfg)
    assert len(episodes.returns) == 3
    assert "CartPole-v1: 3 greedy episodes" in capsys.readouterr().out
    videos = list((cli_run / "videos" / "last").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


def test_a_stopped_envpool_run_resumes_with_fresh_envs(
    compose, monkeypatch, tmp_path: Path, caplog
) -> None:
    # Not bit-exact (EnvPool's envs restart); the run goes on from its env step to its budget.
    overrides = ["algo=ppo", "env.backend=envpool", "total_env_steps=4096", "logger=tensorboard"]
    _run_with_signal(compose(*overrides, run_dir=tmp_path), monkeypatch, 6, signal.SIGINT)
    assert 0 < _collector_state(tmp_path)["env_steps"] < 4096
    with caplog.at_level(logging.WARNING, logger="litrl.train"):
        run(compose(*overrides, f"resume={tmp_path}", run_dir=tmp_path))
    assert "EnvPool's C++ pool), so the resumed run reset them" in caplog.text
    assert _collector_state(tmp_path)["env_steps"] == 4096
    steps = [s.step for s in read_scalars(tmp_path)["eval/return_mean"]]
    assert steps == [1024, 2048, 3072, 4096]  # each evaluation once, the budget kept


def _collector_state(run_dir: Path) -> dict:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return next(v for k, v in checkpoint.items() if "DataModule" in k)["collector"]


def test_atari_trains_through_envpool(compose, tmp_path: Path) -> None:
    # DQN: EnvPool's stacks go through the frame-stack replay buffer inside a real run.
    cfg = compose(
        "experiment=dqn_atari",
        "env.backend=envpool",
        "env.max_episode_steps=400",  # frames, as under env=atari: 100-step Pong episodes
        "total_env_steps=1024",
        "eval.every_env_steps=512",
        "eval.episodes=1",
        "eval.num_envs=1",
        "algo.data.buffer_capacity=1024",
        "algo.data.warmup_env_steps=512",
        "algo.data.updates_per_collect=2",
        "algo.data.batch_size=16",
        run_dir=tmp_path,
    )
    final_return = run(cfg)
    assert -21.0 <= final_return <= 21.0
    assert _collector_state(tmp_path)["backend"] == "envpool"


def test_the_replay_buffer_stores_envpool_s_frames_once() -> None:
    env = EnvFactory(
        "ALE/Pong-v5", backend="envpool", kwargs={"frameskip": 1}, max_episode_steps=400, atari={}
    )
    datamodule = ReplayDataModule(env, num_envs=2, buffer_capacity=1024, warmup_env_steps=0)
    datamodule.setup("fit")
    buffer = datamodule.buffer
    assert (
        isinstance(buffer, FrameStackReplayBuffer) and buffer.storage["frames"].dtype == torch.uint8
    )
    assert datamodule.collector is not None
    chunk = datamodule.collector.collect(None, 40)
    buffer.extend(chunk)
    rebuilt = buffer.windows(torch.arange(40).repeat(2), torch.arange(2).repeat_interleave(40), 1)
    assert torch.equal(rebuilt["obs"], chunk["obs"].transpose(0, 1).flatten(0, 1))
    assert torch.equal(rebuilt["next_obs"], chunk["next_obs"].transpose(0, 1).flatten(0, 1))
    datamodule.teardown("fit")
