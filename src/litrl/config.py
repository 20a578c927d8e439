"""Composing the project's Hydra config from Python (tests, benchmarks, notebooks).

Besides ``litrl.train``, the only module that knows Hydra: it replaces ``@hydra.main`` for
callers that want the real config tree without a command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

# The config tree sits beside src/ in a source checkout (the supported install: pip install -e).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose_config(overrides: Sequence[str] = (), config_dir: Path = CONFIG_DIR) -> DictConfig:
    """The composed ``train`` config with command-line style ``overrides``.

    ``run_dir`` defaults to Hydra's output dir, which only exists under ``@hydra.main``:
    pass ``run_dir=<path>`` among the overrides before calling ``litrl.train.run``.
    """
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))
