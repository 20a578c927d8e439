"""One torch-backend env behind gymnasium's single-env API, drawn by gymnasium's own env of the id.

For what wants a ``gymnasium.Env`` (eval videos, ``RecordVideo``): the dynamics, start states and
time limit are the torch batch's (one env, on the CPU), so a recorded episode is one the training
envs could play. A frame is gymnasium's ``render()`` given the batch's state: the env's column of
``TorchVecEnv.final_state`` is copied into ``env.unwrapped.state`` (the state layouts are
gymnasium's), and Pendulum's torque arrow gets the clipped action (``last_u``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from litrl.envs.torch_backend.base import TorchVecEnv


class TorchEnvAsGym(gym.Env):
    """Env 0 of ``batch`` as a ``gymnasium.Env``.

    ``reset(seed=s)`` starts the batch from seed ``s``; ``reset()`` without a seed goes on to the
    env's next start state (as a gymnasium env continues its generator). ``step`` returns the
    step's own observation (``final_obs``), so an episode's last observation is its own.

    Args:
        batch: a batch of one env.
        render_mode: ``rgb_array`` to draw frames; None draws nothing.
    """

    def __init__(self, batch: TorchVecEnv, render_mode: str | None = None) -> None:
        if batch.num_envs != 1:
            raise ValueError(f"TorchEnvAsGym wraps a batch of one env, got {batch.num_envs}")
        self.batch = batch
        self.observation_space = batch.single_observation_space
        self.action_space = batch.single_action_space
        self.render_mode = render_mode
        drawing = gym.make(batch.env_id, render_mode=render_mode)
        self.metadata = drawing.metadata
        self._drawing: gym.Env | None = drawing.unwrapped if render_mode else None
        if self._drawing is None:
            drawing.close()
        self._ended = True  # no episode under way: reset() starts one
        self._last_u: float | None = None  # the last clipped Box action, for Pendulum's arrow

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        batch = self.batch
        if seed is not None or not batch._started:
            obs = batch.reset(seed=seed)
        else:
            if not self._ended:  # cut the episode under way short: the next one starts now
                batch.episode += 1
                batch.elapsed_steps.zero_()
                batch.state = batch.final_state = batch.start_states()
            obs = batch.observe(batch.state)  # after an episode end: the autoreset's start
            batch.final_state = batch.state
        self._ended, self._last_u = False, None
        return obs[0].numpy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        shape = (1, *(self.action_space.shape or ()))
        dtype = torch.float32 if isinstance(self.action_space, gym.spaces.Box) else torch.int64
        actions = torch.as_tensor(np.asarray(action), dtype=dtype).reshape(shape)
        step = self.batch.step(actions)
        if isinstance(self.action_space, gym.spaces.Box):
            space = self.action_space
            clipped = np.clip(np.asarray(action, dtype=np.float32), space.low, space.high)
            self._last_u = float(clipped.reshape(-1)[0])
        terminated, truncated = bool(step.terminated[0]), bool(step.truncated[0])
        self._ended = terminated or truncated
        return step.final_obs[0].numpy(), float(step.reward[0]), terminated, truncated, {}

    def render(self) -> Any:
        if self._drawing is None:
            return None
        drawing: Any = self._drawing
        drawing.state = self.batch.final_state[:, 0].to(torch.float64).numpy()
        if isinstance(self.action_space, gym.spaces.Box):
            drawing.last_u = self._last_u  # Pendulum's arrow (None: none); others ignore it
        return drawing.render()

    def close(self) -> None:
        if self._drawing is not None:
            self._drawing.close()
        self.batch.close()
