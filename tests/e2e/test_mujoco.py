"""MuJoCo through Gymnasium (the optional ``mujoco`` extra, part of ``dev``): the continuous-action
algorithms train on HalfCheetah-v5.

Without the extra the module skips.
"""

from __future__ import annotations

import math

import pytest

from litrl.events import read_scalars
from litrl.train import run

pytest.importorskip("mujoco")

# HalfCheetah never terminates: a short time limit keeps the evaluations (and videos) short.
CHEETAH = ["env=gym", "env.id=HalfCheetah-v5", "env.max_episode_steps=100"]
EVALS = ["eval.every_env_steps=256", "eval.episodes=1", "eval.num_envs=1"]
# Per algorithm: tiny nets and a budget of two evaluation intervals (after TD3's warm-up).
ALGOS = {
    "td3": [
        "algo=td3",
        "total_env_steps=768",
        "algo.data.warmup_env_steps=256",
        "algo.data.buffer_capacity=1024",
        "algo.data.batch_size=32",
        "algo.data.updates_per_collect=8",
        "algo.actor_hidden_sizes=[32,32]",
        "algo.critic_hidden_sizes=[32,32]",
    ],
    "ppo": [
        "algo=ppo",
        "total_env_steps=512",
        "algo.n_epochs=2",
        "algo.hidden_sizes=[32,32]",
        "algo.value_hidden_sizes=[32,32]",
    ],
}


@pytest.mark.parametrize("algo", ALGOS)
def test_algorithm_trains_on_halfcheetah(smoke_cfg, algo: str) -> None:
    cfg = smoke_cfg(*CHEETAH, *EVALS, *ALGOS[algo])
    final_return = run(cfg)
    scalars = read_scalars(cfg.run_dir)
    assert scalars["train/updates"][-1].value > 0
    evals = scalars["eval/return_mean"]
    assert [e.step for e in evals] == [cfg.total_env_steps - 256, cfg.total_env_steps]
    assert all(math.isfinite(e.value) for e in evals) and math.isfinite(final_return)
