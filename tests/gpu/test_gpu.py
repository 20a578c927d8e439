"""The same code on a CUDA device: buffer, acting, and a tiny run (skipped without CUDA)."""

from pathlib import Path

import pytest
import torch

from litrl.algos import DQN
from litrl.config import compose_config
from litrl.data.buffers import ReplayBuffer
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.data.record import transitions
from litrl.events import read_scalars
from litrl.train import run

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def test_buffer_lives_and_samples_on_the_gpu():
    buffer = ReplayBuffer(capacity=64, num_envs=2, obs_shape=(4,), device=CUDA)
    steps = 8
    buffer.extend(
        transitions(
            obs=torch.randn(steps, 2, 4),
            action=torch.randint(2, (steps, 2)),
            reward=torch.randn(steps, 2),
            next_obs=torch.randn(steps, 2, 4),
            terminated=torch.zeros(steps, 2, dtype=torch.bool),
            truncated=torch.zeros(steps, 2, dtype=torch.bool),
        )
    )
    sample = buffer.sample(4, 16, n_step=3)
    assert all(field.device.type == "cuda" for field in sample.values())


def test_frame_stack_buffer_on_the_gpu_rebuilds_what_the_cpu_one_does():
    from tests.unit.test_frame_stack_buffer import STACK, _collector

    collector = _collector(num_envs=2, max_episode_steps=9)
    buffers = [
        FrameStackReplayBuffer(2 * 20, 2, (STACK, 3, 3), device=device, obs_dtype=torch.uint8)
        for device in ("cpu", CUDA)
    ]
    for _ in range(4):
        chunk = collector.collect(None, 8)
        for buffer in buffers:
            buffer.extend(chunk)
    row, env = torch.arange(3, 20).repeat(2), torch.arange(2).repeat_interleave(17)
    on_cpu, on_gpu = (b.windows(row.to(b.device), env.to(b.device), 3) for b in buffers)
    for want, got in zip(on_cpu, on_gpu, strict=True):
        assert got.device.type == "cuda" and torch.equal(want, got.cpu())


def test_act_on_the_gpu_returns_gpu_actions():
    dqn = DQN((4,), 2).to(CUDA)
    actions = dqn.act(torch.randn(8, 4, device=CUDA), env_steps=0)
    assert actions.device.type == "cuda" and actions.shape == (8,)


def test_tiny_run_with_accelerator_gpu(tmp_path: Path):
    cfg = compose_config(["debug=smoke", "accelerator=gpu", f"run_dir={tmp_path}"])
    assert cfg.accelerator.accelerator == "gpu"
    run(cfg)
    assert "eval/return_mean" in read_scalars(tmp_path)
    checkpoint = torch.load(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert checkpoint["litrl"]["env_steps"] > 0


@pytest.mark.parametrize("env", ["cartpole", "pendulum"])
def test_tiny_reinforce_run_with_accelerator_gpu(tmp_path: Path, env: str):
    cfg = compose_config(
        ["debug=smoke", "algo=reinforce", f"env={env}", "accelerator=gpu", f"run_dir={tmp_path}"]
    )
    run(cfg)
    scalars = read_scalars(tmp_path)
    assert scalars["train/updates"][-1].value == 8
    assert "train/value_loss" in scalars
