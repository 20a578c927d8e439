"""litrl: deep reinforcement learning experiments on Lightning, Hydra and Gymnasium."""

from litrl.errors import ConfigError

__all__ = ["ConfigError"]
__version__ = "0.1.0"
