"""What a run does when its env, its losses or its videos misbehave: it never hangs, never stops
without its checkpoint, and says what happened in one paragraph."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import litrl.train
from litrl import OutputError, TrainingDiverged
from litrl.envs import EnvFactory
from litrl.events import read_scalars
from litrl.train import run
from tests.conftest import REPO_ROOT

TOY = "tests.toy_envs"


def test_an_env_that_never_ends_is_evaluated_to_the_cap_with_a_warning(smoke_cfg, caplog) -> None:
    cfg = smoke_cfg(
        "env=custom", f"env.entry_point={TOY}:EndlessEnv", "eval.max_episode_steps=40",
        "logger=tensorboard",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="litrl"):
        run(cfg)
    assert "EndlessEnv has no time limit" in caplog.text
    assert "eval.max_episode_steps=40" in caplog.text and "env.max_episode_steps" in caplog.text
    lengths = read_scalars(cfg.run_dir)["eval/length_mean"]
    assert lengths and all(scalar.value == 40 for scalar in lengths)

    checkpoint = Path(cfg.run_dir) / "checkpoints" / "last.ckpt"
    evaluated = subprocess.run(
        [sys.executable, "evaluate.py", f"ckpt={checkpoint}", "episodes=2",
         "max_episode_steps=30"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "2 greedy episodes" in evaluated.stdout and "length 30.0 ± 0.0" in evaluated.stdout


def test_an_env_has_a_time_limit_unless_nothing_sets_one() -> None:
    assert EnvFactory(id="CartPole-v1").has_time_limit()
    assert EnvFactory(entry_point=f"{TOY}:EndlessEnv", max_episode_steps=10).has_time_limit()
    assert not EnvFactory(entry_point=f"{TOY}:EndlessEnv").has_time_limit()


def test_the_evaluation_cap_never_lengthens_an_envs_own_limit() -> None:
    torch_backend = EnvFactory(id="CartPole-v1", backend="torch")
    assert torch_backend.make_vector(2, max_episode_steps=10).max_episode_steps == 10
    assert torch_backend.make_vector(2, max_episode_steps=27_000).max_episode_steps == 500
    capped = EnvFactory(id="CartPole-v1").make_vector(1, max_episode_steps=7)
    capped.reset(seed=0)
    for step in range(1, 8):
        *_, truncated, _ = capped.step([0] if step % 2 else [1])  # balances for 7 steps
    assert truncated[0]


@pytest.mark.parametrize(
    "overrides",
    [
        ["algo.alpha_lr=100", "algo.target_entropy=1000"],  # alpha grows past float32
        ["algo.critic_lr=1e30", "algo.grad_clip_mode=none"],
    ],
    ids=["temperature overflows", "critic lr"],
)
def test_a_nan_inside_sacs_updates_ends_as_a_diverged_run(compose, tmp_path: Path, overrides):
    cfg = compose(
        "algo=sac", "env=pendulum", "algo.data.warmup_env_steps=256",
        "algo.actor_hidden_sizes=[32,32]", "algo.critic_hidden_sizes=[32,32]",
        "total_env_steps=8192", *overrides, run_dir=tmp_path,
    )  # fmt: skip
    with pytest.raises(
        TrainingDiverged, match=r"^a (loss|gradient norm) became (nan|inf|-inf) by env step \d+"
    ) as diverged:
        run(cfg)
    assert "Lower algo.lr or tighten the gradient clipping" in str(diverged.value)


def test_overflowing_rewards_name_the_rewards_not_the_learning_rate(compose, tmp_path: Path):
    cfg = compose(
        "env=custom", f"env.entry_point={TOY}:BrokenEnv", "+env.kwargs.fault=huge_reward",
        "+env.kwargs.fail_at_step=300", "algo.loss=mse", run_dir=tmp_path,
    )  # fmt: skip
    with pytest.raises(TrainingDiverged) as diverged:
        run(cfg)
    message = str(diverged.value)
    assert "the env's rewards reach 3e+38" in message and "TransformReward" in message
    assert "Lower algo.lr" not in message
    assert f"The last good checkpoint is kept: {tmp_path / 'checkpoints' / 'last.ckpt'}" in message


@pytest.mark.parametrize("frames", ["float", "garbage", "raises"])
def test_a_video_problem_never_stops_training_nor_costs_a_checkpoint(
    compose, tmp_path: Path, frames: str, caplog
) -> None:
    cfg = compose(
        "env=custom", f"env.entry_point={TOY}:RenderingEnv", f"+env.kwargs.frames={frames}",
        "video.every_n_evals=1", "logger=tensorboard", run_dir=tmp_path,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="litrl"):
        run(cfg)
    accumulator = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    accumulator.Reload()
    videos = (
        accumulator.Images("eval/video") if "eval/video" in accumulator.Tags()["images"] else []
    )
    evals = [scalar.step for scalar in read_scalars(tmp_path)["eval/return_mean"]]
    if frames == "float":  # RGB floats in [0, 1] are frames too
        assert [video.step for video in videos] == evals
        assert "eval videos off" not in caplog.text
    else:
        assert (
            videos == []
            and "eval videos off: env.entry_point=tests.toy_envs:RenderingEnv" in caplog.text
        )
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["litrl"]["env_steps"] == evals[-1]  # every interval's checkpoint was written


def test_an_observation_that_leaves_its_space_mid_run_is_one_paragraph(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "train.py", "debug=smoke", "env=custom",
         f"env.entry_point={TOY}:BadObservationEnv", "+env.kwargs.fail_at_step=300",
         f"hydra.run.dir={tmp_path}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]  # after Lightning's start-up lines
    assert message.startswith(
        "litrl: environment error: env.entry_point=tests.toy_envs:BadObservationEnv: step() at "
        "its step 300 returned observation 7, outside its observation_space Discrete(4)"
    ), message
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()  # the first interval's work is kept


class DeleteRunDirAfter(L.Callback):
    """Deletes the run dir after ``steps`` training steps (a user's rm -rf mid-run)."""

    def __init__(self, run_dir: Path, steps: int) -> None:
        self.run_dir, self.steps, self.seen = run_dir, steps, 0

    def on_train_batch_end(self, *args) -> None:
        self.seen += 1
        # TensorBoard's writer thread may write while rmtree deletes: delete until it is gone.
        while self.seen == self.steps and self.run_dir.exists():
            shutil.rmtree(self.run_dir, ignore_errors=True)


def test_a_run_dir_deleted_while_training_stops_the_run_in_one_paragraph(
    compose, tmp_path: Path, monkeypatch
) -> None:
    run_dir = tmp_path / "run"
    build_callbacks = litrl.train._callbacks
    monkeypatch.setattr(
        litrl.train, "_callbacks",
        lambda cfg, *args: [DeleteRunDirAfter(run_dir, 2), *build_callbacks(cfg, *args)],
    )  # fmt: skip
    with pytest.raises(OutputError, match=f"^the run dir {run_dir} was deleted while the run"):
        run(compose("logger=tensorboard", run_dir=run_dir))
    assert not run_dir.exists()  # not created again, half a run without its events
