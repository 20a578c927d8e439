"""litrl: deep reinforcement learning experiments on Lightning, Hydra and Gymnasium."""

from litrl.envs.guard import EnvError
from litrl.errors import ConfigError, RunInterrupted, TrainingDiverged

__all__ = ["ConfigError", "EnvError", "RunInterrupted", "TrainingDiverged"]
__version__ = "0.1.0"
