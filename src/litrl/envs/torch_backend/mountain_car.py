"""MountainCar-v0 and MountainCarContinuous-v0 as tensors: gymnasium's two car-on-a-hill envs."""

from __future__ import annotations

import torch
from torch import Tensor

from litrl.envs.torch_backend.base import TorchVecEnv

MIN_POSITION = -1.2
MAX_POSITION = 0.6
MAX_SPEED = 0.07
GRAVITY = 0.0025


def _move(position: Tensor, velocity: Tensor) -> Tensor:
    """Clips speed, moves, clips position, and stops a car that hits the left wall."""
    velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED)
    position = (position + velocity).clamp(MIN_POSITION, MAX_POSITION)
    velocity = velocity.masked_fill((position == MIN_POSITION) & (velocity < 0), 0.0)
    return torch.stack((position, velocity))


class MountainCar(TorchVecEnv):
    """State ``(position, velocity)``; actions 0, 1, 2 push left, not at all, right; reward -1."""

    env_id = "MountainCar-v0"
    state_dim = 2
    start_low = (-0.6, 0.0)
    start_high = (-0.4, 0.0)

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        position, velocity = state
        velocity = velocity + (
            (actions.to(state.dtype) - 1) * 0.001 + torch.cos(3 * position) * (-GRAVITY)
        )
        next_state = _move(position, velocity)
        position, velocity = next_state
        terminated = (position >= 0.5) & (velocity >= 0)
        reward = torch.full((self.num_envs,), -1.0, device=state.device)
        return next_state, reward, terminated


class MountainCarContinuous(TorchVecEnv):
    """State ``(position, velocity)``; a force in [-1, 1]; 100 for the goal minus 0.1 x action²."""

    env_id = "MountainCarContinuous-v0"
    state_dim = 2
    start_low = (-0.6, 0.0)
    start_high = (-0.4, 0.0)

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        position, velocity = state
        action = actions[:, 0].to(torch.float32)
        force = action.clamp(-1.0, 1.0).to(state.dtype)
        velocity = velocity + (force * 0.0015 - GRAVITY * torch.cos(3 * position))
        # Gymnasium stores this env's state as float32 after every step.
        next_state = _move(position, velocity).to(torch.float32).to(state.dtype)
        position, velocity = next_state
        terminated = (position >= 0.45) & (velocity >= 0)
        # The action cost uses the action as given, before clipping (as gymnasium's does).
        cost = action.to(torch.float64).square() * 0.1
        reward = (terminated.to(torch.float64) * 100.0 - cost).to(torch.float32)
        return next_state, reward, terminated
