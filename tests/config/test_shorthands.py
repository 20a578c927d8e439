"""The obvious spellings work: a user env without env=custom, and run dirs named after the env
actually trained."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from litrl.config import CONFIG_DIR, expand_shorthands, register_resolvers
from litrl.train import run

GRID = "env.entry_point=tests.toy_envs:CountingEnv"


@pytest.mark.parametrize("given", [GRID, f"+{GRID}"])
def test_an_entry_point_alone_selects_the_custom_env_group(given: str) -> None:
    assert expand_shorthands(["seed=1", given]) == ["seed=1", "env=custom", GRID]


def test_an_entry_point_with_an_env_choice_is_left_as_given() -> None:
    assert expand_shorthands(["env=custom", GRID]) == ["env=custom", GRID]


def test_an_entry_point_alone_trains_the_users_env(smoke_cfg) -> None:
    cfg = smoke_cfg(GRID, "logger=none")
    assert cfg.env.entry_point == "tests.toy_envs:CountingEnv" and "id" not in cfg.env
    run(cfg)
    assert (Path(cfg.run_dir) / "checkpoints" / "last.ckpt").is_file()


def _run_dir(*overrides: str) -> str:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=expand_shorthands(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} resolves against it
    try:
        return str(OmegaConf.select(cfg, "hydra.run.dir")).rpartition("/")[0]
    finally:
        HydraConfig.instance().cfg = None


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ((), "outputs/dqn-cartpole"),
        (("env.id=Acrobot-v1",), "outputs/dqn-acrobot"),  # on the default env=cartpole
        (("algo=ppo", "env=gym", "env.id=FrozenLake-v1"), "outputs/ppo-frozenlake"),
        (("env=atari", "env.id=ALE/Breakout-v5"), "outputs/dqn-breakout"),
        ((GRID,), "outputs/dqn-countingenv"),
    ],
)
def test_run_dirs_are_named_after_the_env_trained(overrides: tuple[str, ...], named: str) -> None:
    assert _run_dir(*overrides) == named


def test_a_bare_word_after_an_override_is_a_split_value_but_flag_values_are_not() -> None:
    from litrl import ConfigError
    from litrl.config import check_no_split_values

    check_no_split_values(["--cfg", "job", "seed=1", "-m", "seed=1,2", "~env.kwargs", "+a=1"])
    check_no_split_values(["--info", "defaults"])
    with pytest.raises(
        ConfigError, match=r"Quote the whole override for the shell: 'hydra.run.dir=/a b c'$"
    ):
        check_no_split_values(["seed=1", "hydra.run.dir=/a", "b", "c", "algo=ppo"])
