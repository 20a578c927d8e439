"""The torch backend on a CUDA device: same start states and steps as on the CPU, no host sync per
step (env or collector), and a tiny training run."""

from __future__ import annotations

import pytest
import torch

from litrl.config import compose_config
from litrl.data.collector import Collector
from litrl.envs.torch_backend import TORCH_ENVS, make_torch_env
from litrl.events import read_scalars
from litrl.train import run
from tests.unit.test_torch_envs import random_actions

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


@pytest.mark.parametrize("env_id", list(TORCH_ENVS))
def test_cuda_batch_steps_as_the_cpu_batch_does(env_id: str) -> None:
    cpu = make_torch_env(env_id, 256, dtype=torch.float64)
    gpu = make_torch_env(env_id, 256, device="cuda", dtype=torch.float64)
    cpu.reset(seed=4)
    gpu.reset(seed=4)
    # The start states are an integer hash: the same bits on any device.
    assert torch.equal(gpu.state.cpu(), cpu.state)
    for actions in random_actions(cpu, 600, seed=1):
        gpu.state = cpu.state.cuda()  # one-step comparison: cos/sin may differ in the last bit
        expected, got = cpu.step(actions), gpu.step(actions.cuda())
        for name, want, have in zip(expected._fields, expected, got, strict=True):
            assert have.device.type == "cuda"
            torch.testing.assert_close(have.cpu(), want, rtol=1e-6, atol=1e-6, msg=name)
        assert torch.equal(gpu.episode.cpu(), cpu.episode)
        assert torch.equal(gpu.elapsed_steps.cpu(), cpu.elapsed_steps)
    assert cpu.episode.sum() > 0


@pytest.mark.parametrize("env_id", list(TORCH_ENVS))
def test_a_cuda_step_never_waits_for_the_device(env_id: str) -> None:
    batch = make_torch_env(env_id, 1_024, device="cuda")
    batch.reset(seed=0)
    actions = [a.cuda() for a in random_actions(batch, 50, seed=0)]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host sync inside step raises
    try:
        for step_actions in actions:
            batch.step(step_actions)
    finally:
        torch.cuda.set_sync_debug_mode("default")


class PushBack:
    """Acts on the device without a host sync: a Box torque against the pendulum's swing."""

    def act(self, obs, env_steps, greedy=False):
        return -3.0 * obs[:, 2:3]


def test_a_collect_waits_for_the_device_once_per_chunk_not_per_step(monkeypatch) -> None:
    batch = make_torch_env("Pendulum-v1", 1_024, device="cuda", max_episode_steps=20)
    collector = Collector(batch, CUDA, seed=0)
    take_episodes, chunks = collector._take_episodes, []
    monkeypatch.setattr(collector, "_take_episodes", chunks.append)  # the chunk's one sync
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host sync inside a vector step raises
    try:
        warmup = collector.collect(None, 32)  # random actions from the device generator
        chunk = collector.collect(PushBack(), 32)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for taken in chunks:
        take_episodes(taken)
    assert warmup["obs"].device.type == chunk["action"].device.type == "cuda"
    assert collector.env_steps == 64 * 1_024
    assert collector.pop_finished_episodes().lengths.tolist() == [20] * 3 * 1_024


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_tiny_torch_backend_run_on_the_gpu(tmp_path, algo: str) -> None:
    cfg = compose_config(
        [
            "debug=smoke",
            f"algo={algo}",
            "env.backend=torch",
            "accelerator=gpu",
            f"run_dir={tmp_path}",
        ]
    )
    run(cfg)
    assert len(read_scalars(tmp_path)["eval/return_mean"]) == 2
