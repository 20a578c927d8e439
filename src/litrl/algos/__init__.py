"""Algorithms as LightningModules."""

from litrl.algos.dqn import DQN
from litrl.algos.reinforce import Reinforce

__all__ = ["DQN", "Reinforce"]
