"""Envs from config: classic-Gym adapters, user classes, unsupported spaces, runtime guards."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from litrl import ConfigError
from litrl.envs import EnvError, EnvFactory
from litrl.nets import OneHot

TOY = "tests.toy_envs"


def test_course_env_is_adapted_to_gymnasium() -> None:
    env = EnvFactory(entry_point=f"{TOY}:CourseEnv", kwargs={"length": 2}).make()
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.tolist() == [0.0] and info == {}
    assert env.step(0)[1:4] == (1.0, False, False)
    obs, _, terminated, truncated, _ = env.step(0)
    assert obs.tolist() == [2.0] and terminated and not truncated


def test_old_gym_time_limit_becomes_truncation_not_termination() -> None:
    env = EnvFactory(entry_point=f"{TOY}:OldGymEnv", kwargs={"length": 2}).make()
    env.reset()
    env.step(0)
    _, _, terminated, truncated, info = env.step(0)
    assert truncated and not terminated and "TimeLimit.truncated" not in info


def test_max_episode_steps_truncates_a_user_env() -> None:
    env = EnvFactory(
        entry_point=f"{TOY}:CourseEnv", kwargs={"length": 10}, max_episode_steps=2
    ).make()
    env.reset()
    env.step(0)
    _, _, terminated, truncated, _ = env.step(0)
    assert truncated and not terminated


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        ("no_such_module:Env", "cannot import module 'no_such_module'"),
        (f"{TOY}:CourseEnvv", "Did you mean: CourseEnv"),
        (f"{TOY}.CourseEnv", "module.path:ClassName"),
        (f"{TOY}:NoSpacesEnv", "defines no observation_space"),
        (f"{TOY}:DictObsEnv", "not this one yet"),
    ],
)
def test_bad_user_class_names_the_field_and_the_fix(entry_point: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"env\.entry_point") as error:
        EnvFactory(entry_point=entry_point).spec()
    assert message in str(error.value)


def test_check_env_failure_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"fails gymnasium's check_env.*reset.*observation space"):
        EnvFactory(entry_point=f"{TOY}:BrokenEnv", kwargs={"fault": "reset_out_of_space"})


def test_id_and_entry_point_are_exclusive() -> None:
    with pytest.raises(ConfigError, match=r"exactly one of env\.id"):
        EnvFactory(id="CartPole-v1", entry_point=f"{TOY}:CourseEnv")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("raises", "step\\(\\) at its step 50 raised RuntimeError"),
        ("nan_obs", "step\\(\\) at its step 50 returned a non-finite observation"),
        ("wrong_shape", "step\\(\\) at its step 50 returned an observation of shape \\(3,\\)"),
        ("text_reward", "step\\(\\) at its step 50 returned reward 'lots', which is not a number"),
    ],
)
def test_guard_names_env_step_and_problem(fault: str, message: str) -> None:
    factory = EnvFactory(
        entry_point=f"{TOY}:BrokenEnv", kwargs={"fault": fault, "fail_at_step": 50}
    )
    env = factory.make()
    env.reset(seed=0)
    for _ in range(49):
        env.step(0)
    with pytest.raises(EnvError, match=f"env.entry_point={TOY}:BrokenEnv: {message}"):
        env.step(0)


def test_an_id_whose_env_fails_at_once_fails_the_preflight() -> None:
    gym.register("litrl-test/NaN-v0", entry_point=f"{TOY}:BrokenEnv", kwargs={"fault": "nan_obs"})
    with pytest.raises(EnvError, match=r"env\.id=litrl-test/NaN-v0: step.*non-finite observation"):
        EnvFactory("litrl-test/NaN-v0").spec()


def test_discrete_observations_are_indices_encoded_one_hot() -> None:
    spec = EnvFactory("FrozenLake-v1").spec()
    assert spec.obs_shape == () and spec.obs_categories == 16
    encoded = OneHot(16)(torch.tensor([0.0, 5.0, 15.0]))
    assert encoded.shape == (3, 16)
    assert encoded.argmax(dim=1).tolist() == [0, 5, 15] and encoded.sum().item() == 3
