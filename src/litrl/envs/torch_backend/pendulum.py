"""Pendulum-v1 as tensors: gymnasium's ``PendulumEnv`` (g = 10), semi-implicit Euler, no termination."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from litrl.envs.torch_backend.base import TorchVecEnv

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
G = 10.0
M = 1.0
L = 1.0


def angle_normalize(x: Tensor) -> Tensor:
    """Maps an angle into ``[-pi, pi)``."""
    return ((x + math.pi) % (2 * math.pi)) - math.pi


class Pendulum(TorchVecEnv):
    """State ``(theta, theta_dot)``, theta 0 upright; a torque in [-2, 2]; reward minus the cost."""

    env_id = "Pendulum-v1"
    state_dim = 2
    start_low = (-math.pi, -1.0)
    start_high = (math.pi, 1.0)

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        th, thdot = state
        # Gymnasium clips the float32 action and computes the torque terms in float32.
        u = actions[:, 0].to(torch.float32).clamp(-MAX_TORQUE, MAX_TORQUE)
        torque_cost, torque_term = (
            (0.001 * u.square()).to(th.dtype),
            (3.0 / (M * L**2) * u).to(th.dtype),
        )
        costs = angle_normalize(th).square() + 0.1 * thdot.square() + torque_cost
        newthdot = thdot + (3 * G / (2 * L) * torch.sin(th) + torque_term) * DT
        newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED)
        next_state = torch.stack((th + newthdot * DT, newthdot))
        terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=state.device)
        return next_state, (-costs).to(torch.float32), terminated

    def observe(self, state: Tensor) -> Tensor:
        th, thdot = state
        return torch.stack((torch.cos(th), torch.sin(th), thdot), 1).to(torch.float32)
