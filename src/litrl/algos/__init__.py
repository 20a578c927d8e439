"""Algorithms as LightningModules."""

from litrl.algos.dqn import DQN

__all__ = ["DQN"]
