"""A sweep job's failure, recorded in its own dir so that every launcher's jobs can report it.

A job writes ``failure.yaml`` when it fails (in its own process, which for joblib or SLURM
is not the sweep's), and the sweep's end (``litrl.hydra_callbacks.SummariseFailedJobs``) and
``litrl.report`` read the records back from the sweep dir.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

FAILURE_FILE = "failure.yaml"


@dataclass(frozen=True)
class JobFailure:
    """Why one job of a sweep failed.

    Args:
        job: the job's dir, relative to the sweep dir (``0_env=pendulum``).
        kind: what failed (``configuration error``, ``environment error``, ...).
        message: the error's message.
    """

    job: str
    kind: str
    message: str

    def reason(self) -> str:
        """What failed and why, on one line."""
        return f"{self.kind}: {' '.join(self.message.split())}"

    def line(self) -> str:
        """The job, what failed and why, on one line."""
        return f"{self.job}: {self.reason()}"


def record_failure(job_dir: Path, kind: str, message: str) -> None:
    """Writes the failure record into ``job_dir``."""
    job_dir.mkdir(parents=True, exist_ok=True)
    record = {"kind": kind, "message": message}
    (job_dir / FAILURE_FILE).write_text(yaml.safe_dump(record, sort_keys=False))


def clear_failure(job_dir: Path) -> None:
    """Removes a record left by an earlier attempt of this job (a sweep dir used again)."""
    (job_dir / FAILURE_FILE).unlink(missing_ok=True)


def find_failures(root: Path) -> list[JobFailure]:
    """The failure records under ``root``, in job order (``2_…`` before ``10_…``)."""
    failures = []
    for record_file in root.rglob(FAILURE_FILE):
        record = yaml.safe_load(record_file.read_text()) or {}
        job = record_file.parent.relative_to(root).as_posix()
        failures.append(
            JobFailure(job, str(record.get("kind", "failed")), str(record.get("message", "")))
        )
    return sorted(failures, key=lambda failure: _job_order(failure.job))


def count_jobs(root: Path) -> int:
    """Jobs Hydra started under ``root`` (each has its ``.hydra/config.yaml``)."""
    return sum(1 for _ in root.rglob(".hydra/config.yaml"))


def _job_order(job: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", job)]
