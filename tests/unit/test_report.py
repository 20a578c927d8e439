"""The results report, checked against synthetic runs whose numbers are known."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from torch.utils.tensorboard import SummaryWriter

from litrl import ConfigError
from litrl.failures import find_failures, record_failure
from litrl.report import find_jobs, group_stats, iqm, write_report

START = 1_000_000.0  # unix seconds of every synthetic run's first event


def fake_job(root: Path, name: str, overrides: list[str], evals: list[float], env_id="CartPole-v1"):
    """A job dir as Hydra and litrl leave it: .hydra/ files and eval events every 1000 env steps,
    10 wall seconds apart."""
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"env": {"id": env_id}}))
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    writer = SummaryWriter(str(job))
    writer.add_scalar("train/loss", 1.0, 0, walltime=START)
    for i, value in enumerate(evals, start=1):
        writer.add_scalar("eval/return_mean", value, i * 1000, walltime=START + 10 * i)
    writer.close()
    return job


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    fake_job(tmp_path, "0", ["algo.lr=0.001", "seed=0"], [100, 480, 500])
    fake_job(tmp_path, "1", ["algo.lr=0.001", "seed=1"], [200, 300, 490])
    fake_job(tmp_path, "2", ["algo.lr=0.001", "seed=2"], [100, 200, 300])
    fake_job(tmp_path, "3", ["algo.lr=0.01", "seed=0"], [500, 500, 20])
    fake_job(tmp_path, "4", ["algo.lr=0.01", "seed=1"], [10, 20, 30])
    (tmp_path / "5" / ".hydra").mkdir(parents=True)  # a job that crashed before any event
    (tmp_path / "5" / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump({"env": {"id": "CartPole-v1"}})
    )
    return tmp_path


def test_iqm_cuts_a_quarter_from_each_end() -> None:
    assert iqm(np.array([0.0, 1, 2, 3, 100])) == pytest.approx(2.0)
    assert iqm(np.array([1.0, 2, 3])) == pytest.approx(2.0)
    assert iqm(np.arange(8.0)) == pytest.approx(3.5)  # middle four: 2, 3, 4, 5


def test_groups_final_returns_and_time_to_threshold(sweep: Path) -> None:
    jobs, skipped = find_jobs(sweep)
    assert len(jobs) == 5 and len(skipped) == 1 and skipped[0].startswith("5:")
    rows = {row.group: row for row in group_stats(jobs)}
    assert set(rows) == {"algo.lr=0.001", "algo.lr=0.01"}

    slow = rows["algo.lr=0.001"]
    assert slow.seeds == 3
    assert slow.final_mean == pytest.approx((500 + 490 + 300) / 3)
    assert slow.final_std == pytest.approx(np.std([500, 490, 300]))
    assert slow.iqm == pytest.approx((500 + 490 + 300) / 3)  # 3 seeds: nothing is cut
    assert 300 <= slow.iqm_low <= slow.iqm <= slow.iqm_high <= 500
    assert slow.reached == 2  # CartPole-v1's threshold is 475; seed 2 never gets there
    assert slow.steps_to_threshold == pytest.approx(np.median([2000, 3000]))
    assert slow.seconds_to_threshold == pytest.approx(np.median([20, 30]))

    fast = rows["algo.lr=0.01"]
    assert fast.reached == 1 and fast.steps_to_threshold == 1000 and fast.seconds_to_threshold == 10
    assert fast.final_mean == pytest.approx(25.0)


def test_writes_markdown_csv_and_png(sweep: Path) -> None:
    (md, table, png), _ = write_report(sweep)
    text = md.read_text()
    assert "| algo.lr=0.001 | 3 | 430.0 ± 92.0 |" in text
    assert "Skipped runs:" in text and "5: no evaluation logged" in text
    rows = list(csv.DictReader(table.open()))
    assert [row["group"] for row in rows] == ["algo.lr=0.001", "algo.lr=0.01"]
    assert rows[0]["seeds_reaching_threshold"] == "2"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_folder_without_runs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no runs with evaluations under"):
        find_jobs(tmp_path)


def test_runs_of_different_envs_are_refused(tmp_path: Path) -> None:
    fake_job(tmp_path, "0", ["seed=0"], [1.0])
    fake_job(tmp_path, "1", ["seed=1"], [1.0], env_id="Acrobot-v1")
    with pytest.raises(ConfigError, match="different envs \\(Acrobot-v1, CartPole-v1\\)"):
        find_jobs(tmp_path)


def test_failed_jobs_are_listed_with_why_in_job_order(sweep: Path) -> None:
    record_failure(
        sweep / "5", "configuration error", "DQN needs a Discrete action space,\nnot Box"
    )
    (sweep / "10" / ".hydra").mkdir(parents=True)
    record_failure(sweep / "10", "environment error", "BrokenEnv: step() raised")
    assert [f.line() for f in find_failures(sweep)] == [
        "5: configuration error: DQN needs a Discrete action space, not Box",
        "10: environment error: BrokenEnv: step() raised",
    ]
    jobs, skipped = find_jobs(sweep)
    assert len(jobs) == 5
    assert skipped == [
        "5: failed: configuration error: DQN needs a Discrete action space, not Box",
        "10: failed: environment error: BrokenEnv: step() raised",
    ]


def test_a_resumed_seed_groups_with_its_siblings_and_its_downtime_is_left_out(sweep: Path) -> None:
    # Seed 3 trained 10 s to its first evaluation, stopped, and was resumed an hour later (a
    # second events file, as a resumed process writes); it reached 480 10 s after the resume.
    # Its overrides carry the resume's keys, as runs resumed before litrl kept them apart did.
    job = fake_job(
        sweep, "6", ["algo.lr=0.001", "seed=3", "resume.path=/x", "resume.allow_config_change=true"],
        [100],
    )  # fmt: skip
    resumed = SummaryWriter(str(job), filename_suffix=".resumed")
    resumed.add_scalar("train/loss", 1.0, 1000, walltime=START + 3600)
    resumed.add_scalar("eval/return_mean", 480, 2000, walltime=START + 3610)
    resumed.close()
    rows = {row.group: row for row in group_stats(find_jobs(sweep)[0])}
    assert set(rows) == {"algo.lr=0.001", "algo.lr=0.01"}
    slow = rows["algo.lr=0.001"]
    assert slow.seeds == 4 and slow.reached == 3
    # 10 s before the stop and 10 s after the resume: 20 s, as seed 0 took (seed 1: 30 s).
    assert slow.seconds_to_threshold == pytest.approx(np.median([20, 30, 20]))


def _damage_the_last_record(job: Path) -> None:
    (events_file,) = job.glob("events.out.tfevents.*")
    data = bytearray(events_file.read_bytes())
    data[-6] ^= 0xFF  # inside the last eval event's payload
    events_file.write_bytes(bytes(data))


def test_a_job_with_a_damaged_events_file_is_skipped_with_why(sweep: Path, capsys) -> None:
    _damage_the_last_record(sweep / "4")
    jobs, skipped = find_jobs(sweep)
    assert sorted(job.path.name for job in jobs) == ["0", "1", "2", "3"]
    (damaged,) = [reason for reason in skipped if reason.startswith("4:")]
    assert "events file events.out.tfevents." in damaged and "fails its CRC check" in damaged

    from litrl.report import main

    main([str(sweep)])
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("skipped 4: events file") for line in printed)
    # a crashed run is listed on the command line too, as report.md lists it
    assert "skipped 5: no evaluation logged (crashed or stopped early)" in printed
