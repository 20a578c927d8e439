"""Runtime checks on every env step: a broken env stops the run with a message, not a NaN loss."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class EnvError(RuntimeError):
    """The environment misbehaved during the run; the message names the env, the step and the problem."""


class GuardedEnv(gym.Wrapper):
    """Checks each observation's shape and finiteness and names the env and step on any failure.

    Without it, a wrong shape surfaces as a broadcasting error deep inside the vector env and a
    NaN observation as a NaN loss thousands of updates later.

    Args:
        env: the env to watch.
        name: how the error messages call the env (``env.id=...`` or ``env.entry_point=...``).
    """

    def __init__(self, env: gym.Env, name: str) -> None:
        super().__init__(env)
        self.name = name
        self.steps = 0
        self._shape = env.observation_space.shape
        self._check_finite = np.issubdtype(env.observation_space.dtype or np.uint8, np.floating)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        try:
            obs, info = self.env.reset(**kwargs)
        except Exception as error:
            raise EnvError(self._where("reset()", f"raised {error!r}")) from error
        self._check(obs, "reset()")
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        self.steps += 1
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except Exception as error:
            raise EnvError(
                self._where(f"step() at its step {self.steps}", f"raised {error!r}")
            ) from error
        self._check(obs, f"step() at its step {self.steps}")
        try:
            finite = np.isfinite(float(reward))
        except (TypeError, ValueError):  # a string, None, an array of several values
            raise EnvError(
                self._where(
                    f"step() at its step {self.steps}",
                    f"returned reward {reward!r}, which is not a number",
                )
            ) from None
        if not finite:
            raise EnvError(
                self._where(f"step() at its step {self.steps}", f"returned reward {reward}")
            )
        return obs, reward, terminated, truncated, info

    def _check(self, obs: Any, call: str) -> None:
        shape = np.shape(obs)
        if shape != self._shape:
            raise EnvError(
                self._where(
                    call,
                    f"returned an observation of shape {shape}, but its observation_space "
                    f"has shape {self._shape}",
                )
            )
        if self._check_finite and not np.isfinite(obs).all():
            raise EnvError(self._where(call, f"returned a non-finite observation {obs!r}"))

    def _where(self, call: str, problem: str) -> str:
        return f"{self.name}: {call} {problem}. Fix the environment; the run dir keeps what was finished."
