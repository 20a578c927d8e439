"""Hydra callbacks: checks that must happen before Hydra itself touches the disk."""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from litrl.errors import ConfigError, check_run_dir


class CheckOutputDir(Callback):
    """Stops with one line, not a traceback, when the run or sweep dir cannot be written.

    Hydra creates the dir before the task starts, so ``run(cfg)`` would come too late.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check("hydra.run.dir", config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check("hydra.sweep.dir", config.hydra.sweep.dir)


def _check(name: str, path: str) -> None:
    try:
        check_run_dir(name, path)
    except ConfigError as error:
        print(f"litrl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
