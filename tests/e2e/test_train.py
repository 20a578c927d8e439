"""End to end: an in-process run and a real `python train.py` subprocess."""

import gc
import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from litrl.algos.dqn import DQN
from litrl.config import compose_config
from litrl.events import has_hparams, read_scalars
from litrl.train import build, run
from tests.conftest import REPO_ROOT

REQUIRED_TAGS = {
    "train/episode_return",
    "train/episode_length",
    "train/loss",
    "train/q_mean",
    "train/epsilon",
    "eval/return_mean",
    "eval/return_std",
    "train/lr",
    "eval/length_mean",
    "perf/env_steps_per_sec",
}


def test_tiny_run_in_process_writes_metrics_and_checkpoints(smoke_cfg, tmp_path: Path):
    cfg = smoke_cfg("seed=3")
    final_return = run(cfg)
    run_dir = Path(cfg.run_dir)
    scalars = read_scalars(run_dir)
    assert set(scalars) >= REQUIRED_TAGS
    evals = scalars["eval/return_mean"]
    assert final_return == pytest.approx(evals[-1].value)
    # x-axis is env steps: warm-up 1000 + one eval interval of 1024 per evaluation
    assert [e.step for e in evals] == [2024, 3048]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()


def test_off_a_terminal_the_progress_bar_is_one_line_per_evaluation(smoke_cfg, capsys):
    final_return = run(smoke_cfg("seed=3", "logger=none"))
    out, err = capsys.readouterr()  # captured: stdout is not a terminal
    lines = out.splitlines()
    # One bar over the run (warm-up 1000, then two intervals of 1024), never an "Epoch N" one
    # restarting per interval, and no redraws: no carriage returns, a line per evaluation.
    assert [line.split("|")[2].split("[")[0].strip() for line in lines] == [
        "2024/3048 env steps",
        "3048/3048 env steps",
    ]
    assert all(re.search(r"\[\d\d:\d\d<\d\d:\d\d, [\d.]+ env steps/s", line) for line in lines)
    assert lines[-1].endswith(f"eval_return={final_return:.1f}]")
    assert "\r" not in out and "Epoch" not in out + err


@pytest.mark.parametrize(
    ("overrides", "ends_at", "in_readme"),
    [
        ((), 50_152, "DQN's defaults end at 1,000 + 24 \u00d7 2,048 = 50,152"),
        (("debug=smoke",), 3_048, "at 1,000 + 2 \u00d7 1,024 = 3,048"),
        (("algo=ppo", "total_env_steps=4096"), 4_096, None),  # no warm-up: whole intervals
    ],
)
def test_the_budget_ends_where_the_readme_says(overrides, ends_at, in_readme, tmp_path: Path):
    cfg = compose_config([*overrides, f"run_dir={tmp_path}"])
    datamodule = build(
        cfg.algo.data,
        env=build(cfg.env),
        total_env_steps=cfg.total_env_steps,
        eval_every_env_steps=cfg.eval.every_env_steps,
    )
    assert datamodule.final_env_steps == ends_at  # the smoke run above ends there: [2024, 3048]
    if in_readme:
        assert in_readme in " ".join((REPO_ROOT / "README.md").read_text().split())


def test_train_py_subprocess_logs_to_tensorboard_in_its_run_dir(tmp_path: Path):
    run_dir = tmp_path / "cli-run"
    result = subprocess.run(
        [sys.executable, "train.py", "debug=smoke", f"hydra.run.dir={run_dir}", "algo.n_step=2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    scalars = read_scalars(run_dir)
    assert set(scalars) >= REQUIRED_TAGS
    steps = [s.step for s in scalars["train/loss"]]
    assert steps == sorted(steps) and steps[-1] >= 3048  # env steps, not updates
    assert yaml.safe_load((run_dir / "hparams.yaml").read_text())["algo"]["data"]["n_step"] == 2
    assert has_hparams(run_dir)


def test_help_lists_the_config_groups():
    result = subprocess.run(
        [sys.executable, "train.py", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    for group in ("algo:", "env:", "accelerator:", "logger:", "debug:"):
        assert group in result.stdout
    assert "cartpole" in result.stdout and "lunarlander" in result.stdout


def test_best_checkpoint_tie_goes_to_the_later_evaluation(smoke_cfg, monkeypatch):
    monkeypatch.setattr(DQN, "validation_step", _constant_eval_return)
    cfg = smoke_cfg("total_env_steps=4096")
    run(cfg)
    best = torch.load(Path(cfg.run_dir) / "checkpoints" / "best.ckpt", weights_only=False)
    assert best["litrl"]["env_steps"] == 5096  # the last of four equal evaluations


def _constant_eval_return(self, batch, batch_idx):
    self.last_eval_return = 500.0
    self.log("eval/return_mean", 500.0, logger=False, batch_size=1)


def test_objects_alive_when_training_starts_are_frozen_until_it_ends(smoke_cfg, monkeypatch):
    frozen_during_fit = []
    fit = L.Trainer.fit

    def recording_fit(self, *args, **kwargs):
        frozen_during_fit.append(gc.get_freeze_count())
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "fit", recording_fit)
    run(smoke_cfg("algo=ppo"))
    assert frozen_during_fit[0] > 100_000  # the libraries' objects, skipped by every collection
    assert gc.get_freeze_count() == 0  # collected normally again after training


def test_early_stop_ends_the_run_at_the_reward_threshold(smoke_cfg):
    # CartPole's threshold lowered to what any policy reaches: stop at the first evaluation.
    cfg = smoke_cfg("early_stop=true", "env.reward_threshold=1", "total_env_steps=4096")
    run(cfg)
    evals = read_scalars(Path(cfg.run_dir))["eval/return_mean"]
    assert [e.step for e in evals] == [2024]


def test_learning_rate_decays_linearly_to_its_final_fraction(smoke_cfg):
    cfg = smoke_cfg("algo.lr=0.001", "algo.lr_schedule=linear", "algo.lr_final_fraction=0.25")
    run(cfg)
    lrs = [s.value for s in read_scalars(Path(cfg.run_dir))["train/lr"]]
    assert lrs == sorted(lrs, reverse=True)
    assert lrs[-1] == pytest.approx(0.00025, rel=1e-3)


def test_perf_breakdown_accounts_for_the_wall_time(smoke_cfg) -> None:
    cfg = smoke_cfg()
    run(cfg)
    scalars = read_scalars(Path(cfg.run_dir))
    phases = ["env", "act", "buffer", "update", "eval", "other"]
    writes = [scalars[f"perf/time_{phase}"] for phase in phases]
    assert len(writes[0]) >= 3
    for point in zip(*writes, strict=True):
        fractions = [scalar.value for scalar in point]
        assert all(0.0 <= f <= 1.0 for f in fractions)
        assert sum(fractions) == pytest.approx(1.0, abs=1e-3)
        assert fractions[0] > 0 and fractions[3] > 0  # env stepping and updates took time
    assert all(100 < s.value < 10_000 for s in scalars["perf/rss_mb"])
