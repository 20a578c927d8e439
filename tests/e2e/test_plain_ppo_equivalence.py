"""The Lightning PPO computes exactly what the plain PyTorch loop in benchmarks/ computes, so the
framework-tax benchmark compares identical work (and the framework adds no hidden behaviour)."""

from pathlib import Path

import pytest

from benchmarks.plain_ppo import train_plain
from litrl.config import compose_config
from litrl.events import read_scalars
from litrl.train import run


@pytest.mark.parametrize("preset", ["ppo_cartpole", "ppo_pendulum"])
def test_same_seed_same_eval_history_as_plain_pytorch(tmp_path: Path, preset: str):
    cfg = compose_config(
        [
            "seed=1",
            f"experiment={preset}",
            "accelerator=cpu",
            f"run_dir={tmp_path}",
            "total_env_steps=8192",
            "eval.every_env_steps=4096",
            "eval.episodes=4",
            "video.every_n_evals=0",
        ]
    )
    run(cfg)
    litrl_history = [(e.step, e.value) for e in read_scalars(tmp_path)["eval/return_mean"]]
    plain_history = train_plain(cfg)
    assert (
        [step for step, _ in litrl_history] == [step for step, _ in plain_history] == [4096, 8192]
    )
    for (_, litrl_return), (_, plain_return) in zip(litrl_history, plain_history, strict=True):
        assert abs(litrl_return - plain_return) < 1e-3
