"""Composing the project's Hydra config from Python (tests, benchmarks, notebooks).

Besides ``litrl.train``, the only module that knows Hydra: it replaces ``@hydra.main`` for
callers that want the real config tree without a command line.
"""

from __future__ import annotations

import re
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


def env_name(env_id: str | None, entry_point: str | None) -> str:
    """The env part of a run dir's name, after the env actually trained: ``Acrobot-v1`` ->
    ``acrobot``, ``ALE/Pong-v5`` -> ``pong``, ``my_envs.grid:GridWorld`` -> ``gridworld``."""
    if env_id:
        return re.sub(r"-v\d+$", "", env_id.rpartition("/")[2]).lower()
    if entry_point:
        return entry_point.rpartition(":")[2].lower()
    return "env"


def register_resolvers() -> None:
    """The resolvers conf/train.yaml uses; call before Hydra composes it."""
    OmegaConf.register_new_resolver("litrl_resume_dir", resume_run_dir, replace=True)
    OmegaConf.register_new_resolver("litrl_env_name", env_name, replace=True)


def expand_shorthands(overrides: Sequence[str]) -> list[str]:
    """``resume=X`` -> ``resume.path=X`` with the resumed run's own overrides, and
    ``env.entry_point=X`` (or ``+env.entry_point=X``) without an ``env=`` choice ->
    ``env=custom env.entry_point=X``; the rest as is."""
    expanded = []
    chooses_env = any(_key(o) == "env" and "=" in o for o in overrides)
    for override in overrides:
        key, equals, value = override.partition("=")
        if equals and key in SHORTHANDS:
            expanded.append(f"{SHORTHANDS[key]}={value}")
        elif equals and _key(override) == "env.entry_point" and not chooses_env:
            # What a user types after reading about user envs once; the cartpole default's
            # env.id would otherwise clash with it (Hydra first refuses the new key).
            expanded += ["env=custom", f"env.entry_point={value}"]
        else:
            expanded.append(override)
    return with_resumed_run_overrides(expanded)


def with_resumed_run_overrides(overrides: Sequence[str]) -> list[str]:
    """On ``resume.path=<run>``, the run's saved overrides (``.hydra/overrides.yaml``) go first.

    So ``python train.py resume=<dir>`` composes the config the run was started with (e.g. its
    ``total_env_steps=30000``), not the defaults. An override given here replaces the saved one
    of the same key; the drift check in ``run()`` then compares the result with the checkpoint's
    config. The saved ``resume.*`` keys (a previous resume's) are dropped. A run dir without
    ``.hydra/`` (a run started from Python) adds nothing.
    """
    position, target = next(
        ((i, o.partition("=")[2]) for i, o in enumerate(overrides) if _key(o) == "resume.path"),
        (None, ""),
    )
    if position is None or not target or target == "null":
        return list(overrides)
    saved_file = Path(resume_run_dir(target, "")) / ".hydra" / "overrides.yaml"
    if not saved_file.is_file():
        return list(overrides)
    saved = OmegaConf.to_container(OmegaConf.load(saved_file), resolve=False)
    given = {_key(o) for o in overrides}
    kept = [
        str(o)
        for o in (saved if isinstance(saved, list) else [])
        if _key(str(o)) not in given and _key(str(o)).partition(".")[0] != "resume"
    ]
    # Inserted beside resume.path, not at the front: Hydra's argparse wants the overrides in
    # one run, not split by a flag such as `--cfg job`.
    return [*overrides[:position], *kept, *overrides[position:]]


def _key(override: str) -> str:
    """The config key an override sets or deletes: ``+a.b=1``, ``~a.b``, ``a.b=1`` -> ``a.b``."""
    return override.lstrip("+~").partition("=")[0]


def compose_config(overrides: Sequence[str] = (), config_dir: Path = CONFIG_DIR) -> DictConfig:
    """The composed ``train`` config with command-line style ``overrides``.

    ``run_dir`` defaults to Hydra's output dir, which only exists under ``@hydra.main``:
    pass ``run_dir=<path>`` among the overrides before calling ``litrl.train.run``.
    """
    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train", overrides=expand_shorthands(overrides))
