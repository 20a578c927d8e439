"""litrl: deep reinforcement learning experiments on Lightning, Hydra and Gymnasium."""

from litrl.envs.guard import EnvError
from litrl.errors import ConfigError, OutputError, RunAborted, RunInterrupted, TrainingDiverged

__all__ = [
    "ConfigError",
    "EnvError",
    "OutputError",
    "RunAborted",
    "RunInterrupted",
    "TrainingDiverged",
]
__version__ = "0.1.0"
