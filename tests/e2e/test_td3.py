"""TD3 and DDPG train end to end on Pendulum: metrics, updates, checkpoint, greedy evaluation."""

from pathlib import Path

import pytest
import torch

from litrl.events import read_scalars
from litrl.train import run

TINY = [
    "env=pendulum",
    "total_env_steps=3072",
    "algo.data.warmup_env_steps=1024",
    "algo.data.buffer_capacity=4096",
    "algo.data.batch_size=64",
    "algo.data.updates_per_collect=8",
    "algo.actor_hidden_sizes=[32,32]",
    "algo.critic_hidden_sizes=[32,32]",
]


@pytest.mark.parametrize(
    ("preset", "critics", "actor_updates_per_step"),
    [("algo=td3", 2, 4), ("experiment=ddpg_pendulum", 1, 8)],
)
def test_tiny_run_trains_logs_and_checkpoints(
    smoke_cfg, preset: str, critics: int, actor_updates_per_step: int
):
    cfg = smoke_cfg(preset, *TINY)
    run(cfg)
    run_dir = Path(cfg.run_dir)
    scalars = read_scalars(run_dir)
    assert {"train/actor_loss", "train/critic_loss", "train/q_mean"} <= set(scalars)
    assert [e.step for e in scalars["eval/return_mean"]] == [2048, 3072]
    # 8 training steps of 8 critic updates each, and an actor update every policy_delay of them
    assert scalars["train/updates"][-1].value == 8 * (8 + actor_updates_per_step)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["litrl"]["extras"] == {"critic_updates": 64}
    heads = {name.split(".")[1] for name in checkpoint["state_dict"] if name.startswith("critics.")}
    assert len(heads) == critics
