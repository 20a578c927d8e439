"""Environments from config: registered ids, user classes, classic-Gym adapters, runtime checks."""

from litrl.envs.factory import EnvFactory
from litrl.envs.guard import EnvError
from litrl.envs.spec import EnvSpec, is_image
from litrl.envs.tensor_envs import final_observations

__all__ = ["EnvError", "EnvFactory", "EnvSpec", "final_observations", "is_image"]
