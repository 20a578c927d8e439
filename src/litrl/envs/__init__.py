"""Environments from config: registered ids, user classes, classic-Gym adapters, runtime checks."""

from litrl.envs.factory import EnvFactory, EnvSpec, final_observations, is_image
from litrl.envs.guard import EnvError

__all__ = ["EnvError", "EnvFactory", "EnvSpec", "final_observations", "is_image"]
