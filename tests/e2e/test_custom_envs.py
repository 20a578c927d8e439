"""User envs end to end: the course-style example trains; a misbehaving env stops the run cleanly."""

from pathlib import Path

import pytest

from litrl.envs import EnvError
from litrl.events import read_scalars
from litrl.train import run

GRID = [
    "env=custom",
    "env.entry_point=examples.course_gridworld:GridWorld",
    "env.max_episode_steps=50",
]


def test_course_style_env_trains_with_dqn(smoke_cfg) -> None:
    # A random walk needs ~40 steps to the goal; the shortest path averages ~3.
    final_return = run(smoke_cfg(*GRID, "total_env_steps=6000", "logger=none"))
    assert final_return > -10


def test_an_env_that_cannot_render_turns_eval_videos_off_and_trains_on(smoke_cfg) -> None:
    cfg = smoke_cfg(*GRID, "video.every_n_evals=1")  # GridWorld has no render()
    run(cfg)
    assert [e.step for e in read_scalars(cfg.run_dir)["eval/return_mean"]] == [2024, 3048]


def test_course_style_env_runs_with_reinforce(smoke_cfg) -> None:
    final_return = run(smoke_cfg(*GRID, "algo=reinforce", "logger=none"))
    assert -50 <= final_return <= 0


def test_discrete_observations_train_with_dqn(smoke_cfg) -> None:
    cfg = smoke_cfg(
        "env=gym", "env.id=FrozenLake-v1", "+env.kwargs.is_slippery=false", "logger=none"
    )
    assert 0.0 <= run(cfg) <= 1.0


def test_env_failing_mid_run_stops_with_its_step_and_keeps_finished_work(smoke_cfg) -> None:
    # Each of the 8 training envs reaches its step 300 after the first evaluation (env step 2024).
    cfg = smoke_cfg(
        "env=custom",
        "env.entry_point=tests.toy_envs:BrokenEnv",
        "+env.kwargs.fault=raises",
        "+env.kwargs.fail_at_step=300",
    )
    with pytest.raises(EnvError, match="BrokenEnv: step\\(\\) at its step 300 raised RuntimeError"):
        run(cfg)
    run_dir = Path(cfg.run_dir)
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert [e.step for e in read_scalars(run_dir)["eval/return_mean"]] == [2024]
