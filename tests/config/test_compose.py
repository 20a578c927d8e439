"""Every algo x env x accelerator=cpu config composes and builds its objects."""

import inspect
from pathlib import Path

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from litrl import ConfigError
from litrl.algos import A2C, DQN, PPO, SAC, TD3, Reinforce
from litrl.algos.ppo import PPO_DEFAULTS
from litrl.config import CONFIG_DIR, compose_config
from litrl.data.datamodule import OnPolicyDataModule, ReplayDataModule
from litrl.train import build

ALGOS = sorted(p.stem for p in (CONFIG_DIR / "algo").glob("*.yaml"))
ENVS = sorted(p.stem for p in (CONFIG_DIR / "env").glob("*.yaml"))
PRESETS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
# refused by check_env (not at compose time), with this message
UNSUPPORTED = {("dqn", "pendulum"): "DQN needs a Discrete action space"}  # continuous actions
UNSUPPORTED |= {  # discrete actions
    (algo, env): f"{algo.upper()} needs a 1-D Box action space"
    for algo in ("td3", "sac")
    for env in ENVS
    if env != "pendulum"
}
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
        with pytest.raises(ConfigError, match=UNSUPPORTED[algo, env]):
            get_class(cfg.algo._target_).check_env(env_factory)
        return
    spec = get_class(cfg.algo._target_).check_env(env_factory)
    datamodule = build(
        cfg.algo.data, env=env_factory, eval_every_env_steps=cfg.eval.every_env_steps
    )
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


def _defaults(target: type) -> dict:
    """A constructor's defaults; PPO's are A2C's overridden by PPO_DEFAULTS and its own."""
    signatures = [A2C, PPO] if target is PPO else [target]
    defaults = {}
    for cls in signatures:
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                default = parameter.default
                defaults[name] = list(default) if isinstance(default, tuple) else default
        if cls is A2C and target is PPO:
            defaults.update(PPO_DEFAULTS)
    return defaults


def test_constructor_defaults_match_the_yaml_catalog(tmp_path: Path):
    """Plain-Python users get the same tuned agent as `python train.py` users."""
    nodes = {a: compose_config([f"algo={a}", f"run_dir={tmp_path}"]).algo for a in ALGOS}
    targets = {
        "dqn": DQN,
        "reinforce": Reinforce,
        "a2c": A2C,
        "ppo": PPO,
        "td3": TD3,
        "sac": SAC,
    }
    pairs = [(targets[a], nodes[a]) for a in ALGOS]
    pairs += [(ReplayDataModule, nodes["dqn"].data), (OnPolicyDataModule, nodes["reinforce"].data)]
    for target, node in pairs:
        values = OmegaConf.to_object(node)
        for name, default in _defaults(target).items():
            if name in values:
                assert values[name] == default, f"{target.__name__}.{name}"


@pytest.mark.parametrize("algo", ALGOS)
def test_algo_files_take_one_form(algo: str):
    """Each sets the run's default budget and its `algo` node, nothing else."""
    text = (CONFIG_DIR / "algo" / f"{algo}.yaml").read_text()
    assert text.startswith("# @package _global_\n")
    assert set(OmegaConf.load(CONFIG_DIR / "algo" / f"{algo}.yaml")) <= {
        "total_env_steps",
        "eval",
        "algo",
    }


@pytest.mark.parametrize("env", ENVS)
def test_env_files_describe_only_the_env(env: str):
    """Algorithm settings for an env belong in an experiment= preset, not in the env file."""
    node = OmegaConf.load(CONFIG_DIR / "env" / f"{env}.yaml")
    assert "algo" not in node and "_target_" in node
    assert not (CONFIG_DIR / "env" / f"{env}.yaml").read_text().startswith("# @package _global_")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_experiment_preset_composes_and_builds(preset: str, tmp_path: Path):
    cfg = compose_config([f"experiment={preset}", "accelerator=cpu", f"run_dir={tmp_path}"])
    env_factory = build(cfg.env)
    algo_class = get_class(cfg.algo._target_)
    spec = algo_class.check_env(env_factory)
    datamodule = build(
        cfg.algo.data, env=env_factory, eval_every_env_steps=cfg.eval.every_env_steps
    )
    algo_kwargs = OmegaConf.masked_copy(cfg.algo, [k for k in cfg.algo if k != "data"])
    module = build(algo_kwargs, **algo_class.env_kwargs(spec))
    module.check_data(datamodule.env_steps_per_collect)
    assert datamodule.num_training_steps > 0


@pytest.mark.parametrize("preset", PRESETS)
def test_every_experiment_preset_passes_every_check_under_debug_smoke(preset: str, tmp_path: Path):
    # How a user checks a preset before spending hours on it: every check of a real run, its
    # warm-up, buffer and evaluation shrunk to the smoke budget (tests/e2e/test_presets.py
    # trains each one, under the slow marker).
    from litrl.train import prepare

    run_dir = tmp_path / "run"
    prepared = prepare(
        compose_config([f"experiment={preset}", "debug=smoke", f"run_dir={run_dir}"])
    )
    datamodule = prepared.datamodule
    assert datamodule.final_env_steps <= 3_048 and datamodule.eval_episodes == 2
    assert getattr(datamodule, "warmup_env_steps", 0) <= 1_000
    assert getattr(datamodule, "buffer_capacity", 0) <= 10_000
    assert not run_dir.exists()  # checked and built, nothing written
