"""The spaces litrl half-accepted: Discrete spaces that do not start at 0 (actions shifted at the
env both ways, observations read as their index) and Box observations of shape ``()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from litrl.events import read_scalars
from litrl.train import prepare, run

TOY = "tests.toy_envs"
OFFSET = ["env=custom", f"env.entry_point={TOY}:OffsetDiscreteEnv"]
SCALAR = ["env=custom", f"env.entry_point={TOY}:ScalarObsEnv"]


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_discrete_spaces_that_do_not_start_at_zero_reach_the_optimum(smoke_cfg, algo: str):
    # The env raises on an action outside Discrete(3, start=-1): random warm-up actions, policy
    # actions and greedy evaluation all reach it shifted by the start.
    cfg = smoke_cfg(*OFFSET, f"algo={algo}", "total_env_steps=6144", "logger=tensorboard")
    final = run(cfg)
    assert final == 20.0  # action 1 (index 2) at every step
    assert read_scalars(Path(cfg.run_dir))["eval/return_mean"][-1].value == 20.0


def test_a_discrete_observation_that_does_not_start_at_zero_is_read_as_its_index(smoke_cfg):
    prepared = prepare(smoke_cfg(*OFFSET))
    assert prepared.module.hparams["obs_categories"] == 4
    prepared.datamodule.setup("fit")
    try:
        obs = prepared.datamodule.collector.obs
        assert obs.tolist() == [0.0] * obs.shape[0]  # start 10 is index 0
    finally:
        prepared.datamodule.teardown("fit")


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_a_scalar_box_observation_is_one_feature(smoke_cfg, algo: str):
    cfg = smoke_cfg(*SCALAR, f"algo={algo}", "total_env_steps=8192")
    prepared = prepare(cfg)
    assert tuple(prepared.module.hparams["obs_shape"]) == (1,)
    assert run(smoke_cfg(*SCALAR, f"algo={algo}", "total_env_steps=8192")) >= 16.0  # of 20
