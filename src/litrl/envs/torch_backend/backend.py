"""``env.backend=torch``: the classic-control ids as batched tensor code on the training device."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import torch

from litrl.envs.backend import EnvBackend
from litrl.envs.guard import GuardedEnv, check_batch
from litrl.envs.spec import EnvSpec
from litrl.envs.torch_backend import TORCH_ENVS, TorchVecEnv, make_torch_env
from litrl.envs.torch_backend.gym_env import TorchEnvAsGym
from litrl.errors import ConfigError


class TorchBackend(EnvBackend):
    """Serves the ids of ``TORCH_ENVS`` as ``TorchVecEnv`` batches; one env is a batch of one
    drawn by gymnasium's own renderer (``TorchEnvAsGym``)."""

    name = "torch"

    def check(self) -> None:
        env, served = self.env, ", ".join(TORCH_ENVS)
        if env.entry_point is not None:
            raise ConfigError(
                f"env.backend=torch serves registered ids ({served}), not your own class "
                f"env.entry_point={env.entry_point}; use env.backend=gymnasium for it."
            )
        if env.id not in TORCH_ENVS:
            raise ConfigError(
                f"env.backend=torch cannot serve env.id={env.id}; it serves {served}. Use "
                "env.backend=gymnasium for other ids."
            )
        for name, value in (("kwargs", env.kwargs), ("atari", env.atari)):
            if value:
                raise ConfigError(
                    f"env.backend=torch has no env.{name} (got {value}): its envs are the ids "
                    f"as registered. Drop env.{name}, or use env.backend=gymnasium."
                )
        if env.reward_threshold is None:
            env.reward_threshold = gym.spec(env.id).reward_threshold

    def make(
        self, render_mode: str | None, training: bool, max_episode_steps: int | None
    ) -> gym.Env:
        batch = self.batch(1, cap=max_episode_steps)
        return GuardedEnv(TorchEnvAsGym(batch, render_mode), self.env.name)

    def make_vector(
        self,
        num_envs: int,
        training: bool,
        device: torch.device | str,
        max_episode_steps: int | None,
    ) -> TorchVecEnv:
        return self.batch(num_envs, device, cap=max_episode_steps)

    def spec(self) -> EnvSpec:
        batch = self.batch(2)
        check_batch(batch, self.env.name)
        return dataclasses.replace(batch.env_spec(), reward_threshold=self.env.reward_threshold)

    def batch(
        self, num_envs: int, device: torch.device | str = "cpu", cap: int | None = None
    ) -> TorchVecEnv:
        """``num_envs`` envs on ``device``, their time limit capped at ``cap``."""
        env_id = self.env.id
        assert env_id is not None
        limit = self.env.max_episode_steps
        if cap is not None:  # every torch-backend id has a limit of its own
            limit = min(cap, limit or gym.spec(env_id).max_episode_steps or cap)
        return make_torch_env(env_id, num_envs, device, max_episode_steps=limit)
