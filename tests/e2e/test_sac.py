"""SAC trains end to end on Pendulum: metrics, updates, checkpoint, greedy evaluation."""

from pathlib import Path

import pytest
import torch

from litrl.events import read_scalars
from litrl.train import run

TINY = [
    "algo=sac",
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
    ("overrides", "optimizers"),
    [([], 3), (["algo.learn_alpha=false", "algo.init_alpha=0.1"], 2)],
)
def test_tiny_run_trains_logs_and_checkpoints(smoke_cfg, overrides: list[str], optimizers: int):
    cfg = smoke_cfg(*TINY, *overrides)
    run(cfg)
    run_dir = Path(cfg.run_dir)
    scalars = read_scalars(run_dir)
    wanted = {"train/actor_loss", "train/critic_loss", "train/q_mean", "train/alpha"}
    assert wanted | {"train/entropy", "train/target_entropy"} <= set(scalars)
    assert [e.step for e in scalars["eval/return_mean"]] == [2048, 3072]
    # 8 training steps of 8 gradient steps, each stepping every optimizer once
    assert scalars["train/updates"][-1].value == 8 * 8 * optimizers
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["litrl"]["extras"] == {"gradient_steps": 64}
    assert len(checkpoint["optimizer_states"]) == optimizers
    alpha = checkpoint["state_dict"]["log_alpha"].exp().item()
    if optimizers == 2:
        assert alpha == pytest.approx(0.1)
    else:
        # Pendulum's one action dim: entropy starts above the target -1, so alpha falls from 1
        assert alpha < 1.0
        assert all(point.value < 1.0 for point in scalars["train/alpha"][1:])
