"""A config node against the constructor it configures: unknown keys and values of the wrong type.

Hydra hands a typo'd key or a string where a number belongs straight to the constructor, which
fails deep inside with a TypeError. These checks name the field and the fix first, from the
constructor's own signature and type hints, so every class checks the same way.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Collection
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig, OmegaConf

from litrl.errors import ConfigError, unknown_key

# Top-level keys the composition root reads itself (they are no constructor's arguments).
TOP_LEVEL_TYPES: dict[str, type] = {
    "seed": int,
    "total_env_steps": int,
    "torch_threads": int,
    "progress_bar_refresh_steps": int,
    "early_stop": bool,
    "eval.every_env_steps": int,
    "eval.episodes": int,
    "eval.num_envs": int,
    "video.every_n_evals": int,
    "eval.max_episode_steps": int,
}
# Their allowed ranges, inclusive. Seeds: numpy and Lightning seed from [0, 2**32 - 1] (Lightning
# replaces a seed outside it with 0, silently).
MAX_SEED = 2**32 - 1
TOP_LEVEL_RANGES: dict[str, tuple[float, float]] = {
    "seed": (0, MAX_SEED),
    "torch_threads": (0, math.inf),  # 0: torch's own default
    "progress_bar_refresh_steps": (0, math.inf),
    "eval.every_env_steps": (1, math.inf),
    "eval.episodes": (1, math.inf),
    "eval.num_envs": (1, math.inf),
    "eval.max_episode_steps": (1, math.inf),
    "video.every_n_evals": (0, math.inf),  # 0: never
}
# The evaluation CLI's keys (conf/evaluate.yaml).
EVALUATE_TYPES: dict[str, type] = {
    "episodes": int,
    "num_envs": int,
    "seed": int,
    "video": bool,
    "video_episodes": int,
    "max_episode_steps": int,
}
EVALUATE_RANGES: dict[str, tuple[float, float]] = {
    "episodes": (1, math.inf),
    "num_envs": (1, math.inf),
    "seed": (0, MAX_SEED),
    "video_episodes": (1, math.inf),
    "max_episode_steps": (1, math.inf),
}
_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def check_top_level(
    cfg: DictConfig,
    types: dict[str, type] = TOP_LEVEL_TYPES,
    ranges: dict[str, tuple[float, float]] = TOP_LEVEL_RANGES,
) -> None:
    """Raise a ConfigError for a top-level value of the wrong type (``seed=abc``) or out of its
    range (``seed=-1``, ``eval.num_envs=0``); ``types`` and ``ranges`` are keyed by dotted key."""
    for key, wanted in types.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not _is_a(value, (wanted,)):
            raise ConfigError(_wrong_type(key, value, (wanted,), example=None))
    for key, (low, high) in ranges.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not low <= value <= high:
            why = " (the seeds numpy and Lightning take)" if key == "seed" else ""
            raise ConfigError(
                f"{key}={value} is out of range: it must lie in [{low}, {high}]{why}. Set it on "
                f"the command line, e.g. {key}={int(low) if key != 'torch_threads' else 1}."
            )


def check_layer_widths(name: str, value: Any) -> None:
    """Raise a ConfigError unless ``value`` is a list of hidden-layer widths, each at least 1.

    Every argument named ``*hidden_sizes`` is one, in every algorithm; ``[]`` is no hidden
    layer (a linear head).
    """
    example = f"e.g. {name}=[64,64], or {name}=[] for no hidden layer"
    is_list = isinstance(value, ListConfig | list | tuple)
    if not is_list or not all(isinstance(w, int) and not isinstance(w, bool) for w in value):
        raise ConfigError(
            f"{name}={_as_typed(value)} is not a list of layer widths: {name} takes a list of "
            f"integers, one per hidden layer. Set it as {example}."
        )
    narrow = [w for w in value if w < 1]
    if narrow:
        raise ConfigError(
            f"{name}={list(value)} has a layer of width {narrow[0]}: each hidden layer needs at "
            f"least 1 unit (a width of 0 cuts the network off from its input). Set it as {example}."
        )


def check_arguments(field: str, node: DictConfig, provided: Collection[str] = ()) -> None:
    """Raise a ConfigError unless every key of ``node`` is an argument of its ``_target_``,
    of the type its hint names.

    Args:
        field: the node's path in the config, for the message (``algo``, ``algo.data``).
        node: a config node with a ``_target_``.
        provided: arguments the caller passes itself (the env's shapes, the seed); a config key
            of that name is refused, and they are left out of the accepted keys listed.
    """
    target: Any = get_class(str(node._target_))
    parameters, hints = _signature(target)
    if parameters is None:
        return  # takes anything: the constructor decides
    accepted = [name for name in parameters if name not in provided]
    for key in (str(k) for k in node if not str(k).startswith("_")):
        if key in provided:
            raise ConfigError(
                f"{field}.{key} comes from the env or the run, not the config; drop the override "
                f"of {field}.{key}."
            )
        if key not in parameters:
            raise unknown_key(field, key, accepted, target.__name__)
        value = node[key]
        if key.endswith("hidden_sizes") and value is not None:
            check_layer_widths(f"{field}.{key}", value)
            continue
        wanted = _simple_types(hints.get(key))
        if wanted and value is not None and not _is_a(value, wanted):
            default = parameters[key].default
            # An inherited argument's default may not be this class's (PPO's lr is not A2C's).
            own = key in inspect.signature(target).parameters
            example = None if default is inspect.Parameter.empty or not own else default
            raise ConfigError(_wrong_type(f"{field}.{key}", value, wanted, example))


def _wrong_type(name: str, value: Any, wanted: tuple[type, ...], example: Any) -> str:
    words = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in wanted if t is not type(None))
    shown = f"<{words}>" if example is None else _as_typed(example)
    yaml_hint = ""
    if float in wanted and isinstance(value, str) and _parses_as_float(value):
        yaml_hint = (
            f" (YAML reads {value} as a string: in a config file write it with a dot, e.g. 1.0e-3)"
        )
    return (
        f"{name}={_as_typed(value)} is not {words}{yaml_hint}: {name} takes {words}. Set it on "
        f"the command line as e.g. {name}={shown}."
    )


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _as_typed(value: Any) -> str:
    """A value as it is typed on the command line: ``true``, ``0.003``, ``relu``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _is_a(value: Any, wanted: tuple[type, ...]) -> bool:
    for kind in wanted:
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True  # 3 for a float argument is fine
        if kind is int and isinstance(value, bool):
            continue  # true is no count
        if isinstance(value, kind):
            return True
    return False


def _signature(target: Any) -> tuple[dict[str, inspect.Parameter] | None, dict[str, Any]]:
    """The keyword arguments ``target`` takes and their type hints, following ``**kwargs``
    passed on to a base class (PPO's to A2C's); None for a constructor that takes anything."""
    parameters: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    classes = (
        [c for c in target.__mro__ if "__init__" in vars(c)] if inspect.isclass(target) else []
    )
    for owner in classes or [target]:
        init = vars(owner)["__init__"] if classes else owner
        own = inspect.signature(init).parameters
        hints = {**_type_hints(init), **hints}
        for name, parameter in own.items():
            if name != "self" and parameter.kind not in (
                parameter.VAR_KEYWORD,
                parameter.VAR_POSITIONAL,
            ):
                parameters.setdefault(name, parameter)
        if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
            return parameters, hints
    return None, hints


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # a hint that does not resolve at runtime: check names only
        return {}


def _simple_types(hint: Any) -> tuple[type, ...]:
    """``int``, ``float | None``, ``bool | str``: the plain types it allows; () for the rest
    (lists, mappings, objects), which are left to the constructor."""
    plain = (int, float, bool, str, type(None))
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if typing.get_origin(hint) is typing.Union:
        members = typing.get_args(hint)
    if not members or not all(m in plain for m in members):
        return ()
    return tuple(members)
