"""Saving and restoring a running env's state as plain data, so a resumed run continues mid-episode.

A snapshot walks the wrapper chain down to the base env and keeps every attribute that is
plain data: numbers, strings, numeric arrays (as tensors), numpy RNGs (as their state dicts),
and tuples, lists and dicts of those. Spaces and specs are rebuilt by the env itself. An env
holding anything else (a physics engine's world, an emulator) cannot be snapshotted; the
caller then resets it instead. Everything in a snapshot loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from litrl.envs.legacy import LegacyEnvAdapter

# Wrapper bookkeeping that is either static or a checker's memory, never env state.
_SKIPPED = {"env", "_saved_kwargs", "_previous_data", "_cached_spec", "_metadata", "metadata"}
_DEPTH = 4


class _Unsupported(Exception):
    pass


def snapshot(env: gym.Env) -> list[dict[str, Any]] | None:
    """The state of ``env`` and each of its wrappers, or None if some of it is not plain data."""
    layers = []
    try:
        for layer in _layers(env):
            layers.append(
                {
                    name: _encode(value, _DEPTH)
                    for name, value in vars(layer).items()
                    if name not in _SKIPPED
                    and not isinstance(value, (gym.Space, gym.envs.registration.EnvSpec))
                }
            )
    except _Unsupported:
        return None
    return layers


def restore(env: gym.Env, layers: list[dict[str, Any]]) -> None:
    """Puts a ``snapshot`` back into a freshly built env of the same kind."""
    chain = _layers(env)
    if len(chain) != len(layers):
        raise ValueError(f"the snapshot has {len(layers)} layers, the env {len(chain)}")
    for layer, state in zip(chain, layers, strict=True):
        for name, encoded in state.items():
            setattr(layer, name, _decode(encoded))


def _layers(env: Any) -> list[Any]:
    chain = [env]
    while isinstance(chain[-1], (gym.Wrapper, LegacyEnvAdapter)):
        chain.append(chain[-1].env)
    return chain


def _encode(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.random.Generator):
        return {"kind": "rng", "state": value.bit_generator.state}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"kind": "np_scalar", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"kind": "ndarray", "value": torch.from_numpy(value.copy())}
    if depth > 0 and isinstance(value, (tuple, list)):
        return {"kind": type(value).__name__, "value": [_encode(v, depth - 1) for v in value]}
    if depth > 0 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"kind": "dict", "value": {k: _encode(v, depth - 1) for k, v in value.items()}}
    raise _Unsupported(type(value).__name__)


def _decode(encoded: Any) -> Any:
    if not isinstance(encoded, dict):
        return encoded
    kind, value = encoded["kind"], encoded.get("value", encoded)
    if kind == "rng":
        state = encoded["state"]
        generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
        generator.bit_generator.state = state
        return generator
    if kind == "np_scalar":
        return np.dtype(encoded["dtype"]).type(value)
    if kind == "ndarray":
        return value.numpy().copy()
    if kind == "tuple":
        return tuple(_decode(v) for v in value)
    if kind == "list":
        return [_decode(v) for v in value]
    return {k: _decode(v) for k, v in value.items()}
