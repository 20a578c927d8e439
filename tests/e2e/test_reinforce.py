"""REINFORCE end to end: a tiny run, and the on-policy guarantee."""

import math
from pathlib import Path

import pytest

from litrl.events import read_scalars
from litrl.resume import load_checkpoint
from litrl.train import run


@pytest.mark.parametrize("baseline", ["none", "running_mean", "value"])
def test_tiny_run_logs_policy_gradient_metrics(smoke_cfg, baseline):
    cfg = smoke_cfg(
        "algo=reinforce", f"algo.baseline={baseline}", "algo.data.env_steps_per_collect=256"
    )
    run(cfg)
    scalars = read_scalars(Path(cfg.run_dir))
    expected = {
        "train/episode_return",
        "train/loss",
        "train/entropy",
        "train/grad_norm",
        "eval/return_mean",
    }
    if baseline == "value":
        expected.add("train/value_loss")
    assert expected <= set(scalars)
    assert [e.step for e in scalars["eval/return_mean"]] == [1024, 2048]  # no warm-up on-policy


def test_every_update_uses_a_rollout_of_the_current_parameters(smoke_cfg):
    # The module refuses a batch whose policy version is not its own, so a finished run
    # with 8 policy updates means every rollout came from the parameters of the update before.
    cfg = smoke_cfg("algo=reinforce", "algo.data.env_steps_per_collect=256", "algo.value_steps=3")
    run(cfg)
    checkpoint = load_checkpoint(Path(cfg.run_dir) / "checkpoints" / "last.ckpt")
    assert checkpoint["litrl"]["extras"]["policy_version"] == 8
    # Gradient steps: per rollout one for the policy (and V), then two for V alone.
    updates = read_scalars(Path(cfg.run_dir))["train/updates"]
    assert updates[-1].value == 8 * 3


def test_rollouts_without_a_known_return_are_skipped_not_nan(smoke_cfg):
    # MountainCar's 200-step episodes never end early under a random policy; with 32 steps per
    # env per rollout and no value baseline, the first six rollouts hold no finished episode.
    cfg = smoke_cfg(
        "algo=reinforce",
        "env=mountaincar",
        "algo.baseline=none",
        "algo.data.env_steps_per_collect=256",
    )
    run(cfg)
    scalars = read_scalars(Path(cfg.run_dir))
    assert (
        scalars["train/updates"][-1].value == 1
    )  # only rollout 7 (steps 193-224) holds an episode end
    assert all(math.isfinite(p.value) for p in scalars["train/loss"])
