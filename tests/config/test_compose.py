"""Every algo x env x accelerator=cpu config composes and builds its objects."""

import inspect
from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from litrl import ConfigError
from litrl.algos import DQN, Reinforce
from litrl.config import CONFIG_DIR, compose_config
from litrl.data.datamodule import OnPolicyDataModule, ReplayDataModule
from litrl.train import build

ALGOS = sorted(p.stem for p in (CONFIG_DIR / "algo").glob("*.yaml"))
ENVS = sorted(p.stem for p in (CONFIG_DIR / "env").glob("*.yaml"))
UNSUPPORTED = {("dqn", "pendulum")}  # continuous actions
REQUIRED = {  # generic env presets name their env on the command line
    "custom": ["env.entry_point=examples.course_gridworld:GridWorld"],
    "gym": ["env.id=FrozenLake-v1"],
}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("algo", ALGOS)
def test_algo_env_pair_builds(algo: str, env: str, tmp_path: Path):
    overrides = [f"algo={algo}", f"env={env}", "accelerator=cpu", f"run_dir={tmp_path}"]
    cfg = compose_config(overrides + REQUIRED.get(env, []))
    env_factory = build(cfg.env)
    if (algo, env) in UNSUPPORTED:
        with pytest.raises(ConfigError, match="needs a Discrete action space"):
            get_class(cfg.algo._target_).check_env(env_factory)
        return
    spec = get_class(cfg.algo._target_).check_env(env_factory)
    datamodule = build(cfg.algo.data, env=env_factory)
    algo_kwargs = OmegaConf.masked_copy(cfg.algo, [k for k in cfg.algo if k != "data"])
    module = build(algo_kwargs, **get_class(cfg.algo._target_).env_kwargs(spec))
    assert module.n_actions == spec.n_actions
    assert datamodule.num_training_steps > 0


@pytest.mark.parametrize("accelerator", ["cpu", "gpu", "auto"])
def test_accelerator_presets_compose(accelerator: str, tmp_path: Path):
    cfg = compose_config([f"accelerator={accelerator}", f"run_dir={tmp_path}"])
    assert set(cfg.accelerator) == {"accelerator", "devices", "precision"}


@pytest.mark.parametrize("logger", ["tensorboard", "csv", "none"])
def test_logger_presets_compose(logger: str, tmp_path: Path):
    cfg = compose_config([f"logger={logger}", f"run_dir={tmp_path}"])
    if logger == "none":
        assert not cfg.logger
    else:
        # events land in the run dir itself, not in a lightning_logs/version_N subfolder
        assert Path(instantiate(cfg.logger, save_dir=str(tmp_path)).log_dir) == tmp_path


def test_n_step_follows_the_algorithm(tmp_path: Path):
    cfg = compose_config(["algo.n_step=2", f"run_dir={tmp_path}"])
    assert cfg.algo.data.n_step == 2


def test_command_line_accelerator_beats_the_smoke_preset(tmp_path: Path):
    cfg = compose_config(["debug=smoke", "accelerator=gpu", f"run_dir={tmp_path}"])
    assert cfg.accelerator.accelerator == "gpu"


def test_constructor_defaults_match_the_yaml_catalog(tmp_path: Path):
    """Plain-Python users get the same tuned agent as `python train.py` users."""
    dqn = compose_config([f"run_dir={tmp_path}"]).algo
    reinforce = compose_config(["algo=reinforce", f"run_dir={tmp_path}"]).algo
    for target, node in (
        (DQN, dqn),
        (ReplayDataModule, dqn.data),
        (Reinforce, reinforce),
        (OnPolicyDataModule, reinforce.data),
    ):
        for name, parameter in inspect.signature(target.__init__).parameters.items():
            if name in node and parameter.default is not inspect.Parameter.empty:
                default = parameter.default
                expected = list(default) if isinstance(default, tuple) else default
                assert OmegaConf.to_object(node)[name] == expected, f"{target.__name__}.{name}"
