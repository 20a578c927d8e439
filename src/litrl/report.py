"""A folder of runs -> a results table and a learning-curve plot.

    python -m litrl.report outputs/multirun/<date>/<time>     (or: litrl-report <dir>)

Reads every job's TensorBoard events, groups jobs by the overrides they were started with minus
the seed, and writes ``report.md``, ``report.csv`` and ``curves.png`` into the folder. Jobs that
failed (their ``failure.yaml``), logged no evaluation or whose events file is damaged are listed,
with why, in ``report.md`` and on the command line. Seconds count training time only: a resumed
run's downtime is left out.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from litrl.errors import ConfigError
from litrl.events import EVENTS_GLOB, Scalar, damaged_record, read_scalars, training_seconds
from litrl.events import training_spans as read_training_spans
from litrl.failures import find_failures

EVAL_TAG = "eval/return_mean"
BOOTSTRAP_SAMPLES = 2_000


@dataclass
class Job:
    """One run of a sweep: where it is, its overrides, and its greedy evaluations."""

    path: Path
    overrides: list[str]
    env_name: str
    threshold: float | None
    evals: list[Scalar]
    training_spans: list[
        tuple[float, float]
    ]  # (start, end) unix seconds of each process's training

    @property
    def group(self) -> str:
        """The job's overrides minus its seed (and a resume's keys, which old runs recorded)."""
        keys = [o.lstrip("+~").partition("=")[0] for o in self.overrides]
        kept = [
            o for o, key in zip(self.overrides, keys, strict=True)
            if key != "seed" and key.partition(".")[0] != "resume"
        ]  # fmt: skip
        return ", ".join(sorted(kept)) or "(defaults)"

    def seconds_until(self, scalar: Scalar) -> float:
        """Training seconds from the job's first event to ``scalar``, downtime left out."""
        return training_seconds(self.training_spans, scalar.wall_time)

    def first_reaching(self, threshold: float) -> Scalar | None:
        return next((e for e in self.evals if e.value >= threshold), None)


@dataclass
class GroupStats:
    """One row of the report."""

    group: str
    seeds: int
    final_mean: float
    final_std: float
    iqm: float
    iqm_low: float
    iqm_high: float
    reached: int
    steps_to_threshold: float | None
    seconds_to_threshold: float | None


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (robust to one lucky or failed seed).

    A quarter of the values (rounded down) is cut from each end, as ``scipy.stats.trim_mean(x, 0.25)``
    and rliable do.
    """
    cut = int(0.25 * len(values))
    return float(np.sort(values)[cut : len(values) - cut].mean())


def bootstrap_ci(
    values: np.ndarray, statistic, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over resampled seeds."""
    rng = np.random.default_rng(seed)
    samples = rng.choice(values, size=(BOOTSTRAP_SAMPLES, len(values)), replace=True)
    estimates = np.array([statistic(sample) for sample in samples])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def find_jobs(root: Path) -> tuple[list[Job], list[str]]:
    """Every run under ``root`` with evaluations, and the runs skipped (failed ones first, with why)."""
    if not root.is_dir():
        raise ConfigError(f"report: {root} is not a directory.")
    failures = find_failures(root)
    failed = {failure.job for failure in failures}
    skipped = [f"{failure.job}: failed: {failure.reason()}" for failure in failures]
    jobs = []
    for config_file in sorted(root.rglob(".hydra/config.yaml")):
        job_dir = config_file.parent.parent
        if job_dir.relative_to(root).as_posix() in failed:
            continue
        damage = _damage(job_dir)
        if damage:
            skipped.append(f"{job_dir.relative_to(root)}: {damage}")
            continue
        scalars = read_scalars(job_dir) if any(job_dir.glob(EVENTS_GLOB)) else {}
        if not scalars.get(EVAL_TAG):
            skipped.append(
                f"{job_dir.relative_to(root)}: no evaluation logged (crashed or stopped early)"
            )
            continue
        config = yaml.safe_load(config_file.read_text())
        overrides_file = job_dir / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        env = config.get("env", {})
        jobs.append(
            Job(
                path=job_dir,
                overrides=[o for o in overrides or [] if not o.startswith("hydra")],
                env_name=env.get("id") or env.get("entry_point") or "?",
                threshold=_threshold(env),
                evals=scalars[EVAL_TAG],
                training_spans=read_training_spans(job_dir),
            )
        )
    if not jobs:
        raise ConfigError(
            f"report: no runs with evaluations under {root} (looked for */.hydra/config.yaml with "
            "TensorBoard events). Point it at a sweep dir such as outputs/multirun/<date>/<time>."
            + "".join(f" Skipped {reason}." for reason in skipped)
        )
    envs = sorted({job.env_name for job in jobs})
    if len(envs) > 1:
        raise ConfigError(
            f"report: {root} holds runs of different envs ({', '.join(envs)}); their returns do not "
            "compare. Report each env's runs from its own folder."
        )
    return jobs, skipped


