"""Acrobot-v1 as tensors: gymnasium's ``AcrobotEnv`` ("book" dynamics, no torque noise), one RK4 step."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from litrl.envs.torch_backend.base import TorchVecEnv

DT = 0.2
LINK_LENGTH_1 = 1.0
LINK_MASS_1 = LINK_MASS_2 = 1.0
LINK_COM_POS_1 = LINK_COM_POS_2 = 0.5
LINK_MOI = 1.0
MAX_VEL_1 = 4 * math.pi
MAX_VEL_2 = 9 * math.pi


def dsdt(s: Tensor, torque: Tensor) -> Tensor:
    """Time derivative of ``(theta1, theta2, dtheta1, dtheta2)``, written as gymnasium's ``_dsdt``."""
    m1, m2, l1 = LINK_MASS_1, LINK_MASS_2, LINK_LENGTH_1
    lc1, lc2, i1, i2, g = LINK_COM_POS_1, LINK_COM_POS_2, LINK_MOI, LINK_MOI, 9.8
    theta1, theta2, dtheta1, dtheta2 = s
    cos2, sin2 = torch.cos(theta2), torch.sin(theta2)
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + i1 + i2
    d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + i2
    phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - math.pi / 2.0)
    phi1 = (
        -m2 * l1 * lc2 * dtheta2**2 * sin2
        - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - math.pi / 2)
        + phi2
    )
    ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * sin2 - phi2) / (
        m2 * lc2**2 + i2 - d2**2 / d1
    )
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2))


def rk4(s: Tensor, torque: Tensor) -> Tensor:
    """One classic Runge-Kutta step of length ``DT``, with gymnasium's operation order."""
    dt2 = DT / 2.0
    k1 = dsdt(s, torque)
    k2 = dsdt(s + dt2 * k1, torque)
    k3 = dsdt(s + dt2 * k2, torque)
    k4 = dsdt(s + DT * k3, torque)
    return s + DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def wrap(x: Tensor, low: float, high: float) -> Tensor:
    """Shifts ``x`` by whole periods into ``[low, high]``, as gymnasium's ``wrap`` loop does."""
    period = high - low
    over = torch.ceil((x - high) / period).clamp(min=0)
    under = torch.ceil((low - x) / period).clamp(min=0)
    return x - over * period + under * period


class Acrobot(TorchVecEnv):
    """State ``(theta1, theta2, dtheta1, dtheta2)``; actions 0, 1, 2 apply torque -1, 0, +1."""

    env_id = "Acrobot-v1"
    state_dim = 4
    start_low = (-0.1,) * 4
    start_high = (0.1,) * 4

    def build_constants(self) -> None:
        max_vel = [[MAX_VEL_1], [MAX_VEL_2]]
        self._max_vel = torch.tensor(max_vel, dtype=self.dtype, device=self.device)

    def start_states(self) -> Tensor:
        # Gymnasium rounds Acrobot's start state to float32.
        return super().start_states().to(torch.float32).to(self.dtype)

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        torque = actions.to(state.dtype) - 1.0
        next_state = rk4(state, torque)
        angles = wrap(next_state[:2], -math.pi, math.pi)
        velocities = torch.maximum(torch.minimum(next_state[2:], self._max_vel), -self._max_vel)
        next_state = torch.cat((angles, velocities))
        theta1, theta2 = angles
        terminated = -torch.cos(theta1) - torch.cos(theta2 + theta1) > 1.0
        reward = terminated.to(torch.float32) - 1.0  # -1 per step, 0 on reaching the line
        return next_state, reward, terminated

    def observe(self, state: Tensor) -> Tensor:
        theta1, theta2, dtheta1, dtheta2 = state
        obs = (torch.cos(theta1), torch.sin(theta1), torch.cos(theta2), torch.sin(theta2))
        return torch.stack((*obs, dtheta1, dtheta2), 1).to(torch.float32)
