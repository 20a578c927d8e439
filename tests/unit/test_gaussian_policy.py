"""REINFORCE on Box actions: the diagonal Gaussian's log-prob, and clipping at the env boundary."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from litrl import ConfigError
from litrl.algos import Reinforce
from litrl.data.collector import Collector
from litrl.envs import EnvSpec


def test_log_prob_is_the_diagonal_gaussian_density():
    module = Reinforce((3,), 0, action_dim=2, log_std_init=math.log(0.5))
    obs = torch.randn(4, 3)
    action = torch.randn(4, 2)
    mean = module.net.policy_head.linear(module.net.policy_trunk(obs))
    # sum over dimensions of log N(a; mu, 0.5^2)
    expected = (
        -((action - mean) ** 2) / (2 * 0.25) - math.log(0.5) - 0.5 * math.log(2 * math.pi)
    ).sum(-1)
    assert torch.allclose(module.net.distribution(obs).log_prob(action), expected, atol=1e-5)
    assert torch.equal(module.act(obs, env_steps=0, greedy=True), mean.detach())


def test_learned_log_std_is_a_second_head():
    module = Reinforce((3,), 0, action_dim=2, log_std="learned")
    assert module.net.policy_head.linear.out_features == 4
    assert module.net.distribution(torch.randn(5, 3)).sample().shape == (5, 2)


class RecordingEnv(gym.Env):
    """Box(-1, 1) actions; remembers what the env was actually given."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1, 1, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1, 1, shape=(1,), dtype=np.float32)
        self.received: list[float] = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.received.append(float(action[0]))
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {}


class TooBig:
    def act(self, obs, env_steps, greedy=False):
        return torch.full((obs.shape[0], 1), 3.0)


def test_actions_are_clipped_for_the_env_but_stored_as_sampled():
    envs = SyncVectorEnv([RecordingEnv], autoreset_mode=AutoresetMode.SAME_STEP)
    chunk = Collector(envs, torch.device("cpu"), seed=0).collect(TooBig(), 2)
    assert chunk["action"].dtype == torch.float32
    assert chunk["action"].flatten().tolist() == [3.0, 3.0]
    assert envs.envs[0].received == [1.0, 1.0]


def test_reinforce_refuses_image_shaped_action_spaces():
    class Factory:
        def spec(self):
            return EnvSpec("Grid-v0", (2,), gym.spaces.Box(-1, 1, shape=(2, 2)), None)

    with pytest.raises(ConfigError, match="Discrete or a 1-D Box"):
        Reinforce.check_env(Factory())


def test_the_state_independent_log_std_is_trained():
    module = Reinforce((3,), 0, action_dim=2)
    log_std = module.net.policy_head.log_std
    assert any(p is log_std for p in module.net.policy_parameters())
