"""Hydra callbacks: checks that must happen before Hydra itself touches the disk."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from litrl.errors import ConfigError, check_run_dir


class CheckOutputDir(Callback):
    """Stops with one paragraph, not a traceback, when the run may not write its dir.

    Hydra writes ``.hydra/`` and appends to its log in the run dir before the task starts, so
    ``run(cfg)`` would come too late to leave another run's files (or a running run's saved
    overrides) untouched: the run dir's checks (writable, not in use, not another run's, a
    resume that is allowed) run here first, and again in ``run(cfg)`` for Python callers.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        # hydra.run.dir interpolates ${hydra:...}, which needs the Hydra config that Hydra sets
        # only after this hook (in run_job).
        HydraConfig.instance().set_config(config)
        from litrl.run_dir import check_before_writing  # imports torch: only in a job's process

        _exit_on_config_error(
            lambda: check_before_writing(config, "hydra.run.dir", Path(config.hydra.run.dir))
        )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)
        _exit_on_config_error(lambda: check_run_dir("hydra.sweep.dir", config.hydra.sweep.dir))


def _exit_on_config_error(check: Callable[[], object]) -> None:
    try:
        check()
    except ConfigError as error:
        print(f"litrl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
