"""The one exception type users see for bad input, and the checks that raise it."""

from collections.abc import Sequence


class ConfigError(ValueError):
    """A configuration value cannot work; the message names the field and the fix.

    Raised while objects are built, before any environment step or gradient update,
    so a typo costs seconds, not a training run.
    """


def check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    """Raise a ConfigError naming ``name`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is unknown; choose one of {list(allowed)}.")


def check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    """Raise a ConfigError naming ``name`` unless ``low <= value <= high`` (``low < value`` if open)."""
    above_low = value > low if low_open else value >= low
    if not (above_low and value <= high):
        bracket = "(" if low_open else "["
        raise ConfigError(
            f"{name}={value} is out of range: it must lie in {bracket}{low}, {high}]. "
            f"Set it on the command line, e.g. {name}=<value in range>."
        )
