"""Composing the project's Hydra config from Python (tests, benchmarks, notebooks).

Besides ``litrl.train``, the only module that knows Hydra: it replaces ``@hydra.main`` for
callers that want the real config tree without a command line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf

from litrl.errors import ConfigError

# The config tree sits beside src/ in a source checkout (the supported install: pip install -e).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"
# Command-line shorthands: `resume=<path>` reads better than `resume.path=<path>`.
SHORTHANDS = {"resume": "resume.path"}
# Where each resume of a run keeps Hydra's record of itself, relative to the run dir: the
# .hydra/ of the run's start stays as it was written (``litrl.run_dir.take_hydra_run_dir``).
RESUME_RECORDS = Path(".hydra") / "resumes"


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
    return with_resumed_run_overrides([_quoted_resume_path(o) for o in expanded])


def check_no_split_values(arguments: Sequence[str]) -> None:
    """Raise a ConfigError for a bare word right after a ``key=value`` override: a value with a
    space that the shell split in two (``resume=/my runs/a``), which Hydra's lexer refuses with
    a grammar error that says nothing of quoting."""
    for i, argument in enumerate(arguments):
        previous = arguments[i - 1] if i else ""
        if not _is_bare_word(argument) or "=" not in previous or previous.startswith("-"):
            continue
        end = i
        while end < len(arguments) and _is_bare_word(arguments[end]):
            end += 1
        typed = " ".join(arguments[i - 1 : end])
        raise ConfigError(
            f"{argument!r} follows {previous} on the command line, but each override is "
            f"key=value: a value with a space reached litrl as separate words. Quote the whole "
            f"override for the shell: {shlex.quote(typed)}"
        )


def _is_bare_word(argument: str) -> bool:
    return "=" not in argument and not argument.startswith(("-", "~", "+"))


def resume_path_value(raw: str) -> str:
    """The path a ``resume.path=`` value names, however it was typed.

    A quoted value (``'resume="/my runs/a"'``, the way Hydra's grammar takes spaces, ``=`` and
    ``,``) is read as Hydra reads it; an unquoted one (a sweep job's dir pasted from a shell
    listing, ``.../0_algo.lr=0.001,seed=1``) is the path as it stands.
    """
    if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) > 1:
        try:
            return str(OverridesParser.create().parse_override(f"resume.path={raw}").value())
        except HydraException:
            return raw
    return raw


def hydra_quoted(text: str) -> str:
    """``text`` as a quoted value of Hydra's override grammar, read back unchanged."""
    quote = '"' if "'" in text and '"' not in text else "'"
    # Hydra reads a backslash as an escape only in a run of them before a quote: such runs are
    # doubled, and the quote itself escaped.
    escaped = re.sub(r"(\\*)(" + quote + r"|$)", _escape_before_quote, text)
    return f"{quote}{escaped}{quote}"


def _escape_before_quote(match: re.Match[str]) -> str:
    backslashes, quote = match.groups()
    return backslashes * 2 + ("\\" + quote if quote else "")


def _quoted_resume_path(override: str) -> str:
    """``resume.path=<any path>`` as an override Hydra parses to that path."""
    key, _, value = override.partition("=")
    if key != "resume.path" or value in ("", "null"):
        return override
    return f"resume.path={hydra_quoted(resume_path_value(value))}"


def resume_command(run_dir: Path | str) -> str:
    """The command that continues the run in ``run_dir``, quoted for a POSIX shell: it works as
    printed, whatever the path holds (spaces, a sweep job's ``=`` and ``,``)."""
    return f"python train.py {shlex.quote(f'resume={run_dir}')}"


def overrides_given(overrides: ListConfig | Sequence[str]) -> set[str]:
    """The config keys a list of overrides sets or deletes."""
    return {_key(str(override)) for override in overrides}


def saved_overrides_file(run_dir: Path) -> Path:
    """The latest record of how the run was composed: its last resume's, else its start's."""
    records = run_dir / RESUME_RECORDS
    resumes = sorted(
        (int(p.name) for p in records.iterdir() if p.name.isdigit()) if records.is_dir() else []
    )
    latest = records / str(resumes[-1]) if resumes else run_dir / ".hydra"
    return latest / "overrides.yaml"


def with_resumed_run_overrides(overrides: Sequence[str]) -> list[str]:
    """On ``resume.path=<run>``, the run's saved overrides (``.hydra/overrides.yaml``) go first.

    So ``python train.py resume=<dir>`` composes the config the run was started with (e.g. its
    ``total_env_steps=30000``), not the defaults; after a resume that changed them
    (``resume.allow_config_change=true``), that resume's (``saved_overrides_file``). An override
    given here replaces the saved one of the same key; the drift check in ``run()`` then compares
    the result with the checkpoint's config. The saved ``resume.*`` keys (a previous resume's)
    are dropped. A run dir without ``.hydra/`` (a run started from Python) adds nothing.
    """
    position, target = next(
        ((i, o.partition("=")[2]) for i, o in enumerate(overrides) if _key(o) == "resume.path"),
        (None, ""),
    )
    if position is None or not target or target == "null":
        return list(overrides)
    saved_file = saved_overrides_file(Path(resume_run_dir(resume_path_value(target), "")))
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
