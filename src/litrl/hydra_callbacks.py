"""Hydra callbacks: checks that must happen before Hydra itself touches the disk, and the
summary of a sweep's failed jobs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from litrl.errors import ConfigError
from litrl.failures import count_jobs, find_failures


class CheckOutputDir(Callback):
    """Claims the run's dir, or stops with one paragraph, not a traceback, when it may not
    write there.

    Hydra writes ``.hydra/`` and appends to its log in the run dir before the task starts, so
    ``run(cfg)`` would come too late to leave another run's files (or a running run's saved
    overrides) untouched: the run dir is claimed and locked, and its checks (writable, not in
    use, not another run's, a resume that is allowed) run here first
    (``litrl.run_dir.take_hydra_run_dir``), and again in ``run(cfg)`` for Python callers.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        # hydra.run.dir interpolates ${hydra:...}, which needs the Hydra config that Hydra sets
        # only after this hook (in run_job).
        HydraConfig.instance().set_config(config)
        from litrl.run_dir import take_hydra_run_dir  # imports torch: only in a job's process

        _exit_on_config_error(lambda: take_hydra_run_dir(config))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)
        from litrl.run_dir import take_hydra_sweep_dir

        _exit_on_config_error(lambda: take_hydra_sweep_dir(config))


class SummariseFailedJobs(Callback):
    """At the end of a multirun: one line per failed job (which, what failed and why), then a
    non-zero exit status.

    A failed job only records its failure (``litrl.failures``) and returns, so the other jobs
    run; the records are read from the sweep dir, since with joblib or SLURM the jobs ran in
    other processes than this one.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        failures = find_failures(sweep_dir)
        if not failures:
            return
        print(
            f"litrl: {len(failures)} of {count_jobs(sweep_dir)} jobs failed (the other jobs "
            f"ran; each failed job's log is in its dir under {sweep_dir}):",
            file=sys.stderr,
        )
        for failure in failures:
            print(f"  {failure.line()}", file=sys.stderr)
        sys.exit(1)


def _exit_on_config_error(check: Callable[[], object]) -> None:
    try:
        check()
    except ConfigError as error:
        print(f"litrl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