def group_stats(jobs: list[Job]) -> list[GroupStats]:
    """The report's rows, one per group of jobs that differ only in their seed."""
    rows = []
    for name in sorted({job.group for job in jobs}):
        members = [job for job in jobs if job.group == name]
        finals = np.array([job.evals[-1].value for job in members])
        low, high = bootstrap_ci(finals, iqm)
        threshold = members[0].threshold
        hits = (
            [(job, job.first_reaching(threshold)) for job in members]
            if threshold is not None
            else []
        )
        reached = [(job, hit) for job, hit in hits if hit is not None]
        rows.append(
            GroupStats(
                group=name,
                seeds=len(members),
                final_mean=float(finals.mean()),
                final_std=float(finals.std()),
                iqm=iqm(finals),
                iqm_low=low,
                iqm_high=high,
                reached=len(reached),
                steps_to_threshold=_median([hit.step for _, hit in reached]),
                seconds_to_threshold=_median([job.seconds_until(hit) for job, hit in reached]),
            )
        )
    return rows


def write_report(root: Path) -> tuple[tuple[Path, Path, Path], list[str]]:
    """Writes report.md, report.csv and curves.png into ``root``; returns their paths and the
    runs skipped, each with why."""
    jobs, skipped = find_jobs(root)
    rows = group_stats(jobs)
    threshold = jobs[0].threshold
    md, table, png = root / "report.md", root / "report.csv", root / "curves.png"
    _write_csv(table, rows)
    md.write_text(_markdown(jobs[0].env_name, threshold, rows, skipped))
    _plot(png, jobs, jobs[0].env_name, threshold)
    return (md, table, png), skipped


def _write_csv(path: Path, rows: list[GroupStats]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["group", "seeds", "final_mean", "final_std", "iqm", "iqm_ci_low", "iqm_ci_high",
             "seeds_reaching_threshold", "median_env_steps_to_threshold", "median_seconds_to_threshold"]
        )  # fmt: skip
        for r in rows:
            writer.writerow(
                [r.group, r.seeds, r.final_mean, r.final_std, r.iqm, r.iqm_low, r.iqm_high,
                 r.reached, r.steps_to_threshold, r.seconds_to_threshold]
            )  # fmt: skip


def _markdown(
    env_name: str, threshold: float | None, rows: list[GroupStats], skipped: list[str]
) -> str:
    lines = [
        f"# Results: {env_name}",
        "",
        f"Final greedy evaluation per seed; IQM with a 95% bootstrap CI over seeds; threshold {threshold}.",
        "",
        "| group | seeds | final mean ± std | IQM [95% CI] | reached threshold | env steps to threshold (median) | seconds to threshold (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.group} | {r.seeds} | {r.final_mean:.1f} ± {r.final_std:.1f} | "
            f"{r.iqm:.1f} [{r.iqm_low:.1f}, {r.iqm_high:.1f}] | {r.reached}/{r.seeds} | "
            f"{_fmt(r.steps_to_threshold, 0)} | {_fmt(r.seconds_to_threshold, 1)} |"
        )
    if skipped:
        lines += ["", "Skipped runs:", *[f"- {reason}" for reason in skipped]]
    return "\n".join(lines) + "\n"


def _plot(path: Path, jobs: list[Job], env_name: str, threshold: float | None) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for name in sorted({job.group for job in jobs}):
        members = [job for job in jobs if job.group == name]
        steps = sorted(set.intersection(*({e.step for e in job.evals} for job in members)))
        if not steps:  # the seeds share no evaluation step: no curve to average
            continue
        values = np.array([[_value_at(job, step) for step in steps] for job in members])
        mean = values.mean(axis=0)
        band = np.array([bootstrap_ci(column, np.mean) for column in values.T])
        axes.plot(steps, mean, label=f"{name} ({len(members)} seeds)")
        axes.fill_between(steps, band[:, 0], band[:, 1], alpha=0.2)
    if threshold is not None:
        axes.axhline(threshold, linestyle="--", color="gray", label=f"threshold {threshold:g}")
    axes.set_xlabel("env steps")
    axes.set_ylabel("greedy eval return (mean over seeds, 95% CI)")
    axes.set_title(env_name)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _value_at(job: Job, step: int) -> float:
    return next(e.value for e in job.evals if e.step == step)


def _damage(job_dir: Path) -> str | None:
    """Why a job's events cannot be trusted, on one line; None when they are whole."""
    for events_file in sorted(job_dir.glob(EVENTS_GLOB)):
        offset = damaged_record(events_file)
        if offset is not None:
            return (
                f"events file {events_file.name} is damaged (its record at byte {offset:,} fails "
                "its CRC check; TensorBoard would show the metrics before it only): left out"
            )
    return None


def _threshold(env: dict) -> float | None:
    if env.get("reward_threshold") is not None:
        return float(env["reward_threshold"])
    if env.get("id"):
        import gymnasium as gym

        try:
            return gym.spec(env["id"]).reward_threshold
        except gym.error.Error:
            return None
    return None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    """The ``litrl-report`` / ``python -m litrl.report`` entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sweep_dir", type=Path, help="a folder of runs, e.g. outputs/multirun/<date>/<time>"
    )
    args = parser.parse_args(argv)
    try:
        paths, skipped = write_report(args.sweep_dir)
        for path in paths:
            print(f"wrote {path}")
        for reason in skipped:
            print(f"skipped {reason}")
    except ConfigError as error:
        print(f"litrl: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
