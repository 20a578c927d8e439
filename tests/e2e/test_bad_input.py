"""Bad input: a clear error naming the field or object and the fix, before any training step.

Every case here is listed in the README's troubleshooting table.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest
import torch

from litrl import ConfigError, EnvError
from litrl.run_dir import LOCK_NAME
from litrl.train import run
from tests.conftest import REPO_ROOT

TOY = "tests.toy_envs"
BROKEN = ["env=custom", f"env.entry_point={TOY}:BrokenEnv"]

CASES = {
    "unknown gym id": (["env.id=CartPole-v9"], r"env.id=CartPole-v9 .*Did you mean: CartPole-v1"),
    "continuous actions": (
        ["env.id=Pendulum-v1"],
        r"DQN needs a Discrete action space.*Pendulum-v1.*Box",
    ),
    "batch larger than buffer": (  # debug=smoke's DQN buffer holds 10,000
        ["algo.data.batch_size=200000"],
        r"algo.data.batch_size=200000 .*\[1, 10000\]",
    ),
    "gamma above one": (["algo.gamma=1.5"], r"algo.gamma=1.5 .*\[0.0, 1.0\]"),
    "negative gamma": (["algo.gamma=-0.1"], r"algo.gamma=-0.1 "),
    "zero lr": (["algo.lr=0"], r"algo.lr=0 .*\(0.0, inf\)"),
    "n_step zero": (["algo.n_step=0"], r"algo.n_step=0 .*\[1, inf\)"),
    "collect larger than buffer": (
        [
            "algo.data.buffer_capacity=2048",
            "algo.data.env_steps_per_collect=4096",
            "eval.every_env_steps=4096",
        ],
        r"algo.data.env_steps_per_collect needs 512 steps per env .* holds 256 per env",
    ),
    "unknown loss": (
        ["algo.loss=l1"],
        r"algo.loss='l1' is unknown; choose one of \['huber', 'mse'\]",
    ),
    "unknown accelerator": (
        ["accelerator.accelerator=quantum"],
        r"accelerator.accelerator='quantum' is unknown; choose one of \[.*'cpu'",
    ),
    "custom env module missing": (
        ["env=custom", "env.entry_point=no_such_pkg.envs:Grid"],
        r"env.entry_point: cannot import module 'no_such_pkg' .*PYTHONPATH",
    ),
    "custom env class missing": (
        ["env=custom", f"env.entry_point={TOY}:GridWorld"],
        r"env.entry_point=tests.toy_envs:GridWorld: tests.toy_envs has no GridWorld",
    ),
    "env raises in step": (
        [*BROKEN, "+env.kwargs.fault=raises"],
        r"BrokenEnv .*RuntimeError\('the simulator lost its connection'\)",
    ),
    "env returns NaN observations": (
        [*BROKEN, "+env.kwargs.fault=nan_obs"],
        r"BrokenEnv: step\(\) at its step 1 returned a non-finite observation",
    ),
    "observation of the wrong shape": (
        [*BROKEN, "+env.kwargs.fault=wrong_shape"],
        r"BrokenEnv: step\(\) at its step 1 returned an observation of shape \(3,\), but its "
        r"observation_space has shape \(2,\)",
    ),
    "frames stored once on vector observations": (
        ["algo.data.store_frames_once=true"],
        r"algo.data.store_frames_once=true needs stacked image frames .* CartPole-v1 .*float32",
    ),
    "minibatch does not divide the rollout": (
        ["algo=ppo", "algo.batch_size=100"],
        r"algo.batch_size=100 must divide the rollout of algo.data.env_steps_per_collect=256",
    ),
    "clip range zero": (["algo=ppo", "algo.clip_range=0"], r"algo.clip_range=0 .*\(0.0, inf\)"),
    "gae_lambda above one": (
        ["algo=a2c", "algo.gae_lambda=1.5"],
        r"algo.gae_lambda=1.5 .*\[0.0, 1.0\]",
    ),
    "no epochs": (["algo=ppo", "algo.n_epochs=0"], r"algo.n_epochs=0 .*\[1, inf\)"),
    "action space no algorithm acts in": (
        ["algo=ppo", "env=custom", f"env.entry_point={TOY}:MultiDiscreteActionEnv"],
        r"PPO needs a Discrete or a 1-D Box action space, but .*MultiDiscrete",
    ),
    "TD3 on discrete actions": (
        ["algo=td3"],
        r"TD3 needs a 1-D Box action space, but CartPole-v1 has Discrete\(2\).* env=pendulum",
    ),
    "TD3 on unbounded actions": (
        ["algo=td3", "env=custom", f"env.entry_point={TOY}:UnboundedActionEnv"],
        r"TD3's tanh actor scales actions to the Box's bounds, but .* has unbounded actions "
        r"Box\(-inf, inf.*finite low and high",
    ),
    "TD3 policy_delay zero": (
        ["algo=td3", "env=pendulum", "algo.policy_delay=0"],
        r"algo.policy_delay=0 .*\[1, inf\)",
    ),
    "SAC on discrete actions": (
        ["algo=sac"],
        r"SAC needs a 1-D Box action space, but CartPole-v1 has Discrete\(2\).* env=pendulum",
    ),
    "SAC on unbounded actions": (
        ["algo=sac", "env=custom", f"env.entry_point={TOY}:UnboundedActionEnv"],
        r"SAC's tanh actor scales actions to the Box's bounds, but .* has unbounded actions",
    ),
    "SAC target entropy with a fixed alpha": (
        ["algo=sac", "env=pendulum", "algo.learn_alpha=false", "algo.target_entropy=-2"],
        r"algo.target_entropy=-2 only steers a learned alpha, but algo.learn_alpha=false",
    ),
    "normalisation of image observations": (
        ["algo=ppo", "env=atari", "algo.normalize_obs=true"],
        r"algo.normalize_obs=true .* image frames; set algo.normalize_obs=false",
    ),
    "observation statistics limited without any": (
        ["algo=ppo", "algo.normalize_obs_env_steps=4096"],
        r"algo.normalize_obs_env_steps=4096 limits .* set algo.normalize_obs=true",
    ),
    "REINFORCE's observation statistics limited without any": (
        ["algo=reinforce", "algo.normalize_obs_env_steps=4096"],
        r"algo.normalize_obs_env_steps=4096 limits .* set algo.normalize_obs=true",
    ),
    "value of the wrong type": (
        ["algo.lr=abc"],
        r"algo.lr=abc is not a number: algo.lr takes a number. Set it .* e.g. algo.lr=0.003\.$",
    ),
    "integer of the wrong type": (
        ["algo.data.batch_size=12.5"],
        r"batch_size=12.5 is not an integer",
    ),
    "top-level value of the wrong type": (["seed=abc"], r"seed=abc is not an integer"),
    "unknown key added with +": (
        ["+algo.learning_rate=1e-3"],
        r"algo.learning_rate is not an argument of DQN. Did you mean algo.lr\? DQN accepts: "
        r"hidden_sizes, .*, epsilon_end, .*Fix the name, or drop the \+algo.learning_rate override",
    ),
    "unknown key of an argument passed on to a base class": (
        ["algo=ppo", "+algo.lrr=1"],
        r"algo.lrr is not an argument of PPO. Did you mean algo.lr\? PPO accepts: clip_range, .*gae_lambda",
    ),
    "unknown kwargs for a registered id": (
        ["+env.kwargs.foo=3"],
        r"env.kwargs.foo is not an argument of CartPole-v1. CartPole-v1 accepts: sutton_barto_reward",
    ),
    "misspelt kwarg of a registered id": (
        ["env=gym", "env.id=FrozenLake-v1", "+env.kwargs.is_slipery=false"],
        r"env.kwargs.is_slipery .*Did you mean env.kwargs.is_slippery\?",
    ),
    "total_env_steps zero": (
        ["total_env_steps=0"],
        r"total_env_steps=0 is out of range.*\[1, inf\)",
    ),
    "total_env_steps within the warm-up": (
        ["total_env_steps=1000"],
        r"total_env_steps=1000 leaves nothing to learn after the algo.data.warmup_env_steps=1000 ",
    ),
    "epsilon_end above epsilon_start": (
        ["algo.epsilon_start=0.5", "algo.epsilon_end=0.9"],
        r"algo.epsilon_end=0.9 is above algo.epsilon_start=0.5: .*algo.epsilon_end <= ",
    ),
    "reward that is not a number": (
        ["env=gym", "env.package=tests.toy_envs", "env.id=litrl-toys/TextReward-v0"],
        r"env.id=litrl-toys/TextReward-v0: step\(\) at its step 1 returned reward 'lots', which "
        r"is not a number",
    ),
    "replay buffer larger than memory": (
        ["env=custom", f"env.entry_point={TOY}:HugeObsEnv"],
        r"the replay buffer of algo.data.buffer_capacity=10000 transitions of .*HugeObsEnv "
        r"\(33,554,446 bytes each, .*\) needs 312.5 GiB, but the memory available on this "
        r"machine is .* GiB; lower algo.data.buffer_capacity \(about [\d,]+ transitions fit\)",
    ),
    "negative final learning-rate factor (PPO)": (
        ["algo=ppo", "algo.lr_schedule=linear", "algo.lr_final_fraction=-0.5"],
        r"algo.lr_final_fraction=-0.5 is out of range: it must lie in \[0.0, 1.0\]",
    ),
    "negative final learning-rate factor (A2C)": (
        ["algo=a2c", "algo.lr_final_fraction=-1"],
        r"algo.lr_final_fraction=-1 is out of range",
    ),
    "negative final learning-rate factor (REINFORCE)": (
        ["algo=reinforce", "algo.lr_final_fraction=-1"],
        r"algo.lr_final_fraction=-1 is out of range",
    ),
    "negative final learning-rate factor (DQN)": (
        ["algo.lr_schedule=exponential", "algo.lr_final_fraction=-0.1"],
        r"algo.lr_final_fraction=-0.1 is out of range",
    ),
    "hidden layer of width zero": (
        ["algo.hidden_sizes=[0]"],
        r"^algo.hidden_sizes=\[0\] has a layer of width 0: each hidden layer needs at least 1 "
        r"unit .* e.g. algo.hidden_sizes=\[64,64\], or algo.hidden_sizes=\[\] for no hidden layer\.$",
    ),
    "hidden layer of negative width": (
        ["algo=sac", "env=pendulum", "algo.critic_hidden_sizes=[64,-4]"],
        r"^algo.critic_hidden_sizes=\[64, -4\] has a layer of width -4",
    ),
    "hidden sizes that are not a list": (
        ["algo=ppo", "algo.hidden_sizes=abc"],
        r"^algo.hidden_sizes=abc is not a list of layer widths: algo.hidden_sizes takes a list of "
        r"integers, one per hidden layer\. Set it as e.g. algo.hidden_sizes=\[64,64\]",
    ),
    "negative gradient clip": (
        ["algo.grad_clip_mode=norm", "algo.grad_clip=-1"],
        r"algo.grad_clip=-1 is out of range: it must lie in \(0.0, inf\)",
    ),
    "negative gradient clip (TD3)": (
        ["algo=td3", "env=pendulum", "algo.grad_clip_mode=value", "algo.grad_clip=-0.5"],
        r"algo.grad_clip=-0.5 is out of range",
    ),
    "negative policy-gradient clip (REINFORCE)": (
        ["algo=reinforce", "algo.grad_clip_norm=-1"],
        r"algo.grad_clip_norm=-1 is out of range",
    ),
    "infinite initial temperature (SAC)": (
        ["algo=sac", "env=pendulum", "algo.init_alpha=inf"],
        r"algo.init_alpha=inf is out of range: it must lie in \(0.0, inf\)",
    ),
    "negative video interval": (
        ["video.every_n_evals=-1"],
        r"^video.every_n_evals=-1 is out of range: it must lie in \[0, inf\]\. .*video.every_n_evals=0\.$",
    ),
    "negative torch threads": (
        ["torch_threads=-2"],
        r"^torch_threads=-2 is out of range: it must lie in \[0, inf\]\. .* torch_threads=1\.$",
    ),
    "no evaluation envs": (["eval.num_envs=0"], r"^eval.num_envs=0 is out of range: .*\[1, inf\]"),
    "no evaluation episode steps": (
        ["eval.max_episode_steps=0"],
        r"^eval.max_episode_steps=0 is out of range",
    ),
    "negative seed": (
        ["seed=-1"],
        r"^seed=-1 is out of range: it must lie in \[0, 4294967295\] \(the seeds numpy and "
        r"Lightning take\)\. .* seed=0\.$",
    ),
    "seed past 2**32 - 1": (["seed=4294967296"], r"^seed=4294967296 is out of range"),
    "terminated that is not a boolean": (
        [*BROKEN, "+env.kwargs.fault=text_terminated"],
        r"^env.entry_point=tests.toy_envs:BrokenEnv: step\(\) at its step 1 returned "
        r"terminated='False' \(a str\), which is not a boolean: return True or False\.",
    ),
    "classic-Gym done that is not a boolean": (
        ["env=custom", f"env.entry_point={TOY}:ClassicTextDoneEnv"],
        r"ClassicTextDoneEnv: step\(\) at its step 1 returned terminated='False' \(a str\)",
    ),
    "Discrete observation out of its range": (
        ["env=custom", f"env.entry_point={TOY}:BadObservationEnv"],
        r"BadObservationEnv: step\(\) at its step 1 returned observation 7, outside its "
        r"observation_space Discrete\(4\) \(integers 0 to 3\)",
    ),
    "NaN in an integer observation": (
        ["env=custom", f"env.entry_point={TOY}:BadObservationEnv", "+env.kwargs.kind=int_nan"],
        r"BadObservationEnv: step\(\) at its step 1 returned a non-finite observation",
    ),
    "unsupported observation space": (
        ["env=custom", f"env.entry_point={TOY}:DictObsEnv"],
        r"DictObsEnv has observation space Dict.*not this one yet",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_value_names_field_before_any_compute(case: str, smoke_cfg):
    overrides, message = CASES[case]
    cfg = smoke_cfg(*overrides)
    with pytest.raises((ConfigError, EnvError), match=message):
        run(cfg)
    assert not Path(cfg.run_dir).exists()  # no events, no checkpoints: nothing ran


def test_unwritable_output_dir(smoke_cfg, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cfg = smoke_cfg(f"run_dir={blocker / 'run'}")
    with pytest.raises(ConfigError, match=r"run_dir=.*a-file/run cannot hold .*a-file is a file"):
        run(cfg)


def test_corrupt_checkpoint_on_resume(smoke_cfg, tmp_path: Path):
    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}}, ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:40])  # truncated mid-file
    cfg = smoke_cfg(f"resume={ckpt}", f"run_dir={tmp_path / 'run'}")
    with pytest.raises(ConfigError, match=r"resume=.*last.ckpt cannot be read"):
        run(cfg)
    assert not (tmp_path / "run").exists()


def _uninstalled(monkeypatch, package: str, env_modules: str) -> None:
    """As on a machine without ``package``: importing it fails, and gymnasium's env modules that
    need it import again (and raise DependencyNotInstalled) when litrl loads an id's env class."""
    monkeypatch.setitem(sys.modules, package, None)
    for name in [name for name in sys.modules if name.startswith(env_modules)]:
        monkeypatch.delitem(sys.modules, name)


