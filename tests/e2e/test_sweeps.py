"""Sweeps through Hydra's own launchers and sweeper, end to end, and the report on their output."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from litrl.config import CONFIG_DIR, register_resolvers
from litrl.events import read_scalars
from litrl.report import write_report
from tests.conftest import REPO_ROOT


def multirun(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "train.py",
            "-m",
            "debug=smoke",
            f"hydra.sweep.dir={sweep_dir}",
            *overrides,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_joblib_sweep_runs_jobs_in_parallel_with_readable_names(tmp_path: Path) -> None:
    result = multirun(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert jobs == ["0_seed=0", "1_seed=1"]
    for job in jobs:
        assert [e.step for e in read_scalars(tmp_path / job)["eval/return_mean"]] == [2024, 3048]
    (md, _, png), _ = write_report(tmp_path)
    assert "| debug=smoke | 2 |" in md.read_text() and png.exists()  # grouped minus the seed


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]])
def test_a_failed_job_is_listed_at_the_end_and_the_other_jobs_run(
    tmp_path: Path, launcher: list[str]
) -> None:
    # DQN refuses Pendulum's continuous actions: the first job fails before any compute.
    result = multirun(tmp_path, *launcher, "env=pendulum,cartpole")

    assert result.returncode == 1, result.stderr[-2000:]
    assert (tmp_path / "1_env=cartpole" / "checkpoints" / "last.ckpt").is_file()
    summary = result.stderr[result.stderr.index("litrl: 1 of 2 jobs failed") :].splitlines()
    assert len(summary) == 2, summary  # the heading, then one line per failed job
    assert re.fullmatch(
        r"  0_env=pendulum: configuration error: DQN needs a Discrete action space.*Box.*",
        summary[1],
    )
    assert "Traceback" not in result.stderr

    report = subprocess.run(
        [sys.executable, "-m", "litrl.report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert (
        "skipped 0_env=pendulum: failed: configuration error: DQN needs a Discrete" in report.stdout
    )
    text = (tmp_path / "report.md").read_text()  # the cartpole job's row, the failed job listed
    assert "| debug=smoke, env=cartpole | 1 |" in text
    assert "- 0_env=pendulum: failed: configuration error: DQN needs a Discrete" in text


def test_submitit_local_sweep_end_to_end(tmp_path: Path) -> None:
    result = multirun(tmp_path, "hydra/launcher=submitit_local", "seed=0,1")
    assert result.returncode == 0, result.stderr[-2000:]
    for job in ("0_seed=0", "1_seed=1"):
        assert (tmp_path / job / "checkpoints" / "last.ckpt").is_file()


def test_optuna_search_runs_trials_and_reports_the_best(tmp_path: Path) -> None:
    result = multirun(tmp_path, "hparams_search=dqn_cartpole", "hydra.sweeper.n_trials=3")
    assert result.returncode == 0, result.stderr[-2000:]
    trials = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(trials) == 3 and all(p.name.split("_")[0] in "012" for p in trials)
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) >= {"algo.lr", "algo.data.batch_size", "algo.n_step"}
    finals = [read_scalars(p)["eval/return_mean"][-1].value for p in trials]
    assert best["best_value"] == max(finals)


def test_slurm_preset_exposes_its_fields() -> None:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert {"partition", "gpus_per_task", "timeout_min", "mem_gb"} <= set(launcher)


def test_sweep_over_a_missing_key_or_launcher_names_it(tmp_path: Path) -> None:
    missing_key = multirun(tmp_path / "a", "algo.lrr=1e-3,3e-4")
    assert missing_key.returncode != 0 and "Could not override 'algo.lrr'" in missing_key.stderr
    missing_launcher = multirun(tmp_path / "b", "hydra/launcher=jobllib", "seed=0,1")
    assert missing_launcher.returncode != 0
    assert "Could not find 'hydra/launcher/jobllib'" in missing_launcher.stderr
    assert "joblib" in missing_launcher.stderr  # Hydra lists the options
