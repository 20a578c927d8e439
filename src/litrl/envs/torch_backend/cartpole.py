"""CartPole-v1 as tensors: gymnasium's ``CartPoleEnv`` with its explicit Euler step, term for term."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from litrl.envs.torch_backend.base import TorchVecEnv

# The constants as gymnasium computes them, so float64 runs see the very same numbers.
GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4


class CartPole(TorchVecEnv):
    """State ``(x, x_dot, theta, theta_dot)``; action 0 pushes left, 1 right; reward 1 per step."""

    env_id = "CartPole-v1"
    state_dim = 4
    start_low = (-0.05,) * 4
    start_high = (0.05,) * 4

    def __init__(
        self, num_envs: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__(num_envs, device, dtype)
        self._thresholds = torch.tensor(
            [X_THRESHOLD, THETA_THRESHOLD], dtype=self.dtype, device=self.device
        )

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        _, x_dot, theta, theta_dot = state.unbind(1)
        force = actions.to(state.dtype) * (2 * FORCE_MAG) - FORCE_MAG  # 0 -> -10, 1 -> +10, exactly
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + POLEMASS_LENGTH * theta_dot.square() * sintheta) / TOTAL_MASS
        thetaacc = (GRAVITY * sintheta - costheta * temp) / (
            LENGTH * (4.0 / 3.0 - MASSPOLE * costheta.square() / TOTAL_MASS)
        )
        xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
        # Explicit Euler: positions move with the old velocities.
        next_state = state + TAU * torch.stack((x_dot, xacc, theta_dot, thetaacc), 1)
        terminated = (next_state[:, ::2].abs() > self._thresholds).any(1)
        reward = torch.ones(self.num_envs, device=state.device)  # the terminating step pays 1 too
        return next_state, reward, terminated

    def observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32)
