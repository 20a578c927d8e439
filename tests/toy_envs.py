"""Tiny environments whose right answers are known by hand."""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):
    """Observation is the step count within the episode; reward 1 per step.

    The episode ends after ``length`` steps, by termination or truncation as chosen, so tests
    can tell whether the final transition bootstraps.
    """

    def __init__(self, length: int = 3, truncate: bool = True) -> None:
        self.length, self.truncate = length, truncate
        self.observation_space = gym.spaces.Box(0, 100, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        ended = self.t >= self.length
        obs = np.array([float(self.t)], dtype=np.float32)
        return obs, 1.0, ended and not self.truncate, ended and self.truncate, {}


class SlowEnv(CountingEnv):
    """A CountingEnv that takes ``delay_s`` a step, like a slow simulator.

    At its ``mark_at_step``-th step it creates ``started_file`` (when given), so that a test
    knows training is stepping it. The start-up checks step instances of their own (gymnasium's
    ``check_env`` takes more than 5 steps, fewer than 20), so a test that waits for training
    sets ``mark_at_step`` to 20 or more.
    """

    def __init__(
        self, delay_s: float = 0.05, started_file: str = "", mark_at_step: int = 5
    ) -> None:
        super().__init__(length=20)
        self.delay_s, self.started_file, self.mark_at_step = delay_s, started_file, mark_at_step
        self.steps = 0

    def step(self, action):
        time.sleep(self.delay_s)
        self.steps += 1
        if self.started_file and self.steps == self.mark_at_step:
            Path(self.started_file).touch()
        return super().step(action)


class CourseEnv(gym.Env):
    """The course notes' format: ``step`` -> (state, reward, terminate), ``reset`` -> state.

    The state counts up from 0; the episode terminates after ``length`` steps.
    """

    def __init__(self, length: int = 4) -> None:
        self.length = length
        self.observation_space = gym.spaces.Box(0, 100, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def step(self, action):
        self.t += 1
        return [float(self.t)], 1.0, self.t >= self.length

    def reset(self):
        self.t = 0
        return [0.0]


class OldGymEnv(CourseEnv):
    """Old Gym's format: ``step`` -> (obs, reward, done, info), a time limit flagged in info."""

    def step(self, action):
        state, reward, done = super().step(action)
        return state, reward, done, {"TimeLimit.truncated": done}


class BrokenEnv(gym.Env):
    """Misbehaves at its ``fail_at_step``-th step in the way ``fault`` names.

    Faults: ``raises`` (an exception), ``nan_obs`` (a NaN observation), ``wrong_shape`` (an observation
    of the wrong shape), ``huge_reward`` (a finite reward whose square overflows float32),
    ``text_reward`` (a reward that is not a number);
    ``reset_out_of_space`` returns a first observation outside the space,
    which fails gymnasium's check_env.
    """

    def __init__(self, fault: str = "raises", fail_at_step: int = 1) -> None:
        self.fault, self.fail_at_step = fault, fail_at_step
        self.observation_space = gym.spaces.Box(-10, 10, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.full(2, 100.0 if self.fault == "reset_out_of_space" else 0.0, np.float32), {}

    def step(self, action):
        self.steps += 1
        obs = np.zeros(2, dtype=np.float32)
        terminated = self.np_random.random() < 0.1
        if self.steps >= self.fail_at_step:
            if self.fault == "raises":
                raise RuntimeError("the simulator lost its connection")
            if self.fault == "nan_obs":
                obs[0] = np.nan
            if self.fault == "wrong_shape":
                obs = np.zeros(3, dtype=np.float32)
            if self.fault == "huge_reward":
                return obs, 3e38, terminated, False, {}
            if self.fault == "text_reward":
                return obs, "lots", terminated, False, {}
            if self.fault == "text_terminated":
                return obs, 1.0, "False", False, {}
        return obs, 1.0, terminated, False, {}


class ClassicTextDoneEnv:
    """A classic-Gym env (``step`` -> state, reward, done) whose ``done`` is the string "False"."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self):
        return np.zeros(2, dtype=np.float32)

    def step(self, action):
        return np.zeros(2, dtype=np.float32), 1.0, "False"


class BadObservationEnv(gym.Env):
    """From its ``fail_at_step``-th step on, observations leave their space as ``kind`` says:
    ``discrete`` (a Discrete(4) observation of 7) or ``int_nan`` (a float array with NaN where
    the space holds integers)."""

    def __init__(self, kind: str = "discrete", fail_at_step: int = 1) -> None:
        self.kind, self.fail_at_step, self.steps = kind, fail_at_step, 0
        if kind == "discrete":
            self.observation_space: gym.Space = gym.spaces.Discrete(4)
        else:
            self.observation_space = gym.spaces.Box(0, 255, shape=(2,), dtype=np.int64)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self, bad: bool):
        if self.kind == "discrete":
            return 7 if bad else 0
        return np.array([np.nan, 0.0]) if bad else np.zeros(2, dtype=np.int64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(False), {}

    def step(self, action):
        self.steps += 1
        ended = self.np_random.random() < 0.05
        return self._obs(self.steps >= self.fail_at_step), 1.0, ended, False, {}


class DictObsEnv(gym.Env):
    """A Dict observation space, which litrl does not support yet."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Dict({"x": gym.spaces.Box(0, 1, shape=(1,))})
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {"x": np.zeros(1, dtype=np.float32)}, {}

    def step(self, action):
        return {"x": np.zeros(1, dtype=np.float32)}, 0.0, True, False, {}


class NoSpacesEnv:
    """A course-style env that forgot to declare its spaces."""

    def step(self, action):
        return [0.0], 0.0, True

    def reset(self):
        return [0.0]


class MultiDiscreteActionEnv(CountingEnv):
    """Two discrete choices per step (MultiDiscrete), which no litrl algorithm acts in yet."""

    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.MultiDiscrete([2, 3])


class UnboundedActionEnv(CountingEnv):
    """A 1-D Box action space with infinite bounds, which a tanh-squashed actor cannot scale to."""

    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)


# Ids for `env=gym env.package=tests.toy_envs env.id=...`: gymnasium's check_env does not run on
# ids, so their faults reach litrl's own guard.
gym.register("litrl-toys/TextReward-v0", entry_point=BrokenEnv, kwargs={"fault": "text_reward"})


class HugeObsEnv(CountingEnv):
    """Observations of 2048 x 2048 floats (16 MiB): a replay buffer of them fits no machine."""

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = gym.spaces.Box(0, 100, shape=(2048, 2048), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros((2048, 2048), dtype=np.float32), {}

    def step(self, action):
        _, reward, terminated, truncated, info = super().step(action)
        return np.zeros((2048, 2048), dtype=np.float32), reward, terminated, truncated, info


class EndlessEnv(gym.Env):
    """Never terminates and sets no time limit: the policy only changes the reward."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(2, dtype=np.float32), float(action), False, False, {}


class RenderingEnv(gym.Env):
    """A short episode whose ``render()`` returns frames of the kind ``frames`` names: ``float``
    (RGB in [0, 1]), ``garbage`` (a 2-D float array in [0, 500]) or ``raises``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012 (gymnasium's convention)

    def __init__(self, frames: str = "float", render_mode: str | None = None) -> None:
        self.frames, self.render_mode = frames, render_mode
        self.observation_space = gym.spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, dtype=np.float32), float(action), self.t >= 20, False, {}

    def render(self):
        if self.frames == "raises":
            raise RuntimeError("the display went away")
        if self.frames == "garbage":
            return np.full((8, 8), 500.0)
        return np.full((16, 16, 3), self.t / 20)


class OffsetDiscreteEnv(gym.Env):
    """Discrete spaces that do not start at 0: observations ``Discrete(4, start=10)``, actions
    ``Discrete(3, start=-1)``. Action 1 (index 2) earns 1, the others 0; an action outside the
    space raises. 20 steps an episode, so the optimum is 20."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Discrete(4, start=10)
        self.action_space = gym.spaces.Discrete(3, start=-1)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return int(self.observation_space.start), {}

    def step(self, action):
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action {action} is outside {self.action_space}")
        self.t += 1
        obs = int(self.observation_space.start + self.t % 4)
        return obs, float(int(action) == 1), self.t >= 20, False, {}


class ScalarObsEnv(gym.Env):
    """A Box observation of shape ``()``: a number in [-1, 1]; action 1 earns 1 when it is
    positive, action 0 when it is not. 20 steps an episode."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t, self.x = 0, np.float32(0.0)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.x = 0, np.float32(self.np_random.uniform(-1, 1))
        return np.array(self.x, dtype=np.float32), {}

    def step(self, action):
        reward = float(int(action) == int(self.x > 0))
        self.t += 1
        self.x = np.float32(self.np_random.uniform(-1, 1))
        return np.array(self.x, dtype=np.float32), reward, self.t >= 20, False, {}