def test_mujoco_id_without_the_extra_names_the_install_command(smoke_cfg, monkeypatch):
    _uninstalled(monkeypatch, "mujoco", "gymnasium.envs.mujoco")
    cfg = smoke_cfg("algo=td3", "env=gym", "env.id=HalfCheetah-v5")
    with pytest.raises(
        ConfigError,
        match=r"^env.id=HalfCheetah-v5 is a MuJoCo env, but MuJoCo is not installed. Install it "
        r"with pip install -e \"\.\[mujoco\]\" .* or pip install \"gymnasium\[mujoco\]\"\.$",
    ):
        run(cfg)
    assert not Path(cfg.run_dir).exists()


def test_id_whose_env_needs_a_missing_package_gives_gymnasiums_hint(smoke_cfg, monkeypatch):
    _uninstalled(monkeypatch, "Box2D", "gymnasium.envs.box2d")
    cfg = smoke_cfg("env=lunarlander")
    with pytest.raises(
        ConfigError,
        match=r"^env.id=LunarLander-v3 needs a package that is not installed: Box2D is not "
        r"installed, .*`pip install \"gymnasium\[box2d\]\"`$",
    ):
        run(cfg)
    assert not Path(cfg.run_dir).exists()


def test_mujoco_gl_that_cannot_load_names_the_backends(smoke_cfg, monkeypatch):
    # `import mujoco` loads the backend MUJOCO_GL names and raises if it cannot (mujoco 3-4
    # itself does this; re-importing its C extension here is not safe, so the loader raises it).
    def import_mujoco(entry_point: str):
        raise RuntimeError("invalid value for environment variable MUJOCO_GL: eggl")

    monkeypatch.setenv("MUJOCO_GL", "eggl")
    monkeypatch.setattr(gymnasium.envs.registration, "load_env_creator", import_mujoco)
    cfg = smoke_cfg("algo=ppo", "env=gym", "env.id=Hopper-v5")
    with pytest.raises(
        ConfigError,
        match=r"^env.id=Hopper-v5: MuJoCo fails to import with MUJOCO_GL=eggl \(RuntimeError: "
        r"invalid value .*\)\. Without a display, set MUJOCO_GL=egl .* or MUJOCO_GL=osmesa .* "
        r"Or unset MUJOCO_GL",
    ):
        run(cfg)
    assert not Path(cfg.run_dir).exists()


