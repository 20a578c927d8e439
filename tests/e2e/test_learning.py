"""It learns: DQN, REINFORCE, A2C and PPO reach CartPole's threshold with a fixed seed, and PPO
learns Pendulum (slow; make test-all)."""

from pathlib import Path

import pytest

from litrl.config import compose_config
from litrl.events import read_scalars
from litrl.train import run


def _train(tmp_path: Path, *overrides: str) -> tuple[float, list[float]]:
    """Final eval return and every eval return of a quiet CPU run with seed 0."""
    cfg = compose_config(
        [
            "seed=0",
            "accelerator=cpu",
            f"run_dir={tmp_path}",
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
            *overrides,
        ]
    )
    final_return = run(cfg)
    return final_return, [e.value for e in read_scalars(tmp_path)["eval/return_mean"]]


@pytest.mark.slow
def test_dqn_solves_cartpole(tmp_path: Path):
    final_return, evals = _train(tmp_path)
    assert max(evals) >= 475, evals
    assert final_return >= 400, evals  # a broken or collapsing learner ends far below this


@pytest.mark.slow
def test_reinforce_reaches_the_cartpole_threshold(tmp_path: Path):
    _, evals = _train(tmp_path, "algo=reinforce")
    assert max(evals) >= 475, evals


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "threshold"),
    [("ppo_cartpole", 475.0), ("a2c_cartpole", 475.0), ("ppo_pendulum", -250.0)],
)
def test_actor_critic_presets_learn(tmp_path: Path, preset: str, threshold: float):
    # Each preset at its own budget: A2C swings on CartPole until it settles (seed 0 ends 100k
    # env steps at 122 after holding 500), which is why a2c_cartpole trains for 500k.
    final_return, evals = _train(tmp_path, f"experiment={preset}")
    assert max(evals) >= threshold, evals
    assert final_return >= threshold - 100, evals  # random Pendulum: -1,229; random CartPole: ~22
