"""Algorithms as LightningModules, one a file, on the contract of ``litrl.algos.base``."""

from litrl.algos.a2c import A2C
from litrl.algos.dqn import DQN
from litrl.algos.ppo import PPO
from litrl.algos.reinforce import Reinforce
from litrl.algos.sac import SAC
from litrl.algos.td3 import TD3

__all__ = ["A2C", "DQN", "PPO", "SAC", "TD3", "Reinforce"]