def run_cli(*overrides: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "train.py", "debug=smoke", f"hydra.run.dir={tmp_path}", *overrides],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_exits_non_zero_with_a_short_message(tmp_path: Path):
    result = run_cli("algo.gamma=2", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "algo.gamma=2" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "checkpoints").exists()


def test_cli_unwritable_output_dir_is_one_line(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli(tmp_path=blocker / "run")
    assert result.returncode == 2
    assert "hydra.run.dir=" in result.stderr and "is a file, not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_env_error_exits_non_zero_without_a_traceback(tmp_path: Path):
    result = run_cli(*BROKEN, "+env.kwargs.fault=nan_obs", tmp_path=tmp_path / "run")
    assert result.returncode == 3
    assert "litrl: environment error: env.entry_point=tests.toy_envs:BrokenEnv" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_value_of_the_wrong_type_is_one_paragraph(tmp_path: Path):
    result = run_cli("seed=abc", tmp_path=tmp_path / "run")
    _refused(result, "seed=abc is not an integer: seed takes an integer")


def test_unknown_algo_lists_hydras_options(tmp_path: Path):
    result = run_cli("algo=dqnn", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'algo/dqnn'" in result.stderr and "dqn" in result.stderr


# A run dir belongs to one run: a refused run leaves the run that is there byte-for-byte as it was.


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli("total_env_steps=1024", tmp_path=run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def _refused(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "UserWarning" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("litrl: configuration error: ") and "\n" not in message, message
    for part in parts:
        assert part in message, message


def test_cli_new_run_in_another_runs_dir_is_refused_and_writes_nothing(finished_run: Path):
    before = _snapshot(finished_run)
    result = run_cli(tmp_path=finished_run)  # no resume=: a new run into the finished one's dir
    _refused(
        result,
        f"hydra.run.dir={finished_run} already holds another run (checkpoints/best.ckpt",
        f"resume={finished_run}",
        "point it at a new directory",
        "reuse_run_dir=true",
    )
    assert _snapshot(finished_run) == before  # .hydra/ and train.log included


def test_cli_resume_of_a_run_in_progress_is_refused(finished_run: Path):
    lock = finished_run / LOCK_NAME
    lock.write_text(f"{socket.gethostname()} {os.getpid()}\n")  # this test process: alive
    try:
        before = _snapshot(finished_run)
        result = run_cli(f"resume={finished_run}", tmp_path=finished_run)
        _refused(result, f"{finished_run} is in use by a run in progress (pid {os.getpid()}")
        assert _snapshot(finished_run) == before
    finally:
        lock.unlink()


def test_cli_refused_resume_keeps_the_runs_saved_config(finished_run: Path):
    # Refused before Hydra rewrites .hydra/: the next resume= still composes the run's config.
    before = _snapshot(finished_run)
    result = run_cli(f"resume={finished_run}", "algo.lr=1e-3", tmp_path=finished_run)
    assert result.returncode == 2 and "algo.lr: 0.003 -> 0.001" in result.stderr, result.stderr
    assert "allow_config_change=true" in result.stderr and "Traceback" not in result.stderr
    assert _snapshot(finished_run) == before


def test_cli_forced_resume_from_another_algorithms_checkpoint_is_refused(finished_run: Path):
    before = _snapshot(finished_run)
    result = run_cli(
        f"resume={finished_run}", "algo=ppo", "resume.allow_config_change=true",
        tmp_path=finished_run,
    )  # fmt: skip
    _refused(
        result,
        "the checkpoint was written by litrl.algos.DQN, but this run's algo is litrl.algos.PPO",
        "Drop the algo= override",
    )
    assert _snapshot(finished_run) == before


@pytest.mark.parametrize("backend", ["gymnasium", "torch"])
def test_rollout_larger_than_memory_is_refused_before_it_is_allocated(
    backend: str, smoke_cfg, monkeypatch
):
    # 1 MiB free: a rollout of 256 CartPole env steps (~10-16 KiB) fits, one of 2**16 does not.
    monkeypatch.setattr("litrl.data.memory.available_bytes", lambda device: 2**20)
    cfg = smoke_cfg(
        "algo=ppo", f"env.backend={backend}", "algo.data.num_envs=64",
        "algo.data.env_steps_per_collect=65536", "algo.batch_size=65536",
        "total_env_steps=65536", "eval.every_env_steps=65536",
    )  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        run(cfg)
    message = str(raised.value)
    assert "a rollout of algo.data.env_steps_per_collect=65536 env steps" in message
    assert "(algo.data.num_envs=64 x 1024 steps" in message
    assert "lower algo.data.env_steps_per_collect (about" in message
    fit = int(message.split("(about ")[1].split(" env steps fit")[0].replace(",", ""))
    assert 0 < fit < 65536
    assert not (Path(cfg.run_dir) / "checkpoints").exists()  # no update was made


def test_cli_a_checkpoint_of_another_algorithm_copied_into_a_run_dir_is_named_foreign(
    finished_run: Path, tmp_path: Path
):
    ppo_run = tmp_path / "ppo"
    assert run_cli("algo=ppo", "total_env_steps=256", tmp_path=ppo_run).returncode == 0
    copied = tmp_path / "copied"
    shutil.copytree(finished_run, copied)  # a DQN run ...
    shutil.copy(ppo_run / "checkpoints" / "last.ckpt", copied / "checkpoints" / "last.ckpt")
    result = run_cli(f"resume={copied}", tmp_path=copied)  # ... no algo= given
    _refused(
        result,
        f"{copied / 'checkpoints' / 'last.ckpt'} was written by litrl.algos.PPO, but the run in "
        f"{copied} trains litrl.algos.DQN (its .hydra/config.yaml): the checkpoint is another "
        "run's, copied in",
    )
    assert "Drop the algo= override" not in result.stderr


def _read_only(monkeypatch, folder: Path) -> None:
    """As for a user without write permission there (these tests may run as root, who has it)."""
    real_access = os.access

    def access(path, mode, **kwargs):
        if Path(path).absolute() == folder.absolute() and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_resume_of_a_read_only_run_dir_names_the_resume_not_hydra_run_dir(
    finished_run: Path, compose, monkeypatch
):
    _read_only(monkeypatch, finished_run)
    with pytest.raises(ConfigError) as refused:
        run(compose(f"resume={finished_run}", run_dir=finished_run))
    message = str(refused.value)
    assert message.startswith(
        f"resume={finished_run}: the run can't continue in {finished_run}: {finished_run} is not "
        "writable, and a resumed run writes its checkpoints, events and log there."
    )
    assert f"chmod -R u+w {finished_run}" in message and "hydra.run.dir" not in message


def test_evaluate_videos_into_a_read_only_run_dir_name_the_folder_not_rendering(
    finished_run: Path, monkeypatch
):
    from omegaconf import OmegaConf

    from litrl.evaluate import evaluate_checkpoint

    _read_only(monkeypatch, finished_run)
    ckpt = finished_run / "checkpoints" / "best.ckpt"
    cfg = OmegaConf.create(
        {"ckpt": str(ckpt), "episodes": 1, "num_envs": 1, "seed": 0, "device": "cpu",
         "video": True, "video_episodes": 1, "max_episode_steps": 100}
    )  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        evaluate_checkpoint(cfg)
    message = str(refused.value)
    assert message.startswith(
        f"video=true writes MP4s to {finished_run / 'videos' / 'best'}, but {finished_run} is not "
        "writable."
    )
    assert "render" not in message


def test_cli_a_path_with_spaces_left_unquoted_says_how_to_quote_it(tmp_path: Path):
    result = run_cli("resume=/my", "runs/2026-12-08_10-00-00", tmp_path=tmp_path / "run")
    _refused(
        result,
        "'runs/2026-12-08_10-00-00' follows resume=/my on the command line, but each override is "
        "key=value",
        "Quote the whole override for the shell: 'resume=/my runs/2026-12-08_10-00-00'",
    )
