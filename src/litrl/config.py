"""Composing the project's Hydra config from Python (tests, benchmarks, notebooks).

Besides ``litrl.train``, the only module that knows Hydra: it replaces ``@hydra.main`` for
callers that want the real config tree without a command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

# The config tree sits beside src/ in a source checkout (the supported install: pip install -e).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"
# Command-line shorthands: `resume=<path>` reads better than `resume.path=<path>`.
SHORTHANDS = {"resume": "resume.path"}


def resume_run_dir(target: str | None, default: str) -> str:
    """Hydra's run dir: the resumed run's own dir when ``resume=`` names one, else ``default``."""
    if not target:
        return default
    path = Path(target)
    return str(path.parent.parent if path.suffix == ".ckpt" else path)


def register_resolvers() -> None:
    """The resolvers conf/train.yaml uses; call before Hydra composes it."""
    OmegaConf.register_new_resolver("litrl_resume_dir", resume_run_dir, replace=True)


def expand_shorthands(overrides: Sequence[str]) -> list[str]:
    """``resume=X`` -> ``resume.path=X``; every other override as it is."""
    expanded = []
    for override in overrides:
        key, equals, value = override.partition("=")
        expanded.append(f"{SHORTHANDS[key]}={value}" if equals and key in SHORTHANDS else override)
    return expanded


def compose_config(overrides: Sequence[str] = (), config_dir: Path = CONFIG_DIR) -> DictConfig:
    """The composed ``train`` config with command-line style ``overrides``.

    ``run_dir`` defaults to Hydra's output dir, which only exists under ``@hydra.main``:
    pass ``run_dir=<path>`` among the overrides before calling ``litrl.train.run``.
    """
    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train", overrides=expand_shorthands(overrides))
