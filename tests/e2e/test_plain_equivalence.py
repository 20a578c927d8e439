"""The Lightning DQN computes exactly what the plain PyTorch loop in benchmarks/ computes.

This pins down that the framework adds no hidden behaviour (extra RNG draws, skipped or
repeated updates), and makes the benchmark's framework-tax ratio an apples-to-apples one.
"""

from pathlib import Path

from benchmarks.plain_dqn import train_plain
from litrl.config import compose_config
from litrl.events import read_scalars
from litrl.train import run


def test_same_seed_same_eval_history_as_plain_pytorch(tmp_path: Path):
    cfg = compose_config(
        [
            "seed=1",
            "accelerator=cpu",
            f"run_dir={tmp_path}",
            "total_env_steps=3072",
            "eval.every_env_steps=1024",
            "eval.episodes=4",
        ]
    )
    run(cfg)
    litrl_history = [(e.step, e.value) for e in read_scalars(tmp_path)["eval/return_mean"]]
    plain_history = train_plain(cfg)
    assert len(litrl_history) == 3  # (3072 - 1000 warm-up) / 1024, rounded up
    assert [step for step, _ in litrl_history] == [step for step, _ in plain_history]
    for (_, litrl_return), (_, plain_return) in zip(litrl_history, plain_history, strict=True):
        assert abs(litrl_return - plain_return) < 1e-4
