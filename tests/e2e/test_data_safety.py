"""A run's files belong to that run: no other run, resume, copy or damaged file changes or mixes
them, and what litrl prints for the user to type works as printed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from litrl import ConfigError
from litrl.config import resume_command
from litrl.events import read_scalars
from litrl.resume import load_checkpoint
from litrl.train import run
from tests.conftest import REPO_ROOT

TRAIN = REPO_ROOT / "train.py"
# Runs train.py with Hydra's clock stopped, so that two runs start "in the same second".
FROZEN_CLOCK_TRAIN = f"""
import datetime, runpy, sys
import hydra.core.utils

class StoppedClock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2026, 1, 2, 3, 4, 5)

hydra.core.utils.datetime = StoppedClock
sys.argv[0] = {str(TRAIN)!r}
runpy.run_path({str(TRAIN)!r}, run_name="__main__")
"""


def _cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TRAIN), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _files(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def test_runs_started_in_the_same_second_each_get_a_dir_of_their_own(tmp_path: Path) -> None:
    script = tmp_path / "frozen_clock_train.py"
    script.write_text(FROZEN_CLOCK_TRAIN)
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), "debug=smoke", f"seed={seed}"],
            cwd=tmp_path,  # the default run dir, outputs/dqn-cartpole/<time>, lands here
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (0, 1)
    ]
    for process in runs:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]
    base = tmp_path / "outputs" / "dqn-cartpole"
    assert sorted(p.name for p in base.iterdir()) == [
        "2026-01-02_03-04-05",
        "2026-01-02_03-04-05_1",
    ]
    seeds = set()
    for run_dir in base.iterdir():
        overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
        started_as = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())["seed"]
        trained_as = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["litrl_config"]["seed"]
        assert overrides == ["debug=smoke", f"seed={trained_as}"] and started_as == trained_as
        seeds.add(trained_as)
    assert seeds == {0, 1}


def test_sweeps_started_in_the_same_second_each_get_a_dir_of_their_own(tmp_path: Path) -> None:
    script = tmp_path / "frozen_clock_train.py"
    script.write_text(FROZEN_CLOCK_TRAIN)
    sweeps = [
        subprocess.Popen(
            [sys.executable, str(script), "-m", "debug=smoke", "total_env_steps=1024",
             f"seed={seed}"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for seed in (0, 1)
    ]  # fmt: skip
    for process in sweeps:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]
    base = tmp_path / "outputs" / "multirun" / "2026-01-02"
    assert sorted(p.name for p in base.iterdir()) == ["03-04-05", "03-04-05_1"]
    seeds = set()
    for sweep in base.iterdir():
        (job,) = [p for p in sweep.iterdir() if p.is_dir()]  # each sweep's one job, alone
        seed = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())["seed"]
        assert load_checkpoint(job / "checkpoints" / "last.ckpt")["litrl_config"]["seed"] == seed
        seeds.add(seed)
    assert seeds == {0, 1}


@pytest.fixture(scope="module")
def spaced_run(tmp_path_factory) -> Path:
    """A finished smoke run in a dir whose path has a space, a unicode letter, '=' and ','."""
    run_dir = tmp_path_factory.mktemp("runs") / "my runs" / "é_algo.lr=0.003,seed=3"
    result = _cli("debug=smoke", "seed=3", "total_env_steps=1024", f"hydra.run.dir='{run_dir}'")
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir


@pytest.mark.parametrize("typed", ["quoted for Hydra", "as the shell passes it"])
def test_a_resume_finds_the_runs_overrides_however_its_path_is_typed(
    spaced_run: Path, typed: str
) -> None:
    value = f"'{spaced_run}'" if typed == "quoted for Hydra" else str(spaced_run)
    result = _cli(f"resume={value}", "--cfg", "job")
    assert result.returncode == 0, result.stderr[-2000:]
    composed = yaml.safe_load(result.stdout)
    assert composed["seed"] == 3 and composed["total_env_steps"] == 1024  # the run's own


def test_a_resume_that_changes_the_config_keeps_the_record_of_the_runs_start(
    spaced_run: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(spaced_run, run_dir)
    started = _files(run_dir / ".hydra")
    result = _cli(f"resume='{run_dir}'", "total_env_steps=2048", "resume.allow_config_change=true")
    assert result.returncode == 0, result.stderr[-2000:]
    for name, content in started.items():  # config.yaml, hydra.yaml, overrides.yaml
        assert (run_dir / ".hydra" / name).read_bytes() == content, name
    resumed = yaml.safe_load((run_dir / ".hydra" / "resumes" / "1" / "overrides.yaml").read_text())
    assert "total_env_steps=2048" in resumed and "seed=3" in resumed
    # The next plain resume= composes the config the run was last resumed with.
    composed = yaml.safe_load(_cli(f"resume={run_dir}", "--cfg", "job").stdout)
    assert composed["total_env_steps"] == 2048 and composed["seed"] == 3


def test_the_printed_resume_command_of_a_sweep_job_works_as_printed(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = _cli(
        "-m", "debug=smoke", "algo.lr=0.001", "seed=1", f"hydra.sweep.dir={sweep}",
        "total_env_steps=1024",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (job,) = [p for p in sweep.iterdir() if p.is_dir() and p.name.startswith("0_")]
    assert "=" in job.name and "," in job.name  # Hydra's grammar refuses both unquoted
    finished_at = load_checkpoint(job / "checkpoints" / "last.ckpt")["litrl"]["env_steps"]
    printed = resume_command(job)
    resumed = subprocess.run(
        [sys.executable, *shlex.split(printed)[1:], "total_env_steps=2048",
         "resume.allow_config_change=true"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    resumed_to = load_checkpoint(job / "checkpoints" / "last.ckpt")
    assert resumed_to["litrl"]["env_steps"] > finished_at
    assert resumed_to["litrl_config"]["algo"]["lr"] == 0.001  # the job's own overrides


def _best_eval(run_dir: Path) -> tuple[int, float]:
    """The env step and value of the best greedy evaluation (ties: the later one)."""
    evals = read_scalars(run_dir)["eval/return_mean"]
    best = max(e.value for e in evals)
    return max(e.step for e in evals if e.value == best), best


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_run_dir_moved_or_copied_resumes_with_its_best_checkpoint(
    compose, tmp_path: Path, how: str
) -> None:
    first = tmp_path / "first"
    # Evaluations of 2 episodes at 256-env-step intervals: their returns rise and fall.
    small = ["total_env_steps=2048", "eval.every_env_steps=256", "logger=tensorboard"]
    run(compose(*small, run_dir=first))
    before = _files(first)
    second = tmp_path / "second"
    (shutil.move if how == "moved" else shutil.copytree)(first, second)
    run(
        compose(
            *small, "total_env_steps=4096", "resume.allow_config_change=true",
            f"resume={second}", run_dir=second,
        )
    )  # fmt: skip
    checkpoints = sorted(p.name for p in (second / "checkpoints").iterdir())
    assert checkpoints == ["best.ckpt", "last.ckpt"]  # no best-v1.ckpt beside an old best
    best = load_checkpoint(second / "checkpoints" / "best.ckpt")
    step, value = _best_eval(second)
    assert (best["litrl"]["env_steps"], best["litrl"]["last_eval_return"]) == (step, value)
    saved_state = repr(best["callbacks"])
    assert str(first) not in saved_state and str(second) not in saved_state  # run-relative
    if how == "copied":
        assert _files(first) == before  # the run it was copied from is untouched


def _damage_a_tensor(checkpoint: Path) -> None:
    """Flips bytes inside a stored tensor of a torch zip checkpoint, its zip directory intact."""
    with zipfile.ZipFile(checkpoint) as archive:
        entry = max(
            (info for info in archive.infolist() if "/data/" in info.filename),
            key=lambda info: info.file_size,
        )
    data = bytearray(checkpoint.read_bytes())
    header = entry.header_offset
    name_length = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_length = int.from_bytes(data[header + 28 : header + 30], "little")
    start = header + 30 + name_length + extra_length + entry.file_size // 2
    data[start : start + 8] = bytes(255 - b for b in data[start : start + 8])
    checkpoint.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def damaged_checkpoint(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("damaged") / "run"
    result = _cli("debug=smoke", "total_env_steps=1024", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-2000:]
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    torch.load(checkpoint, weights_only=True)  # loads, before and after the damage alike
    _damage_a_tensor(checkpoint)
    torch.load(checkpoint, weights_only=True)
    return checkpoint


def test_a_checkpoint_with_damaged_bytes_is_refused(damaged_checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match=r"ckpt=.*last.ckpt is corrupt: .*data/\d+ fails its CRC"):
        load_checkpoint(damaged_checkpoint)


@pytest.mark.parametrize("command", ["resume", "evaluate"])
def test_a_damaged_checkpoint_is_one_line_from_the_cli(
    damaged_checkpoint: Path, command: str
) -> None:
    if command == "resume":
        result = _cli(f"resume={damaged_checkpoint}")
    else:
        result = subprocess.run(
            [sys.executable, "evaluate.py", f"ckpt={damaged_checkpoint}"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith("litrl: configuration error: ") and "fails its CRC check" in message


def test_a_killed_checkpoint_writes_partial_file_is_removed_on_resume(compose, tmp_path: Path):
    run(compose("total_env_steps=1024", run_dir=tmp_path))
    # What a SIGKILL during AtomicCheckpointIO's write leaves: the file it was writing.
    partial = tmp_path / "checkpoints" / ".last.ckpt.4242.partial"
    partial.write_bytes(b"\0" * 1024)
    run(
        compose(
            "total_env_steps=2048", "resume.allow_config_change=true", f"resume={tmp_path}",
            run_dir=tmp_path,
        )
    )  # fmt: skip
    assert not partial.exists()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]
