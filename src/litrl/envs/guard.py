"""Runtime checks on env steps: a broken env stops the run with a message, not a NaN loss.

Gymnasium envs are checked on every step (``GuardedEnv``); torch-backend batches once at start
(``check_batch``) and then once per collected chunk (``check_finite_steps``); EnvPool batches once
at start (``check_host_batch``) and their finiteness on every step (``EnvPoolVecEnv``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from litrl.envs.torch_backend import TorchVecEnv


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
        space = env.observation_space
        self._categories = (
            (int(space.start), int(space.start + space.n))
            if isinstance(space, gym.spaces.Discrete)
            else None
        )

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
        if type(terminated) is not bool or type(truncated) is not bool:  # plain bools: as is
            terminated = self._flag(terminated, "terminated")
            truncated = self._flag(truncated, "truncated")
        return obs, reward, terminated, truncated, info

    def _flag(self, value: Any, name: str) -> bool:
        """``terminated`` / ``truncated`` as a bool; anything but a boolean (or 0 / 1) is an
        EnvError: a string such as ``"False"`` is true, and would end every episode."""
        if isinstance(value, bool | np.bool_) or (
            isinstance(value, int | np.integer) and value in (0, 1)
        ):
            return bool(value)
        raise EnvError(
            self._where(
                f"step() at its step {self.steps}",
                f"returned {name}={value!r} (a {type(value).__name__}), which is not a boolean: "
                f"return True or False",
            )
        )

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
        if self._categories is not None:
            low, high = self._categories
            category = np.asarray(obs)
            if category.dtype.kind not in "iu" or not low <= int(category) < high:
                raise EnvError(
                    self._where(
                        call,
                        f"returned observation {obs!r}, outside its observation_space "
                        f"{self.env.observation_space} (integers {low} to {high - 1})",
                    )
                )
            return
        values = obs if isinstance(obs, np.ndarray) else np.asarray(obs)
        # Floats are checked whatever the space's dtype: NaN in a float array returned for an
        # integer space (an image) is no observation either.
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise EnvError(self._where(call, f"returned a non-finite observation {obs!r}"))

    def _where(self, call: str, problem: str) -> str:
        return f"{self.name}: {call} {problem}. Fix the environment; the run dir keeps what was finished."


def check_host_batch(envs: Any, name: str, seed: int = 0) -> None:
    """``check_env`` for a numpy vector env (EnvPool's): a reset and a step with random actions,
    and the shapes of everything they return.

    Raises:
        EnvError: naming the call, the output and what was expected.
    """
    n, obs_shape = envs.num_envs, (envs.num_envs, *(envs.single_observation_space.shape or ()))
    obs, _ = envs.reset(seed=seed)
    outputs: list[tuple[str, str, Any, tuple[int, ...]]] = [
        ("reset()", "observations", obs, obs_shape)
    ]
    envs.action_space.seed(seed)
    obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
    outputs += [
        ("step()", "observations", obs, obs_shape),
        ("step()", "reward", reward, (n,)),
        ("step()", "terminated", terminated, (n,)),
        ("step()", "truncated", truncated, (n,)),
    ]
    for call, field, value, shape in outputs:
        if np.shape(value) != shape or (
            field in ("terminated", "truncated") and np.asarray(value).dtype != bool
        ):
            raise EnvError(
                f"{name}: {call} returned {field} of shape {np.shape(value)} and dtype "
                f"{np.asarray(value).dtype}; expected shape {shape}."
            )


# ---- the torch backend: checked at start, and once per chunk (a per-step check would sync) ----


def check_batch(env: TorchVecEnv, name: str, seed: int = 0) -> None:
    """``check_env`` for a torch-backend batch: a reset and a step with random actions, and the
    shape, dtype, device and finiteness of everything they return.

    Raises:
        EnvError: naming the call, the output and what was expected.
    """
    n, obs_shape = env.num_envs, (env.num_envs, *(env.single_observation_space.shape or ()))
    obs = env.reset(seed=seed)
    _check_tensor(name, "reset()", "observations", obs, obs_shape, torch.float32, env.device)
    space = env.single_action_space
    space.seed(seed)
    actions = torch.as_tensor(np.stack([space.sample() for _ in range(n)]), device=env.device)
    step = env.step(actions)
    expected = {
        "obs": (obs_shape, torch.float32),
        "final_obs": (obs_shape, torch.float32),
        "reward": ((n,), torch.float32),
        "terminated": ((n,), torch.bool),
        "truncated": ((n,), torch.bool),
    }
    for field, (shape, dtype) in expected.items():
        _check_tensor(name, "step()", field, getattr(step, field), shape, dtype, env.device)


def check_finite_steps(env_id: str, first_env_step: int, **steps: Tensor) -> None:
    """Raises an EnvError naming the first env and step whose value is NaN or infinite.

    Args:
        env_id: the env's id, for the message.
        first_env_step: the run's env step at the first row.
        steps: ``(steps, num_envs, ...)`` tensors, e.g. a chunk's observations and rewards.
    """
    bad = [~torch.isfinite(v).reshape(*v.shape[:2], -1).all(2) for v in steps.values()]
    if not bool(torch.stack(bad).any()):  # the one host sync
        return
    for (field, value), field_bad in zip(steps.items(), bad, strict=True):
        if field_bad.any():
            row, env = (int(i) for i in field_bad.nonzero()[0])
            step = first_env_step + row * value.shape[1] + env
            raise EnvError(
                f"env.id={env_id} (env.backend=torch): env {env} returned a non-finite {field} "
                f"{value[row, env].tolist()} around env step {step}. The torch backend's dynamics "
                "are finite for finite actions: look for NaN actions (a diverged policy). The run "
                "dir keeps what was finished."
            )


def _check_tensor(
    name: str,
    call: str,
    field: str,
    value: Any,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
) -> None:
    problem = None
    if not isinstance(value, Tensor):
        problem = f"a {type(value).__name__}, not a tensor"
    elif tuple(value.shape) != shape or value.dtype != dtype or value.device != device:
        problem = f"{value.dtype} {tuple(value.shape)} on {value.device}"
    elif value.is_floating_point() and not bool(torch.isfinite(value).all()):
        problem = f"non-finite values {value.tolist()}"
    if problem is not None:
        raise EnvError(
            f"{name} (env.backend=torch): {call} returned {field} as {problem}; expected "
            f"{dtype} {shape} on {device}."
        )
