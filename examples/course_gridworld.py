"""A grid world written the way the course notes teach it (classic Gym API).

``step`` returns ``state, reward, terminate`` and ``reset`` returns the state: litrl detects
this and adapts it. Train it with DQN (from the repository root):

    python train.py env=custom env.entry_point=examples.course_gridworld:GridWorld \
        env.max_episode_steps=50 total_env_steps=20000

or with REINFORCE: add ``algo=reinforce``.
"""

import gymnasium as gym
import numpy as np

MOVES = np.array([(0, 1), (1, 0), (0, -1), (-1, 0)])  # right, down, left, up


class GridWorld(gym.Env):
    """Walk from a random cell to the goal in the bottom-right corner; -1 per step, 0 at the goal.

    The observation is the agent's (row, column), scaled to [0, 1].
    """

    def __init__(self, size: int = 5):
        self.size = size
        self.goal = np.array([size - 1, size - 1])
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.state = np.zeros(2, dtype=np.int64)

    def step(self, action):
        self.state = np.clip(self.state + MOVES[action], 0, self.size - 1)
        terminate = bool((self.state == self.goal).all())
        reward = 0.0 if terminate else -1.0
        return self.observation(), reward, terminate

    def reset(self):
        self.state = np.random.randint(0, self.size, size=2)
        while (self.state == self.goal).all():
            self.state = np.random.randint(0, self.size, size=2)
        return self.observation()

    def observation(self):
        return (self.state / (self.size - 1)).astype(np.float32)
