"""``env.backend=torch`` end to end: ``python train.py`` trains, evaluates and films on it (on-policy
and replay), the replay buffer stores what the device collected, and a checkpoint evaluates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litrl.data.datamodule import OnPolicyDataModule, ReplayDataModule
from litrl.envs import EnvFactory
from litrl.evaluate import evaluate_checkpoint
from litrl.events import read_scalars
from tests.conftest import REPO_ROOT


class Balance:
    policy_version = 0

    def act(self, obs, env_steps, greedy=False):
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).long()


@pytest.fixture(scope="module", params=["ppo", "dqn"])
def cli_run(request, tmp_path_factory) -> tuple[str, Path]:
    """``python train.py algo=<ppo|dqn> env=cartpole env.backend=torch``, smoke-sized, with an
    eval video at every evaluation."""
    run_dir = tmp_path_factory.mktemp(f"torch-{request.param}")
    result = subprocess.run(
        [
            sys.executable, "train.py", f"algo={request.param}", "env=cartpole",
            "env.backend=torch", "debug=smoke", "video.every_n_evals=1",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return request.param, run_dir


def test_train_py_trains_and_evaluates_on_the_torch_backend(cli_run) -> None:
    algo, run_dir = cli_run
    scalars = read_scalars(run_dir)
    warmup = 1000 if algo == "dqn" else 0
    assert [s.step for s in scalars["eval/return_mean"]] == [warmup + 1024, warmup + 2048]
    assert all(s.value > 0 for s in scalars["eval/return_mean"])  # CartPole pays 1 a step
    assert scalars["train/episode_return"]  # episodes finished on the device reach the logs
    assert OmegaConf.load(run_dir / ".hydra" / "config.yaml").env.backend == "torch"
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    collector = next(v for k, v in checkpoint.items() if "DataModule" in k)["collector"]
    assert collector["backend"] == "torch" and collector["envs"]["state"].shape == (4, 8)


def test_eval_videos_are_drawn_from_the_torch_envs(cli_run) -> None:
    accumulator = EventAccumulator(str(cli_run[1]), size_guidance={"images": 0})
    accumulator.Reload()
    videos = accumulator.Images("eval/video")
    assert len(videos) == 2 and videos[0].encoded_image_string[:3] == b"GIF"


def test_a_torch_backend_checkpoint_evaluates_and_films(cli_run, capsys) -> None:
    algo, run_dir = cli_run
    if algo != "ppo":
        pytest.skip("one algorithm is enough for the evaluation CLI")
    cfg = OmegaConf.create(
        {
            "ckpt": str(run_dir / "checkpoints" / "last.ckpt"),
            "episodes": 3, "num_envs": 2, "seed": 0, "device": "cpu",
            "video": True, "video_episodes": 1,
        }
    )  # fmt: skip
    episodes = evaluate_checkpoint(cfg)
    assert len(episodes.returns) == 3
    assert "CartPole-v1: 3 greedy episodes" in capsys.readouterr().out
    videos = list((run_dir / "videos" / "last").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


def test_the_replay_buffer_stores_what_the_device_collected() -> None:
    data = ReplayDataModule(
        EnvFactory("CartPole-v1", backend="torch", max_episode_steps=20),
        num_envs=4, buffer_capacity=400, batch_size=8, env_steps_per_collect=40,
        updates_per_collect=3, warmup_env_steps=40, n_step=2, eval_every_env_steps=40,
        eval_episodes=2, eval_num_envs=2, actor=Balance(),
    )  # fmt: skip
    data.setup("fit")
    batch = data.next_batch()  # 10 random vector steps of warm-up, then 10 of the actor
    buffer = data.buffer
    assert buffer is not None and len(buffer) == 80 and batch.env_steps == 80
    assert batch.sample["obs"].shape == (3, 8, 4) and batch.sample["action"].dtype == torch.int64
    obs, next_obs, ended = (
        buffer.storage["obs"][:20],
        buffer.storage["next_obs"][:20],
        buffer.episode_ended(slice(0, 20)),
    )
    continuing = ~ended[:-1]
    assert torch.equal(next_obs[:-1][continuing], obs[1:][continuing])
    assert torch.equal(
        buffer.storage["action"][10:20], (obs[10:, :, 2] + 0.5 * obs[10:, :, 3] > 0).long()
    )
    # Every stored episode end is reported once, with CartPole's return: its length (<= 20).
    assert len(batch.episode_lengths) == int(ended.sum()) > 0
    assert batch.episode_returns == [float(n) for n in batch.episode_lengths]
    assert max(batch.episode_lengths) <= 20
    assert len(data.evaluate().returns) == 2


def test_the_on_policy_rollout_and_its_fresh_starts_come_from_the_device() -> None:
    data = OnPolicyDataModule(
        EnvFactory("CartPole-v1", backend="torch", max_episode_steps=6),
        num_envs=2, env_steps_per_collect=8, eval_every_env_steps=8, eval_episodes=1,
        actor=Balance(),
    )  # fmt: skip
    data.setup("fit")
    first, second = data.next_batch(), data.next_batch()
    assert first.fresh_start.tolist() == [True, True]
    assert second.fresh_start.tolist() == [False, False]  # 4 steps into 6-step episodes
    assert first.rollout["obs"].shape == (4, 2, 4)
