"""Finding, safely loading and vetting the checkpoint a run resumes from."""

from __future__ import annotations

import pickle
import pickletools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from litrl.errors import ConfigError

# A change to any of these changes what the resumed run computes; the rest (threads, progress
# bar, logger, accelerator) only changes how it runs or reports.
ALGORITHM_KEYS = ("algo", "env", "seed", "total_env_steps", "eval", "early_stop")
# Keys added after runs were saved, with the value those runs ran with: a checkpoint without
# the key is no change from a config that has it at this value.
ADDED_KEYS = {"env.backend": "gymnasium"}
# Keys inside ALGORITHM_KEYS that only change how fast a run goes: EnvPool's thread count
# (each env keeps its own generator, so its episodes do not depend on the threads).
SPEED_KEYS = {"env.num_threads"}
CONFIG_KEY = "litrl_config"


@dataclass(frozen=True)
class ResumePoint:
    """A litrl checkpoint to continue from, and the run it belongs to."""

    checkpoint: Path
    run_dir: Path
    config: dict[str, Any]
    env_steps: int


def load_checkpoint(path: Path | str, field: str = "ckpt") -> dict[str, Any]:
    """A litrl checkpoint's contents, loaded without running any pickled code.

    ``torch.load(weights_only=True)`` only rebuilds tensors and plain containers; a checkpoint
    that would need anything else (a crafted one that runs code when unpickled) is refused.

    Raises:
        ConfigError: naming ``field`` when the file is missing, truncated, unsafe or not litrl's.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{field}={path}: no such checkpoint file.")
    _check_intact(path, field)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = _refused_global(str(error)) or _first_global(path)
        if unsafe is None:
            raise ConfigError(
                f"{field}={path} cannot be read: it is corrupt or not a checkpoint. Use "
                "checkpoints/last.ckpt or best.ckpt of a litrl run."
            ) from error
        raise ConfigError(
            f"{field}={path} was refused: loading it would run code ({unsafe}), not "
            "just rebuild tensors and containers. Only load checkpoints you trust the origin of."
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise ConfigError(
            f"{field}={path} cannot be read ({_first_line(error)}); it is truncated or not a "
            "checkpoint. Use checkpoints/last.ckpt or best.ckpt of a finished or interrupted run."
        ) from error
    if (
        not isinstance(checkpoint, dict)
        or CONFIG_KEY not in checkpoint
        or "litrl" not in checkpoint
    ):
        raise ConfigError(
            f"{field}={path} is not a litrl checkpoint (it lacks litrl's run state and config); "
            "use checkpoints/last.ckpt or best.ckpt from a litrl run dir."
        )
    return checkpoint


def _check_intact(path: Path, field: str) -> None:
    """Raise a ConfigError when a zip checkpoint (torch's format) fails its CRC checks.

    ``torch.load`` reads the tensors' bytes without checking them: a checkpoint whose payload
    was damaged (a bad disk, an interrupted copy that kept the zip directory) loaded silently
    and evaluated to another return. Reading every entry once checks each one's CRC.
    """
    if not zipfile.is_zipfile(path):
        return  # not torch's zip format: torch.load decides
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        damaged = f"its zip structure ({_first_line(error)})"
    if damaged is not None:
        raise ConfigError(
            f"{field}={path} is corrupt: {damaged} fails its CRC check, so its bytes are not the "
            "ones that were saved. Use another checkpoint of the run (checkpoints/last.ckpt or "
            "best.ckpt) or a backup of this one."
        )


def find_resume_point(target: str) -> ResumePoint:
    """The checkpoint named by ``resume=``: a run dir (its ``checkpoints/last.ckpt``) or a file."""
    path = Path(target)
    checkpoint_path = path / "checkpoints" / "last.ckpt" if path.is_dir() else path
    if path.is_dir() and not checkpoint_path.is_file():
        raise ConfigError(
            f"resume={target}: the run dir has no checkpoints/last.ckpt (the run ended before its "
            "first evaluation or interrupt checkpoint); start it again instead."
        )
    checkpoint = load_checkpoint(checkpoint_path, field="resume")
    return ResumePoint(
        checkpoint=checkpoint_path,
        run_dir=checkpoint_path.parent.parent,
        config=checkpoint[CONFIG_KEY],
        env_steps=int(checkpoint["litrl"]["env_steps"]),
    )


def vet_resume(cfg: DictConfig) -> ResumePoint:
    """The checkpoint ``cfg.resume.path`` names, refused if the config changes the algorithm.

    Raises:
        ConfigError: the checkpoint is missing or unsafe, or an algorithm key differs from the
            run's and ``resume.allow_config_change`` is false.
    """
    resume = find_resume_point(str(cfg.resume.path))
    written_by, current = resume.config.get("algo", {}).get("_target_"), cfg.algo.get("_target_")
    if (
        written_by != current
    ):  # its weights fit no other algorithm, whatever allow_config_change says
        raise ConfigError(_other_algorithm(cfg.resume.path, resume, written_by, current))
    changes = config_changes(resume.config, algorithm_config(cfg))
    if changes and not cfg.resume.allow_config_change:
        raise ConfigError(
            f"resume={cfg.resume.path}: the config differs from the run's in keys that change the "
            "algorithm:\n" + "\n".join(changes) + "\nDrop those overrides, or set "
            "resume.allow_config_change=true to continue with the new values."
        )
    return resume


def _other_algorithm(target: str, resume: ResumePoint, written_by: str, current: str) -> str:
    """Why a checkpoint of another algorithm cannot continue this run, with the right fix:
    an ``algo=`` override given with ``resume=``, or a checkpoint that is not the run's own."""
    recorded = _recorded_algo(resume.run_dir)
    if recorded == current:  # the run dir's own record trains `current`: the file is foreign
        return (
            f"resume={target}: {resume.checkpoint} was written by {written_by}, but the run in "
            f"{resume.run_dir} trains {current} (its .hydra/config.yaml): the checkpoint is "
            "another run's, copied in. Resume that run from its own dir, or put this run's own "
            "checkpoint back."
        )
    return (
        f"resume={target}: the checkpoint was written by {written_by}, but this run's algo is "
        f"{current}; a checkpoint continues only the algorithm that wrote it. Drop the algo= "
        "override, or start a new run (without resume=) for the other algorithm."
    )


def _recorded_algo(run_dir: Path) -> str | None:
    """The algorithm the run dir's record of its start names (None without a record)."""
    record = run_dir / ".hydra" / "config.yaml"
    if not record.is_file():
        return None
    config = OmegaConf.load(record)
    return str(OmegaConf.select(config, "algo._target_", default=None))


def algorithm_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved values of the keys that change what a run computes.

    Resolved key by key: the rest of the config may not resolve yet (``run_dir`` before Hydra
    has set its output dir).
    """
    resolved: dict[str, Any] = {}
    for key in ALGORITHM_KEYS:
        value = cfg.get(key)
        is_node = isinstance(value, DictConfig | ListConfig)
        resolved[key] = OmegaConf.to_container(value, resolve=True) if is_node else value
    return resolved


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved -> current`` for every algorithm-changing key that differs."""
    changes: list[str] = []
    for key in ALGORITHM_KEYS:
        _diff(saved.get(key), current.get(key), key, changes)
    return changes


def _diff(saved: Any, current: Any, key: str, changes: list[str]) -> None:
    if isinstance(saved, dict) and isinstance(current, dict):
        for name in sorted(set(saved) | set(current)):
            path = f"{key}.{name}"
            if path in SPEED_KEYS:
                continue
            _diff(saved.get(name, ADDED_KEYS.get(path)), current.get(name), path, changes)
    elif saved != current:
        changes.append(f"  {key}: {saved!r} -> {current!r}")


# torch words a refused global two ways: an allow-list miss ("Unsupported global: GLOBAL
# pathlib.Path.touch was not an allowed global") and a blocked module ("Trying to load unsupported
# GLOBAL posix.system whose module posix is blocked"), the latter for os.system, the classic exploit.
_REFUSED_GLOBAL = re.compile(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)")


def _refused_global(message: str) -> str | None:
    match = _REFUSED_GLOBAL.search(message)
    return match.group(1) if match else None


def _first_global(path: Path) -> str | None:
    """The first callable a raw pickle names, read by ``pickletools`` without running anything.

    torch's safe unpickler stops at the first opcode it does not know (a plain ``pickle.dump``
    of protocol 2+ starts with one), before it reaches the globals; this finds them anyway.
    """
    try:
        with path.open("rb") as file:
            strings: list[str] = []
            for opcode, arg, _ in pickletools.genops(file):
                if opcode.name in ("GLOBAL", "INST"):
                    return str(arg).replace(" ", ".")
                if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    return ".".join(strings[-2:])
                if isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # not a pickle (a zip, a truncated file): nothing named
        return None
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
