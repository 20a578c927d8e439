"""Environments from config: registered ids, user classes, classic-Gym adapters, runtime checks."""

from litrl.envs.factory import EnvFactory, final_observations
from litrl.envs.guard import EnvError
from litrl.envs.spec import EnvSpec, is_image

__all__ = ["EnvError", "EnvFactory", "EnvSpec", "final_observations", "is_image"]
