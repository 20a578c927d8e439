"""Bad input: a clear error naming the field and the fix, before any env step."""

import subprocess
import sys
from pathlib import Path

import pytest

from litrl import ConfigError
from litrl.train import run
from tests.conftest import REPO_ROOT

CASES = {
    "unknown gym id": (["env.id=CartPole-v9"], r"env.id=CartPole-v9 .*Did you mean: CartPole-v1"),
    "continuous actions": (
        ["env.id=Pendulum-v1"],
        r"DQN needs a Discrete action space.*Pendulum-v1.*Box",
    ),
    "batch larger than buffer": (
        ["algo.data.batch_size=200000"],
        r"algo.data.batch_size=200000 .*\[1, 100000\]",
    ),
    "gamma above one": (["algo.gamma=1.5"], r"algo.gamma=1.5 .*\[0.0, 1.0\]"),
    "negative gamma": (["algo.gamma=-0.1"], r"algo.gamma=-0.1 "),
    "zero lr": (["algo.lr=0"], r"algo.lr=0 .*\(0.0, inf\]"),
    "n_step zero": (["algo.n_step=0"], r"algo.n_step=0 .*\[1, inf\]"),
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
}


@pytest.mark.parametrize("case", CASES)
def test_bad_value_names_field_before_any_compute(case: str, smoke_cfg):
    overrides, message = CASES[case]
    cfg = smoke_cfg(*overrides)
    with pytest.raises(ConfigError, match=message):
        run(cfg)
    assert not Path(cfg.run_dir).exists()  # no events, no checkpoints: nothing ran


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


def test_unknown_algo_lists_hydras_options(tmp_path: Path):
    result = run_cli("algo=dqnn", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'algo/dqnn'" in result.stderr and "dqn" in result.stderr
