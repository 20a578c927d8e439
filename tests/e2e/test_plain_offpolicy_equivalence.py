"""The Lightning TD3 and SAC compute exactly what the plain PyTorch loops in benchmarks/ compute,
so the framework-tax benchmark compares identical work (and the framework adds no hidden
behaviour: extra RNG draws, skipped or repeated updates, a different delay count)."""

from pathlib import Path

import pytest

from benchmarks.plain_offpolicy import train_plain
from litrl.config import compose_config
from litrl.events import read_scalars
from litrl.train import run

TINY = [
    "total_env_steps=1280",
    "eval.every_env_steps=512",
    "eval.episodes=2",
    "algo.data.warmup_env_steps=256",
    "algo.data.buffer_capacity=2048",
    "algo.data.env_steps_per_collect=64",
    "algo.data.batch_size=32",
    "algo.data.updates_per_collect=8",
    "algo.actor_hidden_sizes=[32,32]",
    "algo.critic_hidden_sizes=[32,32]",
]


@pytest.mark.parametrize(
    "algo",
    [
        pytest.param(["algo=td3", "env=pendulum"], id="td3"),
        # a delay of 3 over 8 updates a step: the delay counter runs across training steps
        pytest.param(["experiment=td3_pendulum", "algo.policy_delay=3"], id="td3_pendulum"),
        pytest.param(
            ["algo=sac", "env=pendulum", "algo.learn_alpha=false", "algo.target_update_interval=3"],
            id="sac-fixed-alpha",
        ),
        pytest.param(["experiment=sac_pendulum"], id="sac_pendulum"),
    ],
)
def test_same_seed_same_eval_history_as_plain_pytorch(tmp_path: Path, algo: list[str]):
    cfg = compose_config(
        [
            "seed=1",
            *algo,
            *TINY,
            "accelerator=cpu",
            f"run_dir={tmp_path}",
            "video.every_n_evals=0",
        ]
    )
    run(cfg)
    litrl_history = [(e.step, e.value) for e in read_scalars(tmp_path)["eval/return_mean"]]
    plain_history = train_plain(cfg)
    # 256 warm-up steps, then (1280 - 256) / 512 = 2 evaluations
    assert [step for step, _ in litrl_history] == [step for step, _ in plain_history] == [768, 1280]
    for (_, litrl_return), (_, plain_return) in zip(litrl_history, plain_history, strict=True):
        assert abs(litrl_return - plain_return) < 1e-3
