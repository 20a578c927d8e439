"""Classic-control envs as batched tensor code: ``num_envs`` envs stepped at once on a CPU or a GPU.

The interface (see :class:`TorchVecEnv`)::

    env = make_torch_env("CartPole-v1", num_envs=1024, device="cuda")
    obs = env.reset(seed=0)                      # (num_envs, *obs_shape) float32
    obs, reward, terminated, truncated, final_obs = env.step(actions)

- Dynamics: gymnasium's own, term for term (CartPole's explicit Euler, Acrobot's RK4 with angle
  wrapping and velocity bounds, the MountainCars' clipping, Pendulum's normalised-angle cost).
  ``dtype=torch.float64`` follows gymnasium's float64 arithmetic; observations and rewards are
  float32 either way. ``tests/unit/test_torch_envs.py`` checks every id against gymnasium step
  for step. Discrete actions are integer tensors ``(num_envs,)``, Box actions ``(num_envs, 1)``.
- Time limits: gymnasium's registered ``max_episode_steps`` unless the constructor's overrides it;
  ``truncated`` is set on the step that reaches it, alongside ``terminated`` if both hold (as
  gymnasium's ``TimeLimit`` does).
- Same-step autoreset: an env that terminates or truncates restarts within the same ``step``;
  ``obs`` is then its next episode's first observation and ``final_obs`` the ended episode's last
  one (for every other env the two are equal). The step never branches on tensor values, so it
  never waits for the device.
- Seeding: ``reset(seed)`` gives env ``i`` the seed ``seed + i``; the start state of env ``i``'s
  ``k``-th episode is a hash of ``(seed_i, k)`` (see :mod:`.seeding`), the same on any device and
  for any batch size. Start states are uniform in gymnasium's reset bounds, but they are not the
  ones gymnasium draws for the same seed (its generator is numpy's).
- State: plain tensors: ``state`` as ``(state_dim, num_envs)`` (gymnasium's ``env.unwrapped.state``
  of env ``i`` is column ``i``), ``elapsed_steps``, ``episode``, ``seeds``; ``state_dict()`` /
  ``load_state_dict()`` resume a batch exactly mid-episode.
- Rendering: ``final_state`` is the state each env's last returned observation shows (the ended
  episode's last state where an env just autoreset); ``TorchEnvAsGym`` (``.gym_env``) wraps a batch
  of one as a ``gymnasium.Env`` whose frames are gymnasium's own drawing of that state.
- Spaces: gymnasium's own (``single_observation_space``, ``single_action_space``, batched
  ``observation_space``, ``action_space``); ``env_spec()`` gives litrl's ``EnvSpec``.
"""

from __future__ import annotations

import torch

from litrl.envs.torch_backend.acrobot import Acrobot
from litrl.envs.torch_backend.base import TorchStep, TorchVecEnv
from litrl.envs.torch_backend.cartpole import CartPole
from litrl.envs.torch_backend.mountain_car import MountainCar, MountainCarContinuous
from litrl.envs.torch_backend.pendulum import Pendulum

TORCH_ENVS: dict[str, type[TorchVecEnv]] = {
    cls.env_id: cls for cls in (CartPole, Acrobot, MountainCar, MountainCarContinuous, Pendulum)
}


def make_torch_env(
    env_id: str,
    num_envs: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_episode_steps: int | None = None,
) -> TorchVecEnv:
    """A batch of ``num_envs`` copies of ``env_id``; see :class:`TorchVecEnv` for the arguments."""
    if env_id not in TORCH_ENVS:
        raise ValueError(
            f"the torch backend has no env {env_id!r}; it serves {', '.join(TORCH_ENVS)}"
        )
    return TORCH_ENVS[env_id](
        num_envs, device=device, dtype=dtype, max_episode_steps=max_episode_steps
    )


__all__ = [
    "TORCH_ENVS",
    "Acrobot",
    "CartPole",
    "MountainCar",
    "MountainCarContinuous",
    "Pendulum",
    "TorchStep",
    "TorchVecEnv",
    "make_torch_env",
]
