"""The exceptions users see, and the config checks that raise them."""

import difflib
import math
import os
from collections.abc import Sequence
from pathlib import Path


class ConfigError(ValueError):
    """A configuration value cannot work; the message names the field and the fix.

    Raised while objects are built, before any environment step or gradient update,
    so a typo costs seconds, not a training run.
    """


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint."""


class OutputError(RuntimeError):
    """The run's own files could not be written (its dir deleted, a full disk, a read-only
    filesystem); the message names the path, the cause and what is kept."""


class RunInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run after a final checkpoint; ``resume=`` continues it.

    Args:
        signum: the signal that stopped the run.
        message: what was saved and how to continue.
    """

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum


class RunAborted(BaseException):
    """A second Ctrl-C: the run stops at once, without writing a new checkpoint.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way (the env
    guard, a callback) takes it for an error of its own; and not a KeyboardInterrupt, whose
    path through Lightning exits with status 1 and no word about the checkpoint.
    """


def check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    """Raise a ConfigError naming ``name`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is unknown; choose one of {list(allowed)}.")


def check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    """Raise a ConfigError naming ``name`` unless ``low <= value <= high`` (``low < value`` if open).

    The value must be finite: ``high=math.inf`` means unbounded above, not that inf itself is a
    setting (``algo.init_alpha=inf`` makes every update NaN).
    """
    above_low = value > low if low_open else value >= low
    if not (above_low and value <= high and math.isfinite(value)):
        bracket = "(" if low_open else "["
        closing = ")" if math.isinf(high) else "]"
        raise ConfigError(
            f"{name}={value} is out of range: it must lie in {bracket}{low}, {high}{closing}. "
            f"Set it on the command line, e.g. {name}=<value in range>."
        )


def unknown_key(field: str, key: str, accepted: Sequence[str], owner: str) -> ConfigError:
    """The error for ``+field.key=...`` that ``owner`` does not take: its accepted keys, the
    closest ones, and an abbreviation spelt out (``learning_rate`` -> ``lr``)."""
    initials = "".join(word[:1] for word in key.split("_"))
    close = [initials] if initials in accepted and initials != key else []
    close += [m for m in difflib.get_close_matches(key, accepted, n=3) if m not in close]
    hint = f" Did you mean {' or '.join(f'{field}.{m}' for m in close)}?" if close else ""
    return ConfigError(
        f"{field}.{key} is not an argument of {owner}.{hint} {owner} accepts: "
        f"{', '.join(accepted)}. Fix the name, or drop the +{field}.{key} override."
    )


def unwritable_dir(path: str | Path) -> str | None:
    """Why ``path`` cannot be, or become, a writable dir (None if it can); creates nothing."""
    path = Path(path).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def check_run_dir(name: str, path: str | Path) -> None:
    """Raise a ConfigError naming ``name`` unless ``path`` exists as, or can become, a writable dir.

    Checked without creating anything, so a run stopped by bad input leaves no empty dir.
    """
    path = Path(path).absolute()
    problem = unwritable_dir(path)
    if problem:
        raise ConfigError(
            f"{name}={path} cannot hold the run's output: {problem}. Point {name} at a writable "
            "directory (e.g. the default under outputs/)."
        )
